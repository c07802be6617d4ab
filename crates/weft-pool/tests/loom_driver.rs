//! Loom models of the sleep protocol with a driver attached (`src/sleep.rs`,
//! `src/raw.rs`): an idle worker sleeps *in* the driver instead of on its futex, and a
//! job posted meanwhile must still reach it, through `Driver::unpark`.
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!  cargo test --release -p weft-pool --test loom_driver`
//!
//! The mock driver's `park` blocks on a loom condition variable until `unpark` was
//! called (a sticky flag, like an eventfd's counter) or an "event" is pending; the
//! queue is one flag, as in `loom_sleep.rs`.

#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Condvar, Mutex};
use loom::thread;
use std::sync::Arc;
use weft_pool::__loom::{CoreLatch, Sleep};
use weft_pool::raw::Driver;

/// Set once any execution parked in the driver: the models must reach that state,
/// not only the interleavings where the job came first.
static PARKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[derive(Debug, Default)]
struct MockDriver {
    locked: AtomicBool,
    /// (unparked, event pending)
    state: Mutex<(bool, bool)>,
    changed: Condvar,
}

impl Driver for MockDriver {
    fn try_lock(&self) -> bool {
        !self.locked.swap(true, Ordering::Acquire)
    }
    fn park(&self) {
        PARKED.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut state = self.state.lock().unwrap();
        while !state.0 && !state.1 {
            state = self.changed.wait(state).unwrap();
        }
        state.0 = false;
    }
    fn poll(&self) {}
    fn unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }
    fn unpark(&self) {
        self.state.lock().unwrap().0 = true;
        self.changed.notify_all();
    }
}

/// One worker, asleep in the driver or about to be; a producer injects a job. A lost
/// wake-up leaves the worker parked in the driver forever: loom fails the join.
#[test]
fn injected_job_reaches_a_worker_parked_in_the_driver() {
    loom::model(|| {
        let sleep = Arc::new(Sleep::new(1));
        let driver = Arc::new(MockDriver::default());
        sleep.set_driver(driver.clone()).unwrap();
        let queued = Arc::new(AtomicBool::new(false));
        let worker = {
            let (sleep, queued) = (sleep.clone(), queued.clone());
            thread::spawn(move || {
                let never = CoreLatch::new();
                let mut idle = sleep.start_looking(0);
                loop {
                    if queued.swap(false, Ordering::Acquire) {
                        sleep.work_found();
                        return;
                    }
                    sleep.no_work_found(&mut idle, &never, || queued.load(Ordering::Acquire));
                }
            })
        };
        // Loom runs a yielding (spinning) thread only when the others yield or block
        // too: yield a few times so the worker can get all the way into the driver
        // before the job is posted, as well as every point short of it.
        for _ in 0..4 {
            thread::yield_now();
        }
        queued.swap(true, Ordering::SeqCst);
        sleep.new_injected_jobs();
        worker.join().unwrap();
    });
    assert!(
        PARKED.load(std::sync::atomic::Ordering::SeqCst),
        "never parked"
    );
}

/// Two workers: one may hold the driver while the other sleeps on its futex; the
/// terminate latches, set from outside, must reach both wherever they sleep.
#[test]
fn terminate_reaches_the_driver_holder_and_the_futex_sleeper() {
    loom::model(|| {
        let sleep = Arc::new(Sleep::new(2));
        let driver = Arc::new(MockDriver::default());
        sleep.set_driver(driver.clone()).unwrap();
        let terminate: Arc<[CoreLatch; 2]> = Arc::new([CoreLatch::new(), CoreLatch::new()]);
        let workers: Vec<_> = (0..2)
            .map(|index| {
                let (sleep, terminate) = (sleep.clone(), terminate.clone());
                thread::spawn(move || {
                    let latch = &terminate[index];
                    let mut idle = sleep.start_looking(index);
                    while !latch.probe() {
                        sleep.no_work_found(&mut idle, latch, || false);
                    }
                    sleep.work_found();
                })
            })
            .collect();
        for (index, latch) in terminate.iter().enumerate() {
            // SAFETY: the latch is kept alive by the Arc.
            if unsafe { CoreLatch::set(latch) } {
                sleep.wake_specific_thread(index);
            }
        }
        for worker in workers {
            worker.join().unwrap();
        }
    });
}

/// The driver returns on its own (an I/O event) while a job is injected: the worker
/// leaves the driver, takes itself out of the sleeping count, and the job still runs.
#[test]
fn driver_event_racing_an_injected_job() {
    loom::model(|| {
        let sleep = Arc::new(Sleep::new(1));
        let driver = Arc::new(MockDriver::default());
        sleep.set_driver(driver.clone()).unwrap();
        let queued = Arc::new(AtomicBool::new(false));
        let worker = {
            let (sleep, queued) = (sleep.clone(), queued.clone());
            thread::spawn(move || {
                let never = CoreLatch::new();
                let mut idle = sleep.start_looking(0);
                loop {
                    if queued.swap(false, Ordering::Acquire) {
                        sleep.work_found();
                        return;
                    }
                    sleep.no_work_found(&mut idle, &never, || queued.load(Ordering::Acquire));
                }
            })
        };
        let event = {
            let driver = driver.clone();
            thread::spawn(move || {
                driver.state.lock().unwrap().1 = true;
                driver.changed.notify_all();
            })
        };
        for _ in 0..4 {
            thread::yield_now();
        }
        queued.swap(true, Ordering::SeqCst);
        sleep.new_injected_jobs();
        event.join().unwrap();
        worker.join().unwrap();
    });
}

/// Two workers and a driver, one job injected from outside. Worker 1 starts busy and
/// then goes idle too, so both race towards sleep (one in the driver, one on its
/// futex) while the job is posted. The job is run exactly once, and the worker that
/// runs it sends the other home; a lost wake-up leaves both asleep and loom fails the
/// joins.
#[test]
fn last_workers_going_idle_race_an_injected_job() {
    loom::model(|| {
        let sleep = Arc::new(Sleep::new(2));
        let driver = Arc::new(MockDriver::default());
        sleep.set_driver(driver.clone()).unwrap();
        let queued = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let terminate: Arc<[CoreLatch; 2]> = Arc::new([CoreLatch::new(), CoreLatch::new()]);
        let workers: Vec<_> = (0..2)
            .map(|index| {
                let (sleep, queued, ran, terminate) = (
                    sleep.clone(),
                    queued.clone(),
                    ran.clone(),
                    terminate.clone(),
                );
                thread::spawn(move || {
                    if index == 1 {
                        // Busy a moment (not yet in the idle loop).
                        thread::yield_now();
                    }
                    let latch = &terminate[index];
                    let mut idle = sleep.start_looking(index);
                    while !latch.probe() {
                        if queued.swap(false, Ordering::Acquire) {
                            sleep.work_found();
                            ran.fetch_add(1, Ordering::Relaxed);
                            let other = 1 - index;
                            // SAFETY: the latch is kept alive by the Arc.
                            if unsafe { CoreLatch::set(&terminate[other]) } {
                                sleep.wake_specific_thread(other);
                            }
                            return;
                        }
                        sleep.no_work_found(&mut idle, latch, || queued.load(Ordering::Acquire));
                    }
                    sleep.work_found();
                })
            })
            .collect();
        for _ in 0..2 {
            thread::yield_now();
        }
        queued.swap(true, Ordering::SeqCst);
        sleep.new_injected_jobs();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(ran.load(Ordering::Relaxed), 1);
    });
}

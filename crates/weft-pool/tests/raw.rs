//! The runtime door (`weft_pool::raw`): where each hint puts a job, the LIFO slot's
//! streak cap, and a driver that idle workers sleep in and busy workers poll.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use weft_pool::ThreadPoolBuilder;
use weft_pool::raw::{Driver, Hint, JobRef, LIFO_STREAK, PoolHandle};

/// A heap job running `body` once.
fn job(body: impl FnOnce() + Send + 'static) -> JobRef {
    type Body = Box<dyn FnOnce() + Send>;
    unsafe fn run(data: *const ()) {
        // SAFETY: `data` is the `Box<Body>` leaked below, run once.
        let body = unsafe { Box::from_raw(data.cast::<Body>().cast_mut()) };
        body();
    }
    let boxed: Box<Body> = Box::new(Box::new(body));
    // SAFETY: the box lives until `run` frees it; the bodies below do not panic.
    unsafe { JobRef::from_raw_parts(Box::into_raw(boxed).cast_const().cast(), run) }
}

/// Waits (bounded, so a bug fails instead of hanging) until `done` holds.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    for _ in 0..20_000 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("gave up waiting for {what}");
}

fn one_thread_pool() -> weft_pool::ThreadPool {
    ThreadPoolBuilder::new().num_threads(1).build().unwrap()
}

#[test]
fn fifo_jobs_run_in_order_and_the_lifo_slot_runs_next() {
    let pool = one_thread_pool();
    let handle = pool.raw_handle();
    let order = Arc::new(Mutex::new(Vec::new()));
    let record = |name: &'static str| {
        let order = Arc::clone(&order);
        job(move || order.lock().unwrap().push(name))
    };
    pool.install(|| {
        assert!(handle.is_current_worker());
        handle.schedule(record("fifo-1"), Hint::Fifo);
        handle.schedule(record("fifo-2"), Hint::Fifo);
        handle.schedule(record("lifo-1"), Hint::Lifo);
        // Displaces lifo-1 to the back of the queue.
        handle.schedule(record("lifo-2"), Hint::Lifo);
        handle.schedule(record("yield"), Hint::Yield);
    });
    wait_for("five jobs", || order.lock().unwrap().len() == 5);
    assert_eq!(
        *order.lock().unwrap(),
        ["lifo-2", "fifo-1", "fifo-2", "lifo-1", "yield"]
    );
    assert!(!handle.is_current_worker());
}

/// A job that keeps re-scheduling itself into the LIFO slot (two tasks waking each
/// other) cannot starve a queued job: the queued one runs within the streak cap.
#[test]
fn lifo_streak_is_capped() {
    let pool = one_thread_pool();
    let handle = pool.raw_handle();
    let slot_runs = Arc::new(AtomicUsize::new(0));
    let queued_ran_after = Arc::new(AtomicUsize::new(usize::MAX));

    fn ping(handle: PoolHandle, runs: Arc<AtomicUsize>, stop: Arc<AtomicUsize>) -> JobRef {
        job(move || {
            runs.fetch_add(1, Ordering::SeqCst);
            if stop.load(Ordering::SeqCst) == usize::MAX {
                let again = ping(handle.clone(), runs, stop);
                handle.schedule(again, Hint::Lifo);
            }
        })
    }
    pool.install(|| {
        let queued = {
            let (runs, after) = (Arc::clone(&slot_runs), Arc::clone(&queued_ran_after));
            job(move || after.store(runs.load(Ordering::SeqCst), Ordering::SeqCst))
        };
        handle.schedule(queued, Hint::Fifo);
        handle.schedule(
            ping(
                handle.clone(),
                Arc::clone(&slot_runs),
                Arc::clone(&queued_ran_after),
            ),
            Hint::Lifo,
        );
    });
    wait_for("the queued job", || {
        queued_ran_after.load(Ordering::SeqCst) != usize::MAX
    });
    let after = queued_ran_after.load(Ordering::SeqCst);
    assert!(
        after <= LIFO_STREAK as usize,
        "the queued job waited behind {after} LIFO-slot runs (cap {LIFO_STREAK})"
    );
}

#[test]
fn jobs_from_outside_are_injected() {
    let pool = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let handle = pool.raw_handle();
    let ran = Arc::new(AtomicUsize::new(0));
    for hint in [Hint::Lifo, Hint::Fifo, Hint::Yield] {
        for _ in 0..100 {
            let ran = Arc::clone(&ran);
            handle.schedule(
                job(move || {
                    assert!(weft_pool::current_thread_index().is_some());
                    ran.fetch_add(1, Ordering::SeqCst);
                }),
                hint,
            );
        }
    }
    wait_for("300 jobs", || ran.load(Ordering::SeqCst) == 300);
}

/// A driver for tests: `park` blocks on a condition variable until `unpark` or until
/// an "event" is posted; events are closures run by the parked (or polling) thread,
/// like a reactor waking wakers.
#[derive(Default)]
struct MockDriver {
    locked: AtomicBool,
    state: Mutex<MockState>,
    changed: Condvar,
    parks: AtomicUsize,
    polls: AtomicUsize,
}

#[derive(Default)]
struct MockState {
    unparked: bool,
    events: Vec<Box<dyn FnOnce() + Send>>,
}

impl std::fmt::Debug for MockDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockDriver").finish_non_exhaustive()
    }
}

impl MockDriver {
    fn post(&self, event: impl FnOnce() + Send + 'static) {
        self.state.lock().unwrap().events.push(Box::new(event));
        self.changed.notify_all();
    }

    fn run_events(&self, state: &mut MockState) {
        for event in std::mem::take(&mut state.events) {
            event();
        }
    }
}

impl Driver for MockDriver {
    fn try_lock(&self) -> bool {
        !self.locked.swap(true, Ordering::Acquire)
    }

    fn park(&self) {
        self.parks.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.lock().unwrap();
        while !state.unparked && state.events.is_empty() {
            state = self.changed.wait(state).unwrap();
        }
        state.unparked = false;
        self.run_events(&mut state);
    }

    fn poll(&self) {
        self.polls.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.lock().unwrap();
        self.run_events(&mut state);
    }

    fn unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }

    fn unpark(&self) {
        self.state.lock().unwrap().unparked = true;
        self.changed.notify_all();
    }
}

#[test]
fn idle_workers_sleep_in_the_driver_and_events_wake_tasks() {
    let driver = Arc::new(MockDriver::default());
    let pool = ThreadPoolBuilder::new()
        .num_threads(2)
        .driver(driver.clone())
        .build()
        .unwrap();
    let handle = pool.raw_handle();
    assert!(
        handle.set_driver(driver.clone()).is_err(),
        "one driver per pool"
    );
    wait_for("an idle worker to park in the driver", || {
        driver.parks.load(Ordering::SeqCst) > 0
    });
    // An "I/O event": the parked worker runs it, and it schedules a task the way a
    // waker on a worker would (LIFO slot).
    let ran = Arc::new(AtomicUsize::new(0));
    {
        let (handle, ran) = (handle.clone(), Arc::clone(&ran));
        driver.post(move || {
            assert!(
                handle.is_current_worker(),
                "events run on the driver's worker"
            );
            let ran = Arc::clone(&ran);
            handle.schedule(
                job(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                }),
                Hint::Lifo,
            );
        });
    }
    wait_for("the woken task", || ran.load(Ordering::SeqCst) == 1);
    // A job from outside reaches the pool although a sleeper sits in the driver.
    for _ in 0..50 {
        let ran = Arc::clone(&ran);
        handle.schedule(
            job(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            }),
            Hint::Fifo,
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    wait_for("the injected jobs", || ran.load(Ordering::SeqCst) == 51);
}

#[test]
fn busy_workers_poll_the_driver() {
    let driver = Arc::new(MockDriver::default());
    let pool = ThreadPoolBuilder::new()
        .num_threads(1)
        .driver(driver.clone())
        .build()
        .unwrap();
    let handle = pool.raw_handle();
    let ran = Arc::new(AtomicUsize::new(0));
    pool.install(|| {
        for _ in 0..1_000 {
            let ran = Arc::clone(&ran);
            handle.schedule(
                job(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                }),
                Hint::Fifo,
            );
        }
        // The jobs run while this worker waits in `join`'s work-while-waiting loop.
        weft_pool::scope(|_| {});
    });
    wait_for("the jobs", || ran.load(Ordering::SeqCst) == 1_000);
    assert!(
        driver.polls.load(Ordering::SeqCst)
            >= 1_000 / weft_pool::raw::DRIVER_POLL_INTERVAL as usize - 1,
        "a busy worker polls the driver every {} jobs",
        weft_pool::raw::DRIVER_POLL_INTERVAL
    );
}

//! Loom models of the sleep protocol (`src/sleep.rs`): a worker going to sleep races a
//! producer posting a job; the job must always run, and no worker may be left asleep
//! with a job queued (loom reports that as a deadlock: every thread blocked).
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!  cargo test --release -p weft-pool --test loom_sleep`
//!
//! Under loom the idle loop announces sleepy after one round and sleeps after two, so
//! each model reaches the sleeping path. The "queue" is one flag: pushing is an RMW
//! (the injector's push claims its slot with a SeqCst CAS on the tail index, and its
//! `is_empty`, the sleeper's re-check, reads that index), taking is a swap.

#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;
use std::sync::Arc;
use weft_pool::__loom::{CoreLatch, Sleep};

/// One worker that runs until it took the job; a producer that posts it from outside.
/// A lost wake-up leaves the worker parked forever: loom fails the join.
#[test]
fn injected_job_is_always_run_by_a_sleeping_worker() {
    loom::model(|| {
        let sleep = Arc::new(Sleep::new(1));
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
        // Loom runs a spinning (yielding) thread only when the others yield or block
        // too: without these yields the worker could never be asleep before the post.
        for _ in 0..4 {
            thread::yield_now();
        }
        queued.swap(true, Ordering::SeqCst);
        sleep.new_injected_jobs();
        worker.join().unwrap();
    });
}

/// Two workers, one job, then termination racing them: the job is taken at most once
/// (and, if nobody took it, it is still queued), and every worker, asleep or not, sees
/// its terminate latch and exits (a sleeper left behind fails the joins).
#[test]
fn one_job_two_workers_then_terminate() {
    loom::model(|| {
        let sleep = Arc::new(Sleep::new(2));
        let queued = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(AtomicUsize::new(0));
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
                    let latch = &terminate[index];
                    let mut idle = sleep.start_looking(index);
                    while !latch.probe() {
                        if queued.swap(false, Ordering::Acquire) {
                            sleep.work_found();
                            ran.fetch_add(1, Ordering::Relaxed);
                            idle = sleep.start_looking(index);
                        } else {
                            sleep
                                .no_work_found(&mut idle, latch, || queued.load(Ordering::Acquire));
                        }
                    }
                    sleep.work_found();
                })
            })
            .collect();
        queued.swap(true, Ordering::SeqCst);
        sleep.new_injected_jobs();
        for (index, latch) in terminate.iter().enumerate() {
            // SAFETY: the latch is kept alive by the Arc.
            if unsafe { CoreLatch::set(latch) } {
                sleep.wake_specific_thread(index);
            }
        }
        for worker in workers {
            worker.join().unwrap();
        }
        let left = usize::from(queued.load(Ordering::Relaxed));
        assert_eq!(ran.load(Ordering::Relaxed) + left, 1);
    });
}

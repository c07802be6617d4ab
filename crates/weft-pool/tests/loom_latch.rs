//! Loom models of the join latches (`src/latch.rs`): the owner probing and falling
//! asleep on a `CoreLatch` races the thief setting it; the owner outside the pool
//! parking on a `LockLatch` races its setter. The result written before the set must
//! be visible after the wait, and the waiter must always be woken.
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!  cargo test --release -p weft-pool --test loom_latch`

#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::thread;
use std::sync::Arc;
use weft_pool::__loom::{CoreLatch, LockLatch, Sleep};
use weft_sync::Parker;

struct Shared<L> {
    latch: L,
    result: UnsafeCell<u64>,
}

// SAFETY: `result` is written by the setter before the latch is set and read by the
// owner after it observed the latch set; loom checks exactly that.
unsafe impl<L: Sync> Sync for Shared<L> {}

/// `join` with its second half stolen: the owner (worker 0, with no other work) waits
/// through the sleep protocol; the thief writes the result, sets the latch and wakes
/// the owner if the set says it may sleep.
#[test]
fn stolen_join_half_wakes_its_sleeping_owner() {
    loom::model(|| {
        let sleep = Arc::new(Sleep::new(2));
        let shared = Arc::new(Shared {
            latch: CoreLatch::new(),
            result: UnsafeCell::new(0),
        });
        let thief = {
            let (sleep, shared) = (sleep.clone(), shared.clone());
            thread::spawn(move || {
                // SAFETY: the owner reads only after it saw the latch set.
                shared.result.with_mut(|r| unsafe { *r = 42 });
                // SAFETY: `shared` is kept alive by the Arc.
                if unsafe { CoreLatch::set(&shared.latch) } {
                    sleep.wake_specific_thread(0);
                }
            })
        };
        let mut idle = sleep.start_looking(0);
        while !shared.latch.probe() {
            sleep.no_work_found(&mut idle, &shared.latch, || false);
        }
        sleep.work_found();
        // SAFETY: the latch is set, so the thief's write happened before.
        assert_eq!(shared.result.with(|r| unsafe { *r }), 42);
        thief.join().unwrap();
    });
}

/// A thread outside the pool blocked on a `LockLatch` (its futex parker).
#[test]
fn lock_latch_wakes_its_parked_owner() {
    loom::model(|| {
        let shared = Arc::new(Shared {
            latch: LockLatch::with_parker(Arc::new(Parker::new())),
            result: UnsafeCell::new(0),
        });
        let setter = {
            let shared = shared.clone();
            thread::spawn(move || {
                // SAFETY: the owner reads only after the latch is set.
                shared.result.with_mut(|r| unsafe { *r = 7 });
                // SAFETY: kept alive by the Arc.
                unsafe { LockLatch::set_and_wake(&shared.latch) };
            })
        };
        shared.latch.wait();
        // SAFETY: the latch is set, so the setter's write happened before.
        assert_eq!(shared.result.with(|r| unsafe { *r }), 7);
        setter.join().unwrap();
    });
}

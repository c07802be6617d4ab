//! Memory stays bounded while threads keep pinning, retiring and unpinning: the number
//! of retired-but-not-freed objects stays under a bound that does not grow with the
//! number of retirements. Alone in its binary so no other test holds a pin meanwhile.
//!
//! A bound *during* a multi-threaded run would depend on the OS scheduler (a thread
//! preempted while pinned holds the epoch back; that is epoch reclamation's known
//! weakness), so the concurrent test checks the bound at barriers, after a flush.
#![cfg(not(loom))]

use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use weft_lockfree::epoch::{self, Atomic, Owned};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static MAX_LIVE: AtomicUsize = AtomicUsize::new(0);

struct Tracked;

impl Tracked {
    fn new() -> Self {
        let live = LIVE.fetch_add(1, Ordering::SeqCst) + 1;
        MAX_LIVE.fetch_max(live, Ordering::SeqCst);
        Self
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Bag capacity in the collector.
const BAG: usize = 64;

fn retire_one(atomic: &Atomic<Tracked>) {
    let guard = epoch::pin();
    let old = atomic.swap(Owned::new(Tracked::new()), Ordering::AcqRel, &guard);
    // SAFETY: unlinked by the swap, retired once.
    unsafe { guard.defer_destroy(old) };
}

#[test]
fn garbage_stays_bounded() {
    // One thread, no explicit flush: the collector's own triggers (a full bag, every
    // 128th pin) keep garbage at a few bags whatever the number of retirements.
    let atomic = Atomic::new(Tracked::new());
    thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..200_000 {
                retire_one(&atomic);
            }
            epoch::pin().flush();
        });
    });
    let max = MAX_LIVE.load(Ordering::SeqCst);
    assert!(max <= 4 * BAG + 2, "{max} objects alive at once");

    // Two threads in rounds: at each barrier (nobody pinned) one flush-advance pass
    // frees every sealed bag; only the threads' open bags may remain.
    const THREADS: usize = 2;
    const ROUNDS: usize = 50;
    let barrier = Barrier::new(THREADS);
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..ROUNDS {
                    for _ in 0..2_000 {
                        retire_one(&atomic);
                    }
                    if barrier.wait().is_leader() {
                        for _ in 0..4 {
                            epoch::pin().flush();
                        }
                        let live = LIVE.load(Ordering::SeqCst);
                        assert!(
                            live <= THREADS * BAG + 1,
                            "{live} objects alive after a flush"
                        );
                    }
                    barrier.wait();
                }
                // Seal this thread's bag now: its thread-local (which would do it at
                // exit) may be destroyed after the scope has already returned.
                epoch::pin().flush();
            });
        }
    });

    for _ in 0..4 {
        epoch::pin().flush();
    }
    // Every thread has sealed its bag: only the current value remains.
    assert_eq!(LIVE.load(Ordering::SeqCst), 1);
    // SAFETY: unshared.
    drop(unsafe { atomic.into_owned() });
    assert_eq!(LIVE.load(Ordering::SeqCst), 0);
}

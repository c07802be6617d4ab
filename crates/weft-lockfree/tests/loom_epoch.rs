//! Loom models of the epoch collector: a retired object is not freed while a pinned
//! thread may still read it, nothing is freed twice, and everything is eventually freed.
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!  cargo test --release -p weft-lockfree --test loom_epoch`
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use weft_lockfree::epoch::{self, Atomic, Owned};

/// A value whose destruction is a tracked write: loom reports a causality violation if
/// it is not ordered after a reader's tracked read.
struct Node {
    value: UnsafeCell<usize>,
    drops: Arc<AtomicUsize>,
}

// SAFETY: `value` is written only by `drop`, which the collector orders after readers.
unsafe impl Sync for Node {}

impl Node {
    fn new(value: usize, drops: &Arc<AtomicUsize>) -> Self {
        Self {
            value: UnsafeCell::new(value),
            drops: Arc::clone(drops),
        }
    }

    fn read(&self) -> usize {
        // SAFETY: loom checks this read against the write in `drop`.
        self.value.with(|value| unsafe { *value })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // SAFETY: `&mut self`; loom checks the write against concurrent readers.
        self.value.with_mut(|value| unsafe { *value = usize::MAX });
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn flush_times(times: usize) {
    for _ in 0..times {
        epoch::pin().flush();
    }
}

#[test]
fn retired_node_outlives_its_readers() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let atomic = Arc::new(Atomic::new(Node::new(1, &drops)));
        let reader = {
            let atomic = Arc::clone(&atomic);
            thread::spawn(move || {
                let guard = epoch::pin();
                let shared = atomic.load(Ordering::Acquire, &guard);
                // SAFETY: loaded under the guard from the structure.
                let node = unsafe { shared.deref() };
                let value = node.read();
                assert!(value == 1 || value == 2, "read a freed node");
            })
        };
        {
            let guard = epoch::pin();
            let old = atomic.swap(Owned::new(Node::new(2, &drops)), Ordering::AcqRel, &guard);
            // SAFETY: unlinked by the swap, retired once.
            unsafe { guard.defer_destroy(old) };
        }
        // Try hard to free it while the reader may still be pinned.
        flush_times(2);
        reader.join().unwrap();
        flush_times(3);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "retired node not freed exactly once"
        );
        let atomic = Arc::try_unwrap(atomic).ok().unwrap();
        // SAFETY: no other thread is left.
        drop(unsafe { atomic.into_owned() });
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn concurrent_retirements_free_each_node_once() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let atomic = Arc::new(Atomic::new(Node::new(0, &drops)));
        let threads: Vec<_> = (1..=2)
            .map(|value| {
                let (atomic, drops) = (Arc::clone(&atomic), Arc::clone(&drops));
                thread::spawn(move || {
                    let guard = epoch::pin();
                    let new = Owned::new(Node::new(value, &drops));
                    let old = atomic.swap(new, Ordering::AcqRel, &guard);
                    // SAFETY: loaded under the guard; retired by this thread only.
                    assert!(unsafe { old.deref() }.read() <= 2);
                    // SAFETY: unlinked by the swap, retired once.
                    unsafe { guard.defer_destroy(old) };
                    guard.flush();
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        flush_times(3);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        let atomic = Arc::try_unwrap(atomic).ok().unwrap();
        // SAFETY: no other thread is left.
        drop(unsafe { atomic.into_owned() });
        assert_eq!(drops.load(Ordering::SeqCst), 3);
    });
}

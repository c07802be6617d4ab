//! Stress tests for the epoch collector, `TreiberStack` and `MsQueue`: every value seen
//! exactly once, per-producer FIFO order for the queue, every destructor run once.
#![cfg(not(loom))]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use weft_lockfree::epoch::{self, Atomic, Owned};
use weft_lockfree::{MsQueue, TreiberStack};

const PRODUCERS: usize = 2;
const CONSUMERS: usize = 2;
const PER_PRODUCER: usize = if cfg!(debug_assertions) {
    20_000
} else {
    100_000
};

/// Counts drops, so tests can check every destructor ran exactly once.
struct Counted {
    value: usize,
    drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs producers pushing `producer << 32 | sequence` and consumers popping until all
/// are seen; returns what each consumer saw, in its order.
fn produce_consume(
    push: impl Fn(usize) + Sync,
    pop: impl Fn() -> Option<usize> + Sync,
) -> Vec<Vec<usize>> {
    let total = PRODUCERS * PER_PRODUCER;
    let popped = AtomicUsize::new(0);
    thread::scope(|scope| {
        for producer in 0..PRODUCERS {
            let push = &push;
            scope.spawn(move || {
                for sequence in 0..PER_PRODUCER {
                    push(producer << 32 | sequence);
                }
            });
        }
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let (pop, popped) = (&pop, &popped);
                scope.spawn(move || {
                    let mut seen = Vec::new();
                    while popped.load(Ordering::Relaxed) < total {
                        match pop() {
                            Some(value) => {
                                seen.push(value);
                                popped.fetch_add(1, Ordering::Relaxed);
                            }
                            None => thread::yield_now(),
                        }
                    }
                    seen
                })
            })
            .collect();
        consumers.into_iter().map(|c| c.join().unwrap()).collect()
    })
}

fn assert_each_once(seen: &[Vec<usize>]) {
    let mut all = HashSet::new();
    for value in seen.iter().flatten() {
        assert!(all.insert(*value), "value {value:#x} popped twice");
    }
    assert_eq!(all.len(), PRODUCERS * PER_PRODUCER, "values lost");
}

#[test]
fn stack_every_value_once() {
    let stack = TreiberStack::new();
    let seen = produce_consume(|v| stack.push(v), || stack.pop());
    assert_each_once(&seen);
    assert!(stack.is_empty());
}

#[test]
fn queue_every_value_once_in_producer_order() {
    let queue = MsQueue::new();
    let seen = produce_consume(|v| queue.push(v), || queue.pop());
    assert_each_once(&seen);
    // Each consumer sees each producer's values in increasing order.
    for consumer in &seen {
        let mut last = [None; PRODUCERS];
        for value in consumer {
            let (producer, sequence) = (value >> 32, value & 0xffff_ffff);
            if let Some(previous) = last[producer] {
                assert!(
                    sequence > previous,
                    "producer {producer}: {sequence} after {previous}"
                );
            }
            last[producer] = Some(sequence);
        }
    }
    assert!(queue.is_empty());
}

#[test]
fn stack_drops_every_element_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let stack = TreiberStack::new();
    for value in 0..1000 {
        stack.push(Counted {
            value,
            drops: Arc::clone(&drops),
        });
    }
    for expected in (500..1000).rev() {
        assert_eq!(stack.pop().map(|c| c.value), Some(expected));
    }
    assert_eq!(drops.load(Ordering::Relaxed), 500);
    drop(stack);
    assert_eq!(drops.load(Ordering::Relaxed), 1000);
}

#[test]
fn queue_drops_every_element_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let queue = MsQueue::new();
    for value in 0..1000 {
        queue.push(Counted {
            value,
            drops: Arc::clone(&drops),
        });
    }
    for expected in 0..500 {
        assert_eq!(queue.pop().map(|c| c.value), Some(expected));
    }
    assert_eq!(drops.load(Ordering::Relaxed), 500);
    drop(queue);
    assert_eq!(drops.load(Ordering::Relaxed), 1000);
}

#[test]
fn concurrent_drops_every_element_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let stack = TreiberStack::new();
    let queue = MsQueue::new();
    thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for value in 0..5_000 {
                    stack.push(Counted {
                        value,
                        drops: Arc::clone(&drops),
                    });
                    queue.push(Counted {
                        value,
                        drops: Arc::clone(&drops),
                    });
                    if value % 3 == 0 {
                        drop(stack.pop());
                        drop(queue.pop());
                    }
                }
            });
        }
    });
    drop((stack, queue));
    assert_eq!(drops.load(Ordering::Relaxed), 2 * 2 * 5_000);
}

/// A value whose destructor panics once: the structure's `Drop` unwinds, and the
/// elements dropped before it were dropped exactly once.
struct PanicsOnDrop {
    panics: bool,
    drops: Arc<AtomicUsize>,
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
        if self.panics {
            panic!("destructor panic (expected by the test)");
        }
    }
}

#[test]
fn queue_drop_with_panicking_destructor() {
    let drops = Arc::new(AtomicUsize::new(0));
    let queue = MsQueue::new();
    for i in 0..10 {
        queue.push(PanicsOnDrop {
            panics: i == 4,
            drops: Arc::clone(&drops),
        });
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(queue)));
    assert!(result.is_err());
    // Elements 0..=4 were dropped once each; the rest leaked (never dropped twice).
    assert_eq!(drops.load(Ordering::Relaxed), 5);
}

#[test]
fn deferred_destroy_runs_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let atomic = Atomic::new(Counted {
        value: 0,
        drops: Arc::clone(&drops),
    });
    thread::scope(|scope| {
        for thread in 0..2 {
            let (atomic, drops) = (&atomic, &drops);
            scope.spawn(move || {
                for value in 0..2_000 {
                    let guard = epoch::pin();
                    let new = Owned::new(Counted {
                        value: thread << 16 | value,
                        drops: Arc::clone(drops),
                    });
                    let old = atomic.swap(new, Ordering::AcqRel, &guard);
                    // SAFETY: reachable when swapped under the guard; read before retiring.
                    assert!(unsafe { old.deref() }.value != usize::MAX);
                    // SAFETY: unlinked by the swap, retired once by the swapper.
                    unsafe { guard.defer_destroy(old) };
                }
                // Seal this thread's bag now: its thread-local (which would do it at
                // exit) may be destroyed after the scope has already returned.
                epoch::pin().flush();
            });
        }
    });
    // Eventually freed: other tests in this binary pin too, so an advance can fail
    // now and then; keep flushing (each flush may advance the epoch by one).
    for _ in 0..100_000 {
        if drops.load(Ordering::Relaxed) == 2 * 2_000 {
            break;
        }
        epoch::pin().flush();
        thread::yield_now();
    }
    // SAFETY: no other thread has `atomic`.
    drop(unsafe { atomic.into_owned() });
    assert_eq!(drops.load(Ordering::Relaxed), 1 + 2 * 2_000);
}

#[test]
fn nested_pins_and_repin() {
    let mut outer = epoch::pin();
    {
        let _inner = epoch::pin();
        assert!(epoch::is_pinned());
    }
    assert!(epoch::is_pinned());
    outer.repin();
    drop(outer);
    assert!(!epoch::is_pinned());
}

#[test]
fn tags_live_in_alignment_bits() {
    let atomic = Atomic::new(5_u64);
    let guard = epoch::pin();
    let shared = atomic.load(Ordering::Acquire, &guard);
    assert_eq!(shared.tag(), 0);
    atomic.fetch_or(0b101, Ordering::AcqRel, &guard);
    let tagged = atomic.load(Ordering::Acquire, &guard);
    assert_eq!((tagged.tag(), tagged.as_raw()), (0b101, shared.as_raw()));
    atomic.fetch_and(!0b1, Ordering::AcqRel, &guard);
    atomic.fetch_xor(0b10, Ordering::AcqRel, &guard);
    let tagged = atomic.load(Ordering::Acquire, &guard);
    assert_eq!(tagged.tag(), 0b110);
    // SAFETY: reachable under the guard.
    assert_eq!(unsafe { tagged.deref() }, &5);
    let error = atomic
        .compare_exchange(
            shared,
            Owned::new(6),
            Ordering::AcqRel,
            Ordering::Acquire,
            &guard,
        )
        .unwrap_err();
    assert_eq!(error.current, tagged);
    assert_eq!(*error.new, 6);
    assert!(
        atomic
            .compare_exchange(
                tagged,
                tagged.with_tag(0),
                Ordering::AcqRel,
                Ordering::Acquire,
                &guard
            )
            .is_ok()
    );
    drop(guard);
    // SAFETY: unshared.
    drop(unsafe { atomic.into_owned() });
}

#[test]
fn stack_drop_with_panicking_destructor() {
    let drops = Arc::new(AtomicUsize::new(0));
    let stack = TreiberStack::new();
    for i in 0..10 {
        stack.push(PanicsOnDrop {
            panics: i == 5,
            drops: Arc::clone(&drops),
        });
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(stack)));
    assert!(result.is_err());
    // Dropped top first: 9, 8, 7, 6, 5 (which panics); the rest leaked, none twice.
    assert_eq!(drops.load(Ordering::Relaxed), 5);
}

#[test]
fn deferred_closures_run_exactly_once() {
    let runs = Arc::new(AtomicUsize::new(0));
    thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for _ in 0..1_000 {
                    let runs = Arc::clone(&runs);
                    epoch::pin().defer(move || runs.fetch_add(1, Ordering::Relaxed));
                }
                epoch::pin().flush();
            });
        }
    });
    for _ in 0..100_000 {
        if runs.load(Ordering::Relaxed) == 2_000 {
            break;
        }
        epoch::pin().flush();
        thread::yield_now();
    }
    assert_eq!(runs.load(Ordering::Relaxed), 2_000);
}

//! Stress tests for `ArrayQueue` and `SegQueue`: many producers and consumers, every
//! value seen exactly once, per-producer FIFO order in each consumer's view, and every
//! destructor run exactly once. Bounded by operation counts, never by timing.

#![cfg(not(loom))]

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use weft_lockfree::{ArrayQueue, SegQueue};

const PRODUCERS: usize = 3;
const CONSUMERS: usize = 3;
const PER_PRODUCER: usize = if cfg!(debug_assertions) {
    20_000
} else {
    100_000
};

/// The operations both queues offer, so each scenario is written once.
trait Queue<T>: Sync {
    /// Pushes, retrying while a bounded queue is full.
    fn push_blocking(&self, value: T);
    fn try_pop(&self) -> Option<T>;
}

impl<T: Send> Queue<T> for ArrayQueue<T> {
    fn push_blocking(&self, mut value: T) {
        while let Err(back) = self.push(value) {
            value = back;
            thread::yield_now();
        }
    }
    fn try_pop(&self) -> Option<T> {
        self.pop()
    }
}

impl<T: Send> Queue<T> for SegQueue<T> {
    fn push_blocking(&self, value: T) {
        self.push(value);
    }
    fn try_pop(&self) -> Option<T> {
        self.pop()
    }
}

/// Producers push `(producer, sequence)`; consumers pop until every value is taken.
/// Checks each value arrives once and each consumer sees each producer's values in
/// increasing sequence.
fn exactly_once_in_order(queue: &impl Queue<(usize, usize)>) {
    let total = PRODUCERS * PER_PRODUCER;
    let taken = AtomicUsize::new(0);
    let seen = Mutex::new(vec![vec![false; PER_PRODUCER]; PRODUCERS]);
    thread::scope(|scope| {
        for producer in 0..PRODUCERS {
            scope.spawn(move || {
                for sequence in 0..PER_PRODUCER {
                    queue.push_blocking((producer, sequence));
                }
            });
        }
        for _ in 0..CONSUMERS {
            scope.spawn(|| {
                let mut last = [None::<usize>; PRODUCERS];
                let mut mine = Vec::new();
                while taken.load(Ordering::Relaxed) < total {
                    if let Some((producer, sequence)) = queue.try_pop() {
                        taken.fetch_add(1, Ordering::Relaxed);
                        if let Some(previous) = last[producer] {
                            assert!(
                                previous < sequence,
                                "producer {producer}: {sequence} after {previous}"
                            );
                        }
                        last[producer] = Some(sequence);
                        mine.push((producer, sequence));
                    } else {
                        thread::yield_now();
                    }
                }
                let mut seen = seen.lock().unwrap();
                for (producer, sequence) in mine {
                    assert!(
                        !std::mem::replace(&mut seen[producer][sequence], true),
                        "({producer}, {sequence}) popped twice"
                    );
                }
            });
        }
    });
    let seen = seen.into_inner().unwrap();
    assert!(seen.iter().flatten().all(|&s| s), "a value was lost");
    assert!(queue.try_pop().is_none());
}

#[test]
fn array_queue_every_value_once_in_order() {
    for capacity in [1, 2, 64] {
        exactly_once_in_order(&ArrayQueue::new(capacity));
    }
}

#[test]
fn seg_queue_every_value_once_in_order() {
    exactly_once_in_order(&SegQueue::new());
}

/// Counts its drops in a shared counter.
struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn array_queue_drops_each_element_once() {
    let drops = AtomicUsize::new(0);
    {
        let queue = ArrayQueue::new(50);
        // Wrap round the ring a few times so the leftovers straddle the end of it.
        for _ in 0..130 {
            if let Err(back) = queue.push(Counted(&drops)) {
                drop(back);
                drop(queue.pop());
            }
        }
        for _ in 0..10 {
            drop(queue.pop());
        }
        assert_eq!(queue.len(), 40);
        // `force_push` hands the evicted value back to be dropped by the caller.
        for _ in 0..15 {
            drop(queue.force_push(Counted(&drops)));
        }
        assert_eq!(queue.len(), 50);
    }
    assert_eq!(drops.load(Ordering::Relaxed), 130 + 15);
}

#[test]
fn array_queue_into_iter_drops_the_rest() {
    let drops = AtomicUsize::new(0);
    let queue = ArrayQueue::new(8);
    for _ in 0..6 {
        queue.push(Counted(&drops)).ok().unwrap();
    }
    let mut iter = queue.into_iter();
    assert_eq!(iter.len(), 6);
    drop(iter.next());
    drop(iter);
    assert_eq!(drops.load(Ordering::Relaxed), 6);
}

#[test]
fn seg_queue_drops_each_element_once_across_blocks() {
    for left in [0, 1, 30, 31, 32, 62, 63, 100] {
        let drops = AtomicUsize::new(0);
        {
            let queue = SegQueue::new();
            for _ in 0..200 {
                queue.push(Counted(&drops));
            }
            for _ in 0..200 - left {
                drop(queue.pop());
            }
            assert_eq!(queue.len(), left);
        }
        assert_eq!(
            drops.load(Ordering::Relaxed),
            200,
            "left {left} in the queue"
        );
    }
}

#[test]
fn concurrent_drops_each_element_once() {
    let drops = AtomicUsize::new(0);
    const PUSHED: usize = 4 * 5_000;
    {
        let seg = SegQueue::new();
        let ring = ArrayQueue::new(100);
        thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    for _ in 0..PUSHED / 4 {
                        seg.push(Counted(&drops));
                        drop(ring.force_push(Counted(&drops)));
                    }
                });
                scope.spawn(|| {
                    for _ in 0..PUSHED / 8 {
                        drop(seg.pop());
                        drop(ring.pop());
                    }
                });
            }
        });
        // Whatever is still queued is dropped with the queues.
    }
    assert_eq!(drops.load(Ordering::Relaxed), PUSHED);
}

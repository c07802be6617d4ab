//! loom models of `SegQueue` with two-slot blocks (its size under loom): no value lost
//! or duplicated, order kept, across a block boundary, with blocks freed by their last
//! reader and every value dropped once.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use weft_lockfree::SegQueue;

fn drain(queue: &SegQueue<u32>) -> Vec<u32> {
    std::iter::from_fn(|| queue.pop()).collect()
}

#[test]
fn producer_and_consumer_cross_a_block_boundary() {
    loom::model(|| {
        let queue = Arc::new(SegQueue::new());
        let q = Arc::clone(&queue);
        // Three pushes fill the first block (two slots) and install the second.
        let producer = thread::spawn(move || {
            for value in 1..=3 {
                q.push(value);
            }
        });
        let mut seen: Vec<u32> = (0..3).filter_map(|_| queue.pop()).collect();
        producer.join().unwrap();
        seen.extend(drain(&queue));
        assert_eq!(seen, [1, 2, 3]);
        assert!(queue.is_empty());
    });
}

#[test]
fn two_producers_race_for_the_last_slot() {
    loom::model(|| {
        let queue = Arc::new(SegQueue::new());
        queue.push(0);
        let q = Arc::clone(&queue);
        // Slot 1 (the block's last) and slot 0 of the next block go to these two.
        let other = thread::spawn(move || q.push(1));
        queue.push(2);
        other.join().unwrap();
        assert_eq!(queue.len(), 3);
        let mut all = drain(&queue);
        assert_eq!(all[0], 0);
        all.sort_unstable();
        assert_eq!(all, [0, 1, 2]);
    });
}

#[test]
fn two_consumers_free_the_block_once() {
    loom::model(|| {
        let queue = Arc::new(SegQueue::new());
        for value in 1..=3 {
            queue.push(value);
        }
        let q = Arc::clone(&queue);
        // One takes slot 0, the other slot 1 (the last): either may finish reading
        // first, so either may be the one to free the first block.
        let consumer = thread::spawn(move || q.pop());
        let mine = queue.pop();
        let theirs = consumer.join().unwrap();
        let mut both = [mine.unwrap(), theirs.unwrap()];
        both.sort_unstable();
        assert_eq!(both, [1, 2]);
        assert_eq!(drain(&queue), [3]);
    });
}

struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn every_value_dropped_once_including_leftovers() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        {
            let queue = Arc::new(SegQueue::new());
            queue.push(Counted(Arc::clone(&drops)));
            let q = Arc::clone(&queue);
            let d = Arc::clone(&drops);
            // The consumer is the spawned thread (see `loom_array_queue.rs` for why).
            let consumer = thread::spawn(move || drop(q.pop()));
            queue.push(Counted(Arc::clone(&d)));
            queue.push(Counted(d));
            consumer.join().unwrap();
            // Up to two values are left, across the block boundary, for `Drop`.
        }
        assert_eq!(drops.load(Ordering::Relaxed), 3);
    });
}

#[test]
fn first_block_installed_once_under_a_race() {
    loom::model(|| {
        // Both producers find no block and race to install the first; the consumer
        // may see a claimed slot before the block is published.
        let queue = Arc::new(SegQueue::new());
        let (q1, q2) = (Arc::clone(&queue), Arc::clone(&queue));
        let a = thread::spawn(move || q1.push(1));
        let b = thread::spawn(move || q2.push(2));
        let popped = queue.pop();
        a.join().unwrap();
        b.join().unwrap();
        let mut all: Vec<u32> = popped.into_iter().chain(drain(&queue)).collect();
        all.sort_unstable();
        assert_eq!(all, [1, 2]);
    });
}

//! Loom model of `MsQueue`: no element lost or duplicated, FIFO per producer.
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!  cargo test --release -p weft-lockfree --test loom_ms_queue`
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use weft_lockfree::MsQueue;

#[test]
fn producer_and_consumer() {
    loom::model(|| {
        let queue = Arc::new(MsQueue::new());
        let producer = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                queue.push(1);
                queue.push(2);
            })
        };
        let consumer = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || queue.pop())
        };
        producer.join().unwrap();
        let mut seen: Vec<u32> = consumer.join().unwrap().into_iter().collect();
        while let Some(value) = queue.pop() {
            seen.push(value);
        }
        // Per-producer order: the producer's first value comes out before its second.
        let first = seen.iter().position(|&v| v == 1).unwrap();
        let second = seen.iter().position(|&v| v == 2).unwrap();
        assert!(first < second, "{seen:?}");
        seen.sort_unstable();
        assert_eq!(seen, [1, 2]);
    });
}

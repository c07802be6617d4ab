//! Loom models of `weft_lockfree::deque`. Under loom a new deque's ring holds 2 items
//! and an injector block 2 slots, so growth and block changes happen inside the models.
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!  cargo test --release -p weft-lockfree --test loom_deque`
//!
//! Every model checks that each value is taken exactly once and dropped exactly once.
//! The models avoid one interleaving on purpose: a stealer's speculative copy of a
//! slot that the owner is overwriting after `top` moved past it (a copy the stealer
//! then discards, see `deque/buffer.rs`). Loom reports any such overlap as a race on
//! the cell, so no model lets the owner lap the ring while a stealer is mid-steal.

#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use weft_lockfree::deque::{Injector, Steal, Worker};

/// A value that counts its drops.
struct Item {
    value: usize,
    drops: Arc<AtomicUsize>,
}

impl Item {
    fn new(value: usize, drops: &Arc<AtomicUsize>) -> Item {
        Item {
            value,
            drops: drops.clone(),
        }
    }
}

impl Drop for Item {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// Checks that `taken` holds each of `0..n` once, drops them, and checks the count.
fn check_once(mut taken: Vec<Item>, n: usize, drops: &Arc<AtomicUsize>) {
    let mut values: Vec<usize> = taken.iter().map(|item| item.value).collect();
    values.sort_unstable();
    assert_eq!(values, (0..n).collect::<Vec<_>>(), "lost or duplicated");
    taken.clear();
    assert_eq!(drops.load(Ordering::Relaxed), n, "double or missing drop");
}

fn drain(worker: &Worker<Item>, into: &mut Vec<Item>) {
    while let Some(item) = worker.pop() {
        into.push(item);
    }
}

/// The owner's pop and a steal race for the last item: exactly one gets it.
#[test]
fn pop_vs_steal_on_last_item() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let worker = Worker::new_lifo();
        worker.push(Item::new(0, &drops));
        let stealer = worker.stealer();
        let thief = thread::spawn(move || stealer.steal().success());
        let mine = worker.pop();
        let stolen = thief.join().unwrap();
        assert!(
            mine.is_some() != stolen.is_some(),
            "exactly one of pop and steal must win"
        );
        let taken: Vec<Item> = mine.into_iter().chain(stolen).collect();
        check_once(taken, 1, &drops);
        drop(worker);
    });
}

/// Pushes that grow the ring (2 -> 4) race a stealer taking two items; then the owner
/// pops the rest.
#[test]
fn push_with_growth_vs_steal() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let worker = Worker::new_lifo();
        worker.push(Item::new(0, &drops));
        let stealer = worker.stealer();
        let thief = thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..2 {
                if let Steal::Success(item) = stealer.steal() {
                    got.push(item);
                }
            }
            got
        });
        worker.push(Item::new(1, &drops));
        worker.push(Item::new(2, &drops)); // the ring is full: grows
        let mut taken = thief.join().unwrap();
        drain(&worker, &mut taken);
        check_once(taken, 3, &drops);
    });
}

/// `steal_batch_and_pop` from a LIFO deque (one claim per item) races owner pops.
#[test]
fn steal_batch_and_pop_vs_pop_lifo() {
    steal_batch_vs_pop(false);
}

/// `steal_batch` from a FIFO deque (one claim for the whole run) races owner pops.
#[test]
fn steal_batch_vs_pop_fifo() {
    steal_batch_vs_pop(true);
}

fn steal_batch_vs_pop(fifo: bool) {
    loom::model(move || {
        let drops = Arc::new(AtomicUsize::new(0));
        let worker = if fifo {
            Worker::new_fifo()
        } else {
            Worker::new_lifo()
        };
        for value in 0..3 {
            worker.push(Item::new(value, &drops));
        }
        let stealer = worker.stealer();
        let thief = thread::spawn(move || {
            let mine = Worker::new_lifo();
            let mut got = Vec::new();
            let result = if fifo {
                stealer.steal_batch(&mine).success().map(|()| None)
            } else {
                stealer.steal_batch_and_pop(&mine).success().map(Some)
            };
            if let Some(Some(item)) = result {
                got.push(item);
            }
            drain(&mine, &mut got);
            got
        });
        let mut taken = Vec::new();
        if let Some(item) = worker.pop() {
            taken.push(item);
        }
        if let Some(item) = worker.pop() {
            taken.push(item);
        }
        taken.extend(thief.join().unwrap());
        drain(&worker, &mut taken);
        check_once(taken, 3, &drops);
    });
}

/// Items left in the deque and in a retired ring are dropped once, with the last
/// handle (here the stealer, on another thread).
#[test]
fn drop_with_items_left_after_growth() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let worker = Worker::new_lifo();
        for value in 0..3 {
            worker.push(Item::new(value, &drops));
        }
        let stealer = worker.stealer();
        let thief = thread::spawn(move || {
            let got = stealer.steal().success();
            drop(stealer);
            got
        });
        drop(worker);
        let got = thief.join().unwrap();
        assert_eq!(got.map(|item| item.value), Some(0));
        assert_eq!(drops.load(Ordering::Relaxed), 3);
    });
}

/// Two producers and a batch consumer across a block boundary (blocks of 2 slots).
#[test]
fn injector_push_vs_steal_batch() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let injector = Arc::new(Injector::new());
        injector.push(Item::new(0, &drops));
        let producer = {
            let injector = injector.clone();
            let drops = drops.clone();
            thread::spawn(move || injector.push(Item::new(1, &drops)))
        };
        let consumer = {
            let injector = injector.clone();
            thread::spawn(move || {
                let mine = Worker::new_fifo();
                let mut got = Vec::new();
                if let Steal::Success(item) = injector.steal_batch_and_pop(&mine) {
                    got.push(item);
                }
                drain(&mine, &mut got);
                got
            })
        };
        injector.push(Item::new(2, &drops));
        producer.join().unwrap();
        let mut taken = consumer.join().unwrap();
        loop {
            match injector.steal() {
                Steal::Success(item) => taken.push(item),
                Steal::Retry => thread::yield_now(),
                Steal::Empty => break,
            }
        }
        check_once(taken, 3, &drops);
    });
}

/// Two consumers steal single items while a producer crosses a block boundary; the
/// leftovers are dropped with the queue.
#[test]
fn injector_two_stealers_and_drop() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let injector = Arc::new(Injector::new());
        injector.push(Item::new(0, &drops));
        injector.push(Item::new(1, &drops));
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let injector = injector.clone();
                thread::spawn(move || injector.steal().success().map(|item| item.value))
            })
            .collect();
        injector.push(Item::new(2, &drops));
        let got: Vec<usize> = consumers
            .into_iter()
            .filter_map(|c| c.join().unwrap())
            .collect();
        if got.len() == 2 {
            assert_ne!(got[0], got[1], "one item taken twice");
        }
        let left = injector.len();
        assert_eq!(left + got.len(), 3);
        drop(injector);
        assert_eq!(drops.load(Ordering::Relaxed), 3);
    });
}

/// Three threads: the owner pops while two stealers steal, over two items.
#[test]
fn pop_vs_two_stealers() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let worker = Worker::new_lifo();
        worker.push(Item::new(0, &drops));
        worker.push(Item::new(1, &drops));
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let stealer = worker.stealer();
                thread::spawn(move || stealer.steal().success())
            })
            .collect();
        let mut taken: Vec<Item> = worker.pop().into_iter().collect();
        for thief in thieves {
            taken.extend(thief.join().unwrap());
        }
        drain(&worker, &mut taken);
        check_once(taken, 2, &drops);
    });
}

/// FIFO: the owner's `fetch_add` pop (and its undo on empty) races a steal.
#[test]
fn fifo_pop_vs_steal() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let worker = Worker::new_fifo();
        worker.push(Item::new(0, &drops));
        let stealer = worker.stealer();
        let thief = thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..2 {
                if let Steal::Success(item) = stealer.steal() {
                    got.push(item);
                }
            }
            got
        });
        let mut taken: Vec<Item> = worker.pop().into_iter().collect();
        worker.push(Item::new(1, &drops));
        taken.extend(thief.join().unwrap());
        drain(&worker, &mut taken);
        check_once(taken, 2, &drops);
    });
}

/// Two injector consumers, one taking batches, over three items in two blocks.
#[test]
fn injector_batch_vs_steal() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let injector = Arc::new(Injector::new());
        for value in 0..3 {
            injector.push(Item::new(value, &drops));
        }
        let batcher = {
            let injector = injector.clone();
            thread::spawn(move || {
                let mine = Worker::new_lifo();
                let mut got = Vec::new();
                let _ = injector.steal_batch(&mine);
                drain(&mine, &mut got);
                got
            })
        };
        let mut taken: Vec<Item> = injector.steal().success().into_iter().collect();
        taken.extend(batcher.join().unwrap());
        loop {
            match injector.steal() {
                Steal::Success(item) => taken.push(item),
                Steal::Retry => thread::yield_now(),
                Steal::Empty => break,
            }
        }
        check_once(taken, 3, &drops);
    });
}

/// A batch lands in a deque whose own stealer is already stealing from it: the items
/// are published to that stealer by the batch's one `bottom` store.
#[test]
fn steal_batch_into_a_deque_being_stolen_from() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let source = Worker::new_fifo();
        for value in 0..3 {
            source.push(Item::new(value, &drops));
        }
        let dest = Worker::new_lifo();
        let dest_stealer = dest.stealer();
        let source_stealer = source.stealer();
        let owner = thread::spawn(move || {
            let mut got = Vec::new();
            let _ = source_stealer.steal_batch(&dest);
            drain(&dest, &mut got);
            got
        });
        let thief = thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..2 {
                if let Steal::Success(item) = dest_stealer.steal() {
                    got.push(item);
                }
            }
            got
        });
        let mut taken = owner.join().unwrap();
        taken.extend(thief.join().unwrap());
        drain(&source, &mut taken);
        check_once(taken, 3, &drops);
    });
}

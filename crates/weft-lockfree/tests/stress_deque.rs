//! Stress and drop tests for `weft_lockfree::deque`: every pushed value is consumed
//! exactly once (a seen-bitmap and a checksum), every destructor runs exactly once.
//! Bounded by item counts, not time; a few seconds on two cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use weft_lockfree::deque::{Injector, Steal, Worker};

#[cfg(debug_assertions)]
const ITEMS: usize = 100_000;
#[cfg(not(debug_assertions))]
const ITEMS: usize = 1_000_000;

/// Records each value once; panics on a duplicate.
struct Seen {
    bits: Vec<AtomicBool>,
    sum: AtomicUsize,
    count: AtomicUsize,
}

impl Seen {
    fn new(n: usize) -> Seen {
        Seen {
            bits: (0..n).map(|_| AtomicBool::new(false)).collect(),
            sum: AtomicUsize::new(0),
            count: AtomicUsize::new(0),
        }
    }

    fn record(&self, value: usize) {
        assert!(
            !self.bits[value].swap(true, Ordering::Relaxed),
            "value {value} consumed twice"
        );
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn assert_all(&self, n: usize) {
        assert_eq!(self.count.load(Ordering::Relaxed), n, "values lost");
        assert_eq!(self.sum.load(Ordering::Relaxed), n * (n - 1) / 2);
        assert!(self.bits.iter().all(|b| b.load(Ordering::Relaxed)));
    }
}

/// `steal_batch` into a worker, then report one of its items as the success value
/// (the rest are drained by the caller's loop).
fn batch_then_pop(result: Steal<()>, mine: &Worker<usize>) -> Steal<usize> {
    match result {
        Steal::Success(()) => match mine.pop() {
            Some(value) => Steal::Success(value),
            None => panic!("steal_batch reported success but moved nothing"),
        },
        Steal::Empty => Steal::Empty,
        Steal::Retry => Steal::Retry,
    }
}

/// One owner pushes `ITEMS` values (popping some as it goes); `stealers` threads use
/// `steal`, `steal_batch` and `steal_batch_and_pop` in turn.
fn owner_and_stealers(worker: Worker<usize>, stealers: usize) {
    let seen = Arc::new(Seen::new(ITEMS));
    let done = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..stealers)
        .map(|id| {
            let stealer = worker.stealer();
            let seen = seen.clone();
            let done = done.clone();
            thread::spawn(move || {
                let mine = if id % 2 == 0 {
                    Worker::new_lifo()
                } else {
                    Worker::new_fifo()
                };
                let mut round = id;
                loop {
                    let finished = done.load(Ordering::Acquire);
                    let got = match round % 3 {
                        0 => stealer.steal(),
                        1 => batch_then_pop(stealer.steal_batch(&mine), &mine),
                        _ => stealer.steal_batch_and_pop(&mine),
                    };
                    round += 1;
                    match got {
                        Steal::Success(value) => seen.record(value),
                        Steal::Retry => continue,
                        Steal::Empty if finished => break,
                        Steal::Empty => thread::yield_now(),
                    }
                    while let Some(value) = mine.pop() {
                        seen.record(value);
                    }
                }
            })
        })
        .collect();
    for value in 0..ITEMS {
        worker.push(value);
        if value % 3 == 0
            && let Some(value) = worker.pop()
        {
            seen.record(value);
        }
    }
    while let Some(value) = worker.pop() {
        seen.record(value);
    }
    done.store(true, Ordering::Release);
    for handle in handles {
        handle.join().unwrap();
    }
    seen.assert_all(ITEMS);
}

#[test]
fn lifo_owner_with_three_stealers() {
    owner_and_stealers(Worker::new_lifo(), 3);
}

#[test]
fn fifo_owner_with_three_stealers() {
    owner_and_stealers(Worker::new_fifo(), 3);
}

#[test]
fn injector_producers_and_consumers() {
    const PRODUCERS: usize = 3;
    const CONSUMERS: usize = 3;
    let injector = Arc::new(Injector::new());
    let seen = Arc::new(Seen::new(ITEMS));
    let producers_left = Arc::new(AtomicUsize::new(PRODUCERS));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let injector = injector.clone();
            let left = producers_left.clone();
            thread::spawn(move || {
                for value in (p..ITEMS).step_by(PRODUCERS) {
                    injector.push(value);
                }
                left.fetch_sub(1, Ordering::Release);
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            let injector = injector.clone();
            let seen = seen.clone();
            let left = producers_left.clone();
            thread::spawn(move || {
                let mine = Worker::new_lifo();
                let mut round = c;
                loop {
                    let finished = left.load(Ordering::Acquire) == 0;
                    let got = match round % 3 {
                        0 => injector.steal(),
                        1 => batch_then_pop(injector.steal_batch(&mine), &mine),
                        _ => injector.steal_batch_and_pop(&mine),
                    };
                    round += 1;
                    match got {
                        Steal::Success(value) => seen.record(value),
                        Steal::Retry => continue,
                        Steal::Empty if finished => break,
                        Steal::Empty => thread::yield_now(),
                    }
                    while let Some(value) = mine.pop() {
                        seen.record(value);
                    }
                }
            })
        })
        .collect();
    for handle in producers.into_iter().chain(consumers) {
        handle.join().unwrap();
    }
    assert!(injector.is_empty());
    seen.assert_all(ITEMS);
}

/// FIFO order within one producer, as seen by one consumer.
#[test]
fn injector_is_fifo() {
    let injector = Injector::new();
    for i in 0..1000 {
        injector.push(i);
    }
    let mine = Worker::new_fifo();
    let mut next = 0;
    while next < 1000 {
        match injector.steal_batch_and_pop(&mine) {
            Steal::Success(value) => {
                assert_eq!(value, next);
                next += 1;
                while let Some(value) = mine.pop() {
                    assert_eq!(value, next);
                    next += 1;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(injector.steal(), Steal::Empty);
}

/// Counts its drops in a shared counter, and checks it is dropped once.
struct Counted {
    drops: Arc<AtomicUsize>,
    alive: bool,
}

impl Counted {
    fn new(drops: &Arc<AtomicUsize>) -> Counted {
        Counted {
            drops: drops.clone(),
            alive: true,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        assert!(self.alive, "dropped twice");
        self.alive = false;
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn worker_drops_each_element_once_across_growth() {
    for fifo in [false, true] {
        let drops = Arc::new(AtomicUsize::new(0));
        let worker = if fifo {
            Worker::new_fifo()
        } else {
            Worker::new_lifo()
        };
        let stealer = worker.stealer();
        let other = Worker::new_lifo();
        // Past several doublings of the initial ring.
        for _ in 0..1000 {
            worker.push(Counted::new(&drops));
        }
        for _ in 0..100 {
            drop(worker.pop().unwrap());
            drop(stealer.steal().success().unwrap());
        }
        assert_eq!(stealer.steal_batch(&other), Steal::Success(()));
        drop(stealer.steal_batch_and_pop(&other).success().unwrap());
        assert_eq!(drops.load(Ordering::Relaxed), 201);
        // The rest are dropped with the last handle of each deque.
        drop(worker);
        assert_eq!(
            drops.load(Ordering::Relaxed),
            201,
            "a stealer still holds it"
        );
        drop(stealer);
        drop(other);
        assert_eq!(drops.load(Ordering::Relaxed), 1000);
    }
}

#[test]
fn worker_drops_left_elements_under_concurrency() {
    let drops = Arc::new(AtomicUsize::new(0));
    let worker = Worker::new_lifo();
    let stealers: Vec<_> = (0..2)
        .map(|_| {
            let stealer = worker.stealer();
            thread::spawn(move || {
                let mine = Worker::new_lifo();
                for _ in 0..2000 {
                    let _ = stealer.steal();
                    let _ = stealer.steal_batch(&mine);
                    drop(mine.pop());
                }
                // `mine` drops its leftovers here.
            })
        })
        .collect();
    for i in 0..20_000 {
        worker.push(Counted::new(&drops));
        if i % 2 == 0 {
            drop(worker.pop());
        }
    }
    for handle in stealers {
        handle.join().unwrap();
    }
    drop(worker);
    assert_eq!(drops.load(Ordering::Relaxed), 20_000);
}

#[test]
fn injector_drops_each_element_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let injector = Injector::new();
    // Several blocks.
    for _ in 0..500 {
        injector.push(Counted::new(&drops));
    }
    let mine = Worker::new_fifo();
    for _ in 0..5 {
        drop(injector.steal().success().unwrap());
        assert!(injector.steal_batch(&mine).is_success());
        drop(injector.steal_batch_and_pop(&mine).success().unwrap());
    }
    assert_eq!(drops.load(Ordering::Relaxed), 10);
    drop(mine);
    let left = injector.len();
    assert_eq!(drops.load(Ordering::Relaxed), 500 - left);
    drop(injector);
    assert_eq!(drops.load(Ordering::Relaxed), 500);
}

#[test]
fn steal_batch_takes_at_most_half_and_at_most_32() {
    for worker in [Worker::new_lifo(), Worker::new_fifo()] {
        let stealer = worker.stealer();
        let mine = Worker::new_lifo();
        for i in 0..9 {
            worker.push(i);
        }
        assert_eq!(stealer.steal_batch(&mine), Steal::Success(()));
        assert_eq!(mine.len(), 5);
        for i in 0..1000 {
            worker.push(i);
        }
        let before = mine.len();
        assert_eq!(stealer.steal_batch(&mine), Steal::Success(()));
        assert_eq!(mine.len() - before, 32);
        assert_eq!(stealer.len(), 4 + 1000 - 32);
    }
}

#[test]
fn steal_from_empty_and_collect() {
    let worker = Worker::<u8>::new_lifo();
    let stealer = worker.stealer();
    let injector = Injector::<u8>::new();
    assert_eq!(stealer.steal(), Steal::Empty);
    assert_eq!(stealer.steal_batch(&Worker::new_fifo()), Steal::Empty);
    assert_eq!(injector.steal_batch(&worker), Steal::Empty);
    let all: Steal<u8> = [stealer.steal(), injector.steal()].into_iter().collect();
    assert_eq!(all, Steal::Empty);
}

#[test]
fn handles_are_send_and_sync_as_documented() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<Worker<String>>();
    send_sync::<weft_lockfree::deque::Stealer<String>>();
    send_sync::<Injector<String>>();
    let worker = Worker::new_lifo();
    worker.push(1);
    let stealers = [worker.stealer(), worker.stealer().clone()];
    assert_eq!(stealers[1].steal(), Steal::Success(1));
    assert!(stealers[0].is_empty());
}

//! Stress tests for `Mutex`, `BargingMutex`, `ReentrantMutex` and `Condvar`: many threads, every
//! increment counted, a two-field invariant that a broken exclusion would tear, and
//! a mix of blocking, try, timed and fair operations. Bounded by iteration counts
//! (a few seconds in debug builds on two cores), never by timing assertions.
#![cfg(not(loom))]

use std::cell::Cell;
use std::sync::Arc;
use std::thread;
use std::time::Duration;
use weft_sync::{BargingMutex, Condvar, Mutex, MutexGuard, ReentrantMutex};

const THREADS: usize = 6;
const ITERS: usize = 50_000;

fn run_threads(threads: usize, body: impl Fn(usize) + Send + Sync + 'static) {
    let body = Arc::new(body);
    // Start together, so the threads really overlap.
    let start = Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|id| {
            let body = Arc::clone(&body);
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                body(id)
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

#[test]
fn mutex_counts_every_increment_and_never_tears() {
    let mutex = Arc::new(Mutex::new((0usize, 0usize)));
    let m = Arc::clone(&mutex);
    run_threads(THREADS, move |_| {
        for _ in 0..ITERS {
            let mut guard = m.lock();
            assert_eq!(guard.0, guard.1, "torn pair: exclusion broken");
            guard.0 += 1;
            std::hint::spin_loop();
            guard.1 += 1;
        }
    });
    assert_eq!(*mutex.lock(), (THREADS * ITERS, THREADS * ITERS));
    assert!(!mutex.is_locked());
}

/// `BargingMutex` with more threads than cores (the case it exists for: no handoff,
/// every unlock lets a running thread in): blocking, try and timed acquisitions
/// mixed, every success counted, the pair never torn.
#[test]
fn barging_mutex_counts_every_success_and_never_tears() {
    let mutex = Arc::new(BargingMutex::new((0usize, 0usize)));
    let successes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (m, s) = (Arc::clone(&mutex), Arc::clone(&successes));
    run_threads(THREADS, move |id| {
        let bump = |guard: &mut (usize, usize)| {
            assert_eq!(guard.0, guard.1, "torn pair: exclusion broken");
            guard.0 += 1;
            std::hint::spin_loop();
            guard.1 += 1;
            s.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        };
        for i in 0..ITERS {
            match (i + id) % 4 {
                0 | 1 => bump(&mut m.lock()),
                2 => {
                    if let Some(mut guard) = m.try_lock() {
                        bump(&mut guard);
                    }
                }
                _ => {
                    if let Some(mut guard) = m.try_lock_for(Duration::from_micros(50)) {
                        bump(&mut guard);
                    }
                }
            }
        }
    });
    let total = successes.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        total >= THREADS * ITERS / 2,
        "blocking acquisitions always succeed"
    );
    assert_eq!(*mutex.lock(), (total, total));
    assert!(!mutex.is_locked());
}

/// Every way of taking and releasing the lock, mixed: blocking, try, timed (some
/// time out), fair unlocks, `unlocked` and mapped guards. Counts only successes.
#[test]
fn mutex_mixed_operations_count_exactly() {
    let mutex = Arc::new(Mutex::new((0usize, 0usize)));
    let successes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (m, s) = (Arc::clone(&mutex), Arc::clone(&successes));
    run_threads(THREADS, move |id| {
        let bump = |guard: &mut (usize, usize)| {
            assert_eq!(guard.0, guard.1, "torn pair: exclusion broken");
            guard.0 += 1;
            guard.1 += 1;
            s.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        };
        for i in 0..ITERS {
            match (i + id) % 6 {
                0 => bump(&mut m.lock()),
                1 => {
                    if let Some(mut guard) = m.try_lock() {
                        bump(&mut guard);
                    }
                }
                2 => {
                    if let Some(mut guard) = m.try_lock_for(Duration::from_micros(50)) {
                        bump(&mut guard);
                    }
                }
                3 => {
                    let mut guard = m.lock();
                    bump(&mut guard);
                    MutexGuard::unlock_fair(guard);
                }
                4 => {
                    let mut guard = m.lock();
                    MutexGuard::unlocked(&mut guard, thread::yield_now);
                    bump(&mut guard);
                }
                _ => {
                    let mut first = MutexGuard::map(m.lock(), |pair| pair);
                    bump(&mut first);
                }
            }
        }
    });
    let total = successes.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        total >= THREADS * ITERS / 2,
        "blocking operations always succeed"
    );
    assert_eq!(*mutex.lock(), (total, total));
    assert!(!mutex.is_locked());
}

#[test]
fn reentrant_mutex_counts_every_increment() {
    let mutex = Arc::new(ReentrantMutex::new((Cell::new(0usize), Cell::new(0usize))));
    let m = Arc::clone(&mutex);
    run_threads(THREADS, move |_| {
        for i in 0..ITERS / 2 {
            let outer = m.lock();
            assert_eq!(outer.0.get(), outer.1.get(), "torn pair: exclusion broken");
            outer.0.set(outer.0.get() + 1);
            {
                let inner = if i % 2 == 0 {
                    m.lock()
                } else {
                    m.try_lock().unwrap()
                };
                inner.1.set(inner.1.get() + 1);
            }
        }
    });
    let guard = mutex.lock();
    assert_eq!(guard.0.get(), THREADS * ITERS / 2);
    assert_eq!(guard.1.get(), THREADS * ITERS / 2);
}

/// A bounded queue built from one mutex and two condition variables: producers
/// and consumers move every item exactly once (sum and count checked).
#[test]
fn condvar_bounded_queue_moves_every_item_once() {
    const PRODUCERS: usize = 3;
    const CONSUMERS: usize = 3;
    const ITEMS: usize = 20_000;
    const CAPACITY: usize = 4;
    struct Queue {
        items: Mutex<(std::collections::VecDeque<usize>, usize)>,
        not_empty: Condvar,
        not_full: Condvar,
    }
    let queue = Arc::new(Queue {
        items: Mutex::new((std::collections::VecDeque::new(), 0)),
        not_empty: Condvar::new(),
        not_full: Condvar::new(),
    });
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let q = Arc::clone(&queue);
            thread::spawn(move || {
                for i in 0..ITEMS {
                    let mut guard = q.items.lock();
                    q.not_full
                        .wait_while(&mut guard, |(items, _)| items.len() == CAPACITY);
                    guard.0.push_back(p * ITEMS + i);
                    drop(guard);
                    q.not_empty.notify_one();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let q = Arc::clone(&queue);
            thread::spawn(move || {
                let (mut sum, mut count) = (0usize, 0usize);
                loop {
                    let mut guard = q.items.lock();
                    // Timed waits too, so the timeout path is stressed.
                    while guard.0.is_empty() && guard.1 < PRODUCERS * ITEMS {
                        q.not_empty.wait_for(&mut guard, Duration::from_micros(200));
                    }
                    let Some(item) = guard.0.pop_front() else {
                        return (sum, count);
                    };
                    guard.1 += 1;
                    let done = guard.1 == PRODUCERS * ITEMS;
                    drop(guard);
                    q.not_full.notify_one();
                    if done {
                        q.not_empty.notify_all();
                    }
                    sum += item;
                    count += 1;
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let (mut sum, mut count) = (0, 0);
    for c in consumers {
        let (s, n) = c.join().unwrap();
        sum += s;
        count += n;
    }
    let n = PRODUCERS * ITEMS;
    assert_eq!(count, n);
    assert_eq!(sum, n * (n - 1) / 2);
}

//! Stress tests with exact counts: no permit, lock hold or notification is lost or
//! duplicated. Bounded to a few seconds on two cores.
#![cfg(not(loom))]

mod common;

use common::block_on;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use weft_sync::{AsyncMutex, Event, Semaphore};

#[test]
fn semaphore_never_exceeds_its_permits() {
    const PERMITS: usize = 3;
    const THREADS: usize = 8;
    const ITERS: usize = 30_000;
    let sem = Arc::new(Semaphore::new(PERMITS));
    let inside = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (sem, inside, total) = (Arc::clone(&sem), Arc::clone(&inside), Arc::clone(&total));
            std::thread::spawn(move || {
                for i in 0..ITERS {
                    // Mix sizes and flavours: single, double, async, try, owned.
                    let n = if (t + i) % 5 == 0 { 2 } else { 1 };
                    let permit = match (t + i) % 4 {
                        0 => sem.acquire_many(n).unwrap(),
                        1 => block_on(sem.acquire_many_async(n)).unwrap(),
                        2 => match sem.try_acquire_many(n) {
                            Ok(p) => p,
                            Err(_) => sem.acquire_many(n).unwrap(),
                        },
                        _ => {
                            let owned = sem.acquire_owned().unwrap();
                            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            assert!(now <= PERMITS);
                            inside.fetch_sub(1, Ordering::SeqCst);
                            total.fetch_add(1, Ordering::Relaxed);
                            drop(owned);
                            continue;
                        }
                    };
                    let now = inside.fetch_add(n, Ordering::SeqCst) + n;
                    assert!(now <= PERMITS, "{now} holders of {PERMITS} permits");
                    if i % 4 == 0 {
                        // Hold it over a reschedule so waiters really park.
                        std::thread::yield_now();
                    }
                    inside.fetch_sub(n, Ordering::SeqCst);
                    total.fetch_add(1, Ordering::Relaxed);
                    drop(permit);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(total.load(Ordering::Relaxed), THREADS * ITERS);
    assert_eq!(sem.available_permits(), PERMITS);
}

#[test]
fn async_mutex_counts_every_increment() {
    const THREADS: usize = 6;
    const ITERS: usize = 50_000;
    let m = Arc::new(AsyncMutex::new(0usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                for i in 0..ITERS {
                    if i % 16 == 0 {
                        let mut g = m.lock_blocking();
                        std::thread::yield_now();
                        *g += 1;
                    } else if t % 2 == 0 {
                        *m.lock_blocking() += 1;
                    } else {
                        block_on(async { *m.lock().await += 1 });
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*m.lock_blocking(), THREADS * ITERS);
}

#[test]
fn event_handoff_loses_no_item() {
    // Producers push counts into an atomic "queue length"; consumers take one at a
    // time with listen/check/wait. Every item is consumed exactly once.
    const PRODUCERS: usize = 3;
    const CONSUMERS: usize = 3;
    const ITEMS: usize = 200_000;
    let available = Arc::new(AtomicUsize::new(0));
    let consumed = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let event = Arc::new(Event::new());
    let take = |available: &AtomicUsize| {
        available
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    };
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            let (available, consumed, done, event) = (
                Arc::clone(&available),
                Arc::clone(&consumed),
                Arc::clone(&done),
                Arc::clone(&event),
            );
            std::thread::spawn(move || {
                loop {
                    if take(&available) {
                        consumed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let listener = event.listen();
                    if take(&available) {
                        consumed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    if done.load(Ordering::Acquire) && available.load(Ordering::Acquire) == 0 {
                        return;
                    }
                    if c % 2 == 0 {
                        listener.wait();
                    } else {
                        block_on(listener);
                    }
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|_| {
            let (available, event) = (Arc::clone(&available), Arc::clone(&event));
            std::thread::spawn(move || {
                for _ in 0..ITEMS {
                    available.fetch_add(1, Ordering::Release);
                    event.notify_additional(1);
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    done.store(true, Ordering::Release);
    event.notify_all();
    for c in consumers {
        c.join().unwrap();
    }
    assert_eq!(consumed.load(Ordering::Relaxed), PRODUCERS * ITEMS);
}

#[test]
fn dropping_the_event_releases_every_waiter() {
    // The drop races with waiters registering, parking and (some rounds) consuming an
    // earlier notification; every waiter must return, each exactly once.
    const ROUNDS: usize = 300;
    const WAITERS: usize = 4;
    for round in 0..ROUNDS {
        let event = Event::new();
        let returned = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..WAITERS)
            .map(|i| {
                let listener = event.listen();
                let returned = Arc::clone(&returned);
                std::thread::spawn(move || {
                    match i % 3 {
                        0 => listener.wait(),
                        1 => block_on(listener),
                        // Long enough never to expire: it must return notified.
                        _ => assert!(listener.wait_timeout(Duration::from_secs(60))),
                    }
                    returned.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        if round % 2 == 0 {
            event.notify(1);
        }
        drop(event);
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(returned.load(Ordering::Relaxed), WAITERS);
    }
}

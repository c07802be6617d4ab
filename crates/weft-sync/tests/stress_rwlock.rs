//! Stress tests for `RwLock`: many readers, writers, upgraders and timed waiters at
//! once. Writers change two fields together; no reader may ever see them differ, and
//! the final count must be exact. Bounded by iteration counts (a few seconds on two
//! cores in debug builds).
#![cfg(not(loom))]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;
use weft_sync::{RwLock, RwLockUpgradableReadGuard, RwLockWriteGuard};

const WRITERS: usize = 3;
const READERS: usize = 3;
const UPGRADERS: usize = 2;
const ITERS: usize = 40_000;

#[derive(Debug, Default)]
struct Pair {
    a: usize,
    b: usize,
}

fn check(pair: &Pair) {
    assert_eq!(pair.a, pair.b, "torn write seen");
}

#[test]
fn readers_never_see_a_torn_write_and_no_increment_is_lost() {
    let lock = Arc::new(RwLock::new(Pair::default()));
    let timed_out = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();

    for _ in 0..WRITERS {
        let lock = Arc::clone(&lock);
        handles.push(thread::spawn(move || {
            for i in 0..ITERS {
                let mut g = lock.write();
                check(&g);
                g.a += 1;
                // Give readers a chance to look at a half-done write if exclusion broke.
                if i % 64 == 0 {
                    thread::yield_now();
                }
                g.b += 1;
                if i % 16 == 0 {
                    // Downgrading must keep the pair whole for the readers let in.
                    let r = RwLockWriteGuard::downgrade(g);
                    check(&r);
                }
            }
        }));
    }

    for _ in 0..UPGRADERS {
        let lock = Arc::clone(&lock);
        let timed_out = Arc::clone(&timed_out);
        handles.push(thread::spawn(move || {
            for i in 0..ITERS {
                let u = lock.upgradable_read();
                check(&u);
                let before = u.a;
                let mut w = if i % 8 == 0 {
                    match RwLockUpgradableReadGuard::try_upgrade_for(u, Duration::from_micros(50)) {
                        Ok(w) => w,
                        Err(u) => {
                            timed_out.fetch_add(1, Ordering::Relaxed);
                            RwLockUpgradableReadGuard::upgrade(u)
                        }
                    }
                } else {
                    RwLockUpgradableReadGuard::upgrade(u)
                };
                // Nobody wrote between the upgradable read and the upgrade.
                assert_eq!(w.a, before);
                w.a += 1;
                w.b += 1;
            }
        }));
    }

    for id in 0..READERS {
        let lock = Arc::clone(&lock);
        let timed_out = Arc::clone(&timed_out);
        handles.push(thread::spawn(move || {
            let mut last = 0;
            for i in 0..ITERS * 2 {
                let seen = if id == 0 && i % 4 == 0 {
                    match lock.try_read_for(Duration::from_micros(20)) {
                        Some(g) => {
                            check(&g);
                            g.a
                        }
                        None => {
                            timed_out.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    }
                } else if id == 1 && i % 4 == 0 {
                    match lock.try_read() {
                        Some(g) => {
                            check(&g);
                            g.a
                        }
                        None => continue,
                    }
                } else {
                    let g = lock.read();
                    check(&g);
                    g.a
                };
                // Counts only grow: a reader never sees the past after the future.
                assert!(seen >= last);
                last = seen;
            }
        }));
    }

    for h in handles {
        h.join().unwrap();
    }
    let pair = Arc::try_unwrap(lock).unwrap().into_inner();
    let expected = (WRITERS + UPGRADERS) * ITERS;
    assert_eq!((pair.a, pair.b), (expected, expected));
    // Not asserted (it depends on scheduling), but shows the timeout paths ran.
    eprintln!("timeouts: {}", timed_out.load(Ordering::Relaxed));
}

#[test]
fn timed_writers_and_readers_leave_the_lock_clean() {
    const THREADS: usize = 4;
    let lock = Arc::new(RwLock::new(Pair::default()));
    let done = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let lock = Arc::clone(&lock);
            let done = Arc::clone(&done);
            thread::spawn(move || {
                for i in 0..ITERS {
                    let timeout = Duration::from_micros((i % 7) as u64 * 10);
                    if (t + i) % 2 == 0 {
                        if let Some(mut g) = lock.try_write_for(timeout) {
                            g.a += 1;
                            g.b += 1;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    } else if let Some(g) = lock.try_read_for(timeout) {
                        check(&g);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(!lock.is_locked());
    let g = lock.try_write().expect("a waiter was left registered");
    let n = done.load(Ordering::Relaxed);
    assert_eq!((g.a, g.b), (n, n));
}

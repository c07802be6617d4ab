#![cfg(feature = "deadlock-detection")]
//! The wait-for check end to end, on real deadlocks between `weft_sync::Mutex`es.
//!
//! The deadlocked threads wait with `try_lock_for`, so every deadlock dissolves by
//! itself when the waits time out and the test ends cleanly. Nothing here asserts on
//! time: a round of the deadlock lasts `ROUND_WAIT`, and the threads repeat rounds
//! (up to `MAX_ROUNDS`) until the checker has seen the cycle, so a slow machine only
//! makes the test take more rounds.
//!
//! Tests run in parallel in one process and `check` sees every thread, so each test
//! names its threads with its own prefix and looks only at deadlocks among them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex as StdMutex, PoisonError};
use std::thread;
use std::time::Duration;
use weft_sync::Mutex;
use weft_sync::deadlock::{self, Deadlock, Report};

const ROUND_WAIT: Duration = Duration::from_millis(300);
const MAX_ROUNDS: usize = 30;
/// How long the checker sleeps between two looks.
const POLL: Duration = Duration::from_millis(1);

fn named(deadlock: &Deadlock, prefix: &str) -> bool {
    deadlock.threads.iter().any(|t| {
        t.thread
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with(prefix))
    })
}

/// The deadlocks `check` finds among threads whose names start with `prefix`.
fn check_among(prefix: &str) -> Vec<Deadlock> {
    deadlock::check()
        .into_iter()
        .filter(|d| named(d, prefix))
        .collect()
}

/// Runs `threads` threads named `{prefix}{i}`, each repeating `round(i)` in lock
/// step with the others until `found` is set or `MAX_ROUNDS` have run, while this
/// thread calls `look` every `POLL` until it returns `true` or the threads are done.
/// Returns whether `look` succeeded.
fn rounds_until_seen(
    prefix: &str,
    threads: usize,
    round: impl Fn(usize) + Sync,
    mut look: impl FnMut() -> bool,
) -> bool {
    let found = AtomicBool::new(false);
    let finished = AtomicUsize::new(0);
    let end_of_round = Barrier::new(threads);
    thread::scope(|s| {
        for i in 0..threads {
            let (found, finished, end_of_round, round) = (&found, &finished, &end_of_round, &round);
            thread::Builder::new()
                .name(format!("{prefix}{i}"))
                .spawn_scoped(s, move || {
                    for _ in 0..MAX_ROUNDS {
                        round(i);
                        // Everyone reads the flag after the same barrier, so all stop
                        // after the same round.
                        end_of_round.wait();
                        let stop = found.load(Ordering::SeqCst);
                        end_of_round.wait();
                        if stop {
                            break;
                        }
                    }
                    finished.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
        }
        while finished.load(Ordering::SeqCst) < threads {
            if look() {
                found.store(true, Ordering::SeqCst);
                break;
            }
            thread::sleep(POLL);
        }
    });
    found.into_inner()
}

#[test]
fn three_thread_cycle_is_found_and_resolves_when_the_waits_time_out() {
    const PREFIX: &str = "waitfor-cycle-";
    let (locks, created_line) = ([Mutex::new(0), Mutex::new(1), Mutex::new(2)], line!());
    let all_hold_their_own = Barrier::new(3);
    let mut seen = None;
    let found = rounds_until_seen(
        PREFIX,
        3,
        |i| {
            let _own = locks[i].lock();
            all_hold_their_own.wait();
            // Each waits for the next one's lock: 0 -> 1 -> 2 -> 0.
            let _next = locks[(i + 1) % 3].try_lock_for(ROUND_WAIT);
        },
        || {
            seen = check_among(PREFIX).pop();
            seen.is_some()
        },
    );
    assert!(found, "check() never saw the cycle in {MAX_ROUNDS} rounds");
    let deadlock = seen.unwrap();

    assert_eq!(deadlock.threads.len(), 3, "{deadlock}");
    let index_of = |name: &Option<String>| -> usize {
        name.as_deref().unwrap()[PREFIX.len()..].parse().unwrap()
    };
    for (k, t) in deadlock.threads.iter().enumerate() {
        let i = index_of(&t.thread.name);
        let next = (i + 1) % 3;
        // Listed in wait-for order: each waits for a lock the next one holds.
        let following = &deadlock.threads[(k + 1) % 3];
        assert_eq!(index_of(&following.thread.name), next, "{deadlock}");
        assert_eq!(t.waits_for.address, following.holds[0].address);
        assert_eq!(t.waits_for.held_by, std::slice::from_ref(&following.thread));
        // Sites: all three locks were created on one line; each thread holds exactly
        // its own, taken by `lock()` in the closure above.
        assert_eq!(t.waits_for.created_at.file(), file!());
        assert_eq!(t.waits_for.created_at.line(), created_line);
        assert_eq!(t.holds.len(), 1);
        assert_eq!(t.holds[0].created_at.line(), created_line);
        assert_eq!(t.holds[0].acquired_at.file(), file!());
        assert_ne!(t.holds[0].address, t.waits_for.address);
    }
    let text = deadlock.to_string();
    assert!(
        text.contains("3 threads are blocked on each other"),
        "{text}"
    );
    assert!(text.contains(&format!("thread '{PREFIX}0'")), "{text}");

    // All threads have timed out, released everything and exited: nothing is left.
    assert!(check_among(PREFIX).is_empty());
}

#[test]
fn relocking_a_held_mutex_is_a_deadlock_of_one_thread() {
    const PREFIX: &str = "waitfor-self-";
    let lock = Mutex::new(());
    let mut seen = None;
    let found = rounds_until_seen(
        PREFIX,
        1,
        |_| {
            let _held = lock.lock();
            let _again = lock.try_lock_for(ROUND_WAIT);
        },
        || {
            seen = check_among(PREFIX).pop();
            seen.is_some()
        },
    );
    assert!(found, "check() never saw the self-deadlock");
    let deadlock = seen.unwrap();
    assert_eq!(deadlock.threads.len(), 1);
    let t = &deadlock.threads[0];
    assert_eq!(t.waits_for.address, t.holds[0].address);
}

#[test]
fn contention_and_chains_are_not_deadlocks() {
    const PREFIX: &str = "waitfor-contend-";
    // Thread 0 holds `first` while it waits for a std channel (outside the graph);
    // threads 1 and 2 wait for `first`, thread 3 holds `second` and waits for
    // `first`, thread 4 waits for `second`: a chain that ends at a thread that is
    // not blocked on a weft lock, and no cycle.
    let first = Mutex::new(());
    let second = Mutex::new(());
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = StdMutex::new(released);
    let start = Barrier::new(5);
    let looks = AtomicUsize::new(0);
    thread::scope(|s| {
        for i in 0..5 {
            let (first, second, released, start) = (&first, &second, &released, &start);
            thread::Builder::new()
                .name(format!("{PREFIX}{i}"))
                .spawn_scoped(s, move || match i {
                    0 => {
                        let _held = first.lock();
                        start.wait();
                        let _ = released
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .recv();
                    }
                    3 => {
                        let _held = second.lock();
                        start.wait();
                        let _first = first.lock();
                    }
                    4 => {
                        start.wait();
                        let _second = second.lock();
                    }
                    _ => {
                        start.wait();
                        let _first = first.lock();
                    }
                })
                .unwrap();
        }
        // Look many times while they are stuck behind thread 0 ...
        for _ in 0..200 {
            assert!(check_among(PREFIX).is_empty());
            looks.fetch_add(1, Ordering::Relaxed);
            thread::sleep(POLL);
        }
        drop(release);
        // ... and while they stream through.
        for _ in 0..50 {
            assert!(check_among(PREFIX).is_empty());
            thread::sleep(POLL);
        }
    });
    assert_eq!(looks.load(Ordering::Relaxed), 200);
}

#[test]
fn hammering_in_a_consistent_order_is_never_a_deadlock() {
    const PREFIX: &str = "waitfor-hammer-";
    const THREADS: usize = 4;
    const ITERS: usize = 2_000;
    let outer = Mutex::new(0usize);
    let inner = Mutex::new(0usize);
    let done = AtomicUsize::new(0);
    thread::scope(|s| {
        for i in 0..THREADS {
            let (outer, inner, done) = (&outer, &inner, &done);
            thread::Builder::new()
                .name(format!("{PREFIX}{i}"))
                .spawn_scoped(s, move || {
                    for _ in 0..ITERS {
                        let mut o = outer.lock();
                        let mut n = inner.lock();
                        *o += 1;
                        *n += 1;
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
        }
        while done.load(Ordering::SeqCst) < THREADS {
            assert!(check_among(PREFIX).is_empty());
            thread::yield_now();
        }
    });
    assert_eq!(*outer.lock(), THREADS * ITERS);
    assert_eq!(*inner.lock(), THREADS * ITERS);
}

#[test]
fn the_watchdog_reports_a_deadlock_through_the_hook() {
    const PREFIX: &str = "waitfor-watchdog-";
    static SEEN: StdMutex<Vec<Deadlock>> = StdMutex::new(Vec::new());
    // Other tests of this file never report through the hook (they only call
    // `check`), and this hook keeps only this test's deadlocks.
    deadlock::set_hook(|report| {
        if let Report::Deadlock(d) = report
            && named(d, PREFIX)
        {
            SEEN.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(d.clone());
        }
    });
    let watchdog = deadlock::spawn_watchdog(Duration::from_millis(5));
    let locks = [Mutex::new(()), Mutex::new(())];
    let both_hold_their_own = Barrier::new(2);
    let found = rounds_until_seen(
        PREFIX,
        2,
        |i| {
            let _own = locks[i].lock();
            both_hold_their_own.wait();
            let _other = locks[1 - i].try_lock_for(ROUND_WAIT);
        },
        || {
            !SEEN
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
        },
    );
    drop(watchdog);
    let _ = deadlock::take_hook();
    assert!(found, "the watchdog never reported the deadlock");
    let seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    assert_eq!(seen[0].threads.len(), 2);
}

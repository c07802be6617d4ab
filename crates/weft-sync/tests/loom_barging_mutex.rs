//! loom models of `BargingMutex`: `Mutex`'s state machine with the starvation rule
//! switched off (`RawMutex<false>`). Under loom `Mutex` treats every lost race as
//! starving, so its models walk through handoff mode; these walk through the same
//! races with the lock only ever barging: mutual exclusion, no lost wake-up with one
//! and two sleepers, and timed waiters racing unlocks.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use std::time::{Duration, Instant};
use weft_sync::BargingMutex;

/// Far away in real time, so the model reaches the futex wait, which times out at
/// once under loom.
fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

/// Ends with the lock free and takeable: no `LOCKED` bit or waiter count left behind.
fn assert_released<T>(mutex: &BargingMutex<T>) {
    assert!(!mutex.is_locked());
    drop(mutex.try_lock().expect("lock left held"));
}

#[test]
fn two_threads_exclude_each_other() {
    loom::model(|| {
        let mutex = Arc::new(BargingMutex::new(0usize));
        let m = Arc::clone(&mutex);
        // The data is a plain `usize` in loom's tracked cell: a race would be reported.
        let t = thread::spawn(move || *m.lock() += 1);
        *mutex.lock() += 1;
        t.join().unwrap();
        assert_eq!(*mutex.lock(), 2);
        assert_released(&mutex);
    });
}

/// A thread that sleeps on the lock is always woken by the unlock (loom reports a
/// deadlock if every thread ends up blocked).
#[test]
fn sleeping_waiter_is_woken() {
    loom::model(|| {
        let mutex = Arc::new(BargingMutex::new(()));
        let guard = mutex.lock();
        let m = Arc::clone(&mutex);
        let t = thread::spawn(move || drop(m.lock()));
        thread::yield_now();
        drop(guard);
        t.join().unwrap();
        assert_released(&mutex);
    });
}

/// Two sleepers while the holder unlocks and barges straight back in: the woken
/// waiter that loses goes back to spinning and sleeping (never to starvation mode),
/// and a wake-up in flight never stops the other sleeper from being woken.
#[test]
fn two_sleepers_are_both_woken_across_relocks() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let mutex = Arc::new(BargingMutex::new(0usize));
        let guard = mutex.lock();
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let m = Arc::clone(&mutex);
                thread::spawn(move || *m.lock() += 1)
            })
            .collect();
        drop(guard);
        *mutex.lock() += 1;
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*mutex.lock(), 3);
        assert_released(&mutex);
    });
}

/// A timed waiter and a blocking one race a plain unlock: the timed one either gets
/// the lock or leaves the count cleanly, and the blocking one is always woken.
#[test]
fn timeout_races_unlock_with_a_blocking_waiter() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let mutex = Arc::new(BargingMutex::new(0usize));
        let guard = mutex.lock();
        let m1 = Arc::clone(&mutex);
        let timed = thread::spawn(move || m1.try_lock_until(deadline()).map(|mut g| *g += 1));
        let m2 = Arc::clone(&mutex);
        let blocking = thread::spawn(move || *m2.lock() += 1);
        drop(guard);
        let got = timed.join().unwrap().is_some();
        blocking.join().unwrap();
        assert_eq!(*mutex.lock(), 1 + usize::from(got));
        assert_released(&mutex);
    });
}

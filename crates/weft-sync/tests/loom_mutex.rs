//! loom models of `Mutex`: mutual exclusion, no lost wake-up, fair handoff, and a
//! timed-out waiter racing an unlock (under loom every deadline expires at once).
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use std::time::{Duration, Instant};
use weft_sync::{Mutex, MutexGuard};

/// Far away in real time, so the model reaches the futex wait, which times out at
/// once under loom.
fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

/// Ends with the lock free and takeable: nothing (LOCKED, HANDOFF, a waiter count)
/// was left behind.
fn assert_released<T>(mutex: &Mutex<T>) {
    assert!(!mutex.is_locked());
    drop(mutex.try_lock().expect("lock left held"));
}

#[test]
fn two_threads_exclude_each_other() {
    loom::model(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let m = Arc::clone(&mutex);
        // The data is a plain `usize` in loom's tracked cell: a race would be reported.
        let t = thread::spawn(move || *m.lock() += 1);
        *mutex.lock() += 1;
        t.join().unwrap();
        assert_eq!(*mutex.lock(), 2);
        assert_released(&mutex);
    });
}

#[test]
fn three_threads_exclude_each_other() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let m = Arc::clone(&mutex);
                thread::spawn(move || *m.lock() += 1)
            })
            .collect();
        *mutex.lock() += 1;
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*mutex.lock(), 3);
        assert_released(&mutex);
    });
}

/// A thread that sleeps on the lock is always woken by the unlock (loom reports a
/// deadlock if every thread ends up blocked).
#[test]
fn sleeping_waiter_is_woken() {
    loom::model(|| {
        let mutex = Arc::new(Mutex::new(()));
        let guard = mutex.lock();
        let m = Arc::clone(&mutex);
        let t = thread::spawn(move || drop(m.lock()));
        thread::yield_now();
        drop(guard);
        t.join().unwrap();
        assert_released(&mutex);
    });
}

/// `unlock_fair` racing a waiter that is between counting itself and sleeping, and
/// the releasing thread coming straight back: the handoff is always taken, and the
/// lock ends free.
#[test]
fn unlock_fair_hands_off_without_losing_the_lock() {
    loom::model(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let guard = mutex.lock();
        let m = Arc::clone(&mutex);
        let t = thread::spawn(move || *m.lock() += 1);
        MutexGuard::unlock_fair(guard);
        *mutex.lock() += 1;
        t.join().unwrap();
        assert_eq!(*mutex.lock(), 2);
        assert_released(&mutex);
    });
}

/// A waiter times out while the holder unlocks fairly: either the waiter reports
/// success (it took the handoff) or failure with the lock free; never a handoff left
/// with nobody to take it.
#[test]
fn timeout_races_fair_unlock() {
    loom::model(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let guard = mutex.lock();
        let m = Arc::clone(&mutex);
        let t = thread::spawn(move || match m.try_lock_until(deadline()) {
            Some(mut g) => {
                *g += 1;
                true
            }
            None => false,
        });
        MutexGuard::unlock_fair(guard);
        let got = t.join().unwrap();
        assert_eq!(*mutex.lock(), usize::from(got));
        assert_released(&mutex);
    });
}

/// Same race with a plain unlock, and a third thread that blocks without a deadline.
#[test]
fn timeout_races_unlock_with_a_blocking_waiter() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let guard = mutex.lock();
        let m1 = Arc::clone(&mutex);
        let timed = thread::spawn(move || m1.try_lock_until(deadline()).map(|mut g| *g += 1));
        let m2 = Arc::clone(&mutex);
        let blocking = thread::spawn(move || *m2.lock() += 1);
        MutexGuard::unlock_fair(guard);
        let got = timed.join().unwrap().is_some();
        blocking.join().unwrap();
        assert_eq!(*mutex.lock(), 1 + usize::from(got));
        assert_released(&mutex);
    });
}

/// Two threads sleep on the lock while its holder unlocks and re-locks: a wake-up
/// already in flight (`WOKEN`) must never stop the other sleeper from being woken.
#[test]
fn two_sleepers_are_both_woken_across_relocks() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let mutex = Arc::new(Mutex::new(0usize));
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

/// A thread that spins (claiming `WOKEN`, which stops unlocks from waking sleepers)
/// and then gives up at its deadline must not strand a sleeper on a free lock.
#[test]
fn expired_spinner_does_not_strand_a_sleeper() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let guard = mutex.lock();
        let m1 = Arc::clone(&mutex);
        let sleeper = thread::spawn(move || *m1.lock() += 1);
        let m2 = Arc::clone(&mutex);
        // Already expired: spins once, then gives up (or finds the lock free).
        let spinner = thread::spawn(move || m2.try_lock_until(Instant::now()).map(|mut g| *g += 1));
        drop(guard);
        let got = spinner.join().unwrap().is_some();
        sleeper.join().unwrap();
        assert_eq!(*mutex.lock(), 1 + usize::from(got));
        assert_released(&mutex);
    });
}

/// Two threads that each re-lock right after a fair unlock. The re-locking thread
/// finds a handoff pending for the other: it must neither take it nor count itself in
/// and sleep on the handoff word, which can recur after its one wake-up was spent
/// (an ABA that stranded both threads asleep before newcomers yielded to pending
/// handoffs). loom reports a deadlock if any interleaving strands them.
#[test]
fn relock_after_fair_unlock_never_strands_both() {
    loom::model(|| {
        let mutex = Arc::new(Mutex::new(0usize));
        let m = Arc::clone(&mutex);
        let t = thread::spawn(move || {
            for _ in 0..2 {
                let mut guard = m.lock();
                *guard += 1;
                MutexGuard::unlock_fair(guard);
            }
        });
        for _ in 0..2 {
            let mut guard = mutex.lock();
            *guard += 1;
            MutexGuard::unlock_fair(guard);
        }
        t.join().unwrap();
        assert_eq!(*mutex.lock(), 4);
        assert_released(&mutex);
    });
}

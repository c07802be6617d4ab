//! Unit tests for `Mutex`: every operation, handoff, fairness, no poisoning.

use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

#[test]
fn lock_gives_exclusive_access_and_unlocks_on_drop() {
    let mutex = Mutex::new(1);
    {
        let mut guard = mutex.lock();
        *guard += 1;
        assert!(mutex.is_locked());
    }
    assert!(!mutex.is_locked());
    assert_eq!(*mutex.lock(), 2);
}

#[test]
fn try_lock_fails_while_held_by_another_thread() {
    let mutex = Arc::new(Mutex::new(0));
    let guard = mutex.lock();
    let m = Arc::clone(&mutex);
    let got = thread::spawn(move || m.try_lock().is_some())
        .join()
        .unwrap();
    assert!(!got);
    drop(guard);
    let m = Arc::clone(&mutex);
    assert!(
        thread::spawn(move || m.try_lock().is_some())
            .join()
            .unwrap()
    );
}

#[test]
fn try_lock_for_times_out_while_held() {
    let mutex = Arc::new(Mutex::new(0));
    let (locked_tx, locked_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let m = Arc::clone(&mutex);
    let holder = thread::spawn(move || {
        let _guard = m.lock();
        locked_tx.send(()).unwrap();
        done_rx.recv().unwrap();
    });
    locked_rx.recv().unwrap();
    assert!(mutex.try_lock_for(Duration::from_millis(20)).is_none());
    assert!(mutex.try_lock_until(Instant::now()).is_none());
    done_tx.send(()).unwrap();
    holder.join().unwrap();
    // The timed-out waiter left no trace in the state word.
    assert!(!mutex.is_locked());
    assert!(mutex.try_lock().is_some());
}

#[test]
fn try_lock_for_succeeds_when_released_in_time() {
    let mutex = Arc::new(Mutex::new(0));
    let (locked_tx, locked_rx) = mpsc::channel();
    let m = Arc::clone(&mutex);
    let holder = thread::spawn(move || {
        let mut guard = m.lock();
        locked_tx.send(()).unwrap();
        thread::sleep(Duration::from_millis(5));
        *guard = 7;
    });
    locked_rx.recv().unwrap();
    // Generous: the holder releases after ~5 ms.
    let guard = mutex
        .try_lock_for(Duration::from_secs(60))
        .expect("released in time");
    assert_eq!(*guard, 7);
    drop(guard);
    holder.join().unwrap();
}

#[test]
fn map_and_try_map_narrow_the_guard_and_keep_it_locked() {
    let mutex = Mutex::new((1, vec![10, 20]));
    let mut second = MutexGuard::map(mutex.lock(), |t| &mut t.1);
    assert!(mutex.is_locked());
    second.push(30);
    let item = MappedMutexGuard::try_map(second, |v| v.get_mut(2)).unwrap();
    assert_eq!(*item, 30);
    let item = MappedMutexGuard::try_map(item, |_| None::<&mut i32>).unwrap_err();
    drop(item);
    assert!(!mutex.is_locked());
    let guard = MutexGuard::try_map(mutex.lock(), |_| None::<&mut u8>).unwrap_err();
    assert!(mutex.is_locked());
    assert_eq!(guard.1, vec![10, 20, 30]);
}

#[test]
fn a_panicking_map_closure_unlocks() {
    let mutex = Mutex::new(0);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _mapped = MutexGuard::map(mutex.lock(), |_| -> &mut u8 { panic!("in map") });
    }));
    assert!(result.is_err());
    assert!(!mutex.is_locked());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let inner = MutexGuard::map(mutex.lock(), |n| n);
        let _ = MappedMutexGuard::try_map(inner, |_| -> Option<&mut u8> { panic!("in try_map") });
    }));
    assert!(result.is_err());
    assert!(!mutex.is_locked());
}

#[test]
fn unlocked_lets_others_in_and_relocks() {
    let mutex = Arc::new(Mutex::new(0));
    let mut guard = mutex.lock();
    let m = Arc::clone(&mutex);
    MutexGuard::unlocked(&mut guard, || {
        assert!(!m.is_locked());
        thread::spawn(move || *m.lock() += 1).join().unwrap();
    });
    assert!(mutex.is_locked());
    assert_eq!(*guard, 1);
}

#[test]
fn unlocked_relocks_even_if_the_closure_panics() {
    let mutex = Mutex::new(0);
    let mut guard = mutex.lock();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        MutexGuard::unlocked(&mut guard, || panic!("inside unlocked"));
    }));
    assert!(result.is_err());
    assert!(mutex.is_locked());
    *guard += 1;
    drop(guard);
    assert_eq!(*mutex.lock(), 1);
}

#[test]
fn no_poisoning_after_a_panic_while_locked() {
    let mutex = Arc::new(Mutex::new(0));
    let m = Arc::clone(&mutex);
    let result = thread::spawn(move || {
        let mut guard = m.lock();
        *guard = 5;
        panic!("while holding the lock");
    })
    .join();
    assert!(result.is_err());
    assert!(!mutex.is_locked());
    assert_eq!(*mutex.lock(), 5);
}

#[test]
fn force_unlock_releases_a_forgotten_guard() {
    let mutex = Mutex::new(());
    core::mem::forget(mutex.lock());
    assert!(mutex.try_lock().is_none());
    // SAFETY: the lock is held by the guard forgotten above, which is never used.
    unsafe { mutex.force_unlock() };
    assert!(mutex.try_lock().is_some());
}

#[test]
fn debug_shows_locked_while_held() {
    let mutex = Mutex::new(3);
    assert_eq!(format!("{mutex:?}"), "Mutex { data: 3, .. }");
    let guard = mutex.lock();
    assert_eq!(format!("{mutex:?}"), "Mutex { data: <locked>, .. }");
    assert_eq!(format!("{guard:?}"), "3");
}

#[test]
fn default_from_get_mut_into_inner() {
    let mut mutex: Mutex<Vec<u8>> = Mutex::default();
    mutex.get_mut().push(1);
    assert_eq!(mutex.into_inner(), vec![1]);
    let mutex = Mutex::from(9);
    assert_eq!(*mutex.lock(), 9);
    let unsized_mutex: &Mutex<[u8]> = &Mutex::new([1, 2, 3]);
    assert_eq!(unsized_mutex.lock().len(), 3);
}

/// With `unlock_fair` on every release, two threads that both want the lock
/// alternate strictly: the releasing thread cannot barge back in, because a fair
/// unlock hands the lock to the sleeping waiter while keeping it locked. Each thread
/// waits (by yielding) until the other is counted as a waiter before unlocking, so
/// there is always a waiter to hand to.
#[test]
fn unlock_fair_makes_two_threads_alternate() {
    const TURNS: usize = 200;
    let mutex = Arc::new(Mutex::new(Vec::with_capacity(2 * TURNS)));
    let started = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..2)
        .map(|id| {
            let mutex = Arc::clone(&mutex);
            let started = Arc::clone(&started);
            thread::spawn(move || {
                started.fetch_add(1, Ordering::SeqCst);
                while started.load(Ordering::SeqCst) < 2 {
                    thread::yield_now();
                }
                for turn in 0..TURNS {
                    let mut guard = mutex.lock();
                    guard.push(id);
                    if turn + 1 == TURNS && guard.len() == 2 * TURNS {
                        break;
                    }
                    // Wait until the other thread sleeps on the lock (or has
                    // finished), so the fair unlock has someone to hand to.
                    let mut spins = 0u64;
                    while waiters(&mutex) == 0 && guard.len() < 2 * TURNS - 1 {
                        thread::yield_now();
                        spins += 1;
                        // The other thread has left for good: alternation broke.
                        assert!(
                            spins < 5_000_000,
                            "no waiter ever came; order so far: {:?}",
                            *guard
                        );
                    }
                    MutexGuard::unlock_fair(guard);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let order = Arc::try_unwrap(mutex).unwrap().into_inner();
    assert_eq!(order.len(), 2 * TURNS);
    for pair in order.windows(2) {
        assert_ne!(
            pair[0], pair[1],
            "a thread took the lock twice in a row: {order:?}"
        );
    }
}

fn waiters<T>(mutex: &Mutex<T>) -> u32 {
    mutex.raw.waiter_count()
}

/// A thread hammering lock/unlock cannot keep a waiter out for ever: starvation mode
/// hands the waiter the lock. The bound is on the hammer's iterations, and is far
/// beyond what a millisecond of starvation allows, so the test cannot flake on speed.
#[test]
fn a_waiter_gets_the_lock_from_a_hot_relocking_thread() {
    let mutex = Arc::new(Mutex::new(0u64));
    let waiter_got_it = Arc::new(AtomicBool::new(false));
    let hammer = {
        let mutex = Arc::clone(&mutex);
        let waiter_got_it = Arc::clone(&waiter_got_it);
        thread::spawn(move || {
            let mut iterations = 0u64;
            while !waiter_got_it.load(Ordering::Relaxed) {
                let mut guard = mutex.lock();
                *guard += 1;
                // A little work inside, so the lock is rarely free.
                for _ in 0..50 {
                    core::hint::spin_loop();
                }
                drop(guard);
                iterations += 1;
                assert!(iterations < 500_000_000, "the waiter starved");
            }
            iterations
        })
    };
    // Let the hammer get going, then compete.
    while *mutex.lock() < 1000 {
        thread::yield_now();
    }
    for _ in 0..100 {
        let guard = mutex.lock();
        drop(guard);
    }
    waiter_got_it.store(true, Ordering::Relaxed);
    let iterations = hammer.join().unwrap();
    assert!(iterations > 0);
}

#[test]
fn many_threads_count_exactly() {
    const THREADS: usize = 4;
    const ITERS: usize = 10_000;
    let mutex = Arc::new(Mutex::new(0usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let mutex = Arc::clone(&mutex);
            thread::spawn(move || {
                for _ in 0..ITERS {
                    *mutex.lock() += 1;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*mutex.lock(), THREADS * ITERS);
    assert_eq!(waiters(&mutex), 0);
}

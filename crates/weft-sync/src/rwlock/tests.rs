//! Unit tests for every `RwLock` operation. Waiting is proven through the state word
//! (a thread is registered as a waiter) or barriers, never through elapsed time.

use super::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

/// Spins (yielding) until `cond` holds. Used only for conditions another thread is
/// guaranteed to reach; a bug shows as a hang, not as a flaky failure.
fn wait_until(cond: impl Fn() -> bool) {
    while !cond() {
        thread::yield_now();
    }
}

fn writers_waiting<T: ?Sized>(lock: &RwLock<T>) -> u64 {
    lock.raw.waiters_for_tests().0
}

fn readers_queued<T: ?Sized>(lock: &RwLock<T>) -> u64 {
    lock.raw.waiters_for_tests().1
}

fn upgrading<T: ?Sized>(lock: &RwLock<T>) -> bool {
    lock.raw.waiters_for_tests().2
}

#[test]
fn two_readers_hold_the_lock_at_once() {
    let lock = Arc::new(RwLock::new(7));
    let barrier = Arc::new(Barrier::new(2));
    let other = {
        let (lock, barrier) = (Arc::clone(&lock), Arc::clone(&barrier));
        thread::spawn(move || {
            let guard = lock.read();
            // Both threads reach this point only if both hold a read guard.
            barrier.wait();
            *guard
        })
    };
    let guard = lock.read();
    barrier.wait();
    assert_eq!(*guard, 7);
    assert_eq!(other.join().unwrap(), 7);
}

#[test]
fn writer_excludes_readers_until_it_releases() {
    let lock = Arc::new(RwLock::new(0));
    let mut writer = lock.write();
    assert!(lock.is_locked_exclusive());
    let reader = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || *lock.read())
    };
    wait_until(|| readers_queued(&lock) == 1);
    *writer = 42;
    drop(writer);
    // The reader could only have read after the writer released: it sees the write.
    assert_eq!(reader.join().unwrap(), 42);
    assert!(!lock.is_locked());
}

#[test]
fn try_forms_fail_on_contention() {
    let lock = RwLock::new(());
    {
        let _w = lock.write();
        assert!(lock.try_read().is_none());
        assert!(lock.try_write().is_none());
        assert!(lock.try_upgradable_read().is_none());
    }
    {
        let _r = lock.read();
        assert!(lock.try_write().is_none());
        assert!(lock.try_read().is_some());
        assert!(lock.try_upgradable_read().is_some());
    }
    {
        let _u = lock.upgradable_read();
        assert!(lock.try_upgradable_read().is_none());
        assert!(lock.try_write().is_none());
        assert!(lock.try_read().is_some());
    }
    assert!(!lock.is_locked());
    assert!(lock.try_write().is_some());
}

#[test]
fn timeouts_return_none_and_leave_no_trace() {
    let lock = RwLock::new(1);
    let short = Duration::from_millis(5);
    {
        let _w = lock.write();
        assert!(lock.try_read_for(short).is_none());
        assert!(lock.try_read_until(Instant::now() + short).is_none());
        assert!(lock.try_write_for(short).is_none());
        assert!(lock.try_upgradable_read_for(short).is_none());
        assert!(
            lock.try_upgradable_read_until(Instant::now() + short)
                .is_none()
        );
        assert_eq!(lock.raw.waiters_for_tests(), (0, 0, false));
    }
    {
        let _r = lock.read();
        assert!(lock.try_write_until(Instant::now() + short).is_none());
        // After the writer gave up, readers are no longer held back.
        assert!(lock.try_read().is_some());
        let u = lock.try_upgradable_read_for(short).unwrap();
        let u = RwLockUpgradableReadGuard::try_upgrade_for(u, short).unwrap_err();
        assert!(!upgrading(&lock));
        assert!(lock.try_read().is_some());
        drop(u);
    }
    assert!(!lock.is_locked());
    assert_eq!(*lock.try_write_for(short).unwrap(), 1);
    assert_eq!(*lock.try_read_for(short).unwrap(), 1);
}

#[test]
fn timed_forms_succeed_when_the_lock_is_released_in_time() {
    let lock = Arc::new(RwLock::new(0));
    let writer = lock.write();
    let waiter = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || lock.try_write_for(Duration::from_secs(600)).map(|g| *g))
    };
    wait_until(|| writers_waiting(&lock) == 1);
    drop(writer);
    assert_eq!(waiter.join().unwrap(), Some(0));
}

#[test]
fn a_waiting_writer_holds_back_new_readers() {
    let lock = Arc::new(RwLock::new(0));
    let reader = lock.read();
    let writer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || *lock.write() += 1)
    };
    wait_until(|| writers_waiting(&lock) == 1);
    assert!(lock.try_read().is_none());
    assert!(lock.try_upgradable_read().is_none());
    drop(reader);
    writer.join().unwrap();
    assert_eq!(*lock.read(), 1);
}

/// Eventual fairness for readers: a write release does not let queued readers in
/// while writers wait, until one of them has waited past the threshold and set
/// `READERS_STARVING`; from then on the next write release grants them the lock ahead
/// of every writer. The test waits for the flag (state, not time).
#[test]
fn a_starving_queued_reader_gets_in_before_the_next_writer() {
    let lock = Arc::new(RwLock::new(()));
    let order = Arc::new(AtomicUsize::new(0));
    let first = lock.write();
    let reader = {
        let (lock, order) = (Arc::clone(&lock), Arc::clone(&order));
        thread::spawn(move || {
            let _g = lock.read();
            order.fetch_add(1, Ordering::SeqCst)
        })
    };
    wait_until(|| readers_queued(&lock) == 1 && lock.raw.readers_starving_for_tests());
    let writer = {
        let (lock, order) = (Arc::clone(&lock), Arc::clone(&order));
        thread::spawn(move || {
            let _g = lock.write();
            order.fetch_add(1, Ordering::SeqCst)
        })
    };
    wait_until(|| writers_waiting(&lock) == 1);
    drop(first);
    assert_eq!(reader.join().unwrap(), 0, "the queued reader goes first");
    assert_eq!(writer.join().unwrap(), 1);
}

#[test]
fn downgrade_keeps_the_read_lock_and_admits_queued_readers() {
    let lock = Arc::new(RwLock::new(0));
    let barrier = Arc::new(Barrier::new(2));
    let mut w = lock.write();
    let reader = {
        let (lock, barrier) = (Arc::clone(&lock), Arc::clone(&barrier));
        thread::spawn(move || {
            let g = lock.read();
            barrier.wait();
            *g
        })
    };
    wait_until(|| readers_queued(&lock) == 1);
    *w = 5;
    let r = RwLockWriteGuard::downgrade(w);
    assert!(lock.try_write().is_none());
    // The queued reader holds its lock while this thread still holds the downgraded one.
    barrier.wait();
    assert_eq!(*r, 5);
    assert_eq!(reader.join().unwrap(), 5);
    drop(r);
    assert!(!lock.is_locked());
}

#[test]
fn downgrade_to_upgradable_then_upgrade_again() {
    let lock = RwLock::new(1);
    let u = RwLockWriteGuard::downgrade_to_upgradable(lock.write());
    assert!(lock.try_read().is_some());
    assert!(lock.try_upgradable_read().is_none());
    let mut w = RwLockUpgradableReadGuard::upgrade(u);
    *w = 2;
    let r = RwLockUpgradableReadGuard::downgrade(RwLockWriteGuard::downgrade_to_upgradable(w));
    assert!(lock.try_upgradable_read().is_some());
    assert_eq!(*r, 2);
    drop(r);
    assert!(!lock.is_locked());
}

#[test]
fn upgrade_waits_for_readers_and_holds_new_readers_back() {
    let lock = Arc::new(RwLock::new(0));
    let got_upgradable = Arc::new(Barrier::new(2));
    let reader = lock.read();
    let upgrader = {
        let (lock, got) = (Arc::clone(&lock), Arc::clone(&got_upgradable));
        thread::spawn(move || {
            let u = lock.upgradable_read();
            got.wait();
            let mut w = RwLockUpgradableReadGuard::upgrade(u);
            *w += 1;
        })
    };
    got_upgradable.wait();
    wait_until(|| upgrading(&lock));
    // The upgrade counts as a waiting writer: a new reader must wait.
    assert!(lock.try_read().is_none());
    assert_eq!(*reader, 0);
    drop(reader);
    upgrader.join().unwrap();
    assert_eq!(*lock.read(), 1);
}

#[test]
fn readers_queued_behind_an_upgrade_get_in_when_it_times_out() {
    let lock = Arc::new(RwLock::new(()));
    let reader = lock.read();
    let u = lock.upgradable_read();
    let queued = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            // Blocks until the upgrade attempt below gives up.
            drop(lock.read());
        })
    };
    // An upgrade that cannot succeed (this thread's `reader` is still held). The
    // other reader either got in before it, or queued behind it and must be let in
    // when it gives up; either way it finishes.
    let u = RwLockUpgradableReadGuard::try_upgrade_for(u, Duration::from_millis(20)).unwrap_err();
    queued.join().unwrap();
    drop((u, reader));
    assert!(!lock.is_locked());
}

#[test]
fn upgradable_waiter_gets_in_after_the_holder_leaves() {
    let lock = Arc::new(RwLock::new(0));
    let u = lock.upgradable_read();
    let other = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let u = lock.upgradable_read();
            *RwLockUpgradableReadGuard::upgrade(u) += 1;
        })
    };
    wait_until(|| writers_waiting(&lock) == 1);
    drop(u);
    other.join().unwrap();
    assert_eq!(*lock.read(), 1);
}

#[test]
fn map_and_try_map_keep_the_lock() {
    let lock = RwLock::new((1, vec![1, 2, 3]));
    {
        let v = RwLockReadGuard::map(lock.read(), |pair| &pair.1);
        let first = MappedRwLockReadGuard::map(v, |v| &v[0]);
        assert_eq!(*first, 1);
        assert!(lock.try_write().is_none());
        assert!(lock.try_read().is_some());
    }
    {
        let missing = RwLockReadGuard::try_map(lock.read(), |pair| pair.1.get(10));
        let guard = missing.unwrap_err();
        let found = RwLockReadGuard::try_map(guard, |pair| pair.1.get(2)).unwrap();
        assert_eq!(*found, 3);
        let found = MappedRwLockReadGuard::try_map(found, |_| None::<&i32>).unwrap_err();
        assert_eq!(*found, 3);
    }
    {
        let mut v = RwLockWriteGuard::map(lock.write(), |pair| &mut pair.1);
        v.push(4);
        assert!(lock.try_read().is_none());
        let mut last = MappedRwLockWriteGuard::map(v, |v| v.last_mut().unwrap());
        *last = 40;
    }
    {
        let g = RwLockWriteGuard::try_map(lock.write(), |pair| pair.1.get_mut(10)).unwrap_err();
        let mut n = RwLockWriteGuard::try_map(g, |pair| Some(&mut pair.0)).unwrap();
        *n = 9;
        let n = MappedRwLockWriteGuard::try_map(n, |_| None::<&mut i32>).unwrap_err();
        assert_eq!(*n, 9);
    }
    assert!(!lock.is_locked());
    assert_eq!(lock.into_inner(), (9, vec![1, 2, 3, 40]));
}

#[test]
fn a_panic_under_the_lock_does_not_poison_it() {
    let lock = Arc::new(RwLock::new(0));
    let result = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let mut g = lock.write();
            *g = 1;
            panic!("boom");
        })
        .join()
    };
    assert!(result.is_err());
    assert!(!lock.is_locked());
    *lock.write() += 1;
    assert_eq!(*lock.read(), 2);
    let result = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let _r = lock.read();
            panic!("boom");
        })
        .join()
    };
    assert!(result.is_err());
    assert!(lock.try_write().is_some());
}

#[test]
fn writer_is_not_starved_by_readers_that_keep_coming_back() {
    const READERS: usize = 3;
    const MAX_ITERS: usize = 2_000_000;
    let lock = Arc::new(RwLock::new(0u64));
    let written = Arc::new(AtomicBool::new(false));
    let started = Arc::new(Barrier::new(READERS + 1));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (lock, written, started) = (
                Arc::clone(&lock),
                Arc::clone(&written),
                Arc::clone(&started),
            );
            thread::spawn(move || {
                started.wait();
                for i in 0..MAX_ITERS {
                    if written.load(Ordering::Acquire) {
                        return i;
                    }
                    let g = lock.read();
                    std::hint::black_box(*g);
                }
                MAX_ITERS
            })
        })
        .collect();
    started.wait();
    *lock.write() = 1;
    written.store(true, Ordering::Release);
    let iters: Vec<_> = readers.into_iter().map(|h| h.join().unwrap()).collect();
    // If the writer had waited for the readers to run out of iterations, every reader
    // would have reached the bound.
    assert!(iters.iter().any(|&i| i < MAX_ITERS), "{iters:?}");
    assert_eq!(*lock.read(), 1);
}

#[test]
fn readers_are_not_starved_by_writers_that_keep_coming_back() {
    const WRITERS: usize = 3;
    const MAX_ITERS: usize = 2_000_000;
    let lock = Arc::new(RwLock::new(0u64));
    let read = Arc::new(AtomicBool::new(false));
    let started = Arc::new(Barrier::new(WRITERS + 1));
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (lock, read, started) =
                (Arc::clone(&lock), Arc::clone(&read), Arc::clone(&started));
            thread::spawn(move || {
                started.wait();
                for i in 0..MAX_ITERS {
                    if read.load(Ordering::Acquire) {
                        return i;
                    }
                    *lock.write() += 1;
                }
                MAX_ITERS
            })
        })
        .collect();
    started.wait();
    drop(lock.read());
    read.store(true, Ordering::Release);
    let iters: Vec<_> = writers.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(iters.iter().any(|&i| i < MAX_ITERS), "{iters:?}");
    assert_eq!(*lock.read(), iters.iter().sum::<usize>() as u64);
}

#[test]
fn unsized_default_from_debug_and_raw_access() {
    let lock: Box<RwLock<[i32]>> = Box::new(RwLock::new([1, 2, 3]));
    assert_eq!(lock.read().len(), 3);
    lock.write()[0] = 10;
    assert_eq!(format!("{lock:?}"), "RwLock { data: [10, 2, 3], .. }");
    {
        let _w = lock.write();
        assert_eq!(format!("{lock:?}"), "RwLock { data: <locked>, .. }");
    }
    assert_eq!(format!("{}", *RwLock::new(5).read()), "5");

    let mut lock: RwLock<String> = RwLock::default();
    lock.get_mut().push('a');
    assert_eq!(*lock.read(), "a");
    let lock = RwLock::from(3);
    // SAFETY: no guard exists, so nothing else reads or writes the data.
    unsafe { *lock.data_ptr() = 4 };
    assert_eq!(lock.into_inner(), 4);
}

#[test]
fn guards_show_and_debug_their_data() {
    let lock = RwLock::new(5);
    assert_eq!(format!("{:?}", lock.read()), "5");
    assert_eq!(format!("{}", lock.write()), "5");
    assert_eq!(format!("{:?}", lock.upgradable_read()), "5");
    let r = lock.read();
    assert!(std::ptr::eq(RwLockReadGuard::rwlock(&r), &lock));
}

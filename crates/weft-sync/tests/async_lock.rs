//! Unit tests of `AsyncMutex` and `AsyncRwLock`: every operation, threads and tasks
//! contending, cancel safety.
#![cfg(not(loom))]

mod common;

use common::{CountingWaker, block_on, poll_once};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use weft_sync::{
    AsyncMutex, AsyncMutexGuard, AsyncRwLock, AsyncRwLockUpgradableReadGuard,
    AsyncRwLockUpgradableReadGuardArc, AsyncRwLockWriteGuard, AsyncRwLockWriteGuardArc,
};

fn assert_send<T: Send>(_: &T) {}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[test]
fn mutex_basic_operations() {
    let mut m = AsyncMutex::new(vec![1]);
    m.get_mut().push(2);
    {
        let g = m.try_lock().unwrap();
        assert!(m.is_locked());
        assert!(m.try_lock().is_none());
        assert_eq!(*g, [1, 2]);
        assert!(std::ptr::eq(AsyncMutexGuard::source(&g), &m));
    }
    block_on(async { m.lock().await.push(3) });
    m.lock_blocking().push(4);
    {
        let mut first = AsyncMutexGuard::map(m.lock_blocking(), |v| &mut v[0]);
        *first = 10;
        assert!(m.try_lock().is_none(), "a mapped guard keeps the lock");
    }
    assert_eq!(m.into_inner(), [10, 2, 3, 4]);
}

#[test]
fn mutex_arc_guards_are_static_and_send() {
    let m = Arc::new(AsyncMutex::new(0));
    let g = block_on(m.lock_arc());
    assert_send(&g);
    assert!(m.try_lock_arc().is_none());
    std::thread::spawn(move || drop(g)).join().unwrap();
    *m.lock_arc_blocking() += 1;
    *m.try_lock_arc().unwrap() += 1;
    assert_eq!(*m.try_lock().unwrap(), 2);
    let fut = m.lock();
    assert_send(&fut);
}

#[test]
fn thread_and_task_contend_for_one_mutex() {
    const ITERS: usize = 5_000;
    let m = Arc::new(AsyncMutex::new((0usize, 0usize)));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                for _ in 0..ITERS {
                    let bump = |g: &mut (usize, usize)| {
                        assert_eq!(g.0, g.1, "torn state: exclusion broken");
                        g.0 += 1;
                        g.1 += 1;
                    };
                    if i % 2 == 0 {
                        bump(&mut m.lock_blocking());
                    } else {
                        block_on(async {
                            let mut g = m.lock().await;
                            // Hold it across a suspension point.
                            YieldOnce(false).await;
                            bump(&mut g);
                        });
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*m.lock_blocking(), (4 * ITERS, 4 * ITERS));
}

/// Returns Pending once (waking itself), then Ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[test]
fn cancelled_notified_lock_future_passes_the_wakeup_on() {
    let m = AsyncMutex::new(());
    let held = m.try_lock().unwrap();
    let mut a: BoxFut<'_, _> = Box::pin(m.lock());
    let mut b: BoxFut<'_, _> = Box::pin(m.lock());
    let (ca, wa) = CountingWaker::new();
    let (cb, wb) = CountingWaker::new();
    assert!(poll_once(&mut a, &wa).is_pending());
    assert!(poll_once(&mut b, &wb).is_pending());
    drop(held);
    assert_eq!((ca.count(), cb.count()), (1, 0));
    drop(a);
    assert!(!m.is_locked(), "the cancelled future took nothing");
    assert_eq!(cb.count(), 1, "b was woken in a's place");
    assert!(matches!(poll_once(&mut b, &wb), Poll::Ready(_)));
}

#[test]
fn rwlock_readers_share_and_writer_excludes() {
    let mut lock = AsyncRwLock::new(5);
    *lock.get_mut() += 1;
    let r1 = lock.try_read().unwrap();
    let r2 = block_on(lock.read());
    assert_eq!(*r1 + *r2, 12);
    assert!(lock.try_write().is_none());
    assert!(lock.try_upgradable_read().is_some());
    drop((r1, r2));
    let mut w = block_on(lock.write());
    *w = 7;
    assert!(lock.try_read().is_none());
    assert!(lock.try_upgradable_read().is_none());
    drop(w);
    assert_eq!(*lock.read_blocking(), 7);
    *lock.write_blocking() += 1;
    assert_eq!(lock.into_inner(), 8);
}

#[test]
fn rwlock_waiting_writer_blocks_new_readers() {
    let lock = AsyncRwLock::new(0);
    let reader = lock.try_read().unwrap();
    let mut w: BoxFut<'_, _> = Box::pin(lock.write());
    let (cw, ww) = CountingWaker::new();
    assert!(poll_once(&mut w, &ww).is_pending());
    assert!(lock.try_read().is_none(), "writer preference");
    let mut r: BoxFut<'_, _> = Box::pin(lock.read());
    let (cr, wr) = CountingWaker::new();
    assert!(poll_once(&mut r, &wr).is_pending());
    drop(reader);
    assert_eq!(cw.count(), 1, "the last reader out wakes the writer");
    let guard = match poll_once(&mut w, &ww) {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("writer should have the lock"),
    };
    assert_eq!(cr.count(), 0);
    drop(guard);
    assert_eq!(cr.count(), 1, "the writer's unlock wakes the reader");
    assert!(matches!(poll_once(&mut r, &wr), Poll::Ready(_)));
}

#[test]
fn rwlock_cancelled_writer_lets_readers_back_in() {
    let lock = AsyncRwLock::new(0);
    let reader = lock.try_read().unwrap();
    let mut w: BoxFut<'_, _> = Box::pin(lock.write());
    let (_, ww) = CountingWaker::new();
    assert!(poll_once(&mut w, &ww).is_pending());
    let mut r: BoxFut<'_, _> = Box::pin(lock.read());
    let (cr, wr) = CountingWaker::new();
    assert!(poll_once(&mut r, &wr).is_pending());
    drop(w); // cancelled while draining
    assert_eq!(cr.count(), 1, "the blocked reader is woken");
    assert!(matches!(poll_once(&mut r, &wr), Poll::Ready(_)));
    assert!(
        lock.try_upgradable_read().is_some(),
        "the gate was released"
    );
    drop((r, reader));
    assert!(lock.try_write().is_some());
}

#[test]
fn rwlock_upgrade_downgrade() {
    let lock = AsyncRwLock::new(1);
    let up = lock.upgradable_read_blocking();
    let reader = lock.try_read().expect("readers coexist with an upgradable");
    assert!(lock.try_upgradable_read().is_none());
    assert!(lock.try_write().is_none());
    let up = AsyncRwLockUpgradableReadGuard::try_upgrade(up).unwrap_err();
    let mut upgrade: BoxFut<'_, _> = Box::pin(AsyncRwLockUpgradableReadGuard::upgrade(up));
    let (cu, wu) = CountingWaker::new();
    assert!(poll_once(&mut upgrade, &wu).is_pending());
    drop(reader);
    assert_eq!(cu.count(), 1);
    let Poll::Ready(mut w) = poll_once(&mut upgrade, &wu) else {
        panic!("upgrade should complete once the reader left");
    };
    *w = 2;
    let r = AsyncRwLockWriteGuard::downgrade(w);
    assert_eq!(*r, 2);
    assert!(lock.try_read().is_some());
    assert!(lock.try_write().is_none());
    drop(r);
    let up = block_on(lock.upgradable_read());
    let r = AsyncRwLockUpgradableReadGuard::downgrade(up);
    assert!(
        lock.try_upgradable_read().is_some(),
        "downgrade released the gate"
    );
    drop(r);
    let up = lock.try_upgradable_read().unwrap();
    let mut w = AsyncRwLockUpgradableReadGuard::upgrade_blocking(up);
    *w += 1;
    drop(w);
    assert_eq!(*lock.read_blocking(), 3);
}

#[test]
fn rwlock_cancelled_upgrade_releases_everything() {
    let lock = AsyncRwLock::new(());
    let up = lock.try_upgradable_read().unwrap();
    let reader = lock.try_read().unwrap();
    let mut upgrade: BoxFut<'_, _> = Box::pin(AsyncRwLockUpgradableReadGuard::upgrade(up));
    let (_, wu) = CountingWaker::new();
    assert!(poll_once(&mut upgrade, &wu).is_pending());
    assert!(lock.try_read().is_none(), "draining blocks new readers");
    drop(upgrade);
    assert!(lock.try_read().is_some());
    drop(reader);
    assert!(lock.try_write().is_some());
}

#[test]
fn rwlock_threads_and_tasks_keep_invariant() {
    const ITERS: usize = 2_000;
    let lock = Arc::new(AsyncRwLock::new((0usize, 0usize)));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let lock = Arc::clone(&lock);
            std::thread::spawn(move || {
                for n in 0..ITERS {
                    match (i, n % 3) {
                        (0, _) => {
                            let mut g = lock.write_blocking();
                            g.0 += 1;
                            g.1 += 1;
                        }
                        (1, 0) => block_on(async {
                            let up = lock.upgradable_read().await;
                            assert_eq!(up.0, up.1);
                            let mut g = AsyncRwLockUpgradableReadGuard::upgrade(up).await;
                            g.0 += 1;
                            g.1 += 1;
                        }),
                        (1, _) => block_on(async {
                            let mut g = lock.write().await;
                            g.0 += 1;
                            g.1 += 1;
                        }),
                        _ => {
                            let g = block_on(lock.read());
                            assert_eq!(g.0, g.1, "a reader saw a half-done write");
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*lock.read_blocking(), (2 * ITERS, 2 * ITERS));
}

#[test]
fn guards_and_futures_are_send() {
    let lock = AsyncRwLock::new(0);
    assert_send(&lock.read());
    assert_send(&lock.write());
    assert_send(&lock.try_read().unwrap());
    let m = AsyncMutex::new(0);
    assert_send(&m.try_lock().unwrap());
}

fn assert_static_send_sync<T: 'static + Send + Sync>(_: &T) {}

#[test]
fn rwlock_arc_guards_are_static_and_exclude_like_borrowed_ones() {
    let lock = Arc::new(AsyncRwLock::new(1));
    let r1 = block_on(lock.read_arc());
    let r2 = lock.read_arc_blocking();
    let r3 = lock.try_read_arc().unwrap();
    assert_static_send_sync(&r1);
    assert_eq!(*r1 + *r2 + *r3, 3);
    assert!(Arc::ptr_eq(
        weft_sync::AsyncRwLockReadGuardArc::source(&r1),
        &lock
    ));
    assert!(lock.try_write_arc().is_none());
    // A guard moved to another thread and released there.
    std::thread::spawn(move || drop(r1)).join().unwrap();
    drop((r2, r3));

    let mut w = block_on(lock.write_arc());
    assert_static_send_sync(&w);
    *w += 1;
    assert!(lock.try_read_arc().is_none());
    assert!(lock.try_upgradable_read_arc().is_none());
    drop(w);
    *lock.write_arc_blocking() += 1;
    *lock.try_write_arc().unwrap() += 1;
    assert_eq!(*lock.try_read().unwrap(), 4);
    assert_eq!(
        Arc::strong_count(&lock),
        1,
        "every guard gave its share back"
    );
}

#[test]
fn rwlock_arc_guard_outlives_every_other_handle() {
    let lock = Arc::new(AsyncRwLock::new(String::from("kept")));
    let w = lock.try_write_arc().unwrap();
    drop(lock);
    // The guard alone keeps the lock (and the value) alive, then frees it.
    assert_eq!(*w, "kept");
    let r = AsyncRwLockWriteGuardArc::downgrade(w);
    assert_eq!(*r, "kept");
}

#[test]
fn rwlock_arc_upgrade_downgrade() {
    let lock = Arc::new(AsyncRwLock::new(1));
    let up = lock.upgradable_read_arc_blocking();
    assert_static_send_sync(&up);
    let reader = lock
        .try_read_arc()
        .expect("readers coexist with an upgradable");
    assert!(lock.try_upgradable_read_arc().is_none());
    let up = AsyncRwLockUpgradableReadGuardArc::try_upgrade(up).unwrap_err();
    assert_eq!(*up, 1, "a failed try_upgrade hands back a working guard");
    let mut upgrade = Box::pin(AsyncRwLockUpgradableReadGuardArc::upgrade(up));
    assert_send(&upgrade);
    let (cu, wu) = CountingWaker::new();
    assert!(poll_once(&mut upgrade, &wu).is_pending());
    assert!(lock.try_read_arc().is_none(), "draining blocks new readers");
    drop(reader);
    assert_eq!(cu.count(), 1);
    let Poll::Ready(mut w) = poll_once(&mut upgrade, &wu) else {
        panic!("upgrade should complete once the reader left");
    };
    *w = 2;
    let r = AsyncRwLockWriteGuardArc::downgrade(w);
    assert!(lock.try_read_arc().is_some());
    assert!(lock.try_write_arc().is_none());
    drop(r);

    let up = block_on(lock.upgradable_read_arc());
    let r = AsyncRwLockUpgradableReadGuardArc::downgrade(up);
    assert!(
        lock.try_upgradable_read_arc().is_some(),
        "downgrade released the gate"
    );
    drop(r);
    let up = lock.try_upgradable_read_arc().unwrap();
    let mut w = AsyncRwLockUpgradableReadGuardArc::try_upgrade(up).unwrap();
    *w += 1;
    drop(w);
    let up = lock.try_upgradable_read_arc().unwrap();
    *AsyncRwLockUpgradableReadGuardArc::upgrade_blocking(up) += 1;
    assert_eq!(*lock.read_arc_blocking(), 4);
    assert_eq!(Arc::strong_count(&lock), 1);
}

#[test]
fn rwlock_arc_cancelled_upgrade_releases_everything() {
    let lock = Arc::new(AsyncRwLock::new(()));
    let up = lock.try_upgradable_read_arc().unwrap();
    let reader = lock.try_read_arc().unwrap();
    let mut upgrade = Box::pin(AsyncRwLockUpgradableReadGuardArc::upgrade(up));
    let (_, wu) = CountingWaker::new();
    assert!(poll_once(&mut upgrade, &wu).is_pending());
    drop(upgrade);
    assert!(lock.try_read_arc().is_some());
    drop(reader);
    assert!(lock.try_write_arc().is_some());
    // Dropped before its first poll, the future still releases the guard it owns.
    let up = lock.try_upgradable_read_arc().unwrap();
    drop(AsyncRwLockUpgradableReadGuardArc::upgrade(up));
    assert!(lock.try_write_arc().is_some());
    assert_eq!(Arc::strong_count(&lock), 1);
}

#[test]
fn rwlock_arc_guards_across_threads_and_tasks_keep_invariant() {
    const ITERS: usize = 1_000;
    let lock = Arc::new(AsyncRwLock::new((0usize, 0usize)));
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let lock = Arc::clone(&lock);
            std::thread::spawn(move || {
                for _ in 0..ITERS {
                    match i {
                        0 => {
                            let mut g = lock.write_arc_blocking();
                            g.0 += 1;
                            g.1 += 1;
                        }
                        1 => block_on(async {
                            let up = lock.upgradable_read_arc().await;
                            assert_eq!(up.0, up.1);
                            let mut g = AsyncRwLockUpgradableReadGuardArc::upgrade(up).await;
                            g.0 += 1;
                            g.1 += 1;
                        }),
                        _ => {
                            let g = block_on(lock.read_arc());
                            assert_eq!(g.0, g.1, "a reader saw a half-done write");
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*lock.read_arc_blocking(), (2 * ITERS, 2 * ITERS));
}

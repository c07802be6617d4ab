//! loom models of the things built on `Event`: a semaphore permit release always
//! reaches a waiter (blocking or async), a cancelled acquire loses no wake-up, and
//! the async mutex excludes.
#![cfg(loom)]

mod common;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use weft_sync::{AsyncMutex, Semaphore};

#[test]
fn released_permit_reaches_a_blocking_and_an_async_waiter() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let inside = Arc::new(AtomicUsize::new(0));
        let s = Arc::clone(&sem);
        let i = Arc::clone(&inside);
        let task = loom::thread::spawn(move || {
            common::block_on(async {
                let _p = s.acquire_async().await.unwrap();
                assert_eq!(i.fetch_add(1, Ordering::Relaxed), 0);
                i.fetch_sub(1, Ordering::Relaxed);
            })
        });
        {
            let _p = sem.acquire().unwrap();
            assert_eq!(inside.fetch_add(1, Ordering::Relaxed), 0);
            inside.fetch_sub(1, Ordering::Relaxed);
        }
        task.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn timed_out_acquire_does_not_swallow_the_wakeup() {
    // Under loom a deadline expires at once, so the timed acquire gives up at every
    // point it can, including just after it was notified; the blocking acquirer must
    // still get the permit, whoever had it first.
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s = Arc::clone(&sem);
        let timed = loom::thread::spawn(move || {
            if let Ok(p) = s.acquire_timeout(std::time::Duration::from_secs(1)) {
                drop(p);
            }
        });
        sem.add_permits(1);
        drop(sem.acquire().unwrap());
        timed.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn async_mutex_excludes_between_thread_and_task() {
    loom::model(|| {
        let m = Arc::new(AsyncMutex::new(0usize));
        let m2 = Arc::clone(&m);
        let task = loom::thread::spawn(move || {
            common::block_on(async {
                *m2.lock().await += 1;
            })
        });
        *m.lock_blocking() += 1;
        task.join().unwrap();
        assert_eq!(*m.try_lock().unwrap(), 2);
    });
}

//! Unit tests of `Semaphore`: every operation and error, cancel safety, permits
//! returned on panic.
#![cfg(not(loom))]

mod common;

use common::{CountingWaker, block_on, poll_once};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use weft_sync::{AcquireError, Semaphore, TryAcquireError};

#[test]
fn try_acquire_takes_and_drop_returns() {
    let sem = Semaphore::new(2);
    let a = sem.try_acquire().unwrap();
    let b = sem.try_acquire().unwrap();
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    assert_eq!(sem.available_permits(), 0);
    drop(a);
    assert_eq!(sem.available_permits(), 1);
    drop(b);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn many_permits_are_all_or_nothing() {
    let sem = Semaphore::new(3);
    assert_eq!(
        sem.try_acquire_many(4).unwrap_err(),
        TryAcquireError::NoPermits
    );
    let p = sem.try_acquire_many(3).unwrap();
    assert_eq!(p.num_permits(), 3);
    assert_eq!(sem.available_permits(), 0);
    drop(p);
    let p = sem.acquire_many(2).unwrap();
    assert_eq!(sem.available_permits(), 1);
    drop(p);
    assert_eq!(sem.try_acquire_many(0).unwrap().num_permits(), 0);
}

#[test]
fn forget_and_add_permits() {
    let sem = Semaphore::new(1);
    sem.acquire().unwrap().forget();
    assert_eq!(sem.available_permits(), 0);
    sem.add_permits(2);
    assert_eq!(sem.available_permits(), 2);
    let sem = Arc::new(sem);
    sem.try_acquire_owned().unwrap().forget();
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn acquire_timeout_times_out_then_succeeds() {
    let sem = Semaphore::new(1);
    let p = sem.acquire().unwrap();
    assert_eq!(
        sem.acquire_timeout(Duration::from_millis(5)).unwrap_err(),
        TryAcquireError::NoPermits
    );
    drop(p);
    assert!(sem.acquire_timeout(Duration::from_secs(60)).is_ok());
    assert_eq!(sem.available_permits(), 1, "the permit went back on drop");
}

#[test]
fn close_fails_waiters_and_later_acquires() {
    let sem = Arc::new(Semaphore::new(0));
    let s = Arc::clone(&sem);
    let waiter = std::thread::spawn(move || s.acquire().map(|_| ()));
    let s = Arc::clone(&sem);
    let task = std::thread::spawn(move || block_on(async { s.acquire_async().await.map(|_| ()) }));
    std::thread::sleep(Duration::from_millis(10));
    sem.close();
    assert_eq!(waiter.join().unwrap(), Err(AcquireError::Closed));
    assert_eq!(task.join().unwrap(), Err(AcquireError::Closed));
    assert!(sem.is_closed());
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    assert_eq!(
        sem.acquire_timeout(Duration::from_millis(1)).unwrap_err(),
        TryAcquireError::Closed
    );
    assert_eq!(sem.acquire_owned().unwrap_err(), AcquireError::Closed);
}

#[test]
fn blocking_acquire_wakes_when_a_permit_is_released() {
    let sem = Arc::new(Semaphore::new(1));
    let held = sem.acquire_owned().unwrap();
    let s = Arc::clone(&sem);
    let t = std::thread::spawn(move || s.acquire_many(1).map(|p| p.num_permits()));
    std::thread::sleep(Duration::from_millis(10));
    drop(held);
    assert_eq!(t.join().unwrap(), Ok(1));
}

#[test]
fn owned_permit_moves_into_a_thread() {
    let sem = Arc::new(Semaphore::new(1));
    let permit = block_on(Arc::clone(&sem).acquire_owned_async()).unwrap();
    assert!(Arc::ptr_eq(permit.semaphore(), &sem));
    std::thread::spawn(move || drop(permit)).join().unwrap();
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn permits_return_on_panic() {
    let sem = Arc::new(Semaphore::new(2));
    let s = Arc::clone(&sem);
    let result = std::thread::spawn(move || {
        let _p = s.acquire_many(2).unwrap();
        let _o = s.try_acquire_owned();
        panic!("holder panics");
    })
    .join();
    assert!(result.is_err());
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn dropped_pending_acquire_takes_nothing_and_passes_its_wakeup_on() {
    let sem = Semaphore::new(0);
    let mut a = Box::pin(sem.acquire_async());
    let mut b = Box::pin(sem.acquire_async());
    let (ca, wa) = CountingWaker::new();
    let (cb, wb) = CountingWaker::new();
    assert!(poll_once(&mut a, &wa).is_pending());
    assert!(poll_once(&mut b, &wb).is_pending());
    sem.add_permits(1);
    assert_eq!((ca.count(), cb.count()), (1, 0), "FIFO: a is woken");
    drop(a); // cancelled after being notified
    assert_eq!(cb.count(), 1, "the notification went to b");
    assert_eq!(sem.available_permits(), 1, "a took nothing");
    match poll_once(&mut b, &wb) {
        Poll::Ready(Ok(p)) => assert_eq!(p.num_permits(), 1),
        other => panic!("b should have the permit, got {other:?}"),
    }
}

#[test]
fn waiter_for_many_is_woken_when_enough_arrive_in_pieces() {
    let sem = Semaphore::new(0);
    let mut many = Box::pin(sem.acquire_many_async(3));
    let mut one = Box::pin(sem.acquire_async());
    let (_, w) = CountingWaker::new();
    let (c1, w1) = CountingWaker::new();
    assert!(poll_once(&mut many, &w).is_pending());
    assert!(poll_once(&mut one, &w1).is_pending());
    sem.add_permits(1);
    // The multi-permit waiter cannot use one permit; the single waiter must be told.
    assert!(c1.count() >= 1);
    assert!(poll_once(&mut many, &w).is_pending());
    assert!(matches!(poll_once(&mut one, &w1), Poll::Ready(Ok(_))));
}

#[test]
fn starving_waiter_for_many_eventually_gets_its_permits() {
    // One waiter wants all 4 permits; four threads churn single permits. Without
    // starvation mode the big waiter could lose every race forever.
    let sem = Arc::new(Semaphore::new(4));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churners: Vec<_> = (0..4)
        .map(|_| {
            let (sem, stop) = (Arc::clone(&sem), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _p = sem.acquire().unwrap();
                    std::thread::yield_now();
                }
            })
        })
        .collect();
    for _ in 0..20 {
        let p = sem.acquire_many(4).unwrap();
        assert_eq!(p.num_permits(), 4);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in churners {
        c.join().unwrap();
    }
    assert_eq!(sem.available_permits(), 4);
}

#[test]
fn const_new_in_a_static() {
    static SEM: Semaphore = Semaphore::new(1);
    let p = SEM.try_acquire().unwrap();
    assert!(SEM.try_acquire().is_err());
    drop(p);
    assert_eq!(SEM.available_permits(), 1);
}

#[test]
#[should_panic(expected = "overflow")]
fn add_permits_past_max_panics() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    sem.add_permits(1);
}

//! The reactor's driver protocol: timers, notify, the driver lock, and block_on.

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};
use weft_io::block_on;
use weft_io::reactor::Reactor;

struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Drives until `done` or a generous bound on rounds, so a bug fails, not hangs.
fn drive_until(done: impl Fn() -> bool) {
    let mut lock = Reactor::get().lock();
    for _ in 0..10_000 {
        if done() {
            return;
        }
        lock.react(Some(Duration::from_millis(50))).unwrap();
    }
    panic!("condition not reached");
}

#[test]
fn timers_fire_not_early_and_removed_ones_do_not() {
    let reactor = Reactor::get();
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    let start = Instant::now();
    let when = start + Duration::from_millis(15);
    reactor.insert_timer(when, &waker);
    let removed = reactor.insert_timer(start + Duration::from_millis(5), &waker);
    reactor.remove_timer(removed);
    drive_until(|| count.0.load(Ordering::SeqCst) >= 1);
    assert!(Instant::now() >= when, "a timer fired before its deadline");
    // Give the removed one every chance to (wrongly) fire.
    let mut lock = reactor.lock();
    lock.react(Some(Duration::ZERO)).unwrap();
    drop(lock);
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
}

#[test]
fn earlier_timer_interrupts_a_sleeping_driver() {
    const SLEEP: Duration = Duration::from_secs(20);
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let (tx, rx) = std::sync::mpsc::channel();
    let driver = {
        let count = count.clone();
        thread::spawn(move || {
            let mut lock = Reactor::get().lock();
            tx.send(()).unwrap();
            let start = Instant::now();
            // Other tests' activity may end a react early; loop until our timer fired.
            while count.0.load(Ordering::SeqCst) == 0 {
                lock.react(Some(SLEEP)).unwrap();
                // A bound on the wait, not a speed check: only a missing notify lets
                // a react run for its whole 20 s.
                assert!(
                    start.elapsed() < SLEEP,
                    "inserting an earlier timer did not interrupt the driver"
                );
            }
        })
    };
    rx.recv().unwrap();
    thread::sleep(Duration::from_millis(20));
    let waker = Waker::from(count.clone());
    Reactor::get().insert_timer(Instant::now() + Duration::from_millis(1), &waker);
    driver.join().unwrap();
}

#[test]
fn lock_takes_over_from_a_block_on_driver() {
    let (tx, rx) = std::sync::mpsc::channel::<Waker>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    // A block_on thread whose future waits for a wake only main will send.
    let user = thread::spawn(move || {
        block_on(async {
            let mut sent = false;
            poll_fn(|cx| {
                if done_rx.try_recv().is_ok() {
                    return Poll::Ready(());
                }
                if !sent {
                    tx.send(cx.waker().clone()).unwrap();
                    sent = true;
                }
                Poll::Pending
            })
            .await
        })
    });
    let waker = rx.recv().unwrap();
    thread::sleep(Duration::from_millis(10));
    // Whether or not `user` is driving, `lock` gets the driver role.
    let lock = Reactor::get().lock();
    drop(lock);
    done_tx.send(()).unwrap();
    waker.wake();
    user.join().unwrap();
}

#[test]
fn notify_interrupts_react() {
    let (tx, rx) = std::sync::mpsc::channel();
    let driver = thread::spawn(move || {
        let mut lock = Reactor::get().lock();
        tx.send(()).unwrap();
        lock.react(None).unwrap()
    });
    rx.recv().unwrap();
    thread::sleep(Duration::from_millis(10));
    Reactor::get().notify();
    driver.join().unwrap();
}

#[test]
fn only_one_driver_at_a_time() {
    let reactor = Reactor::get();
    let lock = reactor.lock();
    thread::scope(|s| {
        s.spawn(|| assert!(reactor.try_lock().is_none()));
    });
    drop(lock);
}

#[test]
fn block_on_wakes_from_other_threads_and_timers() {
    // Many block_on threads at once: one drives, the others park and take over.
    let handles: Vec<_> = (0..4)
        .map(|i| {
            thread::spawn(move || {
                block_on(async move {
                    let deadline = Instant::now() + Duration::from_millis(5 + i);
                    let mut id = None;
                    poll_fn(|cx| {
                        if Instant::now() >= deadline {
                            return Poll::Ready(());
                        }
                        if let Some(id) = id.take() {
                            Reactor::get().remove_timer(id);
                        }
                        id = Some(Reactor::get().insert_timer(deadline, cx.waker()));
                        Poll::Pending
                    })
                    .await;
                    i
                })
            })
        })
        .collect();
    let mut results: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    results.sort();
    assert_eq!(results, vec![0, 1, 2, 3]);

    // A waker called from a plain thread.
    let value = block_on(async {
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        let t = thread::spawn(move || {
            let waker = rx.recv().unwrap();
            thread::sleep(Duration::from_millis(5));
            waker.wake();
        });
        let mut sent = Some(tx);
        let mut polls = 0;
        poll_fn(|cx| {
            polls += 1;
            if let Some(tx) = sent.take() {
                tx.send(cx.waker().clone()).unwrap();
                return Poll::Pending;
            }
            Poll::Ready(())
        })
        .await;
        t.join().unwrap();
        polls
    });
    assert_eq!(value, 2);
}

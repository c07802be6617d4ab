//! Unit tests of `Event` and `EventListener` through the public API.
#![cfg(not(loom))]

mod common;

use common::{CountingWaker, block_on, poll_once};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};
use weft_sync::Event;

#[test]
fn notify_without_listeners_notifies_nobody() {
    let event = Event::new();
    assert_eq!(event.notify(1), 0);
    assert_eq!(event.notify_additional(3), 0);
    assert_eq!(event.notify_all(), 0);
    // A notification is not remembered by the event, only by listeners.
    let l = event.listen();
    assert!(!l.is_notified());
}

#[test]
fn notify_counts_already_notified_listeners() {
    let event = Event::new();
    let a = event.listen();
    let b = event.listen();
    let c = event.listen();
    assert_eq!(event.notify(1), 1);
    assert_eq!(event.notify(1), 0, "one is notified already");
    assert_eq!(event.notify(2), 1);
    assert!(a.is_notified() && b.is_notified() && !c.is_notified());
    assert_eq!(event.notify_additional(5), 1);
    assert!(c.is_notified());
    assert_eq!(event.listener_count(), 3);
}

#[test]
fn notify_additional_notifies_more_even_if_some_are_notified() {
    let event = Event::new();
    let ls: Vec<_> = (0..4).map(|_| event.listen()).collect();
    assert_eq!(event.notify(1), 1);
    assert_eq!(event.notify_additional(2), 2);
    let notified: Vec<bool> = ls.iter().map(|l| l.is_notified()).collect();
    assert_eq!(notified, [true, true, true, false], "FIFO order");
    assert_eq!(event.notify_additional(0), 0);
}

#[test]
fn notify_all_reaches_more_listeners_than_one_wake_batch() {
    let event = Event::new();
    let ls: Vec<_> = (0..100).map(|_| event.listen()).collect();
    assert_eq!(event.notify_all(), 100);
    assert!(ls.iter().all(|l| l.is_notified()));
    for l in ls {
        l.wait();
    }
    assert_eq!(event.listener_count(), 0);
}

#[test]
fn wait_returns_after_notification_from_another_thread() {
    let event = Arc::new(Event::new());
    let flag = Arc::new(AtomicBool::new(false));
    let (e, f) = (Arc::clone(&event), Arc::clone(&flag));
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        f.store(true, Ordering::Release);
        e.notify(1);
    });
    loop {
        let l = event.listen();
        if flag.load(Ordering::Acquire) {
            break;
        }
        l.wait();
    }
    t.join().unwrap();
}

#[test]
fn wait_timeout_times_out_without_notification_and_unregisters() {
    let event = Event::new();
    assert!(!event.listen().wait_timeout(Duration::from_millis(5)));
    assert!(
        !event
            .listen()
            .wait_deadline(Instant::now() + Duration::from_millis(1))
    );
    assert_eq!(event.listener_count(), 0);
    let l = event.listen();
    event.notify(1);
    assert!(l.wait_timeout(Duration::from_secs(60)));
}

#[test]
fn dropped_notified_listener_passes_the_notification_on() {
    let event = Event::new();
    let a = event.listen();
    let b = event.listen();
    assert_eq!(event.notify(1), 1);
    assert!(!b.is_notified());
    drop(a);
    assert!(b.is_notified());
}

#[test]
fn passed_on_notification_keeps_its_kind() {
    let event = Event::new();
    let a = event.listen();
    let b = event.listen();
    let c = event.listen();
    // b gets an additional notification while a holds a plain one.
    event.notify(1);
    event.notify_additional(1);
    // Dropping b must still notify c ("additional"), although a is notified.
    assert!(b.discard());
    assert!(c.is_notified());
    assert!(a.is_notified());
    // Dropping a plain-notified listener while another is notified passes nothing on.
    let d = event.listen();
    drop(a);
    assert!(
        !d.is_notified(),
        "c is notified already: notify(1) is satisfied"
    );
}

#[test]
fn discard_of_unnotified_listener_reports_false() {
    let event = Event::new();
    let a = event.listen();
    let b = event.listen();
    assert!(!a.discard());
    event.notify(1);
    assert!(b.is_notified());
}

#[test]
fn consumed_notification_is_not_passed_on() {
    let event = Event::new();
    let a = event.listen();
    let b = event.listen();
    event.notify(1);
    a.wait();
    assert!(!b.is_notified());
}

#[test]
fn future_stores_and_replaces_waker() {
    let event = Event::new();
    let mut l = event.listen();
    let (c1, w1) = CountingWaker::new();
    let (c2, w2) = CountingWaker::new();
    assert!(poll_once(&mut l, &w1).is_pending());
    assert!(poll_once(&mut l, &w2).is_pending());
    event.notify(1);
    assert_eq!(
        (c1.count(), c2.count()),
        (0, 1),
        "only the latest waker is woken"
    );
    assert_eq!(poll_once(&mut l, &w2), Poll::Ready(()));
    // Completed: further polls are Ready and dropping passes nothing on.
    assert_eq!(poll_once(&mut l, &w2), Poll::Ready(()));
    let other = event.listen();
    drop(l);
    assert!(!other.is_notified());
}

#[test]
fn cancelled_notified_future_wakes_the_next_task() {
    let event = Event::new();
    let mut a = event.listen();
    let mut b = event.listen();
    let (ca, wa) = CountingWaker::new();
    let (cb, wb) = CountingWaker::new();
    assert!(poll_once(&mut a, &wa).is_pending());
    assert!(poll_once(&mut b, &wb).is_pending());
    event.notify(1);
    assert_eq!((ca.count(), cb.count()), (1, 0));
    drop(a); // the task was cancelled before it re-polled
    assert_eq!(cb.count(), 1);
    assert_eq!(poll_once(&mut b, &wb), Poll::Ready(()));
}

#[test]
fn thread_and_task_wait_on_the_same_event() {
    let event = Arc::new(Event::new());
    let go = Arc::new(AtomicBool::new(false));
    let waiters: Vec<_> = (0..2)
        .map(|i| {
            let (event, go) = (Arc::clone(&event), Arc::clone(&go));
            std::thread::spawn(move || {
                loop {
                    let l = event.listen();
                    if go.load(Ordering::Acquire) {
                        return;
                    }
                    if i == 0 {
                        l.wait();
                    } else {
                        block_on(l);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(10));
    go.store(true, Ordering::Release);
    event.notify_all();
    for w in waiters {
        w.join().unwrap();
    }
}

#[test]
fn listener_outlives_event_and_is_static() {
    fn assert_static_send_sync<T: 'static + Send + Sync>(_: &T) {}
    let event = Event::new();
    let l = event.listen();
    assert_static_send_sync(&l);
    assert!(l.listens_to(&event));
    assert!(!l.listens_to(&Event::new()));
    drop(event);
    // The dropped event notified it; the listener still works on its own.
    assert!(l.is_notified());
    assert!(l.wait_timeout(Duration::from_millis(1)));
}

#[test]
fn dropping_the_event_wakes_a_blocked_thread() {
    let event = Event::new();
    let listener = event.listen();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        listener.wait();
        done_tx.send(()).unwrap();
    });
    // Give the waiter time to block (the test holds whether or not it has yet).
    std::thread::sleep(Duration::from_millis(10));
    drop(event);
    // A bounded wait, so a regression fails the test instead of hanging it.
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("wait() returned after the event was dropped");
    waiter.join().unwrap();
}

#[test]
fn dropping_the_event_completes_a_pending_future() {
    let event = Event::new();
    let mut l = event.listen();
    let (count, waker) = CountingWaker::new();
    assert!(poll_once(&mut l, &waker).is_pending());
    drop(event);
    assert_eq!(count.count(), 1, "the stored waker was woken");
    assert_eq!(poll_once(&mut l, &waker), Poll::Ready(()));
}

#[test]
fn dropping_the_event_wakes_a_task_blocked_in_block_on() {
    let event = Event::new();
    let listener = event.listen();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let task = std::thread::spawn(move || {
        block_on(listener);
        done_tx.send(()).unwrap();
    });
    std::thread::sleep(Duration::from_millis(10));
    drop(event);
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the listener future completed after the event was dropped");
    task.join().unwrap();
}

#[test]
fn dropping_the_event_notifies_every_listener_whatever_its_state() {
    let event = Event::new();
    let ls: Vec<_> = (0..40).map(|_| event.listen()).collect();
    let (count, waker) = CountingWaker::new();
    let mut polled = event.listen();
    assert!(poll_once(&mut polled, &waker).is_pending());
    event.notify(1);
    event.notify_additional(1);
    drop(event);
    // More listeners than one wake batch, some already notified: all end up notified,
    // and the polled one's waker was woken once.
    assert!(ls.iter().all(|l| l.is_notified()));
    assert_eq!(count.count(), 1);
    for l in ls {
        assert!(l.wait_timeout(Duration::from_secs(60)));
    }
    assert_eq!(poll_once(&mut polled, &waker), Poll::Ready(()));
}

#[test]
fn dropping_an_event_nobody_listened_to_is_fine() {
    drop(Event::new());
    let event = Event::new();
    drop(event.listen());
    drop(event);
}

#[test]
fn event_new_is_const() {
    static EVENT: Event = Event::new();
    assert_eq!(EVENT.notify(1), 0);
    let l = EVENT.listen();
    assert_eq!(EVENT.notify(1), 1);
    l.wait();
}

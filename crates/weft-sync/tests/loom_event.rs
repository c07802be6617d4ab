//! loom models of `Event`: the listen/check/wait protocol never loses a wake-up, a
//! dropped notified listener passes its notification on, threads and tasks can wait
//! on one event together, and dropping the event wakes whoever still waits.
#![cfg(loom)]

mod common;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use weft_sync::Event;

/// Waits for `flag` with the listen, check, wait protocol.
fn wait_for(event: &Event, flag: &AtomicBool) {
    loop {
        let listener = event.listen();
        // Relaxed on purpose: the event's fences alone must prevent the lost wake-up.
        if flag.load(Ordering::Relaxed) {
            return;
        }
        listener.wait();
    }
}

#[test]
fn no_lost_wakeup_between_notifier_and_listener() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let flag = Arc::new(AtomicBool::new(false));
        let (e, f) = (Arc::clone(&event), Arc::clone(&flag));
        let t = loom::thread::spawn(move || {
            f.store(true, Ordering::Relaxed);
            e.notify(1);
        });
        wait_for(&event, &flag);
        t.join().unwrap();
    });
}

#[test]
fn no_lost_wakeup_with_notify_additional() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let flag = Arc::new(AtomicBool::new(false));
        let (e, f) = (Arc::clone(&event), Arc::clone(&flag));
        let t = loom::thread::spawn(move || {
            f.store(true, Ordering::Relaxed);
            e.notify_additional(1);
        });
        wait_for(&event, &flag);
        t.join().unwrap();
    });
}

#[test]
fn dropped_notified_listener_passes_the_notification_on() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let first = event.listen();
        let second = event.listen();
        let e = Arc::clone(&event);
        let notifier = loom::thread::spawn(move || {
            e.notify(1);
        });
        // Cancelled before or after it was notified: either way `second` must wake,
        // by the notification itself or by the one `first` passes on.
        let canceller = loom::thread::spawn(move || drop(first));
        second.wait();
        notifier.join().unwrap();
        canceller.join().unwrap();
    });
}

#[test]
fn async_and_blocking_listeners_on_one_event() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let flag = Arc::new(AtomicBool::new(false));
        let (e, f) = (Arc::clone(&event), Arc::clone(&flag));
        let task = loom::thread::spawn(move || {
            common::block_on(async {
                loop {
                    let listener = e.listen();
                    if f.load(Ordering::Relaxed) {
                        return;
                    }
                    listener.await;
                }
            })
        });
        let (e, f) = (Arc::clone(&event), Arc::clone(&flag));
        let thread = loom::thread::spawn(move || wait_for(&e, &f));
        flag.store(true, Ordering::Relaxed);
        event.notify_all();
        task.join().unwrap();
        thread.join().unwrap();
    });
}

#[test]
fn dropping_the_event_wakes_a_blocked_thread_and_a_task() {
    loom::model(|| {
        let event = Event::new();
        let for_thread = event.listen();
        let for_task = event.listen();
        let thread = loom::thread::spawn(move || for_thread.wait());
        let task = loom::thread::spawn(move || common::block_on(for_task));
        // Dropped before, while or after each waiter registers its waker.
        drop(event);
        thread.join().unwrap();
        task.join().unwrap();
    });
}

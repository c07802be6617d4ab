//! loom models of `Condvar`: no lost notification, and timed waits that report
//! timing out only when the condition still holds.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use std::time::{Duration, Instant};
use weft_sync::{Condvar, Mutex};

#[test]
fn notify_one_is_never_lost() {
    loom::model(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p = Arc::clone(&pair);
        let t = thread::spawn(move || {
            *p.0.lock() = true;
            p.1.notify_one();
        });
        let mut ready = pair.0.lock();
        // A lost notification leaves this thread blocked for ever: loom reports it.
        pair.1.wait_while(&mut ready, |ready| !*ready);
        assert!(*ready);
        drop(ready);
        t.join().unwrap();
    });
}

#[test]
fn notify_all_wakes_both_waiters() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let waiter = |p: Arc<(Mutex<bool>, Condvar)>| {
            thread::spawn(move || {
                let mut ready = p.0.lock();
                p.1.wait_while(&mut ready, |ready| !*ready);
            })
        };
        let a = waiter(Arc::clone(&pair));
        let b = waiter(Arc::clone(&pair));
        *pair.0.lock() = true;
        pair.1.notify_all();
        a.join().unwrap();
        b.join().unwrap();
    });
}

/// Under loom the deadline expires at once, so this races the timeout against the
/// notification: not timed out must mean the condition changed.
#[test]
fn timed_wait_reports_truthfully() {
    loom::model(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p = Arc::clone(&pair);
        let t = thread::spawn(move || {
            *p.0.lock() = true;
            p.1.notify_one();
        });
        let mut ready = pair.0.lock();
        let deadline = Instant::now() + Duration::from_secs(3600);
        let result = pair
            .1
            .wait_while_until(&mut ready, |ready| !*ready, deadline);
        assert_eq!(result.timed_out(), !*ready);
        drop(ready);
        t.join().unwrap();
        assert!(!pair.0.is_locked());
    });
}

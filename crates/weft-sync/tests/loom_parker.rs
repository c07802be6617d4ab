//! loom models of the thread parker: no lost wake-up, whatever the order of
//! `park` and `unpark`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use weft_sync::Parker;

#[test]
fn unpark_is_never_lost() {
    loom::model(|| {
        let parker = Arc::new(Parker::new());
        let flag = Arc::new(AtomicBool::new(false));
        let (p, f) = (Arc::clone(&parker), Arc::clone(&flag));
        let t = loom::thread::spawn(move || {
            f.store(true, Ordering::Relaxed);
            p.unpark();
        });
        // Consuming the token must make the flag visible (Release/Acquire pairing).
        parker.park();
        assert!(flag.load(Ordering::Relaxed));
        t.join().unwrap();
    });
}

#[test]
fn timed_park_either_times_out_or_consumes_the_token() {
    loom::model(|| {
        let parker = Arc::new(Parker::new());
        let p = Arc::clone(&parker);
        let t = loom::thread::spawn(move || p.unpark());
        let got = parker.park_until(Some(std::time::Instant::now()));
        t.join().unwrap();
        if !got {
            // The token arrived after the timeout: it must still be there.
            assert!(parker.park_until(Some(std::time::Instant::now())));
        }
    });
}

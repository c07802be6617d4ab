//! loom model of `block_on`'s wake-up handshake (`signal.rs`): a wake from another
//! thread while the owner is about to block in the reactor is never lost. The reactor's
//! blocking wait is played by a `Parker` that the interrupt unparks.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use weft_io::signal::WakeSignal;
use weft_sync::Parker;

#[test]
fn wake_during_drive_interrupts_or_is_seen() {
    loom::model(|| {
        let signal = Arc::new(WakeSignal::new());
        let reactor = Arc::new(Parker::new());
        // The first poll's wake-up is consumed; the future is pending.
        assert!(signal.take_woken());

        let waker = {
            let (signal, reactor) = (signal.clone(), reactor.clone());
            thread::spawn(move || signal.wake(false, || reactor.unpark()))
        };
        // The owner drives: blocks in the "reactor" unless the wake-up is already in.
        if signal.begin_driving() {
            // Deadlocks (loom reports it) if the waker neither was seen nor interrupts.
            reactor.park();
        }
        signal.end_driving();
        waker.join().unwrap();
        assert!(signal.take_woken(), "wake-up lost");
    });
}

#[test]
fn wake_while_parked_unparks() {
    loom::model(|| {
        let signal = Arc::new(WakeSignal::new());
        assert!(signal.take_woken());
        let waker = {
            let signal = signal.clone();
            thread::spawn(move || signal.wake(false, || {}))
        };
        // Not driving: parks until the wake-up (or returns at once if it is in).
        signal.park();
        while !signal.take_woken() {
            signal.park();
        }
        waker.join().unwrap();
    });
}

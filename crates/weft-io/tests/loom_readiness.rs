//! loom models of the readiness handshake (`reactor::readiness`): an edge that races a
//! task's check-then-register or its `WouldBlock`-then-clear is never lost.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Wake, Waker};
use weft_io::reactor::readiness::Readiness;

/// Counts wake-ups (loom-visible).
struct Flag(AtomicUsize);

impl Wake for Flag {
    fn wake(self: StdArc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The task side: tries the "syscall" (reading `data`) while the readiness says ready,
/// clears on `WouldBlock`. Returns whether it got the data before going Pending.
fn task_attempt(readiness: &Readiness, data: &AtomicBool, cx: &mut Context<'_>) -> bool {
    loop {
        match readiness.poll_ready(cx) {
            Poll::Ready(tick) => {
                // A load then a store (only this thread writes `false`).
                if data.load(Ordering::SeqCst) {
                    data.store(false, Ordering::SeqCst);
                    return true;
                }
                readiness.clear_ready(tick);
            }
            Poll::Pending => return false,
        }
    }
}

#[test]
fn edge_during_attempt_is_not_lost() {
    loom::model(|| {
        let readiness = Arc::new(Readiness::new());
        let data = Arc::new(AtomicBool::new(false));
        let flag = StdArc::new(Flag(AtomicUsize::new(0)));
        let waker = Waker::from(flag.clone());

        // Make the first attempt see a stale edge, so the clear races the real one.
        let mut none = Vec::new();
        readiness.set_ready(&mut none);

        let reactor = {
            let (readiness, data) = (readiness.clone(), data.clone());
            thread::spawn(move || {
                // The kernel's order: data lands, then the edge is reported.
                data.store(true, Ordering::SeqCst);
                let mut wakers = Vec::new();
                readiness.set_ready(&mut wakers);
                for w in wakers {
                    w.wake();
                }
            })
        };
        let mut cx = Context::from_waker(&waker);
        let got = task_attempt(&readiness, &data, &mut cx);
        reactor.join().unwrap();
        if !got {
            // Pending: then the edge must have woken us, and a re-poll finds the data.
            assert!(flag.0.load(Ordering::SeqCst) >= 1, "lost wake-up");
            assert!(task_attempt(&readiness, &data, &mut cx), "lost edge");
        }
    });
}

#[test]
fn two_edges_two_directions_independent() {
    loom::model(|| {
        let read = Arc::new(Readiness::new());
        let write = Arc::new(Readiness::new());
        let flag = StdArc::new(Flag(AtomicUsize::new(0)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(read.poll_ready(&mut cx).is_pending());
        assert!(write.poll_ready(&mut cx).is_pending());
        let reactor = {
            let write = write.clone();
            thread::spawn(move || {
                let mut wakers = Vec::new();
                write.set_ready(&mut wakers);
                wakers.into_iter().for_each(Waker::wake);
            })
        };
        // A read edge arriving concurrently with the write edge.
        let mut wakers = Vec::new();
        read.set_ready(&mut wakers);
        wakers.into_iter().for_each(Waker::wake);
        reactor.join().unwrap();
        // Both directions ready; each woke the waker once (deduplicated per direction).
        assert_eq!(flag.0.load(Ordering::SeqCst), 2);
        assert!(read.is_ready() && write.is_ready());
    });
}

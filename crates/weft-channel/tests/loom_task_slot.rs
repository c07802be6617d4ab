//! loom models of the single-task waker slot (`src/task_slot.rs`): a future waiting
//! in the slot is woken by a send, a receive and a disconnect; a slot and a list
//! waiter on one side both get their messages; a cancelled future passes its
//! wake-up on; a waker replaced between polls is the one woken; and every waker the
//! channel cloned is dropped exactly once (loom's `block_on` wakers are loom `Arc`s,
//! which the model checks for leaks).
//!
//! Futures are driven by `loom::future::block_on`, not by a `thread::park` loop:
//! loom loses a pending unpark when the thread blocks on another primitive in
//! between (the emulated futex of a waiter list's lock), and aborts a model whose
//! thread is unparked while it joins (loom issue #249); std does neither.
#![cfg(loom)]

use loom::thread;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use weft_channel::{RecvError, bounded, unbounded};

/// A waker that only counts its wakes (std atomics: it counts, the model checks
/// the channel).
struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: StdArc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// loom's `block_on`: its waker is a loom `Arc`, so the model also fails if the
/// channel leaks a waker clone or drops one twice.
use loom::future::block_on;

#[test]
fn slot_owner_woken_by_send() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(1);
        let t = thread::spawn(move || block_on(r.recv_async()));
        s.send(3).unwrap();
        assert_eq!(t.join().unwrap(), Ok(3));
    });
}

#[test]
fn slot_owner_woken_by_disconnect() {
    loom::model(|| {
        let (s, r) = unbounded::<u32>();
        let t = thread::spawn(move || block_on(r.recv_async()));
        drop(s);
        assert_eq!(t.join().unwrap(), Err(RecvError));
    });
}

#[test]
fn slot_and_list_waiters_each_get_a_message() {
    loom::model(|| {
        let (s, r) = unbounded::<u32>();
        let t = thread::spawn(move || {
            let r2 = r.clone();
            // The first to wait owns the slot, the second waits in the list.
            let mut a = pin!(r.recv_async());
            let mut b = pin!(r2.recv_async());
            let (mut got_a, mut got_b) = (None, None);
            block_on(poll_fn(|cx| {
                if got_a.is_none()
                    && let Poll::Ready(v) = a.as_mut().poll(cx)
                {
                    got_a = Some(v.unwrap());
                }
                if got_b.is_none()
                    && let Poll::Ready(v) = b.as_mut().poll(cx)
                {
                    got_b = Some(v.unwrap());
                }
                match (got_a, got_b) {
                    (Some(_), Some(_)) => Poll::Ready(()),
                    _ => Poll::Pending,
                }
            }));
            let mut got = [got_a.unwrap(), got_b.unwrap()];
            got.sort_unstable();
            got
        });
        s.send(1).unwrap();
        s.send(2).unwrap();
        assert_eq!(t.join().unwrap(), [1, 2]);
    });
}

#[test]
fn cancelled_slot_owner_passes_the_wake_up_on() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(1);
        let r2 = r.clone();
        let count = StdArc::new(Count(AtomicUsize::new(0)));
        let counting = Waker::from(StdArc::clone(&count));
        {
            // Takes the slot, then gives up, maybe after being woken.
            let mut fut = Box::pin(r.recv_async());
            assert!(
                fut.as_mut()
                    .poll(&mut Context::from_waker(&counting))
                    .is_pending()
            );
            let t = thread::spawn(move || r2.recv());
            s.send(1).unwrap();
            drop(fut);
            // The blocked thread gets the message the dropped future never took.
            assert_eq!(t.join().unwrap(), Ok(1));
        }
        drop((s, r, counting));
        assert_eq!(StdArc::strong_count(&count), 1);
    });
}

#[test]
fn replaced_waker_is_the_one_woken() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(1);
        let t = thread::spawn(move || {
            let count = StdArc::new(Count(AtomicUsize::new(0)));
            let stale = Waker::from(count);
            let mut fut = pin!(r.recv_async());
            if let Poll::Ready(v) = fut.as_mut().poll(&mut Context::from_waker(&stale)) {
                return v;
            }
            // Polled again by another task's waker: a wake-up that reached only
            // the stale waker would leave this thread blocked forever (a loom
            // deadlock).
            block_on(poll_fn(|cx| fut.as_mut().poll(cx)))
        });
        s.send(5).unwrap();
        assert_eq!(t.join().unwrap(), Ok(5));
    });
}

#[test]
fn async_sender_in_slot_woken_by_receive() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(1);
        s.send(1).unwrap();
        let t = thread::spawn(move || block_on(s.send_async(2)));
        assert_eq!(r.recv(), Ok(1));
        assert_eq!(r.recv(), Ok(2));
        assert_eq!(t.join().unwrap(), Ok(()));
    });
}

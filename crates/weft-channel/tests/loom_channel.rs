//! loom models of the channel flavours: the array (bounded ring), list (unbounded
//! blocks) and zero (rendezvous) hand-offs, blocking wake-ups, disconnection, and
//! async waker registration. 2-3 threads, 2-3 operations each.
#![cfg(loom)]

use loom::thread;
use std::sync::Arc as StdArc;
use weft_channel::{RecvError, TryRecvError, bounded, unbounded};

/// loom's own `block_on`. A `thread::park` loop is not enough under loom: loom
/// drops a pending unpark when the thread blocks on another primitive in between
/// (the emulated futex of a waiter list's lock), and aborts a model whose thread
/// is unparked while it joins (loom issue #249); std does neither.
use loom::future::block_on;

#[test]
fn array_send_recv_blocking() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(1);
        let t = thread::spawn(move || {
            s.send(1).unwrap();
            s.send(2).unwrap();
        });
        assert_eq!(r.recv(), Ok(1));
        assert_eq!(r.recv(), Ok(2));
        assert_eq!(r.recv(), Err(RecvError));
        t.join().unwrap();
    });
}

#[test]
fn array_two_senders_no_loss() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(1);
        let s2 = s.clone();
        let t = thread::spawn(move || s2.send(2).unwrap());
        // Receive first: with capacity 1, our own send may wait for room.
        let first = r.recv().unwrap();
        s.send(1).unwrap();
        drop(s);
        let mut got = vec![first, r.recv().unwrap()];
        t.join().unwrap();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
    });
}

#[test]
fn list_send_recv_and_disconnect() {
    loom::model(|| {
        let (s, r) = unbounded::<u32>();
        let t = thread::spawn(move || {
            s.send(1).unwrap();
            s.send(2).unwrap();
        });
        assert_eq!(r.recv(), Ok(1));
        assert_eq!(r.recv(), Ok(2));
        assert_eq!(r.recv(), Err(RecvError));
        t.join().unwrap();
    });
}

#[test]
fn list_two_receivers_each_message_once() {
    loom::model(|| {
        let (s, r) = unbounded::<u32>();
        let r2 = r.clone();
        let t = thread::spawn(move || r2.recv().ok());
        s.send(1).unwrap();
        s.send(2).unwrap();
        drop(s);
        let mine = r.recv().ok();
        let theirs = t.join().unwrap();
        let mut got: Vec<u32> = [mine, theirs].into_iter().flatten().collect();
        got.extend(r.try_iter());
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn zero_rendezvous_hand_off() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(0);
        let t = thread::spawn(move || s.send(7));
        assert_eq!(r.recv(), Ok(7));
        assert_eq!(t.join().unwrap(), Ok(()));
    });
}

#[test]
fn zero_receiver_disconnect_wakes_sender() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(0);
        let t = thread::spawn(move || s.send(7));
        drop(r);
        // Either nobody took it (disconnected), never a hang.
        assert!(t.join().unwrap().is_err());
    });
}

#[test]
fn async_recv_woken_by_thread_send() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(1);
        let t = thread::spawn(move || s.send(3).unwrap());
        assert_eq!(block_on(r.recv_async()), Ok(3));
        t.join().unwrap();
    });
}

#[test]
fn async_send_woken_by_thread_recv() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(1);
        s.send(1).unwrap();
        let t = thread::spawn(move || {
            let a = r.recv().unwrap();
            let b = r.recv().unwrap();
            (a, b)
        });
        block_on(s.send_async(2)).unwrap();
        assert_eq!(t.join().unwrap(), (1, 2));
    });
}

#[test]
fn async_rendezvous_task_to_thread() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(0);
        let t = thread::spawn(move || r.recv());
        block_on(s.send_async(5)).unwrap();
        assert_eq!(t.join().unwrap(), Ok(5));
    });
}

#[test]
fn async_unbounded_recv_waker_registration() {
    loom::model(|| {
        let (s, r) = unbounded::<u32>();
        let t = thread::spawn(move || {
            s.send(1).unwrap();
        });
        assert_eq!(block_on(r.recv_async()), Ok(1));
        assert_eq!(block_on(r.recv_async()), Err(RecvError));
        t.join().unwrap();
    });
}

/// Counts its drops (a std atomic: it only counts, the model checks the channel).
struct Counted(StdArc<std::sync::atomic::AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn list_last_receiver_discards_while_a_sender_writes() {
    loom::model(|| {
        let drops = StdArc::new(std::sync::atomic::AtomicUsize::new(0));
        let (s, r) = unbounded::<Counted>();
        let d = StdArc::clone(&drops);
        let t = thread::spawn(move || {
            // Each send either lands (and is dropped by the discard or the channel)
            // or fails and hands the message back (dropped here): never both.
            let _ = s.send(Counted(StdArc::clone(&d)));
            let _ = s.send(Counted(StdArc::clone(&d)));
        });
        if let Ok(m) = r.try_recv() {
            drop(m);
        }
        drop(r);
        t.join().unwrap();
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 2);
    });
}

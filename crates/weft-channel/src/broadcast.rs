//! `broadcast(cap)`: every receiver sees every message, in send order. The channel
//! keeps the last `cap` messages; a receiver that falls further behind skips the
//! oldest and is told how many it missed (`Lagged(n)`), so a slow receiver costs
//! at most `cap` messages of memory instead of an unbounded backlog (the design of
//! tokio's `sync::broadcast`, and of Go's advice to drop rather than block in
//! fan-out).
//!
//! Mechanism: a ring of `cap` slots, each holding the message with its sequence
//! number, under one lock; each receiver keeps the sequence number it reads next.
//! Waiting is a [`weft_sync::Event`], notified on every send and on close.

use crate::primitive::Arc;
use crate::primitive::atomic::{AtomicUsize, Ordering};
use std::error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use weft_sync::{Event, EventListener, Mutex};

/// Why a [`BroadcastReceiver::recv`] returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BroadcastRecvError {
    /// The receiver fell behind: this many messages were overwritten before it read
    /// them. The next receive returns the oldest message still kept.
    Lagged(u64),
    /// Every sender is gone and every kept message has been read.
    Closed,
}

/// Why a [`BroadcastReceiver::try_recv`] returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BroadcastTryRecvError {
    /// No new message yet.
    Empty,
    /// As [`BroadcastRecvError::Lagged`].
    Lagged(u64),
    /// As [`BroadcastRecvError::Closed`].
    Closed,
}

/// Why a [`BroadcastReceiver::recv_timeout`] returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BroadcastRecvTimeoutError {
    /// Nothing arrived in time.
    Timeout,
    /// As [`BroadcastRecvError::Lagged`].
    Lagged(u64),
    /// As [`BroadcastRecvError::Closed`].
    Closed,
}

impl fmt::Display for BroadcastRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lagged(n) => write!(f, "receiver lagged behind and skipped {n} messages"),
            Self::Closed => "broadcast channel closed".fmt(f),
        }
    }
}
impl error::Error for BroadcastRecvError {}

impl fmt::Display for BroadcastTryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => "broadcast channel empty".fmt(f),
            Self::Lagged(n) => write!(f, "receiver lagged behind and skipped {n} messages"),
            Self::Closed => "broadcast channel closed".fmt(f),
        }
    }
}
impl error::Error for BroadcastTryRecvError {}

impl fmt::Display for BroadcastRecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => "timed out waiting on broadcast receive".fmt(f),
            Self::Lagged(n) => write!(f, "receiver lagged behind and skipped {n} messages"),
            Self::Closed => "broadcast channel closed".fmt(f),
        }
    }
}
impl error::Error for BroadcastRecvTimeoutError {}

struct Ring<T> {
    /// `slots[seq % cap]` holds message `seq` for the last `cap` sequence numbers.
    slots: Box<[Option<T>]>,
    /// The sequence number of the next message sent.
    next: u64,
    closed: bool,
}

struct Shared<T> {
    ring: Mutex<Ring<T>>,
    event: Event,
    senders: AtomicUsize,
    receivers: AtomicUsize,
}

/// Creates a broadcast channel keeping the last `cap` messages.
///
/// Progress and cost: blocking (one short lock per send and per receive); `send`
/// clones nothing, each receive clones the message; memory is `cap` messages,
/// whatever the receivers do.
///
/// # Panics
///
/// If `cap` is 0.
///
/// # Examples
///
/// ```
/// use weft_channel::{broadcast, BroadcastTryRecvError};
///
/// let (s, mut r1) = broadcast(2);
/// let mut r2 = r1.clone();
/// s.send(1).unwrap();
/// assert_eq!(r1.recv(), Ok(1));
/// assert_eq!(r2.recv(), Ok(1)); // every receiver sees every message
///
/// s.send(2).unwrap();
/// s.send(3).unwrap();
/// s.send(4).unwrap(); // overwrites 2, which r1 has not read
/// assert_eq!(r1.try_recv(), Err(BroadcastTryRecvError::Lagged(1)));
/// assert_eq!(r1.try_recv(), Ok(3));
/// ```
pub fn broadcast<T: Clone>(cap: usize) -> (BroadcastSender<T>, BroadcastReceiver<T>) {
    assert!(cap > 0, "a broadcast channel needs room for one message");
    let shared = Arc::new(Shared {
        ring: Mutex::new(Ring {
            slots: (0..cap).map(|_| None).collect(),
            next: 0,
            closed: false,
        }),
        event: Event::new(),
        senders: AtomicUsize::new(1),
        receivers: AtomicUsize::new(1),
    });
    (
        BroadcastSender {
            shared: Arc::clone(&shared),
        },
        BroadcastReceiver {
            shared,
            next: 0,
            listener: None,
        },
    )
}

/// The sending side of [`broadcast`]; `Clone` for more senders.
pub struct BroadcastSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T: Clone> BroadcastSender<T> {
    /// Sends to every current receiver (never blocks: a full ring overwrites its
    /// oldest message); returns how many receivers there were.
    ///
    /// # Errors
    ///
    /// [`crate::SendError`] with the message if there are no receivers.
    pub fn send(&self, msg: T) -> Result<usize, crate::SendError<T>> {
        // Relaxed: a snapshot; a receiver subscribing concurrently starts after this
        // message or sees it, either is a valid order.
        let receivers = self.shared.receivers.load(Ordering::Relaxed);
        if receivers == 0 {
            return Err(crate::SendError(msg));
        }
        let old = {
            let mut ring = self.shared.ring.lock();
            let cap = ring.slots.len() as u64;
            let index = (ring.next % cap) as usize;
            ring.next += 1;
            ring.slots[index].replace(msg)
        };
        // Dropped outside the lock: a message's destructor may be slow.
        drop(old);
        self.shared.event.notify(usize::MAX);
        Ok(receivers)
    }

    /// A new receiver that sees messages sent from now on.
    pub fn subscribe(&self) -> BroadcastReceiver<T> {
        // Relaxed: as `Arc::clone`.
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        let next = self.shared.ring.lock().next;
        BroadcastReceiver {
            shared: Arc::clone(&self.shared),
            next,
            listener: None,
        }
    }

    /// The number of live receivers.
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.load(Ordering::Relaxed)
    }
}

impl<T> Clone for BroadcastSender<T> {
    fn clone(&self) -> Self {
        // Relaxed: as `Arc::clone`.
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        BroadcastSender {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for BroadcastSender<T> {
    fn drop(&mut self) {
        // AcqRel: the last sender closes after every other sender's sends.
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.ring.lock().closed = true;
            self.shared.event.notify(usize::MAX);
        }
    }
}

impl<T> fmt::Debug for BroadcastSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("BroadcastSender { .. }")
    }
}

/// The receiving side of [`broadcast`]. A clone continues from the same position.
pub struct BroadcastReceiver<T> {
    shared: Arc<Shared<T>>,
    next: u64,
    listener: Option<EventListener>,
}

impl<T: Clone> BroadcastReceiver<T> {
    /// The next message, without blocking.
    ///
    /// # Errors
    ///
    /// [`BroadcastTryRecvError::Empty`], [`BroadcastTryRecvError::Lagged`] (the
    /// receiver then moves to the oldest kept message), or
    /// [`BroadcastTryRecvError::Closed`].
    pub fn try_recv(&mut self) -> Result<T, BroadcastTryRecvError> {
        let ring = self.shared.ring.lock();
        if self.next < ring.next {
            let cap = ring.slots.len() as u64;
            let oldest = ring.next.saturating_sub(cap);
            if self.next < oldest {
                let skipped = oldest - self.next;
                self.next = oldest;
                return Err(BroadcastTryRecvError::Lagged(skipped));
            }
            let msg = ring.slots[(self.next % cap) as usize]
                .clone()
                .expect("slots of kept sequence numbers are full");
            self.next += 1;
            Ok(msg)
        } else if ring.closed {
            Err(BroadcastTryRecvError::Closed)
        } else {
            Err(BroadcastTryRecvError::Empty)
        }
    }

    /// The next message, blocking while there is none.
    ///
    /// # Errors
    ///
    /// [`BroadcastRecvError::Lagged`] or [`BroadcastRecvError::Closed`].
    pub fn recv(&mut self) -> Result<T, BroadcastRecvError> {
        match self.recv_until(None) {
            Ok(v) => Ok(v),
            Err(BroadcastRecvTimeoutError::Lagged(n)) => Err(BroadcastRecvError::Lagged(n)),
            Err(_) => Err(BroadcastRecvError::Closed),
        }
    }

    /// The next message, blocking for at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`BroadcastRecvTimeoutError`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, BroadcastRecvTimeoutError> {
        self.recv_until(Instant::now().checked_add(timeout))
    }

    fn recv_until(&mut self, deadline: Option<Instant>) -> Result<T, BroadcastRecvTimeoutError> {
        let convert = |e| match e {
            BroadcastTryRecvError::Lagged(n) => Some(BroadcastRecvTimeoutError::Lagged(n)),
            BroadcastTryRecvError::Closed => Some(BroadcastRecvTimeoutError::Closed),
            BroadcastTryRecvError::Empty => None,
        };
        loop {
            match self.try_recv() {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if let Some(e) = convert(e) {
                        return Err(e);
                    }
                }
            }
            let listener = self.shared.event.listen();
            match self.try_recv() {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if let Some(e) = convert(e) {
                        return Err(e);
                    }
                }
            }
            match deadline {
                None => listener.wait(),
                Some(d) => {
                    if !listener.wait_deadline(d) {
                        return match self.try_recv() {
                            Ok(v) => Ok(v),
                            Err(e) => Err(convert(e).unwrap_or(BroadcastRecvTimeoutError::Timeout)),
                        };
                    }
                }
            }
        }
    }

    /// The next message, from an async task. Cancel-safe: nothing is consumed until
    /// the future returns it.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    pub fn recv_async(&mut self) -> BroadcastRecvFuture<'_, T> {
        BroadcastRecvFuture { receiver: self }
    }
}

impl<T> Clone for BroadcastReceiver<T> {
    fn clone(&self) -> Self {
        // Relaxed: as `Arc::clone`.
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        BroadcastReceiver {
            shared: Arc::clone(&self.shared),
            next: self.next,
            listener: None,
        }
    }
}

impl<T> Drop for BroadcastReceiver<T> {
    fn drop(&mut self) {
        // Relaxed: only a count for `send`'s "no receivers" answer.
        self.shared.receivers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<T> fmt::Debug for BroadcastReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastReceiver")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// The future of [`BroadcastReceiver::recv_async`].
#[must_use = "futures do nothing unless polled"]
pub struct BroadcastRecvFuture<'a, T> {
    receiver: &'a mut BroadcastReceiver<T>,
}

impl<T: Clone> Future for BroadcastRecvFuture<'_, T> {
    type Output = Result<T, BroadcastRecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let receiver = &mut *self.receiver;
        loop {
            match receiver.try_recv() {
                Ok(v) => {
                    receiver.listener = None;
                    return Poll::Ready(Ok(v));
                }
                Err(BroadcastTryRecvError::Lagged(n)) => {
                    receiver.listener = None;
                    return Poll::Ready(Err(BroadcastRecvError::Lagged(n)));
                }
                Err(BroadcastTryRecvError::Closed) => {
                    receiver.listener = None;
                    return Poll::Ready(Err(BroadcastRecvError::Closed));
                }
                Err(BroadcastTryRecvError::Empty) => {}
            }
            match receiver.listener.as_mut() {
                None => receiver.listener = Some(receiver.shared.event.listen()),
                Some(listener) => match Pin::new(listener).poll(cx) {
                    Poll::Ready(()) => receiver.listener = None,
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }
}

impl<T> fmt::Debug for BroadcastRecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("BroadcastRecvFuture { .. }")
    }
}

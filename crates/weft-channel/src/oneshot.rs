//! `oneshot()`: a channel for exactly one value. Sending consumes the sender, so the
//! types say "at most one message"; the receiver blocks (`recv`) or is awaited.
//!
//! # State machine (one `AtomicU8`)
//!
//! | state | meaning | moves to |
//! |---|---|---|
//! | `EMPTY` | nothing sent yet | `SENT` (send), `SENDER_GONE` (sender dropped), `RECEIVER_GONE` |
//! | `SENT` | the value is in the cell | `TAKEN` (received), `RECEIVER_GONE` |
//! | `TAKEN` | the value was received | final |
//! | `SENDER_GONE` | dropped without sending | final |
//! | `RECEIVER_GONE` | the receiver is gone; a later send fails and keeps its value | final |
//!
//! The sender writes the cell *before* moving `EMPTY -> SENT` (Release); the
//! receiver reads it only after seeing `SENT` (Acquire), so the cell is never shared.
//! Waiting is a [`weft_sync::Event`]: listen, check the state, wait.

use crate::err::{RecvError, RecvTimeoutError, SendError, TryRecvError};
use crate::primitive::atomic::{AtomicU8, Ordering};
use crate::primitive::{Arc, UnsafeCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use weft_sync::{Event, EventListener};

const EMPTY: u8 = 0;
const SENT: u8 = 1;
const TAKEN: u8 = 2;
const SENDER_GONE: u8 = 3;
const RECEIVER_GONE: u8 = 4;

struct Inner<T> {
    state: AtomicU8,
    value: UnsafeCell<Option<T>>,
    event: Event,
}

// SAFETY: the state machine gives the cell to one side at a time (module doc).
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Inner<T> {}

/// Creates a one-value channel.
///
/// Progress and cost: one allocation; `send` is one compare-and-swap plus a
/// notification (a fence and a load when nobody waits); `try_recv` is one load.
///
/// # Examples
///
/// ```
/// let (s, r) = weft_channel::oneshot();
/// std::thread::spawn(move || s.send(42).unwrap());
/// assert_eq!(r.recv(), Ok(42));
/// ```
pub fn oneshot<T>() -> (OneshotSender<T>, OneshotReceiver<T>) {
    let inner = Arc::new(Inner {
        state: AtomicU8::new(EMPTY),
        value: UnsafeCell::new(None),
        event: Event::new(),
    });
    (
        OneshotSender {
            inner: Some(Arc::clone(&inner)),
        },
        OneshotReceiver {
            inner,
            listener: None,
        },
    )
}

/// The sending half of [`oneshot`]; [`send`](Self::send) consumes it.
pub struct OneshotSender<T> {
    inner: Option<Arc<Inner<T>>>,
}

impl<T> OneshotSender<T> {
    /// Sends the value (never blocks).
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if the receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (s, r) = weft_channel::oneshot();
    /// drop(r);
    /// assert_eq!(s.send(1).unwrap_err().into_inner(), 1);
    /// ```
    pub fn send(mut self, value: T) -> Result<(), SendError<T>> {
        let inner = self.inner.take().expect("present until send or drop");
        // Cheap early exit; the CAS below decides.
        if inner.state.load(Ordering::Acquire) == RECEIVER_GONE {
            return Err(SendError(value));
        }
        // SAFETY: in EMPTY only the sender touches the cell (module doc).
        inner.value.with_mut(|p| unsafe { *p = Some(value) });
        // Release: publishes the cell to the receiver's Acquire load of SENT.
        match inner
            .state
            .compare_exchange(EMPTY, SENT, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                inner.event.notify(1);
                Ok(())
            }
            Err(_) => {
                // RECEIVER_GONE: the receiver never looks at the cell again.
                // SAFETY: as above; the value was never published.
                let value = inner.value.with_mut(|p| unsafe { (*p).take() });
                Err(SendError(value.expect("written just now")))
            }
        }
    }

    /// Whether the receiver is gone (a send would fail).
    pub fn is_closed(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| i.state.load(Ordering::Acquire) == RECEIVER_GONE)
    }
}

impl<T> Drop for OneshotSender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            // AcqRel: orders with the receiver's state changes; fails harmlessly if
            // the receiver is already gone.
            if inner
                .state
                .compare_exchange(EMPTY, SENDER_GONE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                inner.event.notify(1);
            }
        }
    }
}

impl<T> fmt::Debug for OneshotSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("OneshotSender { .. }")
    }
}

/// The receiving half of [`oneshot`]: [`recv`](Self::recv) blocks; `.await` it in a
/// task (it is a `Future` of `Result<T, RecvError>`).
///
/// # Examples
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } std::thread::yield_now(); }
/// # }
/// let (s, r) = weft_channel::oneshot();
/// s.send("done").unwrap();
/// assert_eq!(block_on(r), Ok("done"));
/// ```
pub struct OneshotReceiver<T> {
    inner: Arc<Inner<T>>,
    listener: Option<EventListener>,
}

impl<T> OneshotReceiver<T> {
    /// Receives the value if it was sent.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if not sent yet, [`TryRecvError::Disconnected`] if the
    /// sender was dropped without sending (or the value was already received).
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        // Acquire: pairs with the sender's Release CAS to SENT.
        match self.inner.state.load(Ordering::Acquire) {
            EMPTY => Err(TryRecvError::Empty),
            SENT => {
                // Relaxed: only the receiver moves SENT on (the sender is done).
                self.inner.state.store(TAKEN, Ordering::Relaxed);
                // SAFETY: SENT gives the cell to the receiver.
                let value = self.inner.value.with_mut(|p| unsafe { (*p).take() });
                Ok(value.expect("SENT means the cell is full"))
            }
            _ => Err(TryRecvError::Disconnected),
        }
    }

    /// Blocks until the value is sent.
    ///
    /// # Errors
    ///
    /// [`RecvError`] if the sender was dropped without sending.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(|_| RecvError)
    }

    /// Blocks for at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] or [`RecvTimeoutError::Disconnected`].
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(Instant::now().checked_add(timeout))
    }

    /// Blocks until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Self::recv_timeout).
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            match self.try_recv() {
                Ok(v) => return Ok(v),
                Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => {}
            }
            // Listen, check, wait: the order that cannot lose the notification.
            let listener = self.inner.event.listen();
            match self.try_recv() {
                Ok(v) => return Ok(v),
                Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => {}
            }
            match deadline {
                None => listener.wait(),
                Some(d) => {
                    if !listener.wait_deadline(d) {
                        return match self.try_recv() {
                            Ok(v) => Ok(v),
                            Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                            Err(TryRecvError::Empty) => Err(RecvTimeoutError::Timeout),
                        };
                    }
                }
            }
        }
    }
}

impl<T> Future for OneshotReceiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.try_recv() {
                Ok(v) => {
                    self.listener = None;
                    return Poll::Ready(Ok(v));
                }
                Err(TryRecvError::Disconnected) => {
                    self.listener = None;
                    return Poll::Ready(Err(RecvError));
                }
                Err(TryRecvError::Empty) => {}
            }
            match self.listener.as_mut() {
                None => {
                    // Listen, then check again (the loop's next round).
                    self.listener = Some(self.inner.event.listen());
                }
                Some(listener) => match Pin::new(listener).poll(cx) {
                    Poll::Ready(()) => self.listener = None,
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }
}

impl<T> Drop for OneshotReceiver<T> {
    fn drop(&mut self) {
        // AcqRel: a value sent before this is dropped with `Inner` (the cell keeps
        // it); a send after this sees RECEIVER_GONE and keeps its value.
        self.inner.state.swap(RECEIVER_GONE, Ordering::AcqRel);
    }
}

impl<T> fmt::Debug for OneshotReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("OneshotReceiver { .. }")
    }
}

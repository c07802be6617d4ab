//! The public handles, [`Sender`] and [`Receiver`], over the flavours, and the
//! constructors.

use crate::async_wait::TaskWaiter;
use crate::context::Context;
use crate::counter;
use crate::deadlock;
use crate::err::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use crate::flavors::{array, at, list, never, tick, zero};
use crate::select::{Operation, SelectHandle, Token};
use std::fmt;
use std::future::Future;
use std::iter::FusedIterator;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{self, Poll};
use std::time::{Duration, Instant};

/// Creates a channel of unbounded capacity: `send` never blocks.
///
/// Progress and cost: `send` and `try_recv` are lock-free (one CAS each on a shared
/// index); one allocation per 31 messages; a blocked `recv` takes a short lock to
/// register and is woken by the next `send`.
///
/// # Examples
///
/// ```
/// let (s, r) = weft_channel::unbounded();
/// s.send(1).unwrap();
/// s.send(2).unwrap();
/// assert_eq!(r.recv(), Ok(1));
/// assert_eq!(r.try_recv(), Ok(2));
/// ```
#[cfg_attr(all(feature = "deadlock-detection", not(loom)), track_caller)]
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    let (s, r) = counter::new(list::Channel::new());
    let (send_end, recv_end) = deadlock::pair(&*s);
    (
        Sender {
            flavor: SenderFlavor::List(s),
            track: send_end,
        },
        Receiver {
            flavor: ReceiverFlavor::List(r),
            track: recv_end,
        },
    )
}

/// Creates a channel holding at most `cap` messages; `bounded(0)` is a rendezvous
/// channel, where each send waits for a receiver to take the message.
///
/// Progress and cost: for `cap > 0`, `try_send`/`try_recv` are lock-free (one CAS on
/// a shared index, one stamp store) over a ring allocated once; for `cap == 0` every
/// operation takes a short lock. A blocked operation registers under a short lock and
/// parks (after a brief spin), and is woken by its counterpart.
///
/// # Examples
///
/// ```
/// use std::thread;
/// use weft_channel::{bounded, TrySendError};
///
/// let (s, r) = bounded(1);
/// s.send(1).unwrap();
/// assert_eq!(s.try_send(2), Err(TrySendError::Full(2)));
/// assert_eq!(r.recv(), Ok(1));
///
/// // Rendezvous: the send completes when the receiver takes it.
/// let (s, r) = bounded(0);
/// let t = thread::spawn(move || s.send("hi").unwrap());
/// assert_eq!(r.recv(), Ok("hi"));
/// t.join().unwrap();
/// ```
#[cfg_attr(all(feature = "deadlock-detection", not(loom)), track_caller)]
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    if cap == 0 {
        let (s, r) = counter::new(zero::Channel::new());
        let (send_end, recv_end) = deadlock::pair(&*s);
        (
            Sender {
                flavor: SenderFlavor::Zero(s),
                track: send_end,
            },
            Receiver {
                flavor: ReceiverFlavor::Zero(r),
                track: recv_end,
            },
        )
    } else {
        let (s, r) = counter::new(array::Channel::with_capacity(cap));
        let (send_end, recv_end) = deadlock::pair(&*s);
        (
            Sender {
                flavor: SenderFlavor::Array(s),
                track: send_end,
            },
            Receiver {
                flavor: ReceiverFlavor::Array(r),
                track: recv_end,
            },
        )
    }
}

/// A receiver that delivers one message, the instant it was due, after `duration`.
///
/// Progress and cost: wait-free `try_recv`; one small allocation. Blocking receives
/// sleep the thread; `recv_async` registers with one timer thread shared by all.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_channel::{after, select, unbounded};
///
/// let (_s, r) = unbounded::<i32>();
/// let timeout = Duration::from_millis(10);
/// select! {
///     recv(r) -> msg => panic!("nobody sends: {msg:?}"),
///     recv(after(timeout)) -> _ => println!("timed out"),
/// }
/// ```
pub fn after(duration: Duration) -> Receiver<Instant> {
    match Instant::now().checked_add(duration) {
        Some(deadline) => at(deadline),
        None => never(),
    }
}

/// A receiver that delivers one message at `when`.
///
/// # Examples
///
/// ```
/// use std::time::Instant;
/// let when = Instant::now();
/// assert_eq!(weft_channel::at(when).recv(), Ok(when));
/// ```
pub fn at(when: Instant) -> Receiver<Instant> {
    Receiver {
        flavor: ReceiverFlavor::At(Arc::new(at::Channel::new_deadline(when))),
        track: deadlock::untracked(),
    }
}

/// A receiver that never delivers a message and never disconnects.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_channel::{never, RecvTimeoutError};
///
/// let r = never::<i32>();
/// assert_eq!(r.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
/// ```
pub fn never<T>() -> Receiver<T> {
    Receiver {
        flavor: ReceiverFlavor::Never(never::Channel::new()),
        track: deadlock::untracked(),
    }
}

/// A receiver that delivers a message every `duration`; ticks not received are not
/// queued (at most one is pending).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let ticker = weft_channel::tick(Duration::from_millis(1));
/// for _ in 0..3 {
///     assert!(ticker.recv().unwrap() > start);
/// }
/// ```
pub fn tick(duration: Duration) -> Receiver<Instant> {
    Receiver {
        flavor: ReceiverFlavor::Tick(Arc::new(tick::Channel::new(duration))),
        track: deadlock::untracked(),
    }
}

/// The sending side of a channel. Clone it for more senders (MPMC); the channel
/// disconnects for receivers when the last sender is dropped.
///
/// See [`bounded`] and [`unbounded`] for each flavour's progress guarantee and cost.
///
/// # Examples
///
/// ```
/// use std::thread;
/// let (s, r) = weft_channel::unbounded();
/// let handles: Vec<_> = (0..4)
///     .map(|i| {
///         let s = s.clone();
///         thread::spawn(move || s.send(i).unwrap())
///     })
///     .collect();
/// drop(s);
/// for h in handles {
///     h.join().unwrap();
/// }
/// let mut all: Vec<i32> = r.iter().collect();
/// all.sort();
/// assert_eq!(all, [0, 1, 2, 3]);
/// ```
pub struct Sender<T> {
    flavor: SenderFlavor<T>,
    /// Its place in the deadlock detector (zero-sized without the feature).
    track: deadlock::End,
}

enum SenderFlavor<T> {
    Array(counter::Sender<array::Channel<T>>),
    List(counter::Sender<list::Channel<T>>),
    Zero(counter::Sender<zero::Channel<T>>),
}

// SAFETY: a sender moves `T`s to other threads (so `T: Send`) and every operation on
// the shared channel synchronizes through its atomics and locks.
unsafe impl<T: Send> Send for Sender<T> {}
// SAFETY: as above; all methods take `&self`.
unsafe impl<T: Send> Sync for Sender<T> {}

impl<T> std::panic::UnwindSafe for Sender<T> {}
impl<T> std::panic::RefUnwindSafe for Sender<T> {}

impl<T> Sender<T> {
    /// Sends without blocking.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if the channel is full (for `bounded(0)`: no receiver is
    /// waiting), [`TrySendError::Disconnected`] if every receiver is gone; both hold
    /// the message.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_channel::{bounded, TrySendError};
    /// let (s, r) = bounded(1);
    /// assert_eq!(s.try_send(1), Ok(()));
    /// assert_eq!(s.try_send(2), Err(TrySendError::Full(2)));
    /// drop(r);
    /// assert_eq!(s.try_send(3), Err(TrySendError::Disconnected(3)));
    /// ```
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        self.track.used();
        match &self.flavor {
            SenderFlavor::Array(chan) => chan.try_send(msg),
            SenderFlavor::List(chan) => chan.try_send(msg),
            SenderFlavor::Zero(chan) => chan.try_send(msg),
        }
    }

    /// Sends, blocking while the channel is full.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the message if every receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (s, r) = weft_channel::bounded(1);
    /// s.send(1).unwrap();
    /// drop(r);
    /// assert_eq!(s.send(2).unwrap_err().into_inner(), 2);
    /// ```
    pub fn send(&self, msg: T) -> Result<(), SendError<T>> {
        #[cfg(all(feature = "deadlock-detection", not(loom)))]
        let (msg, _waiting) = match self.before_blocking_send(msg) {
            Ok(wait) => wait,
            Err(done) => return done.map_err(|e| SendError(e.into_inner())),
        };
        let res = match &self.flavor {
            SenderFlavor::Array(chan) => chan.send(msg, None),
            SenderFlavor::List(chan) => {
                return chan.try_send(msg).map_err(|e| SendError(e.into_inner()));
            }
            SenderFlavor::Zero(chan) => chan.send(msg, None),
        };
        res.map_err(|err| match err {
            SendTimeoutError::Disconnected(msg) => SendError(msg),
            SendTimeoutError::Timeout(_) => unreachable!("no deadline"),
        })
    }

    /// Sends, blocking for at most `timeout` while the channel is full.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Disconnected`], with the
    /// message.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft_channel::{bounded, SendTimeoutError};
    /// let (s, _r) = bounded(0);
    /// let res = s.send_timeout(1, Duration::from_millis(1));
    /// assert_eq!(res, Err(SendTimeoutError::Timeout(1)));
    /// ```
    pub fn send_timeout(&self, msg: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.send_deadline(msg, deadline),
            None => self.send(msg).map_err(SendTimeoutError::from),
        }
    }

    /// Sends, blocking until `deadline` at most while the channel is full.
    ///
    /// # Errors
    ///
    /// As [`send_timeout`](Self::send_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    /// let (s, r) = weft_channel::bounded(1);
    /// assert_eq!(s.send_deadline(1, Instant::now()), Ok(()));
    /// assert!(s.send_deadline(2, Instant::now()).unwrap_err().is_timeout());
    /// # drop(r);
    /// ```
    pub fn send_deadline(&self, msg: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        #[cfg(all(feature = "deadlock-detection", not(loom)))]
        let (msg, _waiting) = match self.before_blocking_send(msg) {
            Ok(wait) => wait,
            Err(done) => return done.map_err(|e| SendTimeoutError::Disconnected(e.into_inner())),
        };
        match &self.flavor {
            SenderFlavor::Array(chan) => chan.send(msg, Some(deadline)),
            SenderFlavor::List(chan) => chan
                .try_send(msg)
                .map_err(|e| SendTimeoutError::Disconnected(e.into_inner())),
            SenderFlavor::Zero(chan) => chan.send(msg, Some(deadline)),
        }
    }

    /// Sends from an async task: the future completes when the message is in the
    /// channel (or handed to a receiver), and yields the task while the channel is
    /// full. Works against threads and tasks alike on the other end.
    ///
    /// Cancel-safe: dropping the future before it completes leaves the channel as if
    /// the send never started (the message is dropped with the future); the message
    /// is never half sent.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the message if every receiver is gone.
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
    /// let (s, r) = weft_channel::bounded(1);
    /// block_on(async {
    ///     s.send_async(5).await.unwrap();
    ///     assert_eq!(r.recv_async().await, Ok(5));
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// **Not** cancel-safe for the message: dropping the future before it completes drops
    /// the message unsent (nothing is half sent). If the message matters, keep it:
    /// `try_send`, and retry on `Full`.
    pub fn send_async(&self, msg: T) -> SendFuture<'_, T> {
        SendFuture {
            sender: self,
            msg: Some(msg),
            waiter: TaskWaiter::new(),
            zero: zero::SendWait::new(),
            wait: deadlock::Wait::new(),
        }
    }

    /// A [`futures_sink::Sink`] over this sender, for code written against `Sink`
    /// (`SinkExt::send`, `StreamExt::forward`).
    ///
    /// It holds at most one message in flight, as a [`send_async`](Self::send_async)
    /// future: `start_send` starts it, `poll_ready` and `poll_flush` drive it to
    /// completion, so backpressure is the channel's own (a full channel keeps
    /// `poll_ready` pending). Dropping the sink with a message in flight cancels that
    /// send like dropping its future: the message is dropped, never half sent.
    ///
    /// # Errors
    ///
    /// `poll_ready`, `poll_flush` and `poll_close` fail with [`SendError`], holding
    /// the message in flight, once every receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_sink::Sink;
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } std::thread::yield_now(); }
    /// # }
    ///
    /// let (s, r) = weft_channel::bounded(2);
    /// let mut sink = s.sink();
    /// block_on(async {
    ///     for i in 0..2 {
    ///         poll_fn(|cx| Pin::new(&mut sink).poll_ready(cx)).await.unwrap();
    ///         Pin::new(&mut sink).start_send(i).unwrap();
    ///     }
    ///     poll_fn(|cx| Pin::new(&mut sink).poll_flush(cx)).await.unwrap();
    /// });
    /// assert_eq!(r.try_iter().collect::<Vec<_>>(), [0, 1]);
    /// ```
    pub fn sink(&self) -> SendSink<'_, T> {
        SendSink {
            sender: self,
            in_flight: None,
        }
    }

    /// Whether the channel holds no messages (always for `bounded(0)`).
    pub fn is_empty(&self) -> bool {
        match &self.flavor {
            SenderFlavor::Array(chan) => chan.is_empty(),
            SenderFlavor::List(chan) => chan.is_empty(),
            SenderFlavor::Zero(_) => true,
        }
    }

    /// Whether a send would block (always for `bounded(0)`, never for `unbounded`).
    pub fn is_full(&self) -> bool {
        match &self.flavor {
            SenderFlavor::Array(chan) => chan.is_full(),
            SenderFlavor::List(_) => false,
            SenderFlavor::Zero(_) => true,
        }
    }

    /// The number of messages in the channel (a snapshot).
    pub fn len(&self) -> usize {
        match &self.flavor {
            SenderFlavor::Array(chan) => chan.len(),
            SenderFlavor::List(chan) => chan.len(),
            SenderFlavor::Zero(_) => 0,
        }
    }

    /// The capacity: `Some(cap)` for `bounded(cap)`, `None` for `unbounded`.
    pub fn capacity(&self) -> Option<usize> {
        match &self.flavor {
            SenderFlavor::Array(chan) => Some(chan.capacity()),
            SenderFlavor::List(_) => None,
            SenderFlavor::Zero(_) => Some(0),
        }
    }

    /// Whether `self` and `other` send into the same channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (s, _r) = weft_channel::unbounded::<i32>();
    /// let (t, _q) = weft_channel::unbounded::<i32>();
    /// assert!(s.same_channel(&s.clone()));
    /// assert!(!s.same_channel(&t));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        match (&self.flavor, &other.flavor) {
            (SenderFlavor::Array(a), SenderFlavor::Array(b)) => a == b,
            (SenderFlavor::List(a), SenderFlavor::List(b)) => a == b,
            (SenderFlavor::Zero(a), SenderFlavor::Zero(b)) => a == b,
            _ => false,
        }
    }

    /// With deadlock detection: tries the send first, and only if it would block,
    /// returns the message with the wait recorded (`Err` holds the finished try).
    #[cfg(all(feature = "deadlock-detection", not(loom)))]
    fn before_blocking_send(
        &self,
        msg: T,
    ) -> Result<(T, deadlock::Wait), Result<(), TrySendError<T>>> {
        match self.try_send(msg) {
            Err(TrySendError::Full(msg)) => Ok((msg, deadlock::Wait::blocking(&self.track))),
            done => Err(done),
        }
    }

    /// Finishes a send started by a `select`.
    ///
    /// # Safety
    ///
    /// `token` was filled by this sender's `try_select` or `accept`.
    pub(crate) unsafe fn write(&self, token: &mut Token, msg: T) -> Result<(), T> {
        self.track.used();
        // SAFETY: forwarded from the caller.
        unsafe {
            match &self.flavor {
                SenderFlavor::Array(chan) => chan.write(token, msg),
                SenderFlavor::List(chan) => chan.write(token, msg),
                SenderFlavor::Zero(chan) => chan.write(token, msg),
            }
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // Before the channel can be freed: the detector's probe reads it.
        self.track.release();
        // SAFETY: each sender releases its reference exactly once, here.
        unsafe {
            match &self.flavor {
                SenderFlavor::Array(chan) => chan.release(|c| c.disconnect()),
                SenderFlavor::List(chan) => chan.release(|c| c.disconnect_senders()),
                SenderFlavor::Zero(chan) => chan.release(|c| c.disconnect()),
            }
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        let flavor = match &self.flavor {
            SenderFlavor::Array(chan) => SenderFlavor::Array(chan.acquire()),
            SenderFlavor::List(chan) => SenderFlavor::List(chan.acquire()),
            SenderFlavor::Zero(chan) => SenderFlavor::Zero(chan.acquire()),
        };
        Sender {
            flavor,
            track: self.track.another(),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Sender { .. }")
    }
}

/// The receiving side of a channel. Clone it for more receivers (MPMC: each message
/// goes to exactly one of them); the channel disconnects for senders when the last
/// receiver is dropped.
///
/// See [`bounded`] and [`unbounded`] for each flavour's progress guarantee and cost.
///
/// # Examples
///
/// ```
/// let (s, r) = weft_channel::unbounded();
/// s.send("a").unwrap();
/// drop(s);
/// assert_eq!(r.recv(), Ok("a"));
/// assert!(r.recv().is_err()); // empty and disconnected
/// ```
pub struct Receiver<T> {
    flavor: ReceiverFlavor<T>,
    /// Its place in the deadlock detector (zero-sized without the feature).
    track: deadlock::End,
}

enum ReceiverFlavor<T> {
    Array(counter::Receiver<array::Channel<T>>),
    List(counter::Receiver<list::Channel<T>>),
    Zero(counter::Receiver<zero::Channel<T>>),
    /// Invariant: only in a `Receiver<Instant>` (made by `after`/`at`).
    At(Arc<at::Channel>),
    /// Invariant: only in a `Receiver<Instant>` (made by `tick`).
    Tick(Arc<tick::Channel>),
    Never(never::Channel<T>),
}

// SAFETY: a receiver takes `T`s from other threads (so `T: Send`) and every operation
// synchronizes through the channel's atomics and locks.
unsafe impl<T: Send> Send for Receiver<T> {}
// SAFETY: as above; all methods take `&self`.
unsafe impl<T: Send> Sync for Receiver<T> {}

impl<T> std::panic::UnwindSafe for Receiver<T> {}
impl<T> std::panic::RefUnwindSafe for Receiver<T> {}

/// Turns a timer's `Instant` into the receiver's `T`.
///
/// # Safety
///
/// `T` is `Instant` (the `At`/`Tick` invariant).
unsafe fn instant_as<T>(msg: Instant) -> T {
    debug_assert_eq!(mem::size_of::<T>(), mem::size_of::<Instant>());
    // SAFETY: `T` is `Instant` (caller's contract): a bitwise copy of the same type;
    // `Instant` is `Copy`, so nothing is dropped twice.
    unsafe { mem::transmute_copy::<Instant, T>(&msg) }
}

impl<T> Receiver<T> {
    /// Receives without blocking.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is there now, [`TryRecvError::Disconnected`]
    /// if the channel is empty and every sender is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_channel::{unbounded, TryRecvError};
    /// let (s, r) = unbounded();
    /// assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    /// s.send(1).unwrap();
    /// drop(s);
    /// assert_eq!(r.try_recv(), Ok(1));
    /// assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.track.used();
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.try_recv(),
            ReceiverFlavor::List(chan) => chan.try_recv(),
            ReceiverFlavor::Zero(chan) => chan.try_recv(),
            // SAFETY: the At/Tick invariant.
            ReceiverFlavor::At(chan) => chan.try_recv().map(|m| unsafe { instant_as(m) }),
            // SAFETY: the At/Tick invariant.
            ReceiverFlavor::Tick(chan) => chan.try_recv().map(|m| unsafe { instant_as(m) }),
            ReceiverFlavor::Never(chan) => chan.try_recv(),
        }
    }

    /// Receives, blocking while the channel is empty.
    ///
    /// # Errors
    ///
    /// [`RecvError`] if the channel is empty and every sender is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::thread;
    /// let (s, r) = weft_channel::bounded(0);
    /// let t = thread::spawn(move || s.send(9).unwrap());
    /// assert_eq!(r.recv(), Ok(9));
    /// t.join().unwrap();
    /// assert!(r.recv().is_err());
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(|err| match err {
            RecvTimeoutError::Disconnected => RecvError,
            RecvTimeoutError::Timeout => unreachable!("no deadline"),
        })
    }

    /// Receives, blocking for at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] if nothing arrived in time,
    /// [`RecvTimeoutError::Disconnected`] if empty and every sender is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft_channel::{unbounded, RecvTimeoutError};
    /// let (_s, r) = unbounded::<i32>();
    /// assert_eq!(r.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.recv_deadline(deadline),
            None => self.recv().map_err(RecvTimeoutError::from),
        }
    }

    /// Receives, blocking until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Self::recv_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    /// let (s, r) = weft_channel::unbounded();
    /// s.send(1).unwrap();
    /// assert_eq!(r.recv_deadline(Instant::now()), Ok(1));
    /// assert!(r.recv_deadline(Instant::now()).unwrap_err().is_timeout());
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        // With deadlock detection: try first, and record a wait only if it blocks.
        #[cfg(all(feature = "deadlock-detection", not(loom)))]
        let _waiting = match self.try_recv() {
            Ok(msg) => return Ok(msg),
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => deadlock::Wait::blocking(&self.track),
        };
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.recv(deadline),
            ReceiverFlavor::List(chan) => chan.recv(deadline),
            ReceiverFlavor::Zero(chan) => chan.recv(deadline),
            // SAFETY: the At/Tick invariant.
            ReceiverFlavor::At(chan) => chan.recv(deadline).map(|m| unsafe { instant_as(m) }),
            // SAFETY: the At/Tick invariant.
            ReceiverFlavor::Tick(chan) => chan.recv(deadline).map(|m| unsafe { instant_as(m) }),
            ReceiverFlavor::Never(chan) => chan.recv(deadline),
        }
    }

    /// Receives from an async task: completes with the next message, yielding the
    /// task while the channel is empty. Works against threads and tasks alike on the
    /// other end.
    ///
    /// Cancel-safe: a message is only ever taken inside the poll that returns it, so
    /// dropping the future never loses one; a future that was woken for a message and
    /// dropped before taking it passes the wake-up on to another waiting receiver.
    ///
    /// # Errors
    ///
    /// [`RecvError`] if the channel is empty and every sender is gone.
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
    /// let (s, r) = weft_channel::unbounded();
    /// std::thread::spawn(move || s.send(3).unwrap());
    /// assert_eq!(block_on(r.recv_async()), Ok(3));
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses no message; a wake-up it had received passes
    /// to another waiter.
    pub fn recv_async(&self) -> RecvFuture<'_, T> {
        RecvFuture {
            receiver: self,
            state: RecvState::default(),
        }
    }

    /// The messages as a [`futures_core::Stream`], ending when the channel is empty
    /// and disconnected. Cancel-safe like [`recv_async`](Self::recv_async).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_core::Stream;
    /// use std::pin::Pin;
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (s, r) = weft_channel::unbounded();
    /// s.send(1).unwrap();
    /// drop(s);
    /// let mut stream = r.stream();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert_eq!(Pin::new(&mut stream).poll_next(&mut cx), Poll::Ready(Some(1)));
    /// assert_eq!(Pin::new(&mut stream).poll_next(&mut cx), Poll::Ready(None));
    /// ```
    pub fn stream(&self) -> RecvStream<'_, T> {
        RecvStream {
            receiver: self,
            state: RecvState::default(),
            done: false,
        }
    }

    /// Whether the channel holds no messages.
    pub fn is_empty(&self) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.is_empty(),
            ReceiverFlavor::List(chan) => chan.is_empty(),
            ReceiverFlavor::Zero(_) => true,
            ReceiverFlavor::At(chan) => chan.is_empty(),
            ReceiverFlavor::Tick(chan) => chan.len() == 0,
            ReceiverFlavor::Never(_) => true,
        }
    }

    /// Whether the channel is full (always for `bounded(0)`, never for `unbounded`).
    pub fn is_full(&self) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.is_full(),
            ReceiverFlavor::List(_) => false,
            ReceiverFlavor::Zero(_) => true,
            ReceiverFlavor::At(chan) => !chan.is_empty(),
            ReceiverFlavor::Tick(chan) => chan.len() == 1,
            ReceiverFlavor::Never(_) => true,
        }
    }

    /// The number of messages in the channel (a snapshot).
    pub fn len(&self) -> usize {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.len(),
            ReceiverFlavor::List(chan) => chan.len(),
            ReceiverFlavor::Zero(_) => 0,
            ReceiverFlavor::At(chan) => chan.len(),
            ReceiverFlavor::Tick(chan) => chan.len(),
            ReceiverFlavor::Never(_) => 0,
        }
    }

    /// The capacity: `Some(cap)` for `bounded(cap)`, `None` for `unbounded`; timers
    /// hold at most one message.
    pub fn capacity(&self) -> Option<usize> {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => Some(chan.capacity()),
            ReceiverFlavor::List(_) => None,
            ReceiverFlavor::Zero(_) => Some(0),
            ReceiverFlavor::At(_) | ReceiverFlavor::Tick(_) => Some(1),
            ReceiverFlavor::Never(_) => Some(0),
        }
    }

    /// A blocking iterator over messages, ending when the channel is empty and
    /// disconnected.
    ///
    /// # Examples
    ///
    /// ```
    /// let (s, r) = weft_channel::unbounded();
    /// for i in 0..3 {
    ///     s.send(i).unwrap();
    /// }
    /// drop(s);
    /// assert_eq!(r.iter().collect::<Vec<_>>(), [0, 1, 2]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { receiver: self }
    }

    /// A non-blocking iterator over the messages there now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (s, r) = weft_channel::unbounded();
    /// s.send(1).unwrap();
    /// s.send(2).unwrap();
    /// assert_eq!(r.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// assert_eq!(r.try_iter().next(), None); // s is alive, but nothing is there
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { receiver: self }
    }

    /// Whether `self` and `other` receive from the same channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_s, r) = weft_channel::unbounded::<i32>();
    /// assert!(r.same_channel(&r.clone()));
    /// assert!(!r.same_channel(&weft_channel::never()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        match (&self.flavor, &other.flavor) {
            (ReceiverFlavor::Array(a), ReceiverFlavor::Array(b)) => a == b,
            (ReceiverFlavor::List(a), ReceiverFlavor::List(b)) => a == b,
            (ReceiverFlavor::Zero(a), ReceiverFlavor::Zero(b)) => a == b,
            (ReceiverFlavor::At(a), ReceiverFlavor::At(b)) => Arc::ptr_eq(a, b),
            (ReceiverFlavor::Tick(a), ReceiverFlavor::Tick(b)) => Arc::ptr_eq(a, b),
            (ReceiverFlavor::Never(_), ReceiverFlavor::Never(_)) => true,
            _ => false,
        }
    }

    /// Finishes a receive started by a `select`.
    ///
    /// # Safety
    ///
    /// `token` was filled by this receiver's `try_select` or `accept`.
    pub(crate) unsafe fn read(&self, token: &mut Token) -> Result<T, ()> {
        self.track.used();
        // SAFETY: forwarded from the caller; At/Tick as in `try_recv`.
        unsafe {
            match &self.flavor {
                ReceiverFlavor::Array(chan) => chan.read(token),
                ReceiverFlavor::List(chan) => chan.read(token),
                ReceiverFlavor::Zero(chan) => chan.read(token),
                ReceiverFlavor::At(chan) => chan.read(token).map(|m| instant_as(m)),
                ReceiverFlavor::Tick(chan) => chan.read(token).map(|m| instant_as(m)),
                ReceiverFlavor::Never(chan) => chan.read(token),
            }
        }
    }

    /// Polls one async receive (shared by `RecvFuture` and `RecvStream`).
    fn poll_recv(
        &self,
        state: &mut RecvState,
        task: &mut task::Context<'_>,
    ) -> Poll<Result<T, RecvError>> {
        let answer = |res: Result<T, TryRecvError>| match res {
            Ok(msg) => Some(Ok(msg)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(RecvError)),
        };
        let attempt = || answer(self.try_recv());
        self.track.used();
        let poll = match &self.flavor {
            ReceiverFlavor::Array(chan) => state.waiter.poll(&chan.receivers, task, |look| {
                answer(chan.try_recv_with(look))
            }),
            ReceiverFlavor::List(chan) => state.waiter.poll(&chan.receivers, task, |look| {
                answer(chan.try_recv_with(look))
            }),
            ReceiverFlavor::Zero(chan) => chan.poll_recv(&mut state.zero, task),
            ReceiverFlavor::At(_) | ReceiverFlavor::Tick(_) => {
                if let Some(res) = attempt() {
                    state.disarm_timer();
                    return Poll::Ready(res);
                }
                let due = match &self.flavor {
                    ReceiverFlavor::At(chan) => chan.delivery_time(),
                    ReceiverFlavor::Tick(chan) => chan.deadline(),
                    _ => None,
                };
                match due {
                    Some(due) => state.arm_timer(due, task),
                    // An `at` whose one message another receiver took: nothing
                    // will ever come.
                    None => state.disarm_timer(),
                }
                Poll::Pending
            }
            ReceiverFlavor::Never(_) => Poll::Pending,
        };
        // Timer receivers have an untracked end: nothing is recorded for them.
        if poll.is_pending() {
            state.wait.pending(&self.track);
        } else {
            state.wait.done();
        }
        poll
    }

    fn cancel_recv(&self, state: &mut RecvState) {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => state.waiter.cancel(&chan.receivers),
            ReceiverFlavor::List(chan) => state.waiter.cancel(&chan.receivers),
            ReceiverFlavor::Zero(chan) => chan.cancel_recv(&mut state.zero),
            ReceiverFlavor::At(_) | ReceiverFlavor::Tick(_) => state.disarm_timer(),
            ReceiverFlavor::Never(_) => {}
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // Before the channel can be freed: the detector's probe reads it.
        self.track.release();
        // SAFETY: each receiver releases its reference exactly once, here.
        unsafe {
            match &self.flavor {
                ReceiverFlavor::Array(chan) => chan.release(|c| c.disconnect()),
                ReceiverFlavor::List(chan) => chan.release(|c| c.disconnect_receivers()),
                ReceiverFlavor::Zero(chan) => chan.release(|c| c.disconnect()),
                _ => {}
            }
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        let flavor = match &self.flavor {
            ReceiverFlavor::Array(chan) => ReceiverFlavor::Array(chan.acquire()),
            ReceiverFlavor::List(chan) => ReceiverFlavor::List(chan.acquire()),
            ReceiverFlavor::Zero(chan) => ReceiverFlavor::Zero(chan.acquire()),
            ReceiverFlavor::At(chan) => ReceiverFlavor::At(Arc::clone(chan)),
            ReceiverFlavor::Tick(chan) => ReceiverFlavor::Tick(Arc::clone(chan)),
            ReceiverFlavor::Never(_) => ReceiverFlavor::Never(never::Channel::new()),
        };
        Receiver {
            flavor,
            track: self.track.another(),
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Receiver { .. }")
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        IntoIter { receiver: self }
    }
}

/// A blocking iterator over a receiver's messages; see [`Receiver::iter`].
pub struct Iter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> FusedIterator for Iter<'_, T> {}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Iter { .. }")
    }
}

/// A non-blocking iterator over a receiver's messages; see [`Receiver::try_iter`].
pub struct TryIter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.receiver.try_recv().ok()
    }
}

impl<T> fmt::Debug for TryIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("TryIter { .. }")
    }
}

/// An owning blocking iterator over a receiver's messages.
pub struct IntoIter<T> {
    receiver: Receiver<T>,
}

impl<T> FusedIterator for IntoIter<T> {}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("IntoIter { .. }")
    }
}

// ---- async ----

/// The future of [`Sender::send_async`].
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T> {
    sender: &'a Sender<T>,
    msg: Option<T>,
    waiter: TaskWaiter,
    zero: zero::SendWait<T>,
    /// The task's wait in the deadlock detector, while pending.
    wait: deadlock::Wait,
}

// The message is moved in and out by value, never pinned.
impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.sender.track.used();
        let poll = match &this.sender.flavor {
            SenderFlavor::Array(chan) => {
                let msg = &mut this.msg;
                this.waiter.poll(&chan.senders, task, |look| {
                    match chan.try_send_with(msg.take().expect("polled after completion"), look) {
                        Ok(()) => Some(Ok(())),
                        Err(TrySendError::Full(m)) => {
                            *msg = Some(m);
                            None
                        }
                        Err(TrySendError::Disconnected(m)) => Some(Err(SendError(m))),
                    }
                })
            }
            SenderFlavor::List(chan) => {
                let msg = this.msg.take().expect("polled after completion");
                Poll::Ready(chan.try_send(msg).map_err(|e| SendError(e.into_inner())))
            }
            SenderFlavor::Zero(chan) => chan.poll_send(&mut this.msg, &mut this.zero, task),
        };
        if poll.is_pending() {
            this.wait.pending(&this.sender.track);
        } else {
            this.wait.done();
        }
        poll
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        match &self.sender.flavor {
            SenderFlavor::Array(chan) => self.waiter.cancel(&chan.senders),
            SenderFlavor::List(_) => {}
            SenderFlavor::Zero(chan) => chan.cancel_send(&mut self.zero),
        }
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("SendFuture { .. }")
    }
}

/// The sink of [`Sender::sink`].
#[must_use = "sinks do nothing unless polled"]
pub struct SendSink<'a, T> {
    sender: &'a Sender<T>,
    /// The message `start_send` was given, on its way in.
    in_flight: Option<SendFuture<'a, T>>,
}

impl<'a, T> SendSink<'a, T> {
    /// The sender this sink sends with.
    pub fn sender(&self) -> &'a Sender<T> {
        self.sender
    }

    /// Drives the message in flight, if any, until it is in the channel.
    fn poll_in_flight(&mut self, task: &mut task::Context<'_>) -> Poll<Result<(), SendError<T>>> {
        let Some(send) = &mut self.in_flight else {
            return Poll::Ready(Ok(()));
        };
        let res = std::task::ready!(Pin::new(send).poll(task));
        self.in_flight = None;
        Poll::Ready(res)
    }
}

// Only the in-flight future is kept, and it is `Unpin`.
impl<T> Unpin for SendSink<'_, T> {}

impl<T> futures_sink::Sink<T> for SendSink<'_, T> {
    type Error = SendError<T>;

    fn poll_ready(
        self: Pin<&mut Self>,
        task: &mut task::Context<'_>,
    ) -> Poll<Result<(), SendError<T>>> {
        self.get_mut().poll_in_flight(task)
    }

    fn start_send(self: Pin<&mut Self>, msg: T) -> Result<(), SendError<T>> {
        let this = self.get_mut();
        // `Sink`'s contract: `poll_ready` returned `Ready(Ok)` first. If a caller
        // skips it, the earlier message is cancelled (dropped), never half sent.
        let mut send = this.sender.send_async(msg);
        // Most sends complete at once (room in the channel); try now, so a sink
        // over a buffered channel costs one `try_send` per message.
        let waker = std::task::Waker::noop();
        match Pin::new(&mut send).poll(&mut task::Context::from_waker(waker)) {
            Poll::Ready(Ok(())) => this.in_flight = None,
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => this.in_flight = Some(send),
        }
        Ok(())
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        task: &mut task::Context<'_>,
    ) -> Poll<Result<(), SendError<T>>> {
        self.get_mut().poll_in_flight(task)
    }

    fn poll_close(
        self: Pin<&mut Self>,
        task: &mut task::Context<'_>,
    ) -> Poll<Result<(), SendError<T>>> {
        self.get_mut().poll_in_flight(task)
    }
}

impl<T> fmt::Debug for SendSink<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendSink")
            .field("in_flight", &self.in_flight.is_some())
            .finish()
    }
}

/// What a pending receive keeps between polls.
#[derive(Debug, Default)]
struct RecvState {
    waiter: TaskWaiter,
    zero: zero::RecvWait,
    /// The task's wait in the deadlock detector, while pending.
    wait: deadlock::Wait,
    /// For timer channels: the registration with the shared timer thread.
    #[cfg(not(loom))]
    timer: Option<crate::timer::TimerKey>,
    /// Under loom: the due instant already signalled (time stands still there).
    #[cfg(loom)]
    timer: Option<Instant>,
}

impl RecvState {
    /// Timer channels have no waiter list: the shared timer thread (`timer.rs`) wakes
    /// the task when the message is due. One registration per future, kept across
    /// polls (its waker refreshed), moved when the due instant moves (a tick taken by
    /// another receiver), and withdrawn by `disarm_timer`.
    fn arm_timer(&mut self, due: Instant, task: &task::Context<'_>) {
        #[cfg(not(loom))]
        {
            if let Some(key) = self.timer.take() {
                if key.deadline() == due && crate::timer::update(key, task.waker()) {
                    self.timer = Some(key);
                    return;
                }
                crate::timer::cancel(key);
            }
            self.timer = Some(crate::timer::register(due, task.waker().clone()));
        }
        #[cfg(loom)]
        if self.timer != Some(due) {
            self.timer = Some(due);
            task.waker().wake_by_ref();
        }
    }

    /// Withdraws the timer registration, if any (the receive completed or was
    /// dropped): the timer thread forgets the waker instead of waking a dead future.
    fn disarm_timer(&mut self) {
        #[cfg(not(loom))]
        if let Some(key) = self.timer.take() {
            crate::timer::cancel(key);
        }
        #[cfg(loom)]
        {
            self.timer = None;
        }
    }
}

/// The future of [`Receiver::recv_async`].
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<'a, T> {
    receiver: &'a Receiver<T>,
    state: RecvState,
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.receiver.poll_recv(&mut this.state, task)
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        self.receiver.cancel_recv(&mut self.state);
    }
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("RecvFuture { .. }")
    }
}

/// The stream of [`Receiver::stream`].
#[must_use = "streams do nothing unless polled"]
pub struct RecvStream<'a, T> {
    receiver: &'a Receiver<T>,
    state: RecvState,
    done: bool,
}

impl<T> futures_core::Stream for RecvStream<'_, T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match this.receiver.poll_recv(&mut this.state, task) {
            Poll::Ready(Ok(msg)) => Poll::Ready(Some(msg)),
            Poll::Ready(Err(RecvError)) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> futures_core::FusedStream for RecvStream<'_, T> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<T> Drop for RecvStream<'_, T> {
    fn drop(&mut self) {
        self.receiver.cancel_recv(&mut self.state);
    }
}

impl<T> fmt::Debug for RecvStream<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("RecvStream { .. }")
    }
}

// ---- select ----

impl<T> SelectHandle for Sender<T> {
    fn try_select(&self, token: &mut Token) -> bool {
        match &self.flavor {
            SenderFlavor::Array(chan) => chan.start_send(token),
            SenderFlavor::List(chan) => chan.start_send(token),
            SenderFlavor::Zero(chan) => chan.start_send(token),
        }
    }

    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn register(&self, oper: Operation, cx: &Context) -> bool {
        match &self.flavor {
            SenderFlavor::Array(chan) => chan.register_send(oper, cx),
            SenderFlavor::List(_) => true,
            SenderFlavor::Zero(chan) => chan.register_send(oper, cx),
        }
    }

    fn unregister(&self, oper: Operation) {
        match &self.flavor {
            SenderFlavor::Array(chan) => drop(chan.senders.unregister(oper)),
            SenderFlavor::List(_) => {}
            SenderFlavor::Zero(chan) => chan.unregister_send(oper),
        }
    }

    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        match &self.flavor {
            SenderFlavor::Array(chan) => chan.start_send(token),
            SenderFlavor::List(chan) => chan.start_send(token),
            SenderFlavor::Zero(chan) => chan.accept(token, cx),
        }
    }

    fn is_ready(&self) -> bool {
        match &self.flavor {
            SenderFlavor::Array(chan) => chan.is_ready_send(),
            SenderFlavor::List(_) => true,
            SenderFlavor::Zero(chan) => chan.is_ready_send(),
        }
    }

    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        match &self.flavor {
            SenderFlavor::Array(chan) => chan.watch_send(oper, cx),
            SenderFlavor::List(_) => true,
            SenderFlavor::Zero(chan) => chan.watch_send(oper, cx),
        }
    }

    fn unwatch(&self, oper: Operation) {
        match &self.flavor {
            SenderFlavor::Array(chan) => chan.senders.unwatch(oper),
            SenderFlavor::List(_) => {}
            SenderFlavor::Zero(chan) => chan.unwatch_send(oper),
        }
    }
}

impl<T> SelectHandle for Receiver<T> {
    fn try_select(&self, token: &mut Token) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.start_recv(token),
            ReceiverFlavor::List(chan) => chan.start_recv(token),
            ReceiverFlavor::Zero(chan) => chan.start_recv(token),
            ReceiverFlavor::At(chan) => chan.try_select(token),
            ReceiverFlavor::Tick(chan) => chan.try_select(token),
            ReceiverFlavor::Never(_) => false,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match &self.flavor {
            ReceiverFlavor::At(chan) => chan.deadline(),
            ReceiverFlavor::Tick(chan) => chan.deadline(),
            _ => None,
        }
    }

    fn register(&self, oper: Operation, cx: &Context) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.register_recv(oper, cx),
            ReceiverFlavor::List(chan) => chan.register_recv(oper, cx),
            ReceiverFlavor::Zero(chan) => chan.register_recv(oper, cx),
            _ => self.is_ready(),
        }
    }

    fn unregister(&self, oper: Operation) {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => drop(chan.receivers.unregister(oper)),
            ReceiverFlavor::List(chan) => drop(chan.receivers.unregister(oper)),
            ReceiverFlavor::Zero(chan) => chan.unregister_recv(oper),
            _ => {}
        }
    }

    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.start_recv(token),
            ReceiverFlavor::List(chan) => chan.start_recv(token),
            ReceiverFlavor::Zero(chan) => chan.accept(token, cx),
            _ => self.try_select(token),
        }
    }

    fn is_ready(&self) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.is_ready_recv(),
            ReceiverFlavor::List(chan) => chan.is_ready_recv(),
            ReceiverFlavor::Zero(chan) => chan.is_ready_recv(),
            ReceiverFlavor::At(chan) => chan.is_ready(),
            ReceiverFlavor::Tick(chan) => chan.is_ready(),
            ReceiverFlavor::Never(_) => false,
        }
    }

    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.watch_recv(oper, cx),
            ReceiverFlavor::List(chan) => chan.watch_recv(oper, cx),
            ReceiverFlavor::Zero(chan) => chan.watch_recv(oper, cx),
            _ => self.is_ready(),
        }
    }

    fn unwatch(&self, oper: Operation) {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.receivers.unwatch(oper),
            ReceiverFlavor::List(chan) => chan.receivers.unwatch(oper),
            ReceiverFlavor::Zero(chan) => chan.unwatch_recv(oper),
            _ => {}
        }
    }
}

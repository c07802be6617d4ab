//! weft's CSP channels: bounded, unbounded and rendezvous MPMC channels, `select!`,
//! timers as channels, a oneshot and a broadcast channel, each usable from threads
//! and from async tasks, on the same channel at once.
//!
//! The notes (section 2.2) describe Go's model, *do not communicate by sharing
//! memory; share memory by communicating*, and Rust's `mpsc`/crossbeam channels.
//! This crate implements that model on weft's own parking layer (`weft-sync`): the
//! API is `crossbeam-channel`'s, name for name, plus `send_async` / `recv_async` and
//! a [`futures_core::Stream`] for tasks.
//!
//! # Which channel?
//!
//! | constructor | capacity | send blocks when | progress of the fast path |
//! |---|---|---|---|
//! | [`bounded(n)`](bounded) | `n` messages | the channel is full (backpressure) | lock-free |
//! | [`bounded(0)`](bounded) | none: rendezvous | no receiver has taken it yet | a short lock |
//! | [`unbounded()`](unbounded) | unlimited | never (memory grows instead) | lock-free |
//! | [`oneshot()`](oneshot) | one value, once | never | wait-free send |
//! | [`broadcast(n)`](broadcast) | last `n`, seen by every receiver | never (laggards skip) | a short lock |
//! | [`after`], [`at`], [`tick`], [`never`](never()) | timers | — | wait-free / a short lock |
//!
//! Senders and receivers are `Clone` (multi-producer, multi-consumer) and
//! `Send + Sync`. A channel is disconnected when all senders (for receivers) or all
//! receivers (for senders) are gone: receivers still drain what was sent, and failed
//! sends hand the message back ([`SendError::into_inner`]).
//!
//! # Threads and tasks on one channel
//!
//! A blocked thread and a pending future wait in the same waiter lists: a thread is
//! claimed and unparked, a task is claimed and its `Waker` woken. So a thread can
//! `send` while a task does `recv_async().await`, and the other way round. The
//! futures are cancel-safe: dropping a `recv_async` never loses a message (a wake-up
//! it received passes to another waiter), dropping a `send_async` never sends half.
//!
//! # Select
//!
//! [`select!`] waits on several operations (sends, receives, timers) and runs the
//! first that completes, choosing at random among ready ones; [`Select`] is the
//! same, built at run time over any number of channels.
//!
//! # Deadlock detection
//!
//! With the `deadlock-detection` feature (weft-rt's and the facade's turn it on),
//! channel waits join the wait-for graph of weft-sync's detector
//! (`weft_sync::deadlock::check` and its watchdog): a blocked `recv` (or a pending
//! `recv_async`) waits for the channel's senders, a `send` blocked on a full or
//! rendezvous channel for its receivers. Each handle is taken to be held by the task
//! or thread that last used it (sent or received with it); a new or cloned handle is
//! nobody's until it is used, and a channel with a handle that is nobody's is never
//! reported. So two tasks that each wait for a message only the other would send,
//! or a task holding an async lock while it waits for a message from a task that
//! waits for that lock, are reported with both tasks' names and spawn sites and the
//! channel's creation site (`bounded` and `unbounded` are `#[track_caller]` with the
//! feature). `select!`, oneshot, broadcast and timer channels are not tracked.
//!
//! The guess can be wrong in one way: a handle that was used and then *moved* to
//! another thread or task, other than by spawning a weft task, is still taken to be
//! its old user's until the new owner uses it. If the old user then blocks in a way
//! that closes a cycle, a deadlock is reported that is not one; the detector's docs
//! (`weft_sync::deadlock`, "Channels") say exactly when, and how to avoid it (send
//! from the new owner first, or hand it a clone).
//!
//! Without the feature the handles carry nothing and the channel operations are
//! exactly those above.
//!
//! # Examples
//!
//! ```
//! use std::thread;
//! use std::time::Duration;
//! use weft_channel::{after, bounded, select};
//!
//! let (jobs, work) = bounded::<u32>(4);
//! let (results, done) = bounded::<u32>(4);
//! let worker = thread::spawn(move || {
//!     for job in work {
//!         results.send(job * job).unwrap();
//!     }
//! });
//! for i in 1..=3 {
//!     jobs.send(i).unwrap();
//! }
//! drop(jobs);
//! let mut sum = 0;
//! loop {
//!     select! {
//!         recv(done) -> r => match r {
//!             Ok(square) => sum += square,
//!             Err(_) => break, // the worker finished and dropped `results`
//!         },
//!         recv(after(Duration::from_secs(10))) -> _ => panic!("worker stuck"),
//!     }
//! }
//! assert_eq!(sum, 1 + 4 + 9);
//! worker.join().unwrap();
//! ```
//!
//! # Design
//!
//! The flavours and the selection algorithm follow crossbeam-channel (Vyukov's
//! bounded queue with stamps, a linked list of blocks, rendezvous through packets,
//! one claim-by-CAS context per waiting operation); see the module docs of the
//! private `flavors`, `context`, `waker` and `select` modules for the invariants and
//! the memory-ordering arguments.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod async_wait;
mod broadcast;
mod channel;
mod context;
mod counter;
mod deadlock;
mod err;
mod flavors;
mod oneshot;
mod primitive;
mod select;
mod select_macro;
mod task_slot;
#[cfg(not(loom))]
mod timer;
mod waker;

pub use broadcast::{
    BroadcastReceiver, BroadcastRecvError, BroadcastRecvFuture, BroadcastRecvTimeoutError,
    BroadcastSender, BroadcastTryRecvError, broadcast,
};
pub use channel::{
    IntoIter, Iter, Receiver, RecvFuture, RecvStream, SendFuture, SendSink, Sender, TryIter, after,
    at, bounded, never, tick, unbounded,
};
pub use err::{
    ReadyTimeoutError, RecvError, RecvTimeoutError, SelectTimeoutError, SendError,
    SendTimeoutError, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};
pub use oneshot::{OneshotReceiver, OneshotSender, oneshot};
pub use select::{Select, SelectedOperation};

//! weft's I/O multiplexing: the event loop's machinery.
//!
//! Layers, bottom up:
//!
//! * [`poller`]: [`Poller`], readiness of many descriptors over epoll or `poll(2)`;
//! * [`timer`]: [`TimerWheel`](timer::TimerWheel), a hierarchical timer wheel;
//! * [`reactor`]: the process-wide [`Reactor`](reactor::Reactor) that turns readiness
//!   and deadlines into waker calls, driven by one thread at a time;
//! * [`async_io`]: [`Async<T>`](Async), any descriptor as an async I/O object, and
//!   [`Timer`];
//! * [`net`]: TCP, UDP and Unix-domain sockets on top of `Async`;
//! * [`block_on`]: a one-future executor that drives the reactor, for use without
//!   weft-rt.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod async_io;
mod block_on;
pub mod net;
pub mod poller;
pub mod reactor;
mod sys;
pub mod timer;

pub use async_io::{Async, Timer};
pub use block_on::block_on;
pub use poller::{Backend, Event, Events, Interest, PollMode, Poller};

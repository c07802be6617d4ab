//! weft's I/O multiplexing: the event loop's machinery.
//!
//! Layers, bottom up:
//!
//! * [`poller`]: [`Poller`], readiness of many descriptors over epoll or `poll(2)`;
//! * [`timer`]: [`TimerWheel`](timer::TimerWheel), a hierarchical timer wheel.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod poller;
mod sys;
pub mod timer;

pub use poller::{Backend, Event, Events, Interest, PollMode, Poller};

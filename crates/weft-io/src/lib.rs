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
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use weft_io::net::UnixStream;
//! use weft_io::{block_on, Timer};
//!
//! block_on(async {
//!     let (a, b) = UnixStream::pair()?;
//!     Timer::after(Duration::from_millis(1)).await;
//!     drop(b);
//!     // The peer is gone: reading gives end of file.
//!     let mut buf = [0; 8];
//!     let n = std::future::poll_fn(|cx| {
//!         futures_io::AsyncRead::poll_read(std::pin::Pin::new(&mut &a), cx, &mut buf)
//!     })
//!     .await?;
//!     assert_eq!(n, 0);
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod async_io;
mod block_on;
pub mod net;
pub mod poller;
pub mod reactor;
#[doc(hidden)]
pub mod signal;
mod sys;
pub mod timer;

pub use async_io::{Async, Timer};
pub use block_on::block_on;
pub use poller::{Backend, Event, Events, Interest, PollMode, Poller};

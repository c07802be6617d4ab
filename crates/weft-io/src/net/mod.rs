//! Async networking over the reactor: [`TcpListener`], [`TcpStream`], [`UdpSocket`],
//! [`UnixListener`] and [`UnixStream`].
//!
//! Each type wraps the `std` socket in an [`Async`]: non-blocking,
//! registered edge-triggered once, and every operation is "try the syscall, on
//! `WouldBlock` wait for the edge" (see [`async_io`](crate::async_io)). Streams
//! implement `futures_io::AsyncRead`/`AsyncWrite`, on the value and on a shared
//! reference, so one task can read while another writes; `poll_close` shuts the
//! writing half down. Errors are `io::Error`s carrying the OS cause
//! (`ErrorKind::ConnectionRefused`, `ConnectionReset`, ...).
//!
//! # Connecting
//!
//! `connect` creates a non-blocking socket, starts `connect(2)` (`EINPROGRESS`), waits
//! for writability and reads `SO_ERROR`, so a refused or unreachable peer is reported
//! with its OS error and the thread never blocks. Host names are resolved with
//! `ToSocketAddrs`, which *does* block; pass socket addresses to avoid it.
//!
//! # Accepting when out of descriptors
//!
//! When `accept` fails with `EMFILE`, `ENFILE`, `ENOBUFS` or `ENOMEM`, the pending
//! connection stays in the backlog and the listener stays readable, so retrying at
//! once would spin. The listeners instead wait on a [`Timer`], 10 ms at
//! first and doubling up to 1 s, retry, and reset the delay after a success.
//!
//! # Examples
//!
//! ```
//! use futures_io::{AsyncRead, AsyncWrite};
//! use std::future::poll_fn;
//! use std::pin::Pin;
//! use weft_io::block_on;
//! use weft_io::net::{TcpListener, TcpStream};
//!
//! block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     let mut client = TcpStream::connect(addr).await?;
//!     let (mut server, _peer) = listener.accept().await?;
//!     poll_fn(|cx| Pin::new(&mut client).poll_write(cx, b"hi")).await?;
//!     let mut buf = [0; 2];
//!     let n = poll_fn(|cx| Pin::new(&mut server).poll_read(cx, &mut buf)).await?;
//!     assert_eq!(&buf[..n], b"hi");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod tcp;
mod udp;
mod unix;

pub use tcp::{
    Incoming, OwnedReadHalf, OwnedWriteHalf, ReadHalf, TcpListener, TcpStream, WriteHalf,
};
pub use udp::UdpSocket;
pub use unix::{UnixIncoming, UnixListener, UnixStream};

use crate::Timer;
use crate::async_io::Async;
use rustix::net::addr::SocketAddrArg;
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

/// The first back-off after `accept` ran out of descriptors.
pub(crate) const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// The longest back-off.
pub(crate) const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// The listen(2) backlog of the listeners' `bind` (the kernel caps it at somaxconn).
pub(crate) const LISTEN_BACKLOG: i32 = 1024;

/// One step of a stream read: `recv(2)` through rustix's direct system call. The
/// stream types use this rather than `std`'s `Read`, which goes through libc's
/// `recv` and its thread-cancellation bracket (two calls around every syscall, a
/// few percent of an echo server's worker time in a profile).
pub(crate) fn poll_recv<T: AsFd>(
    io: &Async<T>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    io.poll_io(cx, false, |fd| {
        match rustix::net::recv(fd, &mut *buf, rustix::net::RecvFlags::empty()) {
            Ok((n, _)) => Ok(n),
            Err(e) => Err(e.into()),
        }
    })
}

/// One step of a stream write: `send(2)` with `MSG_NOSIGNAL` (a write to a closed
/// peer is an `EPIPE` error, never a `SIGPIPE`), as [`poll_recv`].
pub(crate) fn poll_send<T: AsFd>(
    io: &Async<T>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    io.poll_io(cx, true, |fd| {
        Ok(rustix::net::send(
            fd,
            buf,
            rustix::net::SendFlags::NOSIGNAL,
        )?)
    })
}

/// Whether an `accept` error means "out of descriptors or memory": retrying at once
/// would fail again, so back off.
pub(crate) fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// The delay after `delay`: doubled, at most [`ACCEPT_BACKOFF_MAX`].
pub(crate) fn next_backoff(delay: Duration) -> Duration {
    (delay * 2).min(ACCEPT_BACKOFF_MAX)
}

/// The back-off state of one accept loop.
#[derive(Debug)]
pub(crate) struct AcceptBackoff {
    timer: Option<Timer>,
    delay: Duration,
}

impl AcceptBackoff {
    pub(crate) fn new() -> Self {
        Self {
            timer: None,
            delay: ACCEPT_BACKOFF_MIN,
        }
    }

    /// Polls `accept`, sleeping instead of retrying when it reports resource
    /// exhaustion.
    pub(crate) fn poll<R>(
        &mut self,
        cx: &mut Context<'_>,
        mut accept: impl FnMut(&mut Context<'_>) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        loop {
            if let Some(timer) = &mut self.timer {
                ready!(Pin::new(timer).poll(cx));
                self.timer = None;
            }
            match ready!(accept(cx)) {
                Err(e) if is_resource_exhaustion(&e) => {
                    self.timer = Some(Timer::after(self.delay));
                    self.delay = next_backoff(self.delay);
                }
                result => {
                    if result.is_ok() {
                        self.delay = ACCEPT_BACKOFF_MIN;
                    }
                    return Poll::Ready(result);
                }
            }
        }
    }
}

/// A non-blocking, close-on-exec stream socket connected (asynchronously) to `addr`.
pub(crate) async fn connect_stream<T>(
    family: AddressFamily,
    addr: &impl SocketAddrArg,
) -> io::Result<Async<T>>
where
    T: AsFd + From<OwnedFd>,
{
    let fd = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    let mut retry_delay = Duration::from_millis(1);
    loop {
        match rustix::net::connect(&fd, addr) {
            Ok(()) | Err(rustix::io::Errno::INPROGRESS) => break,
            // A Unix listener's backlog is full: nothing was started; try again soon.
            Err(rustix::io::Errno::AGAIN) => {
                Timer::after(retry_delay).await;
                retry_delay = (retry_delay * 2).min(Duration::from_millis(100));
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let stream = Async::new(T::from(fd))?;
    stream.writable().await?;
    match rustix::net::sockopt::socket_error(stream.get_ref())? {
        Ok(()) => Ok(stream),
        Err(errno) => Err(errno.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_decision() {
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert!(is_resource_exhaustion(&io::Error::from_raw_os_error(errno)));
        }
        for errno in [libc::ECONNABORTED, libc::EINVAL, libc::EAGAIN] {
            assert!(!is_resource_exhaustion(&io::Error::from_raw_os_error(
                errno
            )));
        }
        let mut delay = ACCEPT_BACKOFF_MIN;
        let mut seen = vec![delay];
        for _ in 0..10 {
            delay = next_backoff(delay);
            seen.push(delay);
        }
        assert_eq!(seen[1], Duration::from_millis(20));
        assert_eq!(seen[6], Duration::from_millis(640));
        assert!(seen[7..].iter().all(|&d| d == ACCEPT_BACKOFF_MAX));
    }
}

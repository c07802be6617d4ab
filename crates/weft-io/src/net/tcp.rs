//! TCP: [`TcpListener`], [`TcpStream`] and its split halves.

use super::{AcceptBackoff, LISTEN_BACKLOG, connect_stream};
use crate::Timer;
use crate::async_io::Async;
use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use std::future::{Future, poll_fn};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{self, Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A TCP listening socket.
///
/// # Examples
///
/// ```
/// use weft_io::net::TcpListener;
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// assert!(listener.local_addr()?.port() != 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct TcpListener {
    inner: Async<net::TcpListener>,
}

impl TcpListener {
    /// Binds to the first address of `addr` that works, with `SO_REUSEADDR` and a
    /// backlog of 1024. Binding never blocks; resolving a host name may.
    ///
    /// # Errors
    ///
    /// The last address's OS error (`EADDRINUSE`, `EACCES`, ...), or
    /// `ErrorKind::InvalidInput` if `addr` resolves to nothing.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            match bind_one(&addr) {
                Ok(listener) => return TcpListener::from_std(listener),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_address))
    }

    /// Wraps a bound and listening `std` listener (made non-blocking here).
    ///
    /// # Errors
    ///
    /// As [`Async::new`].
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: Async::new(listener)?,
        })
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// The OS error of `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Accepts a connection, backing off while the process is out of descriptors (see
    /// the [module docs](super)).
    ///
    /// # Errors
    ///
    /// The OS error of `accept4` other than `WouldBlock` and resource exhaustion
    /// (`ECONNABORTED`, ...).
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut backoff = AcceptBackoff::new();
        poll_fn(|cx| backoff.poll(cx, |cx| self.poll_accept_once(cx))).await
    }

    fn poll_accept_once(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.inner
            .poll_io(cx, false, |listener| listener.accept())
            .map(|result| {
                let (stream, addr) = result?;
                Ok((TcpStream::from_std(stream)?, addr))
            })
    }

    /// The accepted connections as a `futures_core::Stream` (which never ends).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            listener: self,
            backoff: AcceptBackoff::new(),
        }
    }
}

fn no_address() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "no socket address to use")
}

fn family_of(addr: &SocketAddr) -> AddressFamily {
    match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    }
}

fn bind_one(addr: &SocketAddr) -> io::Result<net::TcpListener> {
    let fd = rustix::net::socket_with(
        family_of(addr),
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    rustix::net::sockopt::set_socket_reuseaddr(&fd, true)?;
    rustix::net::bind(&fd, addr)?;
    rustix::net::listen(&fd, LISTEN_BACKLOG)?;
    Ok(net::TcpListener::from(fd))
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

/// The stream of [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
    backoff: AcceptBackoff,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let listener = this.listener;
        this.backoff
            .poll(cx, |cx| listener.poll_accept_once(cx))
            .map(|result| Some(result.map(|(stream, _)| stream)))
    }
}

/// A TCP connection.
#[derive(Debug)]
pub struct TcpStream {
    inner: Async<net::TcpStream>,
}

impl TcpStream {
    /// Connects to the first address of `addr` that accepts, without blocking the
    /// thread (except to resolve a host name).
    ///
    /// # Errors
    ///
    /// The last address's OS error (`ErrorKind::ConnectionRefused`, ...), or
    /// `ErrorKind::InvalidInput` if `addr` resolves to nothing.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            match connect_stream::<net::TcpStream>(family_of(&addr), &addr).await {
                Ok(inner) => return Ok(TcpStream { inner }),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_address))
    }

    /// Connects to `addr`, giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// `ErrorKind::TimedOut` after `timeout`; otherwise as [`connect`](Self::connect).
    pub async fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let mut connect = std::pin::pin!(TcpStream::connect(*addr));
        let mut timer = Timer::after(timeout);
        poll_fn(|cx| {
            if let Poll::Ready(result) = connect.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            if Pin::new(&mut timer).poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection timed out",
                )));
            }
            Poll::Pending
        })
        .await
    }

    /// Wraps a connected `std` stream (made non-blocking here).
    ///
    /// # Errors
    ///
    /// As [`Async::new`].
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: Async::new(stream)?,
        })
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// The OS error of `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// The OS error of `getpeername` (`ENOTCONN`).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when `true`).
    ///
    /// # Errors
    ///
    /// The OS error of `setsockopt`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// The OS error of `getsockopt`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get_ref().nodelay()
    }

    /// Shuts down the reading half, the writing half (the peer reads end of file), or
    /// both.
    ///
    /// # Errors
    ///
    /// The OS error of `shutdown` (`ENOTCONN`).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// Borrowed halves, usable by two tasks at once.
    pub fn split(&self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf(self), WriteHalf(self))
    }

    /// Owned halves sharing the stream through an `Arc`.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let stream = Arc::new(self);
        (OwnedReadHalf(stream.clone()), OwnedWriteHalf(stream))
    }

    /// Waits until the stream is readable (see [`Async::readable`]).
    ///
    /// # Errors
    ///
    /// As [`Async::readable`].
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.readable().await
    }

    /// Waits until the stream is writable (see [`Async::writable`]).
    ///
    /// # Errors
    ///
    /// As [`Async::writable`].
    pub async fn writable(&self) -> io::Result<()> {
        self.inner.writable().await
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

/// Implements the futures-io traits for a type that derefs to a `&TcpStream`, through
/// `&Async<std::net::TcpStream>`. `poll_close` shuts the writing half down.
macro_rules! stream_io {
    ($ty:ty, $this:ident => $stream:expr) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let $this = self.get_mut();
                let stream: &TcpStream = $stream;
                super::poll_recv(&stream.inner, cx, buf)
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                let $this = self.get_mut();
                let stream: &TcpStream = $stream;
                Pin::new(&mut &stream.inner).poll_read_vectored(cx, bufs)
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let $this = self.get_mut();
                let stream: &TcpStream = $stream;
                super::poll_send(&stream.inner, cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let $this = self.get_mut();
                let stream: &TcpStream = $stream;
                Pin::new(&mut &stream.inner).poll_write_vectored(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                // TCP has no user-space buffer to flush.
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $this = self.get_mut();
                let stream: &TcpStream = $stream;
                Poll::Ready(stream.shutdown(Shutdown::Write))
            }
        }
    };
}

stream_io!(TcpStream, this => this);
stream_io!(&TcpStream, this => this);

/// The reading half of [`TcpStream::split`].
#[derive(Debug, Clone, Copy)]
pub struct ReadHalf<'a>(&'a TcpStream);

/// The writing half of [`TcpStream::split`]; `poll_close` shuts writing down.
#[derive(Debug, Clone, Copy)]
pub struct WriteHalf<'a>(&'a TcpStream);

/// The owned reading half of [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf(Arc<TcpStream>);

/// The owned writing half of [`TcpStream::into_split`]; `poll_close` shuts writing
/// down (dropping it does not).
#[derive(Debug)]
pub struct OwnedWriteHalf(Arc<TcpStream>);

impl OwnedReadHalf {
    /// The stream both halves share.
    pub fn stream(&self) -> &TcpStream {
        &self.0
    }
}

impl OwnedWriteHalf {
    /// The stream both halves share.
    pub fn stream(&self) -> &TcpStream {
        &self.0
    }
}

macro_rules! read_half {
    ($ty:ty, $this:ident => $stream:expr) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let $this = self.get_mut();
                let stream: &TcpStream = $stream;
                super::poll_recv(&stream.inner, cx, buf)
            }
        }
    };
}

macro_rules! write_half {
    ($ty:ty, $this:ident => $stream:expr) => {
        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let $this = self.get_mut();
                let stream: &TcpStream = $stream;
                super::poll_send(&stream.inner, cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $this = self.get_mut();
                let stream: &TcpStream = $stream;
                Poll::Ready(stream.shutdown(Shutdown::Write))
            }
        }
    };
}

read_half!(ReadHalf<'_>, this => this.0);
read_half!(OwnedReadHalf, this => &this.0);
write_half!(WriteHalf<'_>, this => this.0);
write_half!(OwnedWriteHalf, this => &this.0);

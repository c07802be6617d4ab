//! Unix-domain stream sockets: [`UnixListener`] and [`UnixStream`].

use super::{AcceptBackoff, LISTEN_BACKLOG, connect_stream};
use crate::async_io::Async;
use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A Unix-domain listening socket.
///
/// # Examples
///
/// ```
/// use weft_io::block_on;
/// use weft_io::net::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("weft-io-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("sock");
/// let _ = std::fs::remove_file(&path);
/// block_on(async {
///     let listener = UnixListener::bind(&path)?;
///     let client = UnixStream::connect(&path).await?;
///     let (server, _) = listener.accept().await?;
///     assert!(client.peer_addr()?.as_pathname().is_some());
///     drop(server);
///     Ok::<(), std::io::Error>(())
/// })?;
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct UnixListener {
    inner: Async<net::UnixListener>,
}

impl UnixListener {
    /// Binds to the filesystem path `path` (which must not exist) with a backlog of
    /// 1024.
    ///
    /// # Errors
    ///
    /// The OS error of `bind` (`EADDRINUSE` if the path exists, ...).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let fd = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )?;
        rustix::net::bind(&fd, &SocketAddrUnix::new(path.as_ref())?)?;
        rustix::net::listen(&fd, LISTEN_BACKLOG)?;
        UnixListener::from_std(net::UnixListener::from(fd))
    }

    /// Wraps a bound and listening `std` listener (made non-blocking here).
    ///
    /// # Errors
    ///
    /// As [`Async::new`].
    pub fn from_std(listener: net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
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

    /// Accepts a connection, backing off while out of descriptors (see the
    /// [module docs](super)).
    ///
    /// # Errors
    ///
    /// The OS error of `accept4` other than `WouldBlock` and resource exhaustion.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let mut backoff = AcceptBackoff::new();
        poll_fn(|cx| backoff.poll(cx, |cx| self.poll_accept_once(cx))).await
    }

    fn poll_accept_once(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.inner
            .poll_io(cx, false, |listener| listener.accept())
            .map(|result| {
                let (stream, addr) = result?;
                Ok((UnixStream::from_std(stream)?, addr))
            })
    }

    /// The accepted connections as a `futures_core::Stream` (which never ends).
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming {
            listener: self,
            backoff: AcceptBackoff::new(),
        }
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

/// The stream of [`UnixListener::incoming`].
#[derive(Debug)]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
    backoff: AcceptBackoff,
}

impl Stream for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let listener = this.listener;
        this.backoff
            .poll(cx, |cx| listener.poll_accept_once(cx))
            .map(|result| Some(result.map(|(stream, _)| stream)))
    }
}

/// A Unix-domain stream connection.
#[derive(Debug)]
pub struct UnixStream {
    inner: Async<net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path` without blocking the thread (a full backlog is
    /// retried after a short timer).
    ///
    /// # Errors
    ///
    /// The OS error of `connect` (`ENOENT`, `ECONNREFUSED`, ...).
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let addr = SocketAddrUnix::new(path.as_ref())?;
        let inner = connect_stream::<net::UnixStream>(AddressFamily::UNIX, &addr).await?;
        Ok(UnixStream { inner })
    }

    /// A connected pair of anonymous sockets.
    ///
    /// # Errors
    ///
    /// The OS error of `socketpair` (`EMFILE`, ...).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Wraps a connected `std` stream (made non-blocking here).
    ///
    /// # Errors
    ///
    /// As [`Async::new`].
    pub fn from_std(stream: net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
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
    /// The OS error of `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Shuts down the reading half, the writing half, or both.
    ///
    /// # Errors
    ///
    /// The OS error of `shutdown`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

macro_rules! unix_io {
    ($ty:ty) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let stream: &UnixStream = self.get_mut();
                super::poll_recv(&stream.inner, cx, buf)
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                let stream: &UnixStream = self.get_mut();
                Pin::new(&mut &stream.inner).poll_read_vectored(cx, bufs)
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let stream: &UnixStream = self.get_mut();
                super::poll_send(&stream.inner, cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let stream: &UnixStream = self.get_mut();
                Pin::new(&mut &stream.inner).poll_write_vectored(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            /// Shuts the writing half down.
            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let stream: &UnixStream = self.get_mut();
                Poll::Ready(stream.shutdown(Shutdown::Write))
            }
        }
    };
}

unix_io!(UnixStream);
unix_io!(&UnixStream);

//! UDP: [`UdpSocket`].

use crate::async_io::Async;
use std::io;
use std::net::{self, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

/// A UDP socket.
///
/// # Examples
///
/// ```
/// use weft_io::block_on;
/// use weft_io::net::UdpSocket;
///
/// block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0")?;
///     let b = UdpSocket::bind("127.0.0.1:0")?;
///     a.send_to(b"datagram", b.local_addr()?).await?;
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"datagram"[..], a.local_addr()?));
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    inner: Async<net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to the first address of `addr` that works.
    ///
    /// # Errors
    ///
    /// The OS error of `bind` (`EADDRINUSE`, ...), or of registering the socket.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        UdpSocket::from_std(net::UdpSocket::bind(addr)?)
    }

    /// Wraps a bound `std` socket (made non-blocking here).
    ///
    /// # Errors
    ///
    /// As [`Async::new`].
    pub fn from_std(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: Async::new(socket)?,
        })
    }

    /// Sets the default peer for [`send`](Self::send) and filters what
    /// [`recv`](Self::recv) receives. Never blocks.
    ///
    /// # Errors
    ///
    /// The OS error of `connect`.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        self.inner.get_ref().connect(addr)
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// The OS error of `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `ENOTCONN` if not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Sends one datagram to `addr`; returns the bytes sent.
    ///
    /// # Errors
    ///
    /// The OS error of `sendto` (`EMSGSIZE`, ...) or of resolving `addr`.
    pub async fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no socket address"))?;
        self.inner.write_with(|s| s.send_to(buf, addr)).await
    }

    /// Receives one datagram; returns its length (truncated to `buf`) and sender.
    ///
    /// # Errors
    ///
    /// The OS error of `recvfrom` (`ECONNREFUSED` after an ICMP error on a connected
    /// socket, ...).
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|s| s.recv_from(buf)).await
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// `ENOTCONN` if not connected; otherwise the OS error of `send`.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_with(|s| s.send(buf)).await
    }

    /// Receives one datagram from the connected peer.
    ///
    /// # Errors
    ///
    /// The OS error of `recv` (`ECONNREFUSED` if the peer's port is closed, ...).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|s| s.recv(buf)).await
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

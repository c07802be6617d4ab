//! [`Async<T>`]: any file descriptor as a non-blocking, reactor-driven async I/O object,
//! and [`Timer`], a future that completes at an instant.
//!
//! `Async::new` puts the descriptor in non-blocking mode and registers it with the
//! [reactor](crate::reactor) once, edge-triggered for both directions. Every operation
//! follows the same loop: wait until the direction has an unconsumed edge
//! ([`Readiness::poll_ready`](crate::reactor::readiness::Readiness::poll_ready)), try
//! the syscall, and on `WouldBlock` clear the edge (only if no newer one arrived) and
//! wait again. Because the edge is cleared only by a `WouldBlock`, a partial read never
//! strands data: the next read attempt runs at once and finds the rest.
//!
//! # Waiters
//!
//! Each direction keeps a list of wakers, deduplicated with `Waker::will_wake`; an edge
//! wakes all of them. Several tasks may wait on the same direction (a reader task and
//! a task awaiting `readable()`), though only one of them will find the data.
//!
//! # Examples
//!
//! ```
//! use std::io::Write;
//! use std::os::unix::net::UnixStream;
//! use weft_io::{block_on, Async};
//!
//! let (a, mut b) = UnixStream::pair()?;
//! let a = Async::new(a)?;
//! b.write_all(b"hello")?;
//! let n = block_on(a.read_with(|mut s| std::io::Read::read(&mut s, &mut [0; 16])))?;
//! assert_eq!(n, 5);
//! # Ok::<(), std::io::Error>(())
//! ```

mod timer;

pub use timer::Timer;

use crate::reactor::readiness::Readiness;
use crate::reactor::{Reactor, Source};
use futures_io::{AsyncRead, AsyncWrite};
use std::fmt;
use std::future::{Future, poll_fn};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

/// An I/O object registered with the reactor; see the [module docs](self).
pub struct Async<T: AsFd> {
    source: Arc<Source>,
    io: Option<T>,
}

// `Async` never pins its contents (no method projects `Pin<&mut Async<T>>` to
// `Pin<&mut T>`), so it may move freely whatever `T` is.
impl<T: AsFd> Unpin for Async<T> {}

impl<T: AsFd + fmt::Debug> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Async").field("io", &self.io).finish()
    }
}

/// Puts `fd` in non-blocking mode.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    Ok(rustix::io::ioctl_fionbio(fd, true)?)
}

impl<T: AsFd> Async<T> {
    /// Puts `io`'s descriptor in non-blocking mode and registers it with the reactor.
    ///
    /// # Errors
    ///
    /// The OS error of `ioctl(FIONBIO)` or `epoll_ctl`: `EPERM` for a regular file or
    /// a directory (epoll cannot watch them; they are always "ready"), `EEXIST` if the
    /// same descriptor is already inside another `Async`.
    pub fn new(io: T) -> io::Result<Self> {
        set_nonblocking(io.as_fd())?;
        let source = Reactor::get().register(io.as_fd())?;
        Ok(Self {
            source,
            io: Some(io),
        })
    }

    /// The inner I/O object.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("Async: I/O taken")
    }

    /// The inner I/O object, mutably. Replacing it with an object on another
    /// descriptor is a logic error: the registration stays with the old descriptor, so
    /// readiness of the new one is never reported.
    pub fn get_mut(&mut self) -> &mut T {
        self.io.as_mut().expect("Async: I/O taken")
    }

    /// Deregisters the descriptor and returns the I/O object, still open and still in
    /// non-blocking mode.
    ///
    /// # Errors
    ///
    /// The OS error of `epoll_ctl(DEL)` (only if the descriptor was swapped through
    /// [`get_mut`](Self::get_mut)); the object is dropped then.
    pub fn into_inner(mut self) -> io::Result<T> {
        let io = self.io.take().expect("Async: I/O taken");
        Reactor::get().deregister(&self.source, io.as_fd())?;
        Ok(io)
    }

    /// Ready once the descriptor has an unconsumed readable edge: data, end of file, a
    /// hang-up or an error. It stays ready until a read through this `Async`
    /// ([`read_with`](Self::read_with), `poll_read`) returns `WouldBlock`; after a
    /// read that bypasses it, this may report ready again at once.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = self.source.read.poll_ready(cx).map(|_| Ok(()));
        if poll.is_pending() {
            weft_sync::coop::waiting_on(&WAIT_IO);
        }
        poll
    }

    /// As [`poll_readable`](Self::poll_readable), for writing.
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = self.source.write.poll_ready(cx).map(|_| Ok(()));
        if poll.is_pending() {
            weft_sync::coop::waiting_on(&WAIT_IO);
        }
        poll
    }

    /// Waits until the descriptor is readable; see [`poll_readable`](Self::poll_readable).
    ///
    /// # Errors
    ///
    /// None at present; the `Result` leaves room for reactor failures.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: readiness is consumed only by a read that returns `WouldBlock`.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_readable(cx)).await
    }

    /// Waits until the descriptor is writable; see [`poll_writable`](Self::poll_writable).
    ///
    /// # Errors
    ///
    /// None at present; the `Result` leaves room for reactor failures.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: readiness is consumed only by a write that returns `WouldBlock`.
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_writable(cx)).await
    }

    /// Runs the read operation `op` until it does not return `WouldBlock`, waiting for
    /// readability between attempts.
    ///
    /// # Errors
    ///
    /// Whatever `op` returns other than `WouldBlock`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe if `op` is: `op` runs whole inside one poll, so dropping the future
    /// between polls never leaves data half read.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let io = self.get_ref();
        retry(&self.source.read, || op(io)).await
    }

    /// As [`read_with`](Self::read_with), with mutable access.
    ///
    /// # Errors
    ///
    /// Whatever `op` returns other than `WouldBlock`.
    pub async fn read_with_mut<R>(
        &mut self,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        let (source, io) = self.split_mut();
        retry(&source.read, || op(io)).await
    }

    /// Runs the write operation `op` until it does not return `WouldBlock`, waiting for
    /// writability between attempts.
    ///
    /// # Errors
    ///
    /// Whatever `op` returns other than `WouldBlock`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe if `op` is: `op` runs whole inside one poll, so dropping the future
    /// between polls never leaves data half written.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let io = self.get_ref();
        retry(&self.source.write, || op(io)).await
    }

    /// As [`write_with`](Self::write_with), with mutable access.
    ///
    /// # Errors
    ///
    /// Whatever `op` returns other than `WouldBlock`.
    pub async fn write_with_mut<R>(
        &mut self,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        let (source, io) = self.split_mut();
        retry(&source.write, || op(io)).await
    }

    /// One step of the retry loop, for `poll_*` implementations: attempts `op` while
    /// the direction is ready.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        write: bool,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let readiness = if write {
            &self.source.write
        } else {
            &self.source.read
        };
        let io = self.get_ref();
        poll_retry(readiness, cx, || op(io))
    }

    fn poll_io_mut<R>(
        &mut self,
        cx: &mut Context<'_>,
        write: bool,
        mut op: impl FnMut(&mut T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let (source, io) = self.split_mut();
        let readiness = if write { &source.write } else { &source.read };
        poll_retry(readiness, cx, || op(io))
    }

    /// The source and the I/O object, borrowed apart.
    fn split_mut(&mut self) -> (&Source, &mut T) {
        let io = self.io.as_mut().expect("Async: I/O taken");
        (&self.source, io)
    }
}

/// The protocol's task side (see `reactor::readiness`): attempt while ready, clear the
/// seen edge on `WouldBlock`.
fn poll_retry<R>(
    readiness: &Readiness,
    cx: &mut Context<'_>,
    mut op: impl FnMut() -> io::Result<R>,
) -> Poll<io::Result<R>> {
    // The poll budget (`weft_sync::coop`): a task whose socket is always ready yields
    // after its share of operations instead of holding its worker.
    let proceed = ready!(weft_sync::coop::poll_proceed(cx));
    loop {
        let Poll::Ready(tick) = readiness.poll_ready(cx) else {
            weft_sync::coop::waiting_on(&WAIT_IO);
            return Poll::Pending;
        };
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => readiness.clear_ready(tick),
            result => {
                proceed.made_progress();
                return Poll::Ready(result);
            }
        }
    }
}

/// What a task waiting for a descriptor shows in a task dump.
static WAIT_IO: weft_sync::coop::WaitSite = weft_sync::coop::WaitSite::new("I/O readiness");

fn retry<'a, R>(
    readiness: &'a Readiness,
    mut op: impl FnMut() -> io::Result<R> + 'a,
) -> impl Future<Output = io::Result<R>> + 'a {
    poll_fn(move |cx| poll_retry(readiness, cx, &mut op))
}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        if let Some(io) = &self.io {
            // Fails only if the descriptor was swapped through `get_mut`; the epoll
            // registration of a closed descriptor disappears with it then.
            let _ = Reactor::get().deregister(&self.source, io.as_fd());
        }
    }
}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsFd> AsRawFd for Async<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_fd().as_raw_fd()
    }
}

impl<T: AsFd + Read> AsyncRead for Async<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_io_mut(cx, false, |io| io.read(buf))
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_io_mut(cx, false, |io| io.read_vectored(bufs))
    }
}

impl<T: AsFd + Write> AsyncWrite for Async<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_io_mut(cx, true, |io| io.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_io_mut(cx, true, |io| io.write_vectored(bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_io_mut(cx, true, |io| io.flush())
    }

    /// Flushes; closing the descriptor happens on drop.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl<T: AsFd> AsyncRead for &Async<T>
where
    for<'a> &'a T: Read,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, false, |mut io| io.read(buf))
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, false, |mut io| io.read_vectored(bufs))
    }
}

impl<T: AsFd> AsyncWrite for &Async<T>
where
    for<'a> &'a T: Write,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, true, |mut io| io.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, true, |mut io| io.write_vectored(bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_io(cx, true, |mut io| io.flush())
    }

    /// Flushes; closing the descriptor happens on drop.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

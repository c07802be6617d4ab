//! The platform backends of [`Poller`](crate::Poller), picked at construction and named
//! once here as [`Sys`], so the public type never matches on the backend itself.

pub(crate) mod epoll;
pub(crate) mod poll;

use crate::poller::{Backend, Events, Interest, PollMode};
use std::io;
use std::os::fd::BorrowedFd;
use std::time::Instant;

/// The one internal alias over the backends.
#[derive(Debug)]
pub(crate) enum Sys {
    Epoll(epoll::Epoll),
    Poll(poll::PollSet),
}

impl Sys {
    pub(crate) fn new(backend: Backend) -> io::Result<Self> {
        Ok(match backend {
            Backend::Epoll => Sys::Epoll(epoll::Epoll::new()?),
            Backend::Poll => Sys::Poll(poll::PollSet::new()?),
        })
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Sys::Epoll(_) => Backend::Epoll,
            Sys::Poll(_) => Backend::Poll,
        }
    }

    pub(crate) fn add(
        &self,
        fd: BorrowedFd<'_>,
        key: usize,
        interest: Interest,
        mode: PollMode,
    ) -> io::Result<()> {
        match self {
            Sys::Epoll(p) => p.add(fd, key, interest, mode),
            Sys::Poll(p) => p.add(fd, key, interest, mode),
        }
    }

    pub(crate) fn modify(
        &self,
        fd: BorrowedFd<'_>,
        key: usize,
        interest: Interest,
        mode: PollMode,
    ) -> io::Result<()> {
        match self {
            Sys::Epoll(p) => p.modify(fd, key, interest, mode),
            Sys::Poll(p) => p.modify(fd, key, interest, mode),
        }
    }

    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        match self {
            Sys::Epoll(p) => p.delete(fd),
            Sys::Poll(p) => p.delete(fd),
        }
    }

    pub(crate) fn wait(&self, events: &mut Events, deadline: Option<Instant>) -> io::Result<()> {
        match self {
            Sys::Epoll(p) => p.wait(events, deadline),
            Sys::Poll(p) => p.wait(events, deadline),
        }
    }

    pub(crate) fn notify(&self) -> io::Result<()> {
        match self {
            Sys::Epoll(p) => p.notify(),
            Sys::Poll(p) => p.notify(),
        }
    }
}

/// The time left until `deadline`, rounded *up* to whole milliseconds (both kernels
/// take milliseconds, and rounding down would wake the caller early, before its timer
/// is due, and make it spin), clamped to what a `c_int` holds. `None` waits forever.
pub(crate) fn timeout_ms(deadline: Option<Instant>) -> libc::c_int {
    match deadline {
        None => -1,
        Some(deadline) => {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = left.as_nanos().div_ceil(1_000_000);
            ms.min(libc::c_int::MAX as u128) as libc::c_int
        }
    }
}

/// Whether a wait that should end at `deadline` has run out of time.
pub(crate) fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// A non-blocking, close-on-exec eventfd: the notification channel of both backends.
pub(crate) fn new_eventfd() -> io::Result<std::os::fd::OwnedFd> {
    use rustix::event::{EventfdFlags, eventfd};
    Ok(eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?)
}

/// Adds one to the eventfd's counter, making it readable. A full counter (`EAGAIN`,
/// after 2^64-2 unread writes) is already readable, so that error is success.
pub(crate) fn signal_eventfd(fd: BorrowedFd<'_>) -> io::Result<()> {
    match rustix::io::write(fd, &1u64.to_ne_bytes()) {
        Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Resets the eventfd's counter to zero (one read takes the whole count).
pub(crate) fn drain_eventfd(fd: BorrowedFd<'_>) {
    let mut buf = [0u8; 8];
    // EAGAIN means another thread drained it first; nothing else can fail on an
    // eventfd we own with an 8-byte buffer.
    let _ = rustix::io::read(fd, &mut buf);
}

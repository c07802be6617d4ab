//! [`Poller`]: wait for readiness on many file descriptors at once.
//!
//! A poller holds an *interest list* — descriptors, each with a caller-chosen `key`, the
//! directions it cares about ([`Interest`]) and a [`PollMode`] — and [`Poller::wait`]
//! blocks until some of them are ready, the timeout passes, or another thread calls
//! [`Poller::notify`].
//!
//! # Level, edge and oneshot
//!
//! * **Level-triggered** ([`PollMode::Level`]): every `wait` reports a descriptor for as
//!   long as it *is* ready (data sits unread in the buffer). Simple and forgiving, but a
//!   reader that does not drain the buffer is told again and again, and two threads
//!   waiting on the same poller are both told.
//! * **Edge-triggered** ([`PollMode::Edge`], epoll only): a descriptor is reported when
//!   it *becomes* ready (new data arrived, buffer space was freed). The contract is that
//!   the reader keeps reading until `WouldBlock` before it waits again; a partial read
//!   followed by a wait only wakes when more data arrives. This is what the
//!   reactor (`weft_io::reactor`) uses: one registration per descriptor for its whole life,
//!   no `modify` syscall per wait, and no thundering herd.
//! * **Oneshot** ([`PollMode::Oneshot`]): one event, then the descriptor is disabled
//!   until [`Poller::modify`] re-arms it.
//!
//! # Backends
//!
//! [`Backend::Epoll`] (the default) keeps the interest list in the kernel and costs
//! O(ready) per wait. [`Backend::Poll`] uses `poll(2)`, hands the whole list to the
//! kernel on every wait, costs O(registered), and does not support edge mode; it is
//! here for comparison and as a fallback. Both accept `add`/`modify`/`delete` from any
//! thread while another is blocked in `wait` (the poll backend interrupts the wait and
//! rebuilds its list), and both report the same errors for caller mistakes: `EEXIST` for
//! adding a descriptor twice, `ENOENT` for modifying or deleting one that is not there.
//!
//! # Notification
//!
//! [`Poller::notify`] writes an eventfd that is part of the interest list under a
//! reserved key. Notifies *coalesce*: many notifies before a wait make that one wait
//! return at once, and the following wait blocks normally.
//!
//! # Descriptor lifetime
//!
//! The poller does not own the descriptors. Delete a descriptor before closing it: epoll
//! forgets a closed descriptor on its own only once every duplicate of it is closed, and
//! the poll backend reports a closed one as an error event until it is deleted.
//!
//! # Examples
//!
//! ```
//! use std::io::Write;
//! use std::os::unix::net::UnixStream;
//! use std::time::Duration;
//! use weft_io::poller::{Events, Interest, PollMode, Poller};
//!
//! let poller = Poller::new()?;
//! let (a, mut b) = UnixStream::pair()?;
//! poller.add(&a, 7, Interest::READABLE, PollMode::Level)?;
//!
//! let mut events = Events::with_capacity(16);
//! poller.wait(&mut events, Some(Duration::ZERO))?;
//! assert!(events.is_empty());
//!
//! b.write_all(b"x")?;
//! poller.wait(&mut events, Some(Duration::from_secs(5)))?;
//! let event = events.iter().next().unwrap();
//! assert_eq!((event.key, event.readable), (7, true));
//! poller.delete(&a)?;
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::sys::Sys;
use std::fmt;
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// The key the notification eventfd is registered under; refused for user sources.
pub(crate) const NOTIFY_KEY: usize = usize::MAX;

/// Which operating-system mechanism a [`Poller`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `epoll(7)`: O(ready) waits, level, edge and oneshot modes.
    Epoll,
    /// `poll(2)`: O(registered) waits, level and oneshot modes only.
    Poll,
}

/// The readiness directions a registration cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interest {
    /// Report when reading would not block (data, EOF, or an error).
    pub readable: bool,
    /// Report when writing would not block (buffer space, or an error).
    pub writable: bool,
}

impl Interest {
    /// Neither direction: only errors and hang-ups are reported.
    pub const NONE: Interest = Interest {
        readable: false,
        writable: false,
    };
    /// Readable only.
    pub const READABLE: Interest = Interest {
        readable: true,
        writable: false,
    };
    /// Writable only.
    pub const WRITABLE: Interest = Interest {
        readable: false,
        writable: true,
    };
    /// Both directions.
    pub const BOTH: Interest = Interest {
        readable: true,
        writable: true,
    };
}

/// How readiness is reported; see the [module docs](self) for the trade-offs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PollMode {
    /// Report on every wait while the descriptor is ready.
    #[default]
    Level,
    /// Report when the descriptor becomes ready (epoll only).
    Edge,
    /// Report once, then stay silent until [`Poller::modify`].
    Oneshot,
}

/// One readiness report from [`Poller::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Event {
    /// The key the descriptor was registered with.
    pub key: usize,
    /// Reading would not block: data, end of file, a peer's half-close or an error.
    pub readable: bool,
    /// Writing would not block: buffer space or an error.
    pub writable: bool,
    /// The peer hung up (fully, or closed its writing half).
    pub hangup: bool,
    /// The descriptor has a pending error (read it with a read, write or `SO_ERROR`).
    pub error: bool,
}

/// A buffer of [`Event`]s filled by [`Poller::wait`].
pub struct Events {
    pub(crate) list: Vec<Event>,
    pub(crate) raw: Vec<rustix::event::epoll::Event>,
    capacity: usize,
}

impl Events {
    /// The capacity [`Events::new`] uses.
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// An empty buffer for up to [`Events::DEFAULT_CAPACITY`] events per wait.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty buffer for up to `capacity` events per wait (at least one). More ready
    /// descriptors than that are reported by later waits.
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            list: Vec::with_capacity(capacity),
            raw: Vec::new(),
            capacity,
        }
    }

    /// How many events one wait can report.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The events of the last wait.
    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        self.list.iter().copied()
    }

    /// The number of events held.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether no events are held.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Forgets the held events (`wait` also does this first).
    pub fn clear(&mut self) {
        self.list.clear();
        self.raw.clear();
    }
}

// SAFETY: the only non-Send part is rustix's epoll event record, whose data union can
// hold a pointer; this crate only ever stores `u64` keys in it (`EventData::new_u64`),
// so moving or sharing the buffer between threads moves plain integers.
unsafe impl Send for Events {}
// SAFETY: as for `Send`; `&Events` only reads the `Event` list.
unsafe impl Sync for Events {}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("events", &self.list)
            .field("capacity", &self.capacity)
            .finish()
    }
}

/// Waits for readiness on many descriptors; see the [module docs](self).
///
/// `Poller` is `Send + Sync`: any thread may register, deregister and notify while one
/// or more threads wait.
#[derive(Debug)]
pub struct Poller {
    sys: Sys,
}

impl Poller {
    /// A poller on the default backend, [`Backend::Epoll`].
    ///
    /// # Errors
    ///
    /// The OS error of `epoll_create1` or `eventfd` (`EMFILE` when out of descriptors).
    pub fn new() -> io::Result<Self> {
        Self::with_backend(Backend::Epoll)
    }

    /// A poller on the given backend.
    ///
    /// # Errors
    ///
    /// The OS error of creating the backend's descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_io::poller::{Backend, Poller};
    /// let poller = Poller::with_backend(Backend::Poll)?;
    /// assert_eq!(poller.backend(), Backend::Poll);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_backend(backend: Backend) -> io::Result<Self> {
        Ok(Self {
            sys: Sys::new(backend)?,
        })
    }

    /// The backend this poller uses.
    pub fn backend(&self) -> Backend {
        self.sys.backend()
    }

    /// Adds `fd` to the interest list under `key`.
    ///
    /// # Errors
    ///
    /// `EEXIST` if `fd` is already registered; `ErrorKind::InvalidInput` for the
    /// reserved key `usize::MAX`; `ErrorKind::Unsupported` for [`PollMode::Edge`] on
    /// the poll backend; `EPERM` for descriptors epoll cannot watch (regular files);
    /// otherwise the OS error.
    pub fn add(
        &self,
        fd: impl AsFd,
        key: usize,
        interest: Interest,
        mode: PollMode,
    ) -> io::Result<()> {
        check_key(key)?;
        self.sys.add(fd.as_fd(), key, interest, mode)
    }

    /// Replaces the key, interest and mode of a registered `fd`, and re-arms a oneshot
    /// registration.
    ///
    /// # Errors
    ///
    /// `ENOENT` if `fd` is not registered; otherwise as [`Poller::add`].
    pub fn modify(
        &self,
        fd: impl AsFd,
        key: usize,
        interest: Interest,
        mode: PollMode,
    ) -> io::Result<()> {
        check_key(key)?;
        self.sys.modify(fd.as_fd(), key, interest, mode)
    }

    /// Removes `fd` from the interest list.
    ///
    /// # Errors
    ///
    /// `ENOENT` if `fd` is not registered.
    pub fn delete(&self, fd: impl AsFd) -> io::Result<()> {
        self.sys.delete(fd.as_fd())
    }

    /// Waits until a registered descriptor is ready, `timeout` passes (`None`: no
    /// limit; `Some(Duration::ZERO)`: just look), or [`Poller::notify`] is called.
    /// Replaces the contents of `events` and returns how many it now holds; 0 means a
    /// timeout or a notification. A signal (`EINTR`) does not end the wait early: it is
    /// retried for the time that is left. Timeouts are rounded up to whole
    /// milliseconds.
    ///
    /// # Errors
    ///
    /// The OS error of `epoll_wait`/`poll` other than `EINTR`.
    pub fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        events.clear();
        // A timeout too large for an Instant is as good as none.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        self.sys.wait(events, deadline)?;
        Ok(events.len())
    }

    /// Makes a blocked [`Poller::wait`] return, or the next one return at once if none
    /// is blocked. Callable from any thread; notifies before a wait coalesce into one.
    ///
    /// # Errors
    ///
    /// The OS error of writing the eventfd (practically never).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft_io::poller::{Events, Poller};
    /// let poller = Poller::new()?;
    /// poller.notify()?;
    /// poller.notify()?;
    /// let mut events = Events::new();
    /// // Returns at once instead of sleeping for the minute.
    /// assert_eq!(poller.wait(&mut events, Some(Duration::from_secs(60)))?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn notify(&self) -> io::Result<()> {
        self.sys.notify()
    }
}

fn check_key(key: usize) -> io::Result<()> {
    if key == NOTIFY_KEY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the key usize::MAX is reserved for the poller's notification",
        ));
    }
    Ok(())
}

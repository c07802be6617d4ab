//! The `poll(2)` backend: the interest list lives in user space and is handed to the
//! kernel whole on every `wait`, so a wait costs O(registered); it exists for
//! comparison (the lab's O(n) vs O(1) experiment) and as a fallback.
//!
//! # Concurrency
//!
//! The registry (`State`) sits behind a mutex. A waiter copies the `pollfd` list
//! (rebuilt only when the registry changed) and calls `poll` without the lock, counting
//! itself in `State::waiters`. A thread that changes the registry while someone waits
//! *interrupts* the wait by writing the eventfd that is always slot 0 of the list; the
//! waiter wakes, rebuilds its list and polls again for the time left. Whether a wake of
//! slot 0 was a user's `notify` or only an interrupt is told by the `notified` flag, as
//! in the epoll backend.
//!
//! After `poll` returns, each ready descriptor is checked against the registry again
//! (it may have been modified or deleted meanwhile), and a oneshot source is disarmed
//! under the lock, so two concurrent waiters never both report it.
//!
//! # Modes
//!
//! `poll` is level-triggered by nature; oneshot is emulated by dropping a source from
//! the list after one event until `modify`. Edge triggering cannot be emulated honestly
//! (the kernel does not say when new data arrived), so `PollMode::Edge` is refused with
//! `ErrorKind::Unsupported`.

use super::{drain_eventfd, expired, new_eventfd, signal_eventfd, timeout_ms};
use crate::poller::{Event, Events, Interest, PollMode};
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Instant;
use weft_sync::Mutex;
use weft_sync::primitive::atomic::{AtomicBool, Ordering};

#[derive(Debug)]
pub(crate) struct PollSet {
    notify_fd: OwnedFd,
    notified: AtomicBool,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
struct Source {
    key: usize,
    interest: Interest,
    mode: PollMode,
    /// False for a oneshot source that has reported its event and awaits `modify`.
    armed: bool,
}

#[derive(Debug)]
struct State {
    sources: HashMap<RawFd, Source>,
    /// Threads between copying the list and handling `poll`'s answer.
    waiters: usize,
    /// Bumped on every registry change; a waiter whose copy is older rebuilds it.
    version: u64,
}

fn poll_events(interest: Interest) -> libc::c_short {
    let mut events = 0;
    if interest.readable {
        events |= libc::POLLIN | libc::POLLRDHUP;
    }
    if interest.writable {
        events |= libc::POLLOUT;
    }
    events
}

impl PollSet {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Self {
            notify_fd: new_eventfd()?,
            notified: AtomicBool::new(false),
            state: Mutex::new(State {
                sources: HashMap::new(),
                waiters: 0,
                version: 0,
            }),
        })
    }

    /// Records a registry change and interrupts the threads blocked in `wait`, so
    /// their next `poll` sees it.
    fn changed(&self, state: &mut State) -> io::Result<()> {
        state.version += 1;
        if state.waiters > 0 {
            signal_eventfd(self.notify_fd.as_fd())?;
        }
        Ok(())
    }

    pub(crate) fn add(
        &self,
        fd: BorrowedFd<'_>,
        key: usize,
        interest: Interest,
        mode: PollMode,
    ) -> io::Result<()> {
        check_mode(mode)?;
        let mut state = self.state.lock();
        let raw = fd.as_raw_fd();
        if state.sources.contains_key(&raw) {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        state.sources.insert(
            raw,
            Source {
                key,
                interest,
                mode,
                armed: true,
            },
        );
        self.changed(&mut state)
    }

    pub(crate) fn modify(
        &self,
        fd: BorrowedFd<'_>,
        key: usize,
        interest: Interest,
        mode: PollMode,
    ) -> io::Result<()> {
        check_mode(mode)?;
        let mut state = self.state.lock();
        let source = state
            .sources
            .get_mut(&fd.as_raw_fd())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        *source = Source {
            key,
            interest,
            mode,
            armed: true,
        };
        self.changed(&mut state)
    }

    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let mut state = self.state.lock();
        if state.sources.remove(&fd.as_raw_fd()).is_none() {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        self.changed(&mut state)
    }

    pub(crate) fn wait(&self, events: &mut Events, deadline: Option<Instant>) -> io::Result<()> {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut copied_version = None;
        loop {
            {
                let mut state = self.state.lock();
                if copied_version != Some(state.version) {
                    fds.clear();
                    fds.push(libc::pollfd {
                        fd: self.notify_fd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    });
                    fds.extend(
                        state
                            .sources
                            .iter()
                            .filter(|(_, s)| s.armed)
                            .map(|(&fd, s)| libc::pollfd {
                                fd,
                                events: poll_events(s.interest),
                                revents: 0,
                            }),
                    );
                    copied_version = Some(state.version);
                }
                state.waiters += 1;
            }
            let ms = timeout_ms(deadline);
            // SAFETY: `fds` is a live, exclusively borrowed array of `fds.len()`
            // initialised `pollfd`s; `poll` writes only their `revents`. A descriptor
            // closed meanwhile is reported as POLLNVAL, not undefined behaviour.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            let os_error = (n < 0).then(io::Error::last_os_error);

            let mut state = self.state.lock();
            state.waiters -= 1;
            if let Some(e) = os_error {
                if e.kind() == io::ErrorKind::Interrupted {
                    if expired(deadline) {
                        return Ok(());
                    }
                    continue;
                }
                return Err(e);
            }
            let mut user_notified = false;
            if fds[0].revents != 0 {
                drain_eventfd(self.notify_fd.as_fd());
                // SeqCst: pairs with the swap in `notify` (see the epoll backend).
                user_notified = self.notified.swap(false, Ordering::SeqCst);
            }
            let mut disarmed = false;
            for pollfd in fds.iter_mut().skip(1).filter(|p| p.revents != 0) {
                let revents = std::mem::take(&mut pollfd.revents);
                // Re-check: the source may have been deleted, modified or disarmed by
                // another waiter since the list was copied.
                let Some(source) = state.sources.get_mut(&pollfd.fd) else {
                    continue;
                };
                if !source.armed {
                    continue;
                }
                let wanted =
                    poll_events(source.interest) | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL;
                if revents & wanted == 0 {
                    continue;
                }
                if source.mode == PollMode::Oneshot {
                    source.armed = false;
                    disarmed = true;
                }
                let error = revents & (libc::POLLERR | libc::POLLNVAL) != 0;
                let hangup = revents & (libc::POLLHUP | libc::POLLRDHUP) != 0;
                events.list.push(Event {
                    key: source.key,
                    readable: revents & (libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP) != 0
                        || hangup
                        || error,
                    writable: revents & libc::POLLOUT != 0 || error || revents & libc::POLLHUP != 0,
                    hangup,
                    error,
                });
                if events.list.len() >= events.capacity() {
                    break;
                }
            }
            if disarmed {
                // Other waiters hold copies that still list the disarmed source.
                self.changed(&mut state)?;
            }
            if n == 0 || user_notified || !events.list.is_empty() || expired(deadline) {
                return Ok(());
            }
        }
    }

    pub(crate) fn notify(&self) -> io::Result<()> {
        // SeqCst: pairs with the swap in `wait`.
        if !self.notified.swap(true, Ordering::SeqCst) {
            signal_eventfd(self.notify_fd.as_fd())?;
        }
        Ok(())
    }
}

fn check_mode(mode: PollMode) -> io::Result<()> {
    if mode == PollMode::Edge {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the poll(2) backend cannot emulate edge-triggered mode; use Backend::Epoll",
        ));
    }
    Ok(())
}

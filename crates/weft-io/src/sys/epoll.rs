//! The epoll backend: the kernel keeps the interest list, so `add`/`modify`/`delete`
//! are one syscall each, safe from any thread while another is blocked in `wait`, and
//! `wait` costs O(ready), not O(registered).
//!
//! Notification is an eventfd registered level-triggered under a reserved key; the
//! `notified` flag makes notifies coalesce (only the first of a burst writes) and lets
//! `wait` tell a user's `notify` from a stale eventfd write (see [`Epoll::notify`]).

use super::{drain_eventfd, expired, new_eventfd, signal_eventfd, timeout_ms};
use crate::poller::{Event, Events, Interest, NOTIFY_KEY, PollMode};
use rustix::buffer::spare_capacity;
use rustix::event::Timespec;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Instant;
use weft_sync::primitive::atomic::{AtomicBool, Ordering};

#[derive(Debug)]
pub(crate) struct Epoll {
    epoll_fd: OwnedFd,
    notify_fd: OwnedFd,
    /// Set by the first `notify` of a burst, cleared by the `wait` that consumes it.
    notified: AtomicBool,
}

fn flags(interest: Interest, mode: PollMode) -> EventFlags {
    let mut flags = EventFlags::empty();
    if interest.readable {
        // RDHUP: a peer's half-close is reported as readable (a read then sees EOF).
        flags |= EventFlags::IN | EventFlags::RDHUP;
    }
    if interest.writable {
        flags |= EventFlags::OUT;
    }
    match mode {
        PollMode::Level => {}
        PollMode::Edge => flags |= EventFlags::ET,
        PollMode::Oneshot => flags |= EventFlags::ONESHOT,
    }
    flags
}

impl Epoll {
    pub(crate) fn new() -> io::Result<Self> {
        let epoll_fd = epoll::create(CreateFlags::CLOEXEC)?;
        let notify_fd = new_eventfd()?;
        epoll::add(
            &epoll_fd,
            &notify_fd,
            EventData::new_u64(NOTIFY_KEY as u64),
            EventFlags::IN,
        )?;
        Ok(Self {
            epoll_fd,
            notify_fd,
            notified: AtomicBool::new(false),
        })
    }

    pub(crate) fn add(
        &self,
        fd: BorrowedFd<'_>,
        key: usize,
        interest: Interest,
        mode: PollMode,
    ) -> io::Result<()> {
        let data = EventData::new_u64(key as u64);
        Ok(epoll::add(&self.epoll_fd, fd, data, flags(interest, mode))?)
    }

    pub(crate) fn modify(
        &self,
        fd: BorrowedFd<'_>,
        key: usize,
        interest: Interest,
        mode: PollMode,
    ) -> io::Result<()> {
        let data = EventData::new_u64(key as u64);
        Ok(epoll::modify(
            &self.epoll_fd,
            fd,
            data,
            flags(interest, mode),
        )?)
    }

    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        Ok(epoll::delete(&self.epoll_fd, fd)?)
    }

    pub(crate) fn wait(&self, events: &mut Events, deadline: Option<Instant>) -> io::Result<()> {
        loop {
            let ms = timeout_ms(deadline);
            let timespec = (ms >= 0).then(|| Timespec {
                tv_sec: (ms / 1000).into(),
                tv_nsec: ((ms % 1000) * 1_000_000).into(),
            });
            events.raw.clear();
            let capacity = events.capacity();
            events.raw.reserve_exact(capacity);
            let result = epoll::wait(
                &self.epoll_fd,
                spare_capacity(&mut events.raw),
                timespec.as_ref(),
            );
            match result {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => {
                    if expired(deadline) {
                        return Ok(());
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            let timed_out = events.raw.is_empty();
            let mut user_notified = false;
            for raw in &events.raw {
                let key = raw.data.u64() as usize;
                let flags = raw.flags;
                if key == NOTIFY_KEY {
                    drain_eventfd(self.notify_fd.as_fd());
                    // After the drain: a notify that sets the flag after this swap
                    // also writes the eventfd after our drain, so it is not lost.
                    // SeqCst: pairs with the swap in `notify`.
                    user_notified |= self.notified.swap(false, Ordering::SeqCst);
                    continue;
                }
                events.list.push(Event {
                    key,
                    readable: flags.intersects(
                        EventFlags::IN
                            | EventFlags::PRI
                            | EventFlags::RDHUP
                            | EventFlags::HUP
                            | EventFlags::ERR,
                    ),
                    writable: flags.intersects(EventFlags::OUT | EventFlags::HUP | EventFlags::ERR),
                    hangup: flags.intersects(EventFlags::HUP | EventFlags::RDHUP),
                    error: flags.contains(EventFlags::ERR),
                });
            }
            // Only a stale eventfd write (its notify was consumed by an earlier wait):
            // keep waiting for the time that is left.
            if timed_out || user_notified || !events.list.is_empty() || expired(deadline) {
                return Ok(());
            }
        }
    }

    pub(crate) fn notify(&self) -> io::Result<()> {
        // Coalesce: only the notify that raises the flag writes; later ones see it set
        // and know a wake-up is already on its way. SeqCst: pairs with `wait`'s swap.
        if !self.notified.swap(true, Ordering::SeqCst) {
            signal_eventfd(self.notify_fd.as_fd())?;
        }
        Ok(())
    }
}

//! Reference counting for the channel flavours that live in one allocation: senders
//! and receivers are counted apart, so the last of either side disconnects the
//! channel, and the last handle of all frees it (crossbeam-channel's `counter.rs`).

use crate::primitive::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::ops;
use std::process;
use std::ptr::NonNull;

/// Beyond this many handles, abort: the count would overflow (as `Arc` does).
const MAX_COUNT: usize = isize::MAX as usize;

struct Counter<C> {
    senders: AtomicUsize,
    receivers: AtomicUsize,
    /// Set by whichever side disconnects last; that side frees the channel.
    destroy: AtomicBool,
    chan: C,
}

/// Wraps a channel into one sender and one receiver.
pub(crate) fn new<C>(chan: C) -> (Sender<C>, Receiver<C>) {
    let counter = NonNull::from(Box::leak(Box::new(Counter {
        senders: AtomicUsize::new(1),
        receivers: AtomicUsize::new(1),
        destroy: AtomicBool::new(false),
        chan,
    })));
    (Sender { counter }, Receiver { counter })
}

/// The sending side's reference.
pub(crate) struct Sender<C> {
    counter: NonNull<Counter<C>>,
}

impl<C> Sender<C> {
    fn counter(&self) -> &Counter<C> {
        // SAFETY: the counter lives until both sides have released it, and this
        // sender has not.
        unsafe { self.counter.as_ref() }
    }

    /// Another sender.
    pub(crate) fn acquire(&self) -> Sender<C> {
        // Relaxed: a new reference is made from an existing one (as `Arc::clone`).
        let count = self.counter().senders.fetch_add(1, Ordering::Relaxed);
        if count > MAX_COUNT {
            process::abort();
        }
        Sender {
            counter: self.counter,
        }
    }

    /// Drops this sender; the last one calls `disconnect`, and frees the channel if the
    /// receivers are all gone too.
    ///
    /// # Safety
    ///
    /// Called once per sender, which is not used afterwards.
    pub(crate) unsafe fn release<F: FnOnce(&C) -> bool>(&self, disconnect: F) {
        // AcqRel: the last sender must see every other sender's use of the channel
        // (Acquire) before disconnecting, and publish its own (Release).
        if self.counter().senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            disconnect(&self.counter().chan);
            // AcqRel: whichever side comes second frees the channel and must see the
            // first side's last accesses.
            if self.counter().destroy.swap(true, Ordering::AcqRel) {
                // SAFETY: both sides have released: no handle refers to it any more.
                drop(unsafe { Box::from_raw(self.counter.as_ptr()) });
            }
        }
    }
}

impl<C> ops::Deref for Sender<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.counter().chan
    }
}

impl<C> PartialEq for Sender<C> {
    fn eq(&self, other: &Sender<C>) -> bool {
        self.counter == other.counter
    }
}

/// The receiving side's reference.
pub(crate) struct Receiver<C> {
    counter: NonNull<Counter<C>>,
}

impl<C> Receiver<C> {
    fn counter(&self) -> &Counter<C> {
        // SAFETY: as for `Sender::counter`.
        unsafe { self.counter.as_ref() }
    }

    /// Another receiver.
    pub(crate) fn acquire(&self) -> Receiver<C> {
        // Relaxed: as in `Sender::acquire`.
        let count = self.counter().receivers.fetch_add(1, Ordering::Relaxed);
        if count > MAX_COUNT {
            process::abort();
        }
        Receiver {
            counter: self.counter,
        }
    }

    /// Drops this receiver; see [`Sender::release`].
    ///
    /// # Safety
    ///
    /// Called once per receiver, which is not used afterwards.
    pub(crate) unsafe fn release<F: FnOnce(&C) -> bool>(&self, disconnect: F) {
        // AcqRel: as in `Sender::release`.
        if self.counter().receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            disconnect(&self.counter().chan);
            if self.counter().destroy.swap(true, Ordering::AcqRel) {
                // SAFETY: as in `Sender::release`.
                drop(unsafe { Box::from_raw(self.counter.as_ptr()) });
            }
        }
    }
}

impl<C> ops::Deref for Receiver<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.counter().chan
    }
}

impl<C> PartialEq for Receiver<C> {
    fn eq(&self, other: &Receiver<C>) -> bool {
        self.counter == other.counter
    }
}

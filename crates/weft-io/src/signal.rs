//! The wake-up handshake of [`block_on`](crate::block_on), apart so loom can model it.
//!
//! `woken` is set by the waker and consumed before each poll. While the thread drives
//! the reactor it sets `driving`; a waker called from another thread that sees
//! `driving` must also interrupt the reactor, since the thread is blocked in
//! `epoll_wait`, not on its parker. Each side writes its flag, then reads the other's
//! (a Dekker pair): either the thread sees `woken` before it blocks, or the waker sees
//! `driving` and interrupts the block.
//!
//! Every access of the pair is a read-modify-write (the reads are `fetch_or(false)`),
//! which makes the argument hold without relying on SeqCst's single total order: if
//! the thread's read of `woken` comes before the waker's write in `woken`'s
//! modification order, the waker's RMW reads from it and synchronises with it, so the
//! thread's earlier write of `driving` is visible to the waker's read. (It is also
//! what loom can check: loom models SeqCst loads and stores as Acquire/Release, under
//! which a plain-load Dekker pair fails.)
//!
//! Not public API: exposed (hidden) only for the loom model in `tests/loom_signal.rs`.

use weft_sync::Parker;
use weft_sync::primitive::atomic::{AtomicBool, Ordering};

/// One `block_on` call's wake-up state; see the [module docs](self).
#[derive(Debug)]
pub struct WakeSignal {
    woken: AtomicBool,
    driving: AtomicBool,
    parker: Parker,
}

impl Default for WakeSignal {
    fn default() -> Self {
        Self::new()
    }
}

impl WakeSignal {
    /// Woken (so the future is polled first), not driving.
    pub fn new() -> Self {
        Self {
            woken: AtomicBool::new(true),
            driving: AtomicBool::new(false),
            parker: Parker::new(),
        }
    }

    /// Consumes a wake-up: whether the future should be polled.
    pub fn take_woken(&self) -> bool {
        // SeqCst: see the module docs.
        self.woken.swap(false, Ordering::SeqCst)
    }

    /// Whether a wake-up is pending (without consuming it).
    pub fn is_woken(&self) -> bool {
        self.woken.load(Ordering::SeqCst)
    }

    /// Announces that the thread is about to block in the reactor; returns `false` if
    /// a wake-up already arrived, so it must not block.
    pub fn begin_driving(&self) -> bool {
        // The thread's half of the Dekker pair, both RMWs (see the module docs).
        self.driving.swap(true, Ordering::SeqCst);
        !self.woken.fetch_or(false, Ordering::SeqCst)
    }

    /// The thread is no longer blocked in the reactor.
    pub fn end_driving(&self) {
        self.driving.store(false, Ordering::SeqCst);
    }

    /// The waker: records the wake-up, calls `interrupt` (notify the reactor) if the
    /// thread may be blocked in it and this is not that thread, and unparks it.
    pub fn wake(&self, from_owner: bool, interrupt: impl FnOnce()) {
        // The waker's half of the Dekker pair, both RMWs (see the module docs).
        self.woken.swap(true, Ordering::SeqCst);
        if !from_owner && self.driving.fetch_or(false, Ordering::SeqCst) {
            interrupt();
        }
        self.parker.unpark();
    }

    /// Wakes the thread without a wake-up for the future (to retry the driver lock).
    pub fn unpark(&self) {
        self.parker.unpark();
    }

    /// Parks the thread unless a wake-up is pending; returns on a wake-up, an
    /// [`unpark`](Self::unpark), or spuriously.
    pub fn park(&self) {
        if !self.is_woken() {
            self.parker.park();
        }
    }
}

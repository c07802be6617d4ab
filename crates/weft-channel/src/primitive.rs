//! The one place weft-channel takes its atomics, cells and thread-locals from:
//! `weft_sync::primitive` (std normally, loom under `--cfg loom`), plus the few
//! things this crate needs on top.

pub(crate) use weft_sync::primitive::{Arc, UnsafeCell, atomic};

/// A `fence(SeqCst)` under loom only.
///
/// The wake-up protocol (see `waker.rs`) orders a waiter's "I am registered" store
/// against its re-check of the channel, and a notifier's change of the channel
/// against its "is anyone registered?" load, using SeqCst operations on both sides:
/// the single total order of SeqCst operations makes one of the two loads see the
/// other side's store. loom models SeqCst loads and stores only as Acquire/Release,
/// but models SeqCst fences exactly, so under loom the same argument is made with
/// fences (the fence-fence rule). In real builds the SeqCst operations already carry
/// it and a fence would only cost an `mfence` per message.
#[inline(always)]
pub(crate) fn loom_fence() {
    #[cfg(loom)]
    atomic::fence(atomic::Ordering::SeqCst);
}

/// Whether to spin before blocking. A model explores interleavings, not spins: under
/// loom every spin iteration is one more scheduling point, so blocking paths go
/// straight to registering and parking.
pub(crate) const SPIN: bool = !cfg!(loom);

macro_rules! thread_local_compat {
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        #[cfg(loom)]
        loom::thread_local! { $(#[$attr])* static $name: $t = $init; }
        #[cfg(not(loom))]
        std::thread_local! { $(#[$attr])* static $name: $t = $init; }
    };
}
pub(crate) use thread_local_compat;

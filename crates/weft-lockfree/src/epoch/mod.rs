//! Epoch-based memory reclamation (Fraser, *Practical lock-freedom*, 2004, §5.2.3; the
//! scheme crossbeam-epoch made the Rust default), with crossbeam-epoch's vocabulary.
//!
//! A lock-free structure cannot free a node it unlinks: another thread may have loaded
//! the pointer just before and be about to read it. Threads therefore [`pin`] before
//! touching shared pointers and hand unlinked nodes to [`Guard::defer_destroy`]. A
//! global epoch counter advances only when every pinned thread has seen its current
//! value; a node retired when the epoch was `e` is freed once it reaches `e + 2`, when
//! every thread that could have seen the node has unpinned at least once.
//!
//! - Pinning is a thread-local access, one store and one `SeqCst` fence; nested pins are
//!   a counter increment.
//! - Each thread collects deferred frees in a bag of 64; a full bag is sealed with the
//!   epoch and pushed on a global lock-free list. At the unpin after a bag is sealed, and
//!   at every 128th unpin, the thread tries to advance the epoch and frees the sealed
//!   bags two epochs old. So garbage stays bounded by 64 per thread plus the bags sealed
//!   in the last two epochs, as long as no thread stays pinned (or is descheduled while
//!   pinned) indefinitely.
//! - Each thread has a `Local` record in a lock-free list; when the thread exits its
//!   garbage moves to the global list and the record is reused by the next thread.
//!
//! The ordering argument is in `epoch/README.md`.
//!
//! # Examples
//!
//! ```
//! use std::sync::atomic::Ordering::{AcqRel, Acquire};
//! use weft_lockfree::epoch::{self, Atomic, Owned};
//!
//! let config = Atomic::new(String::from("v1"));
//! let guard = epoch::pin();
//! let old = config.swap(Owned::new(String::from("v2")), AcqRel, &guard);
//! // SAFETY: `old` is unlinked; readers pinned before the swap may still use it, which
//! // is exactly what the deferred free waits for.
//! unsafe { guard.defer_destroy(old) };
//! // SAFETY: the current value is reachable and the guard is pinned.
//! assert_eq!(unsafe { config.load(Acquire, &guard).deref() }, "v2");
//! drop(guard);
//! // SAFETY: no other thread has `config`.
//! drop(unsafe { config.into_owned() });
//! ```

mod atomic;
mod collector;
mod guard;

pub use atomic::{Atomic, CompareExchangeError, Owned, Pointer, Shared};
pub use guard::{Guard, unprotected};

use collector::{Global, LocalHandle};
use weft_sync::primitive::Arc;

#[cfg(not(loom))]
fn default_collector() -> &'static Arc<Global> {
    static COLLECTOR: std::sync::OnceLock<Arc<Global>> = std::sync::OnceLock::new();
    COLLECTOR.get_or_init(|| Arc::new(Global::new()))
}

#[cfg(loom)]
fn default_collector() -> &'static Arc<Global> {
    // A fresh collector per model execution.
    loom::lazy_static! {
        static ref COLLECTOR: Arc<Global> = Arc::new(Global::new());
    }
    &COLLECTOR
}

#[cfg(not(loom))]
std::thread_local! {
    static HANDLE: LocalHandle = Global::register(default_collector());
}

#[cfg(loom)]
loom::thread_local! {
    static HANDLE: LocalHandle = Global::register(default_collector());
}

/// Pins the current thread to the global epoch and returns its guard.
///
/// Cheap: a thread-local access, a store and a fence (a counter increment when the
/// thread is already pinned).
///
/// # Examples
///
/// ```
/// let outer = weft_lockfree::epoch::pin();
/// let inner = weft_lockfree::epoch::pin(); // nested: just a count
/// assert!(weft_lockfree::epoch::is_pinned());
/// drop((inner, outer));
/// assert!(!weft_lockfree::epoch::is_pinned());
/// ```
#[inline]
pub fn pin() -> Guard {
    HANDLE
        .try_with(|handle| handle.local().pin())
        .unwrap_or_else(|_| pin_without_thread_local())
}

/// This thread's thread-locals are gone (a pin from another thread-local's destructor):
/// borrow a record for the life of this one guard.
#[cold]
#[inline(never)]
fn pin_without_thread_local() -> Guard {
    let local = Global::register(default_collector()).into_released_on_unpin();
    // SAFETY: the record stays claimed until its last guard unpins.
    unsafe { &*local }.pin()
}

/// Whether the current thread is pinned.
pub fn is_pinned() -> bool {
    HANDLE
        .try_with(|handle| handle.local().is_pinned())
        .unwrap_or(false)
}

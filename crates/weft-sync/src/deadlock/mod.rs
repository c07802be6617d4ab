//! Deadlock detection: lock-order checking (potential deadlocks) and a wait-for graph
//! (actual deadlocks). Opt-in with the `deadlock-detection` cargo feature.
//!
//! This file is the contract between the locks and the detector. Every weft lock:
//!
//! 1. stores a [`LockClass`] created by `LockClass::new()` inside its `#[track_caller]`
//!    constructor (the class is the place the lock was created, like lockdep's);
//! 2. calls [`on_wait`] just before it blocks (parks) for the lock, and
//!    [`on_wait_abort`] if it then gives up (timeout);
//! 3. calls [`on_acquire`] (itself `#[track_caller]`, so make the calling lock method
//!    `#[track_caller]` too) once it holds the lock, with how it holds it;
//! 4. calls [`on_release`] when it lets go (guard drop, `unlock_fair`, `Condvar::wait`
//!    releasing the mutex, ...).
//!
//! `lock` is the lock's address (`self as *const _ as usize`), stable while it is held.
//! With the feature off every hook is an empty `#[inline(always)]` function and
//! `LockClass` is zero-sized, so the locks pay nothing.

#[cfg(feature = "deadlock-detection")]
mod detector;
#[cfg(feature = "deadlock-detection")]
pub(crate) use detector::*;

/// How a lock is held, for the wait-for graph (shared holders are many).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "deadlock-detection"), allow(dead_code))]
pub(crate) enum Access {
    /// `Mutex`, `SpinLock`, `RwLock::write`, `ReentrantMutex` (first acquisition).
    Exclusive,
    /// `RwLock::read`.
    Shared,
    /// `RwLock::upgradable_read`: shared with readers, exclusive against writers.
    Upgradable,
    /// A `try_*` acquisition: held, but it cannot have waited, so it adds no
    /// lock-order edge into itself.
    TryExclusive,
    /// A `try_read`-style acquisition.
    TryShared,
}

/// The class of a lock: where it was created. Zero-sized with the feature off.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LockClass {
    #[cfg(feature = "deadlock-detection")]
    pub(crate) site: &'static core::panic::Location<'static>,
}

impl LockClass {
    /// The class of a lock created at the caller's location.
    #[track_caller]
    #[inline(always)]
    pub(crate) const fn new() -> Self {
        Self {
            #[cfg(feature = "deadlock-detection")]
            site: core::panic::Location::caller(),
        }
    }
}

#[cfg(not(feature = "deadlock-detection"))]
mod hooks {
    use super::{Access, LockClass};

    #[inline(always)]
    pub(crate) fn on_wait(_lock: usize, _class: &LockClass) {}
    #[inline(always)]
    pub(crate) fn on_wait_abort(_lock: usize) {}
    #[inline(always)]
    pub(crate) fn on_acquire(_lock: usize, _class: &LockClass, _access: Access) {}
    #[inline(always)]
    pub(crate) fn on_release(_lock: usize) {}
}
#[cfg(not(feature = "deadlock-detection"))]
pub(crate) use hooks::*;

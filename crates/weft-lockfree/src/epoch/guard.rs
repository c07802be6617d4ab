//! `Guard`: proof that the current thread is pinned, and the door to deferred frees.

use core::fmt;
use core::ptr;

use super::Shared;
use super::collector::{Deferred, Local};

/// A pinned thread's witness: while a `Guard` lives, nothing reachable from a lock-free
/// structure at the time of the pin is freed.
///
/// Made by [`pin`](super::pin); dropping it unpins (the outermost guard only, since pins
/// nest). `!Send`: it belongs to the thread that pinned.
///
/// # Examples
///
/// ```
/// use weft_lockfree::epoch;
///
/// let guard = epoch::pin();
/// guard.defer(|| println!("runs once no thread can see the old value"));
/// guard.flush();
/// ```
pub struct Guard {
    /// Null for [`unprotected`](super::unprotected).
    local: *const Local,
}

impl Guard {
    #[inline]
    pub(crate) fn from_local(local: &Local) -> Self {
        Self { local }
    }

    #[inline]
    fn local(&self) -> Option<&Local> {
        // SAFETY: a non-null `local` is the pinned record of this thread, kept in use
        // (not released, not freed) while a guard on it is alive.
        unsafe { self.local.as_ref() }
    }

    /// Runs `f` once every thread pinned now has unpinned (with an
    /// [`unprotected`](super::unprotected) guard: right away).
    pub fn defer<F, R>(&self, f: F)
    where
        F: FnOnce() -> R + Send + 'static,
    {
        // SAFETY: `F` is `Send + 'static`, so it may run on any thread, at any later time.
        unsafe { self.defer_unchecked(f) }
    }

    /// [`defer`](Self::defer) without the `Send + 'static` bounds.
    ///
    /// # Safety
    ///
    /// `f` may run on another thread and at any later time, even after the data it
    /// borrows would otherwise be gone: the caller must make that sound.
    pub unsafe fn defer_unchecked<F, R>(&self, f: F)
    where
        F: FnOnce() -> R,
    {
        match self.local() {
            Some(local) => local.defer(Deferred::from_closure(move || drop(f()))),
            None => drop(f()),
        }
    }

    /// Frees the object `pointer` points to once no pinned thread can still see it.
    ///
    /// # Safety
    ///
    /// `pointer` must come from an [`Owned`](super::Owned) (a `Box`), be unreachable for
    /// threads that pin from now on (unlinked), and be retired only once. Its `T` may be
    /// dropped on another thread.
    pub unsafe fn defer_destroy<T>(&self, pointer: Shared<'_, T>) {
        let raw = pointer.as_raw().cast_mut();
        match self.local() {
            Some(local) => local.defer(Deferred::destroy(raw)),
            // SAFETY: unprotected: the caller guarantees no other thread uses it.
            None => drop(unsafe { Box::from_raw(raw) }),
        }
    }

    /// [`defer_destroy`](Self::defer_destroy) of a raw `Box` pointer.
    ///
    /// # Safety
    ///
    /// As `defer_destroy`: `raw` comes from `Box::into_raw`, is unlinked, and is retired
    /// only once.
    pub(crate) unsafe fn defer_destroy_raw<T>(&self, raw: *mut T) {
        match self.local() {
            Some(local) => local.defer(Deferred::destroy(raw)),
            // SAFETY: unprotected: the caller guarantees no other thread uses it.
            None => drop(unsafe { Box::from_raw(raw) }),
        }
    }

    /// Runs `call(data)` once no pinned thread can still see what it frees, like
    /// [`defer_destroy`](Self::defer_destroy) for allocations that are not a `Box`.
    ///
    /// # Safety
    ///
    /// `call(data)` must be sound to run once, on any thread, at any later time, and
    /// whatever it frees must be unreachable for threads that pin from now on.
    pub(crate) unsafe fn defer_raw(&self, call: unsafe fn(*mut ()), data: *mut ()) {
        match self.local() {
            Some(local) => local.defer(Deferred::from_raw(call, data)),
            // SAFETY: unprotected: the caller guarantees no other thread uses it.
            None => unsafe { call(data) },
        }
    }

    /// Moves this thread's deferred functions to the global queue and tries to advance
    /// the epoch and run what has expired.
    pub fn flush(&self) {
        if let Some(local) = self.local() {
            local.flush();
        }
    }

    /// Re-announces the current epoch (if this is the thread's only guard), so a
    /// long-lived guard does not hold back reclamation. `&mut self`: no `Shared` loaded
    /// through this guard survives it.
    pub fn repin(&mut self) {
        if let Some(local) = self.local() {
            local.repin();
        }
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        if let Some(local) = self.local() {
            local.unpin();
        }
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("unprotected", &self.local.is_null())
            .finish()
    }
}

/// A guard for code that already has exclusive access (constructors, `Drop`, tests).
struct Unprotected(Guard);

// SAFETY: the unprotected guard has no record; every method on it is a no-op or runs
// the deferred function immediately on the calling thread.
unsafe impl Sync for Unprotected {}

static UNPROTECTED: Unprotected = Unprotected(Guard { local: ptr::null() });

/// A dummy guard that pins nothing: `defer` runs immediately, `defer_destroy` frees
/// immediately.
///
/// # Safety
///
/// Loads through it are unprotected: the caller must know that no other thread frees
/// (or retires) the objects it reaches, e.g. in a `Drop` with `&mut self`.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::Ordering::Relaxed;
/// use weft_lockfree::epoch::{self, Atomic};
///
/// let atomic = Atomic::new(7);
/// // SAFETY: `atomic` is not shared with any thread.
/// let guard = unsafe { epoch::unprotected() };
/// let value = atomic.load(Relaxed, guard);
/// // SAFETY: still unshared; freed once.
/// unsafe { guard.defer_destroy(value) };
/// ```
pub unsafe fn unprotected() -> &'static Guard {
    &UNPROTECTED.0
}

//! `Lock<T>`: the tiny futex mutex that guards each event's listener list.
//!
//! Drepper's three-state futex mutex ("Futexes Are Tricky", 2011, mutex 2), with a
//! short spin first. It is private to the event machinery on purpose: it calls no
//! deadlock hooks (it is never held while user code runs, so it cannot take part in a
//! lock-order cycle), and it sleeps instead of spinning, so a holder preempted on an
//! oversubscribed machine does not make every notifier burn its time slice.
//!
//! # State machine (one `AtomicU32`)
//!
//! | state       | meaning                               |
//! |-------------|---------------------------------------|
//! | `UNLOCKED`  | free                                  |
//! | `LOCKED`    | held, nobody sleeping on it           |
//! | `CONTENDED` | held, and someone may be in `futex::wait` |
//!
//! A waiter that goes to sleep first swaps in `CONTENDED`, so the holder's unlock sees
//! it and wakes one sleeper; a woken sleeper takes the lock as `CONTENDED` again
//! (it cannot know whether others still sleep), costing at most one spare wake.

use crate::futex;
use crate::primitive::UnsafeCell;
use crate::primitive::atomic::{AtomicU32, Ordering};
use core::ops::{Deref, DerefMut};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// Spins before sleeping; the list critical sections are a few dozen instructions.
/// Under loom spinning only multiplies interleavings, so it is off there.
#[cfg(not(loom))]
const SPINS: u32 = 100;

pub(crate) struct Lock<T> {
    state: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one thread at a time.
unsafe impl<T: Send> Sync for Lock<T> {}
// SAFETY: owning the lock is owning `T`.
unsafe impl<T: Send> Send for Lock<T> {}

pub(crate) struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Lock<T> {
    #[cfg(not(loom))]
    pub(crate) const fn new(value: T) -> Self {
        Self {
            state: AtomicU32::new(UNLOCKED),
            value: UnsafeCell::new(value),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new(value: T) -> Self {
        Self {
            state: AtomicU32::new(UNLOCKED),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> LockGuard<'_, T> {
        // Acquire: pairs with the Release swap in `LockGuard::drop`, so the previous
        // holder's writes to `value` are visible.
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        LockGuard { lock: self }
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self) {
        #[cfg(not(loom))]
        for _ in 0..SPINS {
            if self.state.load(Ordering::Relaxed) == UNLOCKED
                && self
                    .state
                    .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            crate::primitive::thread::spin_loop();
        }
        // Acquire: as in `lock`.
        while self.state.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            futex::wait(&self.state, CONTENDED, None);
        }
    }
}

impl<T> Drop for LockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Release: publishes this holder's writes to the next holder's Acquire.
        if self.lock.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            futex::wake_one(&self.lock.state);
        }
    }
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no `&mut T` exists elsewhere.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock exclusively and `&mut self` makes this the
        // only reference derived from it.
        unsafe { &mut *self.lock.value.get() }
    }
}

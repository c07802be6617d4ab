//! `Backoff`: exponential spinning, then yielding, for retry loops.

use crate::primitive::thread;
use core::cell::Cell;
use core::fmt;

const SPIN_LIMIT: u32 = 6;
const YIELD_LIMIT: u32 = 10;

/// Exponential backoff for spin loops: each [`spin`](Self::spin) busy-waits twice as
/// long as the last, up to 2⁶ pause instructions; [`snooze`](Self::snooze) does the
/// same, then starts yielding the CPU to the OS. [`is_completed`](Self::is_completed)
/// says when it is time to stop spinning and block instead.
///
/// Backing off after a failed compare-and-swap cuts the cache-line traffic that makes
/// a contended atomic slow (every failed CAS pulls the line exclusive).
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use weft_sync::Backoff;
///
/// fn wait_for(flag: &AtomicBool) {
///     let backoff = Backoff::new();
///     while !flag.load(Ordering::Acquire) {
///         if backoff.is_completed() {
///             std::thread::park_timeout(std::time::Duration::from_micros(50));
///         } else {
///             backoff.snooze();
///         }
///     }
/// }
/// let flag = AtomicBool::new(true);
/// wait_for(&flag);
/// ```
pub struct Backoff {
    step: Cell<u32>,
}

impl Backoff {
    /// A fresh backoff, at its shortest step.
    #[inline]
    pub const fn new() -> Self {
        Self { step: Cell::new(0) }
    }

    /// Back to the shortest step.
    #[inline]
    pub fn reset(&self) {
        self.step.set(0);
    }

    /// Backs off in a lock-free retry loop (after a failed CAS): spins only, never
    /// yields, because another thread is making progress.
    #[inline]
    pub fn spin(&self) {
        for _ in 0..1u32 << self.step.get().min(SPIN_LIMIT) {
            thread::spin_loop();
        }
        if self.step.get() <= SPIN_LIMIT {
            self.step.set(self.step.get() + 1);
        }
    }

    /// Backs off while waiting for another thread to do something: spins, and once
    /// spinning is long enough, yields the CPU.
    #[inline]
    pub fn snooze(&self) {
        if self.step.get() <= SPIN_LIMIT {
            for _ in 0..1u32 << self.step.get() {
                thread::spin_loop();
            }
        } else {
            thread::yield_now();
        }
        if self.step.get() <= YIELD_LIMIT {
            self.step.set(self.step.get() + 1);
        }
    }

    /// Whether backing off has gone on long enough that the caller should block
    /// (park) instead of spinning.
    #[inline]
    pub fn is_completed(&self) -> bool {
        self.step.get() > YIELD_LIMIT
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backoff")
            .field("step", &self.step.get())
            .field("is_completed", &self.is_completed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_after_enough_snoozes_and_resets() {
        let b = Backoff::new();
        let mut n = 0;
        while !b.is_completed() {
            b.snooze();
            n += 1;
        }
        assert_eq!(n, YIELD_LIMIT + 1);
        b.reset();
        assert!(!b.is_completed());
    }

    #[test]
    fn spin_alone_never_completes() {
        let b = Backoff::new();
        for _ in 0..100 {
            b.spin();
        }
        assert!(!b.is_completed());
    }
}

//! `CachePadded<T>`: keeps a value alone on its cache line(s) to prevent false sharing.

use core::fmt;
use core::ops::{Deref, DerefMut};

/// Pads and aligns a value to the length of a cache line, so that two `CachePadded`
/// values never share one and writes to one never invalidate the other (the notes'
/// *false sharing*: unrelated data on one line makes it bounce between cores).
///
/// The alignment is 128 bytes on x86_64 and aarch64: their lines are 64 bytes, but the
/// adjacent-line prefetcher (x86) and big cores (Apple M-series) pull lines in pairs.
/// Elsewhere it is 64 bytes.
///
/// # Cost
///
/// Memory: a `CachePadded<AtomicU64>` takes 128 bytes instead of 8. Use it for hot,
/// written-by-different-threads fields (queue heads and tails, per-thread counters),
/// not for everything. `weft-lab run false-sharing` measures what it saves.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use weft_sync::CachePadded;
///
/// // Two counters written by different threads: padding gives each its own line.
/// let counters = [CachePadded::new(AtomicU64::new(0)), CachePadded::new(AtomicU64::new(0))];
/// counters[0].fetch_add(1, Ordering::Relaxed);
/// assert_eq!(counters[0].load(Ordering::Relaxed), 1);
/// assert!(std::mem::align_of_val(&counters[0]) >= 64);
/// ```
#[derive(Clone, Copy, Default, Hash, PartialEq, Eq)]
#[cfg_attr(any(target_arch = "x86_64", target_arch = "aarch64"), repr(align(128)))]
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    repr(align(64))
)]
pub struct CachePadded<T> {
    value: T,
}

impl<T> CachePadded<T> {
    /// Pads `value`.
    pub const fn new(value: T) -> Self {
        Self { value }
    }

    /// Returns the inner value.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for CachePadded<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for CachePadded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachePadded")
            .field("value", &self.value)
            .finish()
    }
}

impl<T> From<T> for CachePadded<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_padded_values_never_share_a_line() {
        let pair = [CachePadded::new(0u8), CachePadded::new(1u8)];
        let a = &*pair[0] as *const u8 as usize;
        let b = &*pair[1] as *const u8 as usize;
        assert!(b - a >= 64);
        assert_eq!(a % 64, 0);
    }

    #[test]
    fn deref_and_into_inner() {
        let mut p = CachePadded::new(vec![1, 2]);
        p.push(3);
        assert_eq!(p.into_inner(), vec![1, 2, 3]);
    }
}

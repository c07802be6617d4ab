//! A length counter split into cache-line stripes, one picked per thread, so that
//! writers on different threads do not bounce one line. Shared by [`HashMap`] and
//! [`FlatMap`].
//!
//! [`HashMap`]: crate::HashMap
//! [`FlatMap`]: crate::FlatMap

use weft_sync::CachePadded;
#[cfg(not(loom))]
use weft_sync::primitive::atomic::AtomicUsize;
use weft_sync::primitive::atomic::{AtomicIsize, Ordering};

/// Stripes of the counter, each on its own cache line. One under loom.
const STRIPES: usize = if cfg!(loom) { 1 } else { 16 };

/// A signed count whose stripes may go negative one by one (a key inserted on one
/// thread and removed on another); only their sum means something.
pub(crate) struct StripedCount {
    stripes: Box<[CachePadded<AtomicIsize>]>,
}

impl StripedCount {
    pub(crate) fn new() -> Self {
        Self {
            stripes: (0..STRIPES)
                .map(|_| CachePadded::new(AtomicIsize::new(0)))
                .collect(),
        }
    }

    /// Adds `delta` (negative to subtract) on this thread's stripe.
    #[inline]
    pub(crate) fn add(&self, delta: isize) {
        // Relaxed: a count, not a publication.
        self.stripes[stripe_index()].fetch_add(delta, Ordering::Relaxed);
    }

    /// The sum of the stripes, each read once; negative sums (removals counted before
    /// the inserts they undo) read as zero.
    pub(crate) fn sum(&self) -> usize {
        let sum: isize = self
            .stripes
            .iter()
            // Relaxed: a count, not a publication; each stripe is read once.
            .map(|stripe| stripe.load(Ordering::Relaxed))
            .sum();
        sum.max(0) as usize
    }
}

#[cfg(not(loom))]
#[inline]
fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        // Relaxed: only spreads threads over stripes.
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.try_with(|stripe| *stripe).unwrap_or(0)
}

#[cfg(loom)]
#[inline]
fn stripe_index() -> usize {
    0
}

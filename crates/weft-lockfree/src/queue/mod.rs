//! The MPMC queues: [`ArrayQueue`] (bounded ring of stamped slots) and [`SegQueue`]
//! (unbounded list of fixed-size blocks), plus the waiting helpers both share.
//!
//! | type | bound | storage | design |
//! |---|---|---|---|
//! | [`ArrayQueue`] | fixed capacity | one allocation | Vyukov's bounded MPMC queue |
//! | [`SegQueue`] | unbounded | linked blocks, freed by their last reader | segmented queue |

mod array_queue;
mod seg_queue;

pub use array_queue::{ArrayQueue, CapacityError, IntoIter};
pub use seg_queue::SegQueue;

use weft_sync::Backoff;

/// Backs off after a failed compare-and-swap: another thread won, so spin briefly.
///
/// Under loom a single yield instead: `Backoff::spin`'s up to 64 spin hints would each
/// be a scheduling point and blow up the model, while a retry loop with no yield at
/// all could spin for ever where the "lost race" is really a wait (a `force_push`
/// whose eviction a mid-flight `pop` beat, still waiting for that pop's stamp store).
#[inline]
fn after_lost_race(backoff: &Backoff) {
    #[cfg(not(loom))]
    backoff.spin();
    #[cfg(loom)]
    {
        let _ = backoff;
        weft_sync::primitive::thread::yield_now();
    }
}

/// Waits for another thread to finish a step it has committed to (a slot write, a
/// block installation). Under loom one yield, so the model lets that thread run.
#[inline]
fn wait_for_other(backoff: &Backoff) {
    #[cfg(not(loom))]
    backoff.snooze();
    #[cfg(loom)]
    {
        let _ = backoff;
        weft_sync::primitive::thread::yield_now();
    }
}

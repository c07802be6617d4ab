//! The channel flavours, one file each (the table of contents of crossbeam-channel's
//! `flavors/mod.rs`, which weft follows):
//!
//! | flavour | made by | storage | progress |
//! |---|---|---|---|
//! | [`array`] | `bounded(n)`, n > 0 | a ring of `n` slots with per-slot stamps | lock-free try ops; blocking parks |
//! | [`list`] | `unbounded()` | a linked list of 31-slot blocks | lock-free try ops; `send` never blocks |
//! | [`zero`] | `bounded(0)` | none: a sender hands its message to a waiting receiver | a short lock per operation |
//! | [`at`] | `after(d)`, `at(t)` | one `Instant` | wait-free |
//! | [`tick`] | `tick(d)` | the next `Instant` | a short lock |
//! | [`never`] | `never()` | nothing | wait-free |

pub(crate) mod array;
pub(crate) mod at;
pub(crate) mod list;
pub(crate) mod never;
pub(crate) mod tick;
pub(crate) mod zero;

use crate::primitive::atomic::{self, Ordering};

/// How a non-blocking attempt looks at the other end of the channel before it
/// answers "empty" (or "full").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Look {
    /// With a `SeqCst` fence before loading the other end's index: the answer is
    /// linearizable, as `try_send`/`try_recv` promise, and it is the re-check of the
    /// wake-up protocol (`waker.rs`) for blocked threads.
    Ordered,
    /// The re-check of an async waiter, right after its registration's `SeqCst`
    /// store (the slot's `ARMED`, or the list's `is_empty`): the other end's index is
    /// loaded with `SeqCst` and no fence. The store and this load are both `SeqCst`,
    /// and so are the notifier's change of the index and its load of the
    /// registration, so in the single order of `SeqCst` operations one of the two
    /// loads sees the other side's store (the wake-up protocol needs no more). On
    /// x86-64 that is a plain load where `Ordered` pays an `mfence`, once per wait.
    /// Under loom, which models `SeqCst` loads as `Acquire`, the fence stays.
    Recheck,
    /// Without the fence: "empty" (or "full") may be stale. Only for an async
    /// attempt that is followed, before the task waits, by a registration and a
    /// `Recheck`; a claimed slot is claimed either way (by its CAS).
    Quick,
}

impl Look {
    /// Orders what was done before against the coming load of the other end's
    /// index, as this look promises, and returns the ordering for that load.
    #[inline(always)]
    pub(crate) fn other_end(self) -> Ordering {
        match self {
            Look::Ordered => {
                atomic::fence(Ordering::SeqCst);
                Ordering::Relaxed
            }
            Look::Recheck => {
                crate::primitive::loom_fence();
                Ordering::SeqCst
            }
            Look::Quick => Ordering::Relaxed,
        }
    }
}

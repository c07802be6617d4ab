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

/// How a non-blocking attempt looks at the other end of the channel before it
/// answers "empty" (or "full").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Look {
    /// With a `SeqCst` fence before loading the other end's index: the answer is
    /// linearizable, as `try_send`/`try_recv` promise, and it is the re-check of the
    /// wake-up protocol (`waker.rs`).
    Ordered,
    /// Without the fence: "empty" (or "full") may be stale. Only for an async
    /// attempt that is followed, before the task waits, by a registration and an
    /// `Ordered` re-check; a claimed slot is claimed either way (by its CAS).
    Quick,
}

//! A temporary stand-in for the pool's core (`join`, `join_context`,
//! `current_num_threads`), so the parallel iterators can be built and tested before
//! the work-stealing registry lands. It is correct, not fast: `join` runs `b` on a
//! fresh scoped OS thread while fewer than `current_num_threads() - 1` helpers are
//! alive, and inline otherwise.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Helper threads alive right now, across all joins.
static HELPERS: AtomicUsize = AtomicUsize::new(0);

/// What a closure passed to [`join_context`] learns about where it runs.
#[derive(Debug, Clone, Copy)]
pub struct FnContext {
    migrated: bool,
}

impl FnContext {
    /// True if the closure runs on another thread than the one that called `join`.
    pub fn migrated(&self) -> bool {
        self.migrated
    }
}

/// The number of threads the pool would use.
pub fn current_num_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `a` and `b`, possibly in parallel, and returns both results.
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    join_context(|_| a(), |_| b())
}

/// Like [`join`], telling each closure whether it migrated to another thread.
pub fn join_context<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce(FnContext) -> RA + Send,
    B: FnOnce(FnContext) -> RB + Send,
    RA: Send,
    RB: Send,
{
    let limit = current_num_threads().saturating_sub(1);
    let claimed = HELPERS
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < limit).then_some(n + 1)
        })
        .is_ok();
    if !claimed {
        let ra = a(FnContext { migrated: false });
        let rb = b(FnContext { migrated: false });
        return (ra, rb);
    }
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            HELPERS.fetch_sub(1, Ordering::AcqRel);
        }
    }
    let _release = Release;
    std::thread::scope(|s| {
        let handle = s.spawn(move || b(FnContext { migrated: true }));
        let ra = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            a(FnContext { migrated: false })
        }));
        let rb = handle.join();
        match (ra, rb) {
            (Ok(ra), Ok(rb)) => (ra, rb),
            (Err(payload), _) | (_, Err(payload)) => std::panic::resume_unwind(payload),
        }
    })
}

//! Latches: one-shot "this job is done" signals, and how each kind wakes its waiter.
//!
//! | latch | waiter | how the waiter waits |
//! |---|---|---|
//! | [`SpinLatch`] | a worker (its `join`'s stolen half, or `install` into another pool) | runs other jobs; sleeps through the pool's sleep protocol when there are none |
//! | [`CountLatch`] | a worker that owns a `scope` | same; set when the count of unfinished tasks reaches zero |
//! | [`LockLatch`] | a thread outside every pool | parks on its thread's futex [`Parker`] |
//!
//! # The core state (one `AtomicU32`)
//!
//! | state | meaning | who moves it |
//! |---|---|---|
//! | `UNSET` | not set, the owner is awake | owner: to `SLEEPING`; setter: to `SET` |
//! | `SLEEPING` | the owner is going to sleep, or sleeps, in the sleep protocol | owner: back to `UNSET`; setter: to `SET`, then wakes the owner |
//! | `SET` | done; the job's result is published | nobody (final) |
//!
//! The setter learns from its one swap whether the owner may be asleep; the owner
//! moves to `SLEEPING` while holding its sleep lock (see `sleep.rs`), so a setter that
//! saw `SLEEPING` and then takes that lock either finds the owner blocked and wakes it,
//! or finds it already back awake. No wake-up is lost, and a setter that saw `UNSET`
//! knows the owner will see `SET` before it could block.
//!
//! # Setting is the last touch
//!
//! Once the state is `SET` the owner may return and free the latch (it lives in the
//! owner's stack frame). So every `set` reads what it needs (the registry, the owner's
//! index) *before* the swap and touches only those copies after it. `set` takes a raw
//! pointer rather than `&self` to make that visible: a `&self` would assert the latch
//! stays alive for the whole call.

use crate::primitive::atomic::{AtomicU32, AtomicUsize, Ordering};
use crate::registry::{Registry, WorkerThread};
use std::sync::Arc;
use weft_sync::Parker;

/// A signal some job raises when it is done.
pub(crate) trait Latch {
    /// Raises the latch and wakes its waiter.
    ///
    /// # Safety
    ///
    /// `this` is alive on entry; it may be freed by the waiter as soon as the latch is
    /// observed set, so the implementation must not touch `*this` after that point.
    unsafe fn set(this: *const Self);
}

/// A latch whose waiter is a worker, waiting through the sleep protocol.
pub(crate) trait AsCoreLatch {
    fn as_core_latch(&self) -> &CoreLatch;
}

const UNSET: u32 = 0;
const SLEEPING: u32 = 1;
const SET: u32 = 2;

/// The state word shared by the worker-side latches (see the module docs).
#[derive(Debug)]
pub struct CoreLatch {
    state: AtomicU32,
}

impl Default for CoreLatch {
    fn default() -> Self {
        Self::new()
    }
}

impl CoreLatch {
    /// An unset latch.
    #[inline]
    pub fn new() -> CoreLatch {
        CoreLatch {
            state: AtomicU32::new(UNSET),
        }
    }

    /// `true` once the latch is set.
    #[inline]
    pub fn probe(&self) -> bool {
        // Acquire: pairs with the AcqRel swap in `set`, so the job's result, written
        // before the set, is visible to the owner that saw `SET`.
        self.state.load(Ordering::Acquire) == SET
    }

    /// The owner announces it is about to block: `UNSET` -> `SLEEPING`. `false` if the
    /// latch is already set (then the owner must not block).
    #[inline]
    pub fn fall_asleep(&self) -> bool {
        // Acquire on failure: a `SET` seen here publishes the result like `probe`.
        self.state
            .compare_exchange(UNSET, SLEEPING, Ordering::Acquire, Ordering::Acquire)
            .is_ok()
    }

    /// The owner is awake again: `SLEEPING` -> `UNSET`, unless the latch was set
    /// meanwhile (then it stays `SET`).
    #[inline]
    pub fn wake_up(&self) {
        // Relaxed: the owner re-reads the state with `probe` before relying on it.
        let _ = self
            .state
            .compare_exchange(SLEEPING, UNSET, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Unsets a latch nobody waits on any more (a spare worker's retire latch, before
    /// the slot is used again).
    #[inline]
    pub fn reset(&self) {
        self.state.store(UNSET, Ordering::Release);
    }

    /// Sets the latch; returns `true` if the owner may be asleep and must be woken.
    ///
    /// # Safety
    ///
    /// `this` is alive on entry; after the swap it may be freed (module docs).
    #[inline]
    pub unsafe fn set(this: *const Self) -> bool {
        // AcqRel: Release publishes the job's result to `probe`; Acquire orders the
        // owner's `fall_asleep` (and what preceded it) before our wake-up decision.
        // SAFETY: `this` is alive until this swap completes.
        unsafe { (*this).state.swap(SET, Ordering::AcqRel) == SLEEPING }
    }
}

impl AsCoreLatch for CoreLatch {
    #[inline]
    fn as_core_latch(&self) -> &CoreLatch {
        self
    }
}

/// The latch of a job whose waiter is a worker of `registry`, at `target_worker_index`.
///
/// `cross` is set when the job runs in a *different* pool (`install` from a worker of
/// pool A into pool B): then the setter is not a worker of `registry` and must keep it
/// alive itself while it wakes the waiter.
pub(crate) struct SpinLatch<'r> {
    core_latch: CoreLatch,
    registry: &'r Arc<Registry>,
    target_worker_index: usize,
    cross: bool,
}

impl<'r> SpinLatch<'r> {
    /// A latch for a job of the waiter's own pool.
    #[inline]
    pub(crate) fn new(thread: &'r WorkerThread) -> SpinLatch<'r> {
        SpinLatch {
            core_latch: CoreLatch::new(),
            registry: thread.registry(),
            target_worker_index: thread.index(),
            cross: false,
        }
    }

    /// A latch for a job sent to another pool.
    pub(crate) fn cross(thread: &'r WorkerThread) -> SpinLatch<'r> {
        SpinLatch {
            cross: true,
            ..SpinLatch::new(thread)
        }
    }

    #[inline]
    pub(crate) fn probe(&self) -> bool {
        self.core_latch.probe()
    }
}

impl AsCoreLatch for SpinLatch<'_> {
    #[inline]
    fn as_core_latch(&self) -> &CoreLatch {
        &self.core_latch
    }
}

impl Latch for SpinLatch<'_> {
    #[inline]
    unsafe fn set(this: *const Self) {
        // Read everything before the swap (module docs: setting is the last touch).
        // SAFETY: `this` is alive on entry.
        let (registry, index, cross) = unsafe {
            (
                &raw const *(*this).registry,
                (*this).target_worker_index,
                (*this).cross,
            )
        };
        // In the cross case the setter belongs to another pool: hold the waiter's
        // registry so it outlives the wake-up even if the waiter's pool is dropped the
        // moment the waiter returns. (Same-pool setters are workers of `registry` and
        // hold it through their own `WorkerThread`.)
        // SAFETY: `registry` points into the live latch (read above, before the swap).
        let kept = cross.then(|| Arc::clone(unsafe { &*registry }));
        // SAFETY: the latch is alive until the swap inside `set` completes.
        if unsafe { CoreLatch::set(&raw const (*this).core_latch) } {
            let registry: &Registry = match &kept {
                Some(registry) => registry,
                // SAFETY: the setter is a worker of this registry (see above), so the
                // registry outlives this call even if the latch is gone.
                None => unsafe { &*registry },
            };
            registry.sleep().wake_specific_thread(index);
        }
    }
}

/// The latch of a scope: counts unfinished tasks (plus one for the scope's own body);
/// set when the count reaches zero. Its waiter is the worker that runs the scope.
pub(crate) struct CountLatch {
    counter: AtomicUsize,
    core_latch: CoreLatch,
    registry: Arc<Registry>,
    owner_index: usize,
}

impl CountLatch {
    pub(crate) fn new(owner: &WorkerThread) -> CountLatch {
        CountLatch {
            counter: AtomicUsize::new(1),
            core_latch: CoreLatch::new(),
            registry: Arc::clone(owner.registry()),
            owner_index: owner.index(),
        }
    }

    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// One more task to wait for.
    #[inline]
    pub(crate) fn increment(&self) {
        // Relaxed: the caller holds a count already (the body's, or its own task's), so
        // the counter cannot reach zero concurrently; the job's publication to other
        // threads goes through the deque's own Release/Acquire.
        self.counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits (running other jobs) until every task finished. Call on the owner.
    pub(crate) fn wait(&self, owner: &WorkerThread) {
        debug_assert_eq!(owner.index(), self.owner_index);
        owner.wait_until(&self.core_latch);
    }
}

impl Latch for CountLatch {
    #[inline]
    unsafe fn set(this: *const Self) {
        // SAFETY: `this` is alive on entry; we read the fields we need first.
        let (registry, index) = unsafe { (Arc::as_ptr(&(*this).registry), (*this).owner_index) };
        // AcqRel: Release publishes this task's writes to the owner; Acquire, for the
        // last decrement, collects every other task's.
        // SAFETY: alive on entry.
        if unsafe { (*this).counter.fetch_sub(1, Ordering::AcqRel) } == 1 {
            // SAFETY: alive until the swap in `set` completes.
            if unsafe { CoreLatch::set(&raw const (*this).core_latch) } {
                // SAFETY: tasks of a scope run on workers of the scope's registry, which
                // hold it alive through their `WorkerThread`; the owner's body, the
                // other setter, runs on the owner itself.
                unsafe { (*registry).sleep().wake_specific_thread(index) };
            }
        }
    }
}

/// The latch of a thread outside the pool: it parks on its thread's futex parker.
#[derive(Debug)]
pub struct LockLatch {
    state: AtomicU32,
    parker: Arc<Parker>,
}

std::thread_local! {
    static THREAD_PARKER: Arc<Parker> = Arc::new(Parker::new());
}

impl LockLatch {
    /// An unset latch that wakes the current thread.
    pub(crate) fn new() -> LockLatch {
        LockLatch::with_parker(THREAD_PARKER.with(Arc::clone))
    }

    /// An unset latch that wakes the owner of `parker` (the only thread that may
    /// [`wait`](Self::wait) on it).
    pub fn with_parker(parker: Arc<Parker>) -> LockLatch {
        LockLatch {
            state: AtomicU32::new(UNSET),
            parker,
        }
    }

    /// `true` once set.
    pub fn probe(&self) -> bool {
        // Acquire: pairs with the Release store in `set`.
        self.state.load(Ordering::Acquire) == SET
    }

    /// Blocks until the latch is set. Only the parker's owner may call this.
    pub fn wait(&self) {
        while !self.probe() {
            // A token left over from an earlier latch of this thread only makes the
            // loop go round once more.
            self.parker.park();
        }
    }

    /// Sets the latch and wakes its owner.
    ///
    /// # Safety
    ///
    /// `this` is alive on entry (it may be freed as soon as the store lands).
    pub unsafe fn set_and_wake(this: *const Self) {
        // SAFETY: alive on entry. The parker is shared (an `Arc`), so our clone outlives
        // the latch: a waiter that sees `SET` before we unpark may free the latch.
        let parker = unsafe { Arc::clone(&(*this).parker) };
        // Release: publishes the job's result to `probe`'s Acquire.
        // SAFETY: alive until this store.
        unsafe { (*this).state.store(SET, Ordering::Release) };
        parker.unpark();
    }
}

impl Latch for LockLatch {
    #[inline]
    unsafe fn set(this: *const Self) {
        // SAFETY: forwarded contract.
        unsafe { LockLatch::set_and_wake(this) }
    }
}

//! `scope` and `scope_fifo`: spawn tasks that borrow from the caller's stack; the
//! scope returns only when every task finished.
//!
//! A scope counts its unfinished tasks in a [`CountLatch`] (starting at one, for the
//! scope's own body). Each `spawn` boxes the task as a [`HeapJob`] and pushes it on the
//! current worker's deque (or the pool's injector, when spawned from a thread outside
//! the pool); each task, and the body, counts down when done. The body always runs on
//! a worker of the pool, which then waits for the count to reach zero by running jobs
//! (its own tasks first, since they are on top of its deque).
//!
//! `scope_fifo`'s `spawn_fifo` puts each task behind the worker's FIFO (see
//! `job.rs`'s `JobFifo`), so a worker runs its own spawned tasks oldest first.
//!
//! # Panics
//!
//! A panic in a task (or in the body) is caught; the first payload is kept, the
//! others dropped; after every task finished, the scope re-throws the kept payload to
//! its caller. Nested scopes therefore re-throw outward one level at a time.
//!
//! # Why borrowing is sound
//!
//! Tasks may borrow anything that outlives `'scope`. The jobs erase that lifetime, but
//! the scope does not return (not even by unwinding: a panicking body is caught) until
//! the count is zero, that is, until every task has finished running.

use crate::job::HeapJob;
use crate::latch::{CountLatch, Latch};
use crate::registry::{WorkerThread, in_worker};
use crate::unwind;
use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr;

use crate::primitive::atomic::{AtomicPtr, Ordering};

/// A fork-join scope; see [`scope`].
pub struct Scope<'scope> {
    base: ScopeBase<'scope>,
}

/// A fork-join scope whose tasks a worker runs oldest first; see [`scope_fifo`].
pub struct ScopeFifo<'scope> {
    base: ScopeBase<'scope>,
}

struct ScopeBase<'scope> {
    /// The first panic of a task or of the body.
    panic: AtomicPtr<Box<dyn Any + Send + 'static>>,
    job_completed_latch: CountLatch,
    /// Invariance in `'scope`, and the Send/Sync of a shared closure holder.
    #[allow(clippy::type_complexity)]
    marker: PhantomData<Box<dyn FnOnce(&Scope<'scope>) + Send + Sync + 'scope>>,
}

impl fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}

impl fmt::Debug for ScopeFifo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeFifo").finish_non_exhaustive()
    }
}

/// Creates a scope in which tasks borrowing from the caller may be spawned; returns
/// `op`'s result once `op` and every task spawned in the scope finished.
///
/// Called from outside any pool, the scope runs on the global pool.
///
/// # Panics
///
/// Re-throws the first panic of `op` or of a task, after every task finished.
///
/// # Examples
///
/// ```
/// let mut left = 0;
/// let mut right = 0;
/// let data = [1, 2, 3, 4];
/// weft_pool::scope(|s| {
///     s.spawn(|_| left = data[..2].iter().sum());
///     s.spawn(|_| right = data[2..].iter().sum());
/// });
/// assert_eq!(left + right, 10);
/// ```
pub fn scope<'scope, OP, R>(op: OP) -> R
where
    OP: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    in_worker(|owner, _| {
        let scope = Scope {
            base: ScopeBase::new(owner),
        };
        scope.base.complete(owner, || op(&scope))
    })
}

/// Like [`scope`], but each worker runs the tasks it spawned oldest first.
///
/// # Panics
///
/// As [`scope`].
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// let order = Mutex::new(Vec::new());
/// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
/// pool.scope_fifo(|s| {
///     for i in 0..4 {
///         let order = &order;
///         s.spawn_fifo(move |_| order.lock().unwrap().push(i));
///     }
/// });
/// assert_eq!(order.into_inner().unwrap(), [0, 1, 2, 3]); // one worker: FIFO order
/// ```
pub fn scope_fifo<'scope, OP, R>(op: OP) -> R
where
    OP: FnOnce(&ScopeFifo<'scope>) -> R + Send,
    R: Send,
{
    in_worker(|owner, _| {
        let scope = ScopeFifo {
            base: ScopeBase::new(owner),
        };
        scope.base.complete(owner, || op(&scope))
    })
}

/// A pointer to a scope that a task carries to another thread.
struct ScopePtr<T>(*const T);

// SAFETY: the scopes are `Sync` (atomics and an `Arc`), and the scope outlives every
// task (module docs), so sending the pointer is sending a `&Scope`.
unsafe impl<T: Sync> Send for ScopePtr<T> {}

impl<T> ScopePtr<T> {
    /// # Safety
    ///
    /// The scope must still be alive (it is, while any of its tasks runs).
    unsafe fn as_ref(&self) -> &T {
        // SAFETY: forwarded.
        unsafe { &*self.0 }
    }
}

impl<'scope> Scope<'scope> {
    /// Spawns a task into the scope; it may borrow anything that outlives `'scope`,
    /// and gets the scope to spawn more.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// let count = AtomicUsize::new(0);
    /// weft_pool::scope(|s| {
    ///     for _ in 0..10 {
    ///         s.spawn(|s| {
    ///             count.fetch_add(1, Ordering::Relaxed);
    ///             s.spawn(|_| {
    ///                 count.fetch_add(1, Ordering::Relaxed);
    ///             });
    ///         });
    ///     }
    /// });
    /// assert_eq!(count.into_inner(), 20);
    /// ```
    pub fn spawn<BODY>(&self, body: BODY)
    where
        BODY: FnOnce(&Scope<'scope>) + Send + 'scope,
    {
        let scope = ScopePtr(self);
        let job = HeapJob::new(move || {
            // SAFETY: the scope waits for this task (module docs).
            let scope = unsafe { scope.as_ref() };
            // SAFETY: `scope` is alive; the count was incremented below.
            unsafe { ScopeBase::execute_job(&scope.base, move || body(scope)) };
        });
        self.base.job_completed_latch.increment();
        // SAFETY: the job borrows only what outlives `'scope`, and the scope waits for
        // it; its body catches panics.
        let job_ref = unsafe { job.into_job_ref() };
        self.base
            .job_completed_latch
            .registry()
            .inject_or_push(job_ref);
    }
}

impl<'scope> ScopeFifo<'scope> {
    /// Spawns a task into the scope, run oldest first among this worker's spawns.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut results = vec![0; 3];
    /// weft_pool::scope_fifo(|s| {
    ///     for (i, slot) in results.iter_mut().enumerate() {
    ///         s.spawn_fifo(move |_| *slot = i * 10);
    ///     }
    /// });
    /// assert_eq!(results, [0, 10, 20]);
    /// ```
    pub fn spawn_fifo<BODY>(&self, body: BODY)
    where
        BODY: FnOnce(&ScopeFifo<'scope>) + Send + 'scope,
    {
        let scope = ScopePtr(self);
        let job = HeapJob::new(move || {
            // SAFETY: the scope waits for this task (module docs).
            let scope = unsafe { scope.as_ref() };
            // SAFETY: `scope` is alive; the count was incremented below.
            unsafe { ScopeBase::execute_job(&scope.base, move || body(scope)) };
        });
        self.base.job_completed_latch.increment();
        // SAFETY: as in `Scope::spawn`.
        let job_ref = unsafe { job.into_job_ref() };
        self.base
            .job_completed_latch
            .registry()
            .inject_or_push_fifo(job_ref);
    }
}

impl<'scope> ScopeBase<'scope> {
    fn new(owner: &WorkerThread) -> Self {
        ScopeBase {
            panic: AtomicPtr::new(ptr::null_mut()),
            job_completed_latch: CountLatch::new(owner),
            marker: PhantomData,
        }
    }

    /// Runs the body, waits for every task, re-throws the first panic.
    fn complete<R>(&self, owner: &WorkerThread, func: impl FnOnce() -> R) -> R {
        // SAFETY: `self` is alive for this whole call.
        let result = unsafe { Self::execute_job_closure(self, func) };
        self.job_completed_latch.wait(owner);
        self.maybe_propagate_panic();
        result.expect("the scope body panicked but no panic was recorded")
    }

    /// Runs a task and counts it done.
    ///
    /// # Safety
    ///
    /// `this` is alive on entry; it may be gone once the count drops.
    unsafe fn execute_job(this: *const Self, func: impl FnOnce()) {
        // SAFETY: forwarded.
        let _ = unsafe { Self::execute_job_closure(this, func) };
    }

    /// # Safety
    ///
    /// As [`execute_job`](Self::execute_job).
    unsafe fn execute_job_closure<R>(this: *const Self, func: impl FnOnce() -> R) -> Option<R> {
        let result = match unwind::halt_unwinding(func) {
            Ok(value) => Some(value),
            Err(payload) => {
                // SAFETY: alive until we count down below.
                unsafe { (*this).job_panicked(payload) };
                None
            }
        };
        // SAFETY: alive on entry; `set` touches nothing after the last count.
        unsafe { CountLatch::set(&raw const (*this).job_completed_latch) };
        result
    }

    fn job_panicked(&self, payload: Box<dyn Any + Send>) {
        // Keep the first payload; later ones are dropped.
        if self.panic.load(Ordering::Relaxed).is_null() {
            let mut boxed = ManuallyDrop::new(Box::new(payload));
            let pointer: *mut Box<dyn Any + Send> = &mut **boxed;
            // Release: publishes the payload to the owner's Acquire swap.
            if self
                .panic
                .compare_exchange(
                    ptr::null_mut(),
                    pointer,
                    Ordering::Release,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                return; // ownership moved into `self.panic`
            }
            // Lost the race: drop ours.
            drop(ManuallyDrop::into_inner(boxed));
        }
    }

    fn maybe_propagate_panic(&self) {
        // Acquire: pairs with the Release CAS in `job_panicked` (and every task's
        // count-down happened before the latch was set, which `wait` observed).
        let panic = self.panic.swap(ptr::null_mut(), Ordering::Acquire);
        if !panic.is_null() {
            // SAFETY: the pointer came from `Box` in `job_panicked` and is taken once.
            let payload = unsafe { Box::from_raw(panic) };
            unwind::resume_unwinding(*payload);
        }
    }
}

impl Drop for ScopeBase<'_> {
    fn drop(&mut self) {
        let panic = self.panic.swap(ptr::null_mut(), Ordering::Relaxed);
        if !panic.is_null() {
            // SAFETY: as in `maybe_propagate_panic`; only reached if that one did not run.
            drop(unsafe { Box::from_raw(panic) });
        }
    }
}

//! Jobs: the one currency of the scheduler.
//!
//! A [`JobRef`] is two words: a pointer to the job's data and the function that runs
//! it. The worker loop, the deques and the injector only ever move `JobRef`s; they do
//! not know what kind of job they carry. Three kinds exist today:
//!
//! - [`StackJob`]: the second half of a `join`, or an `install` from outside. It lives
//!   in the frame of the thread that waits for it; a latch tells that thread when the
//!   job ran (and where its result or panic payload is). No allocation.
//! - [`HeapJob`]: a boxed closure (`spawn`, `scope` tasks). Running it frees it.
//! - [`JobFifo`]'s trampoline: `spawn_fifo` puts the real job in a FIFO and pushes a
//!   `JobRef` that, when run, takes and runs the oldest job of that FIFO.
//!
//! An async task of the future runtime is just a fourth kind: a pointer to the task's
//! single allocation and a `poll once` function. That is why `JobRef` is a pointer and
//! a function rather than a trait object or an enum, and why this crate needs nothing
//! from `futures`: the runtime will build `JobRef`s with [`JobRef::from_raw_parts`] and
//! push them like any other job.
//!
//! # Invariants
//!
//! 1. A `JobRef` is executed at most once, and only while the data it points to is
//!    alive. For a `StackJob` the owner guarantees this by not returning from its frame
//!    before the job's latch is set or the job was popped back and run inline.
//! 2. Executing a job never unwinds: every body runs under
//!    [`halt_unwinding`](crate::unwind::halt_unwinding).

use crate::latch::Latch;
use crate::primitive::UnsafeCell;
use crate::unwind;
use std::any::Any;
use weft_lockfree::deque::{Injector, Steal};

/// Something a worker can run through a [`JobRef`].
pub(crate) trait Job {
    /// Runs the job.
    ///
    /// # Safety
    ///
    /// `this` points to a live `Self` that no one else is executing (invariant 1).
    unsafe fn execute(this: *const ());
}

/// A type-erased handle to a job: a data pointer and the function that runs it.
#[derive(Copy, Clone, Debug)]
pub(crate) struct JobRef {
    pointer: *const (),
    execute_fn: unsafe fn(*const ()),
}

// SAFETY: every job kind's data is `Send` (its constructors require it), and
// invariant 1 means the `JobRef` is the only way the data is reached while it travels.
unsafe impl Send for JobRef {}
// SAFETY: as above; a shared `JobRef` only exposes its two words.
unsafe impl Sync for JobRef {}

impl JobRef {
    /// A handle to `data`.
    ///
    /// # Safety
    ///
    /// `data` must stay alive until the handle is executed (or dropped unexecuted).
    #[inline]
    pub(crate) unsafe fn new<T: Job>(data: *const T) -> JobRef {
        JobRef {
            pointer: data.cast(),
            execute_fn: <T as Job>::execute,
        }
    }

    /// A handle from raw parts: the hook by which other job kinds (the runtime's async
    /// tasks) join the same queues.
    ///
    /// # Safety
    ///
    /// `execute_fn(pointer)` must be sound to call once, from any worker thread, and
    /// must not unwind.
    #[allow(dead_code)] // the async runtime's entry point; unused until it exists
    #[inline]
    pub(crate) unsafe fn from_raw_parts(
        pointer: *const (),
        execute_fn: unsafe fn(*const ()),
    ) -> JobRef {
        JobRef {
            pointer,
            execute_fn,
        }
    }

    /// The job's identity: its data address. Two live jobs never share one, except
    /// zero-sized heap jobs, which are never compared against (only `join`'s
    /// `StackJob`, which is not zero-sized, is looked for by address).
    #[inline]
    pub(crate) fn id(&self) -> *const () {
        self.pointer
    }

    /// Runs the job.
    ///
    /// # Safety
    ///
    /// Invariant 1: this handle (or a copy of it) has not been executed before.
    #[inline]
    pub(crate) unsafe fn execute(self) {
        // SAFETY: the caller upholds invariant 1; the constructor paired `pointer`
        // with the function that knows its type.
        unsafe { (self.execute_fn)(self.pointer) }
    }
}

/// What a finished `StackJob` left behind.
pub(crate) enum JobResult<T> {
    /// Not run yet.
    None,
    /// Returned normally.
    Ok(T),
    /// Panicked; the payload, to be re-thrown by whoever waits.
    Panic(Box<dyn Any + Send>),
}

impl<T> JobResult<T> {
    fn call(func: impl FnOnce() -> T) -> Self {
        match unwind::halt_unwinding(func) {
            Ok(value) => JobResult::Ok(value),
            Err(payload) => JobResult::Panic(payload),
        }
    }

    /// The value, re-throwing a panic.
    fn into_return_value(self) -> T {
        match self {
            JobResult::Ok(value) => value,
            JobResult::Panic(payload) => unwind::resume_unwinding(payload),
            JobResult::None => unreachable!("a job's result was read before it ran"),
        }
    }
}

/// A job in its waiter's stack frame. `F` gets `true` when it runs on a thread other
/// than the one that created it (rayon's "migrated").
pub(crate) struct StackJob<L, F, R> {
    pub(crate) latch: L,
    func: UnsafeCell<Option<F>>,
    result: UnsafeCell<JobResult<R>>,
}

impl<L: Latch, F: FnOnce(bool) -> R + Send, R: Send> StackJob<L, F, R> {
    #[inline]
    pub(crate) fn new(func: F, latch: L) -> Self {
        StackJob {
            latch,
            func: UnsafeCell::new(Some(func)),
            result: UnsafeCell::new(JobResult::None),
        }
    }

    /// A handle to this job.
    ///
    /// # Safety
    ///
    /// The job must not move or be dropped until the handle ran (its latch is set) or
    /// was taken back unexecuted.
    #[inline]
    pub(crate) unsafe fn as_job_ref(&self) -> JobRef {
        // SAFETY: the caller keeps `self` in place (see above).
        unsafe { JobRef::new(self) }
    }

    /// Runs the job on the current thread, after its handle was popped back.
    #[inline]
    pub(crate) fn run_inline(self, migrated: bool) -> R {
        let func = self
            .func
            .into_inner()
            .expect("a join job popped back after it ran");
        func(migrated)
    }

    /// The job's result, re-throwing its panic. Call only after the latch is set.
    #[inline]
    pub(crate) fn into_result(self) -> R {
        self.result.into_inner().into_return_value()
    }
}

impl<L: Latch, F: FnOnce(bool) -> R + Send, R: Send> Job for StackJob<L, F, R> {
    unsafe fn execute(this: *const ()) {
        let this = this.cast::<Self>();
        // SAFETY: invariant 1: `this` is alive and nobody else runs it, so we have the
        // only access to `func` and `result` until the latch is set below.
        unsafe {
            let func = (*this)
                .func
                .with_mut(|func| (*func).take())
                .expect("a job ran twice");
            let result = JobResult::call(move || func(true));
            (*this).result.with_mut(|slot| *slot = result);
            // After this, `this` may be freed at any moment: touch nothing more.
            L::set(&raw const (*this).latch);
        }
    }
}

/// A boxed job; running it frees it.
pub(crate) struct HeapJob<Body> {
    body: Body,
}

impl<Body: FnOnce() + Send> HeapJob<Body> {
    pub(crate) fn new(body: Body) -> Box<Self> {
        Box::new(HeapJob { body })
    }

    /// A handle that owns the box.
    ///
    /// # Safety
    ///
    /// Whatever `Body` borrows must outlive the job's execution (scopes wait for it).
    /// The body must not unwind (invariant 2).
    #[inline]
    pub(crate) unsafe fn into_job_ref(self: Box<Self>) -> JobRef {
        // SAFETY: the box stays allocated until `execute` frees it.
        unsafe { JobRef::new(Box::into_raw(self)) }
    }
}

impl<Body: FnOnce() + Send> Job for HeapJob<Body> {
    unsafe fn execute(this: *const ()) {
        // SAFETY: `this` came from `Box::into_raw` in `into_job_ref`, and runs once.
        let this = unsafe { Box::from_raw(this.cast::<Self>().cast_mut()) };
        (this.body)();
    }
}

/// A FIFO of jobs behind a LIFO deque: `push` stores the job and returns a trampoline
/// `JobRef` to push on the deque; running any trampoline runs the FIFO's oldest job.
/// Each push adds one job and one trampoline, so every trampoline finds a job.
pub(crate) struct JobFifo {
    jobs: Injector<JobRef>,
}

impl JobFifo {
    pub(crate) fn new() -> Self {
        JobFifo {
            jobs: Injector::new(),
        }
    }

    /// Stores `job` and returns the trampoline to schedule in its place.
    ///
    /// # Safety
    ///
    /// `self` must outlive the trampoline's execution (the registry owns the FIFOs and
    /// outlives all of its jobs).
    pub(crate) unsafe fn push(&self, job: JobRef) -> JobRef {
        self.jobs.push(job);
        // SAFETY: the caller keeps `self` alive (see above).
        unsafe { JobRef::new(self) }
    }
}

impl Job for JobFifo {
    unsafe fn execute(this: *const ()) {
        // SAFETY: the registry keeps the FIFO alive while trampolines exist.
        let this = unsafe { &*this.cast::<Self>() };
        loop {
            match this.jobs.steal() {
                // SAFETY: each stored job is taken exactly once, by one trampoline.
                Steal::Success(job) => return unsafe { job.execute() },
                Steal::Retry => crate::primitive::thread::spin_loop(),
                // One job per trampoline was pushed before the trampoline was.
                Steal::Empty => unreachable!("a FIFO trampoline found its FIFO empty"),
            }
        }
    }
}

impl std::fmt::Debug for JobFifo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobFifo").finish_non_exhaustive()
    }
}

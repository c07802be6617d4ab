//! `join`: run two closures, potentially in parallel.
//!
//! The caller pushes `b` as a [`StackJob`] on its own deque (the job lives in this
//! frame), runs `a`, then pops: if it gets `b` back, nobody stole it and `b` runs
//! inline. That fast path is one push and one pop on the caller's own deque and, as
//! long as no worker is sleepy, one plain load of the sleep counters: no atomic
//! read-modify-write and no allocation. If `b` was stolen the caller runs other jobs
//! until `b`'s latch is set ("work while waiting"), sleeping only when there are none.
//!
//! # Panics
//!
//! If `a` panics, the caller still waits for `b` (it may be running elsewhere and
//! borrow this frame), then re-throws `a`'s payload. If `b` panics, its payload is
//! re-thrown after `a` finished. If both panic, `a`'s payload wins and `b`'s is dropped.

use crate::job::StackJob;
use crate::latch::SpinLatch;
use crate::registry::{WorkerThread, in_worker};
use crate::unwind;
use std::any::Any;

/// Where a closure given to [`join_context`] runs.
///
/// # Examples
///
/// ```
/// let (a, b) = weft_pool::join_context(|ctx| ctx.migrated(), |ctx| ctx.migrated());
/// // `a` runs on the thread that called `join_context` (here a pool worker the call
/// // was sent to from outside, so it counts as migrated).
/// assert!(a);
/// # let _ = b;
/// ```
#[derive(Debug)]
pub struct FnContext {
    migrated: bool,
}

impl FnContext {
    #[inline]
    fn new(migrated: bool) -> Self {
        FnContext { migrated }
    }

    /// `true` if the closure runs on a different thread than the one that called
    /// `join_context` (it was stolen, or the call came from outside the pool).
    #[inline]
    pub fn migrated(&self) -> bool {
        self.migrated
    }
}

/// Runs `oper_a` and `oper_b`, potentially in parallel, and returns both results.
///
/// Called from outside any pool, the work is sent to the global pool and the caller
/// blocks until both are done.
///
/// # Panics
///
/// Re-throws the panic of `oper_a` (after `oper_b` finished) or of `oper_b`; if both
/// panic, `oper_a`'s payload.
///
/// # Examples
///
/// ```
/// fn fib(n: u64) -> u64 {
///     if n < 2 {
///         return n;
///     }
///     let (a, b) = weft_pool::join(|| fib(n - 1), || fib(n - 2));
///     a + b
/// }
/// assert_eq!(fib(20), 6765);
/// ```
#[inline]
pub fn join<A, B, RA, RB>(oper_a: A, oper_b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    join_context(|_| oper_a(), |_| oper_b())
}

/// [`join`], telling each closure whether it migrated to another thread.
///
/// # Panics
///
/// As [`join`].
///
/// # Examples
///
/// ```
/// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
/// let (a, b) = pool.install(|| {
///     weft_pool::join_context(|ctx| (ctx.migrated(), 1), |_ctx| 2)
/// });
/// assert_eq!((a.1, b), (1, 2));
/// assert!(!a.0); // inside the pool, `a` runs where `join_context` was called
/// ```
#[inline]
pub fn join_context<A, B, RA, RB>(oper_a: A, oper_b: B) -> (RA, RB)
where
    A: FnOnce(FnContext) -> RA + Send,
    B: FnOnce(FnContext) -> RB + Send,
    RA: Send,
    RB: Send,
{
    in_worker(|worker_thread, injected| {
        let job_b = StackJob::new(
            |migrated| oper_b(FnContext::new(migrated)),
            SpinLatch::new(worker_thread),
        );
        // SAFETY: `job_b` stays in this frame until it is popped back or its latch is
        // set; every path below ensures one of the two before returning or unwinding.
        let job_b_ref = unsafe { job_b.as_job_ref() };
        let job_b_id = job_b_ref.id();
        worker_thread.push(job_b_ref);

        let result_a = match unwind::halt_unwinding(|| oper_a(FnContext::new(injected))) {
            Ok(value) => value,
            Err(payload) => join_recover_from_panic(worker_thread, &job_b.latch, payload),
        };

        while !job_b.latch.probe() {
            match worker_thread.take_local_job() {
                Some(job) if job.id() == job_b_id => {
                    // Not stolen: run it here. (Jobs `a` left above it, e.g. spawns,
                    // were run first by the loop.)
                    let result_b = job_b.run_inline(injected);
                    return (result_a, result_b);
                }
                // SAFETY: taken from our deque, so it runs once.
                Some(job) => unsafe { worker_thread.execute(job) },
                None => {
                    // Stolen: work while waiting.
                    worker_thread.wait_until(&job_b.latch);
                    break;
                }
            }
        }
        (result_a, job_b.into_result())
    })
}

/// `a` panicked: `b` may be running elsewhere and borrowing our frame, so wait for
/// it (running it ourselves if it is still on our deque), then re-throw.
#[cold]
fn join_recover_from_panic(
    worker_thread: &WorkerThread,
    job_b_latch: &SpinLatch<'_>,
    payload: Box<dyn Any + Send>,
) -> ! {
    worker_thread.wait_until(job_b_latch);
    unwind::resume_unwinding(payload)
}

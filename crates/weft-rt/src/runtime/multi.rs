//! The multi-thread flavour: tasks as jobs of a weft-pool thread pool (module docs of
//! `runtime`).

use super::driver::ReactorDriver;
use super::{Handle, Kind, Owned, Runtime, Shared};
use crate::blocking::BlockingPool;
use crate::task::{self, JoinHandle, Runnable, Schedule, ScheduleHint, TaskMeta};
use std::future::Future;
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use weft_pool::raw::{Hint, JobRef, PoolHandle};

/// The scheduler every task of a multi-thread runtime carries.
pub(crate) struct MultiScheduler(Arc<Shared>);

impl Schedule for MultiScheduler {
    #[inline]
    fn schedule(&self, task: Runnable, hint: ScheduleHint) {
        schedule_on(&self.0, task, hint);
    }
}

/// Queues `task` on `shared`'s pool (or, after shutdown, in its graveyard).
#[inline]
fn schedule_on(shared: &Shared, task: Runnable, hint: ScheduleHint) {
    let Kind::MultiThread(pool) = &shared.kind else {
        unreachable!("a multi-thread task on another flavour");
    };
    if shared.shutdown.load(Ordering::Relaxed) {
        // The runtime has stopped. Not cancelled here: that would drop the future
        // inside whatever `wake` called us, perhaps under a lock its destructor
        // takes. The runtime's shutdown, and later spawns, cancel the graveyard.
        shared.graveyard.lock().push(task);
        return;
    }
    let hint = match hint {
        ScheduleHint::Spawned => Hint::Fifo,
        ScheduleHint::Woken => Hint::Lifo,
        ScheduleHint::Yielded => Hint::Yield,
    };
    pool.schedule(into_job(task), hint);
}

/// A Runnable as a pool job.
#[inline]
fn into_job(task: Runnable) -> JobRef {
    /// Runs the task once. It does not unwind: `Runnable::run` catches the poll's
    /// panic (it becomes the task's `JoinError`).
    unsafe fn run(data: *const ()) {
        // SAFETY: `data` is the pointer `into_raw` gave below, turned back once (a
        // pool job runs once).
        let task = unsafe { Runnable::from_raw(NonNull::new_unchecked(data.cast_mut())) };
        // For the blocking monitor's report, should this poll hold the worker.
        weft_pool::raw::annotate(task.location());
        // Each poll gets a fresh budget (`weft_sync::coop`).
        weft_sync::coop::with_budget(weft_sync::coop::DEFAULT_BUDGET, || task.run());
    }
    let data = task.into_raw().as_ptr().cast_const();
    // SAFETY: the Runnable's reference keeps the task alive until `run` takes it back;
    // a task is `Send` (local tasks never use this scheduler), so any worker may run
    // it; `run` does not unwind.
    unsafe { JobRef::from_raw_parts(data, run) }
}

pub(super) fn spawn<F>(shared: &Arc<Shared>, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let scheduler = MultiScheduler(Arc::clone(shared));
    let (runnable, handle) = task::spawn(future, scheduler, meta);
    if shared.shutdown.load(Ordering::Relaxed) {
        // Not inside a waker: cancelling here is safe.
        runnable.shutdown();
        shared.bury_the_dead();
    } else {
        // No second clone of the shared `Arc` (a contended count on every spawn).
        schedule_on(shared, runnable, ScheduleHint::Spawned);
    }
    handle
}

fn shared_for(pool: &PoolHandle, blocking: BlockingPool) -> Arc<Shared> {
    let shared = Arc::new(Shared {
        id: super::next_runtime_id(),
        kind: Kind::MultiThread(pool.clone()),
        blocking,
        shutdown: AtomicBool::new(false),
        graveyard: weft_sync::Mutex::new(Vec::new()),
    });
    let weak: Weak<Shared> = Arc::downgrade(&shared);
    // A new pool has no runtime data yet (`build`); the global pool gets it once.
    let _ = pool.set_runtime_data(Arc::new(weak));
    shared
}

/// The monitor's settings: threshold and report hook.
pub(super) type Monitor = (std::time::Duration, Arc<super::BlockedHook>);

fn pool_hook(hook: Arc<super::BlockedHook>) -> impl Fn(&weft_pool::BlockedWorker) + Send + Sync {
    move |report: &weft_pool::BlockedWorker| {
        hook(&super::BlockedTask {
            worker: report.index,
            blocked_for: report.blocked_for,
            location: report.location,
        });
    }
}

pub(super) fn build(
    threads: usize,
    thread_name: Arc<super::ThreadNameFn>,
    blocking: BlockingPool,
    monitor: Option<Monitor>,
) -> io::Result<Runtime> {
    let mut builder = weft_pool::ThreadPoolBuilder::new();
    if let Some((threshold, hook)) = monitor {
        builder = builder
            .blocking_threshold(threshold)
            .blocked_handler(pool_hook(hook));
    }
    let pool = builder
        .num_threads(threads)
        .thread_name(move |index| thread_name(index))
        .driver(Arc::new(ReactorDriver::new()))
        .panic_handler(|payload| {
            // Tasks catch their own panics; this is only reached by a bug.
            eprintln!(
                "weft-rt: a worker job panicked outside any task: {}",
                payload
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("(non-string payload)")
            );
        })
        .build()
        .map_err(|error| {
            io::Error::other(format!(
                "weft-rt: could not start the worker threads: {error}"
            ))
        })?;
    let shared = shared_for(&pool.raw_handle(), blocking);
    Ok(Runtime {
        handle: Handle { shared },
        owned: Owned::Pool(pool),
    })
}

/// The global runtime, on weft-pool's global pool.
pub(super) fn attach_global(blocking: BlockingPool, (threshold, hook): Monitor) -> Handle {
    let pool = weft_pool::raw::global_handle();
    pool.start_blocking_monitor(threshold, Some(Box::new(pool_hook(hook))));
    // Another user of the raw door may have attached a driver first; then it drives.
    let _ = pool.set_driver(Arc::new(ReactorDriver::new()));
    let shared = shared_for(&pool, blocking);
    // The global runtime lives for the whole process: keep it (the pool's runtime
    // data holds only a weak reference).
    std::mem::forget(Arc::clone(&shared));
    Handle { shared }
}

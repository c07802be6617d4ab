//! `spawn` and `spawn_fifo`: fire-and-forget `'static` jobs.
//!
//! A spawned job is a [`HeapJob`] that holds its pool alive (one count of the
//! registry's terminate counter, so a dropped pool's workers wait for it). Spawned from
//! a worker of the pool, it goes on that worker's deque (`spawn`) or behind its FIFO
//! (`spawn_fifo`); from anywhere else, on the pool's injector.
//!
//! # Panics
//!
//! Nobody waits for a spawned job, so its panic goes to the pool's `panic_handler`
//! ([`ThreadPoolBuilder::panic_handler`](crate::ThreadPoolBuilder::panic_handler)).
//! Without one, the payload's message is printed to stderr. Either way the worker
//! keeps running: a panicking spawn never takes down the pool or the process.

use crate::job::HeapJob;
use crate::registry::Registry;
use std::sync::Arc;

/// Runs `func` on the current pool (the global one outside any pool), asynchronously.
///
/// # Examples
///
/// ```
/// let (sender, receiver) = std::sync::mpsc::channel();
/// weft_pool::spawn(move || sender.send(6 * 7).unwrap());
/// assert_eq!(receiver.recv().unwrap(), 42);
/// ```
pub fn spawn<F>(func: F)
where
    F: FnOnce() + Send + 'static,
{
    spawn_in(func, &Registry::current());
}

/// Like [`spawn`], but jobs spawned from one worker run oldest first.
///
/// # Examples
///
/// ```
/// let (sender, receiver) = std::sync::mpsc::channel();
/// weft_pool::spawn_fifo(move || sender.send("done").unwrap());
/// assert_eq!(receiver.recv().unwrap(), "done");
/// ```
pub fn spawn_fifo<F>(func: F)
where
    F: FnOnce() + Send + 'static,
{
    spawn_fifo_in(func, &Registry::current());
}

pub(crate) fn spawn_in<F>(func: F, registry: &Arc<Registry>)
where
    F: FnOnce() + Send + 'static,
{
    let job = static_job(func, registry);
    registry.inject_or_push(job);
}

pub(crate) fn spawn_fifo_in<F>(func: F, registry: &Arc<Registry>)
where
    F: FnOnce() + Send + 'static,
{
    let job = static_job(func, registry);
    registry.inject_or_push_fifo(job);
}

fn static_job<F>(func: F, registry: &Arc<Registry>) -> crate::job::JobRef
where
    F: FnOnce() + Send + 'static,
{
    // The job's count keeps the workers alive until it ran (module docs).
    registry.increment_terminate_count();
    let registry = Arc::clone(registry);
    let job = HeapJob::new(move || {
        registry.catch_unwind(func);
        registry.terminate();
    });
    // SAFETY: `'static` body; it catches its own panic.
    unsafe { job.into_job_ref() }
}

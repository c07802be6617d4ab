//! `spawn_blocking`: an elastic pool of OS threads for calls that block (file I/O,
//! DNS, a C library), kept off the async workers. Like Python's `asyncio.to_thread`
//! and tokio's blocking pool: it grows a thread when a job arrives and no idle thread
//! is waiting (up to `max_threads`; beyond that, jobs queue), and an idle thread exits
//! after `keep_alive` without work.
//!
//! Each job is a task of the task core whose future calls the closure once, scheduled
//! onto this pool's queue: the caller gets the same [`JoinHandle`]/[`JoinError`] as for
//! async tasks, a panic in the closure becomes `JoinError::Panic`, and `abort` of a job
//! that has not started cancels it.
//!
//! # Hand-off protocol
//!
//! All state is under one mutex. `idle` counts threads waiting on `work` that nobody
//! has claimed; a submitter that finds `idle > 0` claims one (`idle -= 1`,
//! `notified += 1`) and signals. A waking thread that finds `notified > 0` takes the
//! token (it was claimed); otherwise (timeout, spurious wake-up) it un-counts itself.
//! So a job never waits for a thread that has already decided to leave, and a burst of
//! submissions grows the pool instead of piling onto one waking thread.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use weft_sync::{Condvar, Mutex};

use crate::task::{self, JoinHandle, Runnable, Schedule, ScheduleHint, TaskMeta};

/// Names a new blocking thread.
pub(crate) type ThreadNameFn = Arc<dyn Fn() -> String + Send + Sync + 'static>;

/// The elastic blocking pool. Dropping it shuts it down without waiting (queued jobs
/// are cancelled, running ones finish on their threads, which then exit).
pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Mutex<Shared>,
    /// Idle threads wait here for a job.
    work: Condvar,
    /// `shutdown` waits here for the last thread to leave.
    exited: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    thread_name: ThreadNameFn,
}

#[derive(Default)]
struct Shared {
    queue: VecDeque<Runnable>,
    /// Threads alive (running a job, or idle).
    threads: usize,
    /// Threads waiting for work and not yet claimed by a submitter.
    idle: usize,
    /// Claims not yet taken by a woken thread.
    notified: usize,
    shutdown: bool,
}

/// The task core's scheduler for blocking jobs: a job is scheduled once (at spawn, or
/// by `abort`, which the runner turns into a cancellation).
struct BlockingSchedule(Arc<Inner>);

impl Schedule for BlockingSchedule {
    fn schedule(&self, task: Runnable, _hint: ScheduleHint) {
        self.0.submit(task);
    }
}

/// A future that runs a closure once, on the thread that polls it.
struct BlockingJob<F>(Option<F>);

// The closure is never pinned: it is moved out before it is called.
impl<F> Unpin for BlockingJob<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingJob<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        // The task core polls a future again only after `Pending`; this one is always
        // `Ready` at its first poll.
        let f = self.0.take().expect("a blocking job polled after it ran");
        Poll::Ready(f())
    }
}

impl BlockingPool {
    /// A pool of at most `max_threads` threads (a `0` is taken as `1`); idle threads
    /// exit after `keep_alive`; each new thread is named by `thread_name`.
    pub(crate) fn new(max_threads: usize, keep_alive: Duration, thread_name: ThreadNameFn) -> Self {
        BlockingPool {
            inner: Arc::new(Inner {
                shared: Mutex::new(Shared::default()),
                work: Condvar::new(),
                exited: Condvar::new(),
                max_threads: max_threads.max(1),
                keep_alive,
                thread_name,
            }),
        }
    }

    /// Runs `f` on a pool thread. The handle resolves to `f`'s value, to a panic
    /// [`JoinError`](crate::task::JoinError) if `f` panicked, or to a cancelled one if
    /// the pool was shut down (or the job aborted) before `f` started.
    #[track_caller]
    pub(crate) fn spawn<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.spawn_with_meta(f, TaskMeta::here())
    }

    /// [`spawn`](Self::spawn) with the caller's metadata (name, user's location).
    pub(crate) fn spawn_with_meta<F, R>(&self, f: F, meta: TaskMeta) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (runnable, handle) = task::spawn(
            BlockingJob(Some(f)),
            BlockingSchedule(self.inner.clone()),
            meta,
        );
        self.inner.submit(runnable);
        handle
    }

    /// Stops accepting jobs (later ones resolve to cancelled), cancels the queued ones,
    /// and waits up to `timeout` for the threads to finish their current job and exit.
    /// Returns whether they all did. Called from a blocking job, it cannot wait for its
    /// own thread, and returns `false` at the timeout.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        self.inner.begin_shutdown();
        let deadline = Instant::now().checked_add(timeout);
        let mut shared = self.inner.shared.lock();
        while shared.threads > 0 {
            match deadline {
                Some(deadline) => {
                    if self
                        .inner
                        .exited
                        .wait_until(&mut shared, deadline)
                        .timed_out()
                    {
                        return shared.threads == 0;
                    }
                }
                None => self.inner.exited.wait(&mut shared),
            }
        }
        true
    }

    /// Threads alive now (busy or idle).
    pub(crate) fn thread_count(&self) -> usize {
        self.inner.shared.lock().threads
    }

    /// Jobs waiting for a thread.
    pub(crate) fn queued(&self) -> usize {
        self.inner.shared.lock().queue.len()
    }
}

impl Drop for BlockingPool {
    fn drop(&mut self) {
        // Breaks the queue -> task -> scheduler -> pool cycle, and lets threads leave.
        self.inner.begin_shutdown();
    }
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = self.inner.shared.lock();
        f.debug_struct("BlockingPool")
            .field("max_threads", &self.inner.max_threads)
            .field("keep_alive", &self.inner.keep_alive)
            .field("threads", &shared.threads)
            .field("idle", &shared.idle)
            .field("queued", &shared.queue.len())
            .field("shutdown", &shared.shutdown)
            .finish()
    }
}

impl Inner {
    fn submit(self: &Arc<Self>, task: Runnable) {
        let mut shared = self.shared.lock();
        if shared.shutdown {
            drop(shared);
            // Cancels: the handle resolves to cancelled; the closure is dropped here.
            // (Safe to do inline: this is reached from `spawn`, never from inside a
            // `wake()`, since a job is never idle and so never woken.)
            task.shutdown();
            return;
        }
        shared.queue.push_back(task);
        if shared.idle > 0 {
            shared.idle -= 1;
            shared.notified += 1;
            drop(shared);
            self.work.notify_one();
        } else if shared.threads < self.max_threads {
            shared.threads += 1;
            drop(shared);
            self.grow();
        }
        // Else every thread is busy and the pool is full: the job waits in the queue
        // for the first thread to finish.
    }

    #[cold]
    fn grow(self: &Arc<Self>) {
        let inner = self.clone();
        let spawned = thread::Builder::new()
            .name((self.thread_name)())
            .spawn(move || inner.work_loop());
        if spawned.is_err() {
            // The OS refused a thread (the count was taken for it). Busy threads will
            // get to the queue; with none left, nobody would, so cancel rather than
            // let the handles wait for ever.
            let mut shared = self.shared.lock();
            shared.threads -= 1;
            let stranded = if shared.threads == 0 {
                mem::take(&mut shared.queue)
            } else {
                VecDeque::new()
            };
            drop(shared);
            stranded.into_iter().for_each(Runnable::shutdown);
        }
    }

    fn begin_shutdown(&self) {
        let queued = {
            let mut shared = self.shared.lock();
            shared.shutdown = true;
            mem::take(&mut shared.queue)
        };
        self.work.notify_all();
        // Outside the lock: dropping a job runs the closure's destructor.
        queued.into_iter().for_each(Runnable::shutdown);
    }

    fn work_loop(self: Arc<Self>) {
        /// Un-counts the thread however it leaves.
        struct Exit<'a>(&'a Inner);
        impl Drop for Exit<'_> {
            fn drop(&mut self) {
                let mut shared = self.0.shared.lock();
                shared.threads -= 1;
                if shared.threads == 0 {
                    self.0.exited.notify_all();
                }
            }
        }
        let _exit = Exit(&self);

        let mut shared = self.shared.lock();
        loop {
            if let Some(task) = shared.queue.pop_front() {
                drop(shared);
                // Panics are caught inside `run` and become the job's JoinError.
                task.run();
                shared = self.shared.lock();
                continue;
            }
            if shared.shutdown {
                return;
            }
            shared.idle += 1;
            let timed_out = self.work.wait_for(&mut shared, self.keep_alive).timed_out();
            if shared.notified > 0 {
                // Claimed by a submitter (which already un-counted us from `idle`).
                shared.notified -= 1;
                continue;
            }
            shared.idle -= 1;
            if timed_out && shared.queue.is_empty() {
                return;
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::pin::pin;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    use super::*;

    fn block_on<F: Future>(future: F) -> F::Output {
        struct Unpark(thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        for _ in 0..100_000 {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            thread::park_timeout(Duration::from_millis(10));
        }
        panic!("block_on: the job never completed");
    }

    /// Waits (bounded, generous) until `condition` holds; `false` if it never did.
    fn eventually(mut condition: impl FnMut() -> bool) -> bool {
        for _ in 0..2_000 {
            if condition() {
                return true;
            }
            thread::sleep(Duration::from_millis(5));
        }
        condition()
    }

    fn pool(max_threads: usize, keep_alive: Duration) -> BlockingPool {
        let next = Arc::new(AtomicUsize::new(0));
        BlockingPool::new(
            max_threads,
            keep_alive,
            Arc::new(move || format!("weft-blocking-{}", next.fetch_add(1, Ordering::Relaxed))),
        )
    }

    #[test]
    fn many_jobs_beyond_max_all_complete_within_the_thread_limit() {
        const MAX: usize = 4;
        const JOBS: usize = 200;
        let pool = pool(MAX, Duration::from_secs(5));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..JOBS)
            .map(|i| {
                let (running, most) = (running.clone(), most.clone());
                pool.spawn(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    thread::sleep(Duration::from_micros(200));
                    running.fetch_sub(1, Ordering::SeqCst);
                    assert!(
                        thread::current()
                            .name()
                            .unwrap()
                            .starts_with("weft-blocking-")
                    );
                    i * 2
                })
            })
            .collect();
        assert!(pool.thread_count() <= MAX);
        for (i, handle) in handles.into_iter().enumerate() {
            assert_eq!(block_on(handle).unwrap(), i * 2);
        }
        let most = most.load(Ordering::SeqCst);
        assert!(most <= MAX, "{most} jobs ran at once with a limit of {MAX}");
        assert!(pool.thread_count() <= MAX);
        assert_eq!(pool.queued(), 0);
        assert!(pool.shutdown(Duration::from_secs(10)));
        assert_eq!(pool.thread_count(), 0);
    }

    #[test]
    fn grows_to_max_when_every_thread_is_blocked() {
        const MAX: usize = 3;
        let pool = pool(MAX, Duration::from_secs(5));
        let arrived = Arc::new(AtomicUsize::new(0));
        // Each job waits for all the others: only a pool that grew to MAX finishes.
        let handles: Vec<_> = (0..MAX)
            .map(|_| {
                let arrived = arrived.clone();
                pool.spawn(move || {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    eventually(|| arrived.load(Ordering::SeqCst) == MAX)
                })
            })
            .collect();
        for handle in handles {
            assert!(
                block_on(handle).unwrap(),
                "the pool did not grow to {MAX} threads"
            );
        }
        assert_eq!(pool.thread_count(), MAX);
    }

    #[test]
    fn idle_threads_exit_after_keep_alive_and_the_pool_regrows() {
        let pool = pool(4, Duration::from_millis(10));
        let arrived = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let arrived = arrived.clone();
                pool.spawn(move || {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    eventually(|| arrived.load(Ordering::SeqCst) == 2)
                })
            })
            .collect();
        for handle in handles {
            assert!(block_on(handle).unwrap());
        }
        assert!(
            eventually(|| pool.thread_count() == 0),
            "idle threads never exited: {pool:?}"
        );
        assert_eq!(block_on(pool.spawn(|| "again")).unwrap(), "again");
    }

    #[test]
    fn a_panicking_job_is_contained() {
        let pool = pool(1, Duration::from_secs(5));
        let failed = pool.spawn(|| -> u8 { std::panic::panic_any("blocking boom") });
        let fine = pool.spawn(|| 3_u8);
        let error = block_on(failed).unwrap_err();
        assert!(error.is_panic());
        assert_eq!(
            error.into_panic().downcast_ref::<&str>(),
            Some(&"blocking boom")
        );
        assert_eq!(block_on(fine).unwrap(), 3);
        assert_eq!(pool.thread_count(), 1, "the thread survived the panic");
    }

    #[test]
    fn abort_of_a_queued_job_cancels_it() {
        let pool = pool(1, Duration::from_secs(5));
        let release = Arc::new(AtomicBool::new(false));
        let first = {
            let release = release.clone();
            pool.spawn(move || eventually(|| release.load(Ordering::SeqCst)))
        };
        let ran = Arc::new(AtomicBool::new(false));
        let second = {
            let ran = ran.clone();
            pool.spawn(move || ran.store(true, Ordering::SeqCst))
        };
        second.abort();
        release.store(true, Ordering::SeqCst);
        assert!(block_on(first).unwrap());
        assert!(block_on(second).unwrap_err().is_cancelled());
        assert!(!ran.load(Ordering::SeqCst));
    }

    #[test]
    fn shutdown_cancels_queued_and_later_jobs_and_waits_for_running_ones() {
        let pool = pool(1, Duration::from_secs(5));
        let started = Arc::new(AtomicBool::new(false));
        let release = Arc::new(AtomicBool::new(false));
        let running = {
            let (started, release) = (started.clone(), release.clone());
            pool.spawn(move || {
                started.store(true, Ordering::SeqCst);
                eventually(|| release.load(Ordering::SeqCst))
            })
        };
        assert!(eventually(|| started.load(Ordering::SeqCst)));
        let queued = pool.spawn(|| 1);
        let releaser = {
            let release = release.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                release.store(true, Ordering::SeqCst);
            })
        };
        assert!(
            pool.shutdown(Duration::from_secs(30)),
            "threads did not exit"
        );
        releaser.join().unwrap();
        assert!(block_on(running).unwrap(), "a running job finishes");
        assert!(block_on(queued).unwrap_err().is_cancelled());
        assert!(block_on(pool.spawn(|| 2)).unwrap_err().is_cancelled());
        assert_eq!(pool.thread_count(), 0);
    }

    #[test]
    fn dropping_the_pool_lets_its_threads_exit() {
        let pool = pool(2, Duration::from_secs(60));
        let handle = pool.spawn(|| 5);
        assert_eq!(block_on(handle).unwrap(), 5);
        let inner = Arc::downgrade(&pool.inner);
        drop(pool);
        assert!(
            eventually(|| inner.strong_count() == 0),
            "the pool's threads kept it alive"
        );
    }
}

//! [`ThreadPool`]: a handle to a pool built by [`ThreadPoolBuilder`](crate::ThreadPoolBuilder).

use crate::registry::{Registry, WorkerThread};
use crate::scope::{Scope, ScopeFifo};
use crate::spawn;
use std::fmt;
use std::sync::Arc;

/// A pool of worker threads. Dropping it lets the workers exit once the jobs
/// `spawn`ed into it have run (it does not wait for them to exit).
///
/// # Examples
///
/// ```
/// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
/// let (a, b) = pool.join(|| 1, || 2);
/// assert_eq!(a + b, 3);
/// assert_eq!(pool.install(weft_pool::current_num_threads), 2);
/// ```
pub struct ThreadPool {
    registry: Arc<Registry>,
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("num_threads", &self.registry.num_threads())
            .finish_non_exhaustive()
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.registry.terminate();
    }
}

impl ThreadPool {
    pub(crate) fn from_registry(registry: Arc<Registry>) -> Self {
        ThreadPool { registry }
    }

    /// A handle for scheduling raw jobs (async runtimes; see [`raw`](crate::raw)).
    pub fn raw_handle(&self) -> crate::raw::PoolHandle {
        crate::raw::PoolHandle {
            registry: Arc::clone(&self.registry),
        }
    }

    /// Runs `op` on a worker of this pool and returns its result; `join`, `scope` and
    /// `spawn` inside `op` use this pool. From a worker of another pool, that worker
    /// keeps running its own pool's jobs while it waits; from outside, the caller
    /// blocks.
    ///
    /// # Panics
    ///
    /// Re-throws a panic of `op`. Panics if the pool was inherited across `fork()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    /// assert_eq!(pool.install(|| weft_pool::current_thread_index().is_some()), true);
    /// ```
    pub fn install<OP, R>(&self, op: OP) -> R
    where
        OP: FnOnce() -> R + Send,
        R: Send,
    {
        self.registry.in_worker(|_, _| op())
    }

    /// [`join`](crate::join) on this pool.
    ///
    /// # Panics
    ///
    /// As [`join`](crate::join).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    /// assert_eq!(pool.join(|| "a", || "b"), ("a", "b"));
    /// ```
    pub fn join<A, B, RA, RB>(&self, oper_a: A, oper_b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        self.install(|| crate::join(oper_a, oper_b))
    }

    /// [`scope`](crate::scope) on this pool.
    ///
    /// # Panics
    ///
    /// As [`scope`](crate::scope).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    /// let mut v = [0; 2];
    /// let (x, y) = v.split_at_mut(1);
    /// pool.scope(|s| {
    ///     s.spawn(|_| x[0] = 1);
    ///     s.spawn(|_| y[0] = 2);
    /// });
    /// assert_eq!(v, [1, 2]);
    /// ```
    pub fn scope<'scope, OP, R>(&self, op: OP) -> R
    where
        OP: FnOnce(&Scope<'scope>) -> R + Send,
        R: Send,
    {
        self.install(|| crate::scope(op))
    }

    /// [`scope_fifo`](crate::scope_fifo) on this pool.
    ///
    /// # Panics
    ///
    /// As [`scope`](crate::scope).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    /// let total = std::sync::atomic::AtomicU32::new(0);
    /// pool.scope_fifo(|s| {
    ///     s.spawn_fifo(|_| { total.fetch_add(1, std::sync::atomic::Ordering::Relaxed); });
    /// });
    /// assert_eq!(total.into_inner(), 1);
    /// ```
    pub fn scope_fifo<'scope, OP, R>(&self, op: OP) -> R
    where
        OP: FnOnce(&ScopeFifo<'scope>) -> R + Send,
        R: Send,
    {
        self.install(|| crate::scope_fifo(op))
    }

    /// [`spawn`](crate::spawn) into this pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    /// let (sender, receiver) = std::sync::mpsc::channel();
    /// pool.spawn(move || sender.send(weft_pool::current_thread_index()).unwrap());
    /// assert_eq!(receiver.recv().unwrap(), Some(0));
    /// ```
    pub fn spawn<F>(&self, func: F)
    where
        F: FnOnce() + Send + 'static,
    {
        spawn::spawn_in(func, &self.registry);
    }

    /// [`spawn_fifo`](crate::spawn_fifo) into this pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    /// let (sender, receiver) = std::sync::mpsc::channel();
    /// pool.spawn_fifo(move || sender.send(1).unwrap());
    /// assert_eq!(receiver.recv().unwrap(), 1);
    /// ```
    pub fn spawn_fifo<F>(&self, func: F)
    where
        F: FnOnce() + Send + 'static,
    {
        spawn::spawn_fifo_in(func, &self.registry);
    }

    /// The number of worker threads of this pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    /// assert_eq!(pool.current_num_threads(), 3);
    /// ```
    pub fn current_num_threads(&self) -> usize {
        self.registry.num_threads()
    }

    /// The index of the current thread in this pool, if it is one of its workers.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    /// assert_eq!(pool.current_thread_index(), None);
    /// let index = pool.install(|| pool.current_thread_index());
    /// assert!(index.unwrap() < 2);
    /// ```
    pub fn current_thread_index(&self) -> Option<usize> {
        let thread = WorkerThread::current()?;
        Arc::ptr_eq(thread.registry(), &self.registry).then(|| thread.index())
    }

    /// How many times a sleeping worker of this pool was woken (for tests of the
    /// sleep protocol; not a stable API).
    #[doc(hidden)]
    pub fn wakeup_count(&self) -> usize {
        self.registry.wakeups()
    }
}

//! [`ThreadPoolBuilder`]: a pool's size, thread names, stack size and handlers; and
//! the typed errors of building one.

use crate::raw::Driver;
use crate::registry::{self, ExitHandler, PanicHandler, Registry, StartHandler};
use crate::sleep::MAX_THREADS;
use crate::thread_pool::ThreadPool;
use std::any::Any;
use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;

type ThreadNameFn = dyn FnMut(usize) -> String;

/// Configures and builds a [`ThreadPool`] (or the global pool).
///
/// # Examples
///
/// ```
/// let pool = weft_pool::ThreadPoolBuilder::new()
///     .num_threads(2)
///     .thread_name(|index| format!("my-worker-{index}"))
///     .build()
///     .unwrap();
/// assert_eq!(pool.current_num_threads(), 2);
/// let name = pool.install(|| std::thread::current().name().map(str::to_owned));
/// assert!(name.unwrap().starts_with("my-worker-"));
/// ```
#[derive(Default)]
pub struct ThreadPoolBuilder {
    num_threads: usize,
    thread_name: Option<Box<ThreadNameFn>>,
    stack_size: Option<usize>,
    start_handler: Option<Box<StartHandler>>,
    exit_handler: Option<Box<ExitHandler>>,
    panic_handler: Option<Box<PanicHandler>>,
    driver: Option<Arc<dyn Driver>>,
    blocking_threshold: Option<std::time::Duration>,
    blocked_handler: Option<Box<crate::registry::BlockedHandler>>,
    max_spare_threads: Option<usize>,
}

impl fmt::Debug for ThreadPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolBuilder")
            .field("num_threads", &self.num_threads)
            .field("thread_name", &self.thread_name.is_some())
            .field("stack_size", &self.stack_size)
            .field("start_handler", &self.start_handler.is_some())
            .field("exit_handler", &self.exit_handler.is_some())
            .field("panic_handler", &self.panic_handler.is_some())
            .field("driver", &self.driver.is_some())
            .field("blocking_threshold", &self.blocking_threshold)
            .field("blocked_handler", &self.blocked_handler.is_some())
            .field("max_spare_threads", &self.max_spare_threads)
            .finish()
    }
}

impl ThreadPoolBuilder {
    /// A builder with the defaults: one thread per core, unnamed threads, the
    /// platform's stack size, no handlers.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_pool::ThreadPoolBuilder::new().build().unwrap();
    /// assert!(pool.current_num_threads() >= 1);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of worker threads; `0` (the default) means the `WEFT_NUM_THREADS`
    /// environment variable if it holds a positive number, else
    /// [`std::thread::available_parallelism`]. More than 65,535 is capped.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    /// assert_eq!(pool.current_num_threads(), 3);
    /// ```
    pub fn num_threads(mut self, num_threads: usize) -> Self {
        self.num_threads = num_threads;
        self
    }

    /// Names each worker thread `name(index)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_pool::ThreadPoolBuilder::new()
    ///     .num_threads(1)
    ///     .thread_name(|i| format!("w{i}"))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.install(|| std::thread::current().name().map(String::from)), Some("w0".into()));
    /// ```
    pub fn thread_name<F>(mut self, name: F) -> Self
    where
        F: FnMut(usize) -> String + 'static,
    {
        self.thread_name = Some(Box::new(name));
        self
    }

    /// The stack size of each worker thread, in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_pool::ThreadPoolBuilder::new().stack_size(8 << 20).build().unwrap();
    /// assert_eq!(pool.install(|| 1 + 1), 2);
    /// ```
    pub fn stack_size(mut self, stack_size: usize) -> Self {
        self.stack_size = Some(stack_size);
        self
    }

    /// Called on each worker thread, with its index, when it starts (before it runs
    /// any job). [`build`](Self::build) returns after every worker ran it. A panic in
    /// it goes to the panic handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&started);
    /// let pool = weft_pool::ThreadPoolBuilder::new()
    ///     .num_threads(2)
    ///     .start_handler(move |_| { counter.fetch_add(1, Ordering::SeqCst); })
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(started.load(Ordering::SeqCst), 2);
    /// ```
    pub fn start_handler<H>(mut self, handler: H) -> Self
    where
        H: Fn(usize) + Send + Sync + 'static,
    {
        self.start_handler = Some(Box::new(handler));
        self
    }

    /// Called on each worker thread, with its index, when it exits (after the pool
    /// was dropped and its spawned jobs finished). A panic in it goes to the panic
    /// handler.
    ///
    /// # Examples
    ///
    /// ```
    /// let (sender, receiver) = std::sync::mpsc::channel();
    /// let sender = std::sync::Mutex::new(sender);
    /// let pool = weft_pool::ThreadPoolBuilder::new()
    ///     .num_threads(1)
    ///     .exit_handler(move |index| sender.lock().unwrap().send(index).unwrap())
    ///     .build()
    ///     .unwrap();
    /// drop(pool);
    /// assert_eq!(receiver.recv().unwrap(), 0);
    /// ```
    pub fn exit_handler<H>(mut self, handler: H) -> Self
    where
        H: Fn(usize) + Send + Sync + 'static,
    {
        self.exit_handler = Some(Box::new(handler));
        self
    }

    /// Receives the payload of every panic nobody waits for: in a `spawn`ed job, in a
    /// start or exit handler. Without one, the payload's message is printed to stderr.
    /// The worker keeps running either way; a panic in the handler itself is printed
    /// and dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (sender, receiver) = std::sync::mpsc::channel();
    /// let sender = std::sync::Mutex::new(sender);
    /// let pool = weft_pool::ThreadPoolBuilder::new()
    ///     .num_threads(1)
    ///     .panic_handler(move |payload| {
    ///         let message = payload.downcast_ref::<&str>().copied().unwrap_or("?");
    ///         sender.lock().unwrap().send(message.to_owned()).unwrap();
    ///     })
    ///     .build()
    ///     .unwrap();
    /// pool.spawn(|| panic!("boom"));
    /// assert_eq!(receiver.recv().unwrap(), "boom");
    /// ```
    pub fn panic_handler<H>(mut self, handler: H) -> Self
    where
        H: Fn(Box<dyn Any + Send>) + Send + Sync + 'static,
    {
        self.panic_handler = Some(Box::new(handler));
        self
    }

    /// Builds the pool and starts its threads; returns once every thread started (and
    /// ran the start handler).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::IOError`] if a thread could not be started (the threads already
    /// started exit again).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = weft_pool::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    /// assert_eq!(pool.install(|| 40 + 2), 42);
    /// ```
    pub fn build(self) -> Result<ThreadPool, ThreadPoolBuildError> {
        Registry::new(self).map(ThreadPool::from_registry)
    }

    /// Builds the global pool (the one used outside any pool) with this
    /// configuration. Must come before anything uses the global pool.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::GlobalPoolAlreadyInitialized`] if the global pool exists already;
    /// [`ErrorKind::IOError`] if a thread could not be started.
    ///
    /// # Examples
    ///
    /// ```
    /// // The first call may succeed; any later one fails with a typed error.
    /// let _ = weft_pool::ThreadPoolBuilder::new().build_global();
    /// let error = weft_pool::ThreadPoolBuilder::new().build_global().unwrap_err();
    /// assert!(matches!(error.kind(), weft_pool::ErrorKind::GlobalPoolAlreadyInitialized));
    /// ```
    pub fn build_global(self) -> Result<(), ThreadPoolBuildError> {
        registry::init_global_registry(self, true).map(|_| ())
    }

    pub(crate) fn resolved_num_threads(&self) -> usize {
        let threads = if self.num_threads > 0 {
            self.num_threads
        } else {
            default_num_threads()
        };
        threads.min(MAX_THREADS)
    }

    pub(crate) fn thread_name_for(&mut self, index: usize) -> Option<String> {
        self.thread_name.as_mut().map(|name| name(index))
    }

    pub(crate) fn get_stack_size(&self) -> Option<usize> {
        self.stack_size
    }

    /// The event source the pool's idle workers sleep in (see [`raw`](crate::raw);
    /// for async runtimes). Also attachable later with
    /// [`PoolHandle::set_driver`](crate::raw::PoolHandle::set_driver).
    pub fn driver(mut self, driver: Arc<dyn Driver>) -> Self {
        self.driver = Some(driver);
        self
    }

    /// Turns the blocking monitor on: a worker that has run one job for longer than
    /// `threshold` is reported and its queued jobs go to a spare worker (see the
    /// `monitor` notes in the crate docs). Off by default for plain pools; weft-rt's
    /// runtimes turn it on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let reports = Arc::new(AtomicUsize::new(0));
    /// let counted = Arc::clone(&reports);
    /// let pool = weft_pool::ThreadPoolBuilder::new()
    ///     .num_threads(1)
    ///     .blocking_threshold(Duration::from_millis(10))
    ///     .blocked_handler(move |_| { counted.fetch_add(1, Ordering::SeqCst); })
    ///     .build()
    ///     .unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// pool.spawn(|| std::thread::sleep(Duration::from_millis(200)));
    /// pool.spawn(move || tx.send("ran beside the sleeper").unwrap());
    /// // The second job runs on a spare worker while the first one sleeps.
    /// assert_eq!(rx.recv().unwrap(), "ran beside the sleeper");
    /// ```
    pub fn blocking_threshold(mut self, threshold: std::time::Duration) -> Self {
        self.blocking_threshold = Some(threshold);
        self
    }

    /// Called (on the monitor's thread) for each worker found stuck; default: a line
    /// on stderr.
    pub fn blocked_handler<H>(mut self, handler: H) -> Self
    where
        H: Fn(&crate::BlockedWorker) + Send + Sync + 'static,
    {
        self.blocked_handler = Some(Box::new(handler));
        self
    }

    /// The most spare workers the blocking monitor may run at once (default: as many
    /// as the pool has workers).
    pub fn max_spare_threads(mut self, count: usize) -> Self {
        self.max_spare_threads = Some(count);
        self
    }

    pub(crate) fn resolved_max_spares(&self, num_threads: usize) -> usize {
        self.max_spare_threads
            .unwrap_or(num_threads)
            .min(MAX_THREADS.saturating_sub(num_threads))
    }

    pub(crate) fn get_blocking_threshold(&self) -> Option<std::time::Duration> {
        self.blocking_threshold
    }

    pub(crate) fn take_blocked_handler(&mut self) -> Option<Box<crate::registry::BlockedHandler>> {
        self.blocked_handler.take()
    }

    pub(crate) fn take_driver(&mut self) -> Option<Arc<dyn Driver>> {
        self.driver.take()
    }

    pub(crate) fn take_panic_handler(&mut self) -> Option<Box<PanicHandler>> {
        self.panic_handler.take()
    }

    pub(crate) fn take_start_handler(&mut self) -> Option<Box<StartHandler>> {
        self.start_handler.take()
    }

    pub(crate) fn take_exit_handler(&mut self) -> Option<Box<ExitHandler>> {
        self.exit_handler.take()
    }
}

fn default_num_threads() -> usize {
    std::env::var("WEFT_NUM_THREADS")
        .ok()
        .and_then(|value| value.trim().parse::<usize>().ok())
        .filter(|&threads| threads > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

/// Why a pool could not be built.
///
/// # Examples
///
/// ```
/// let error = weft_pool::ThreadPoolBuilder::new()
///     .stack_size(usize::MAX / 2)
///     .build()
///     .unwrap_err();
/// assert!(matches!(error.kind(), weft_pool::ErrorKind::IOError(_)));
/// ```
#[derive(Debug)]
pub struct ThreadPoolBuildError {
    kind: ErrorKind,
}

/// The kinds of [`ThreadPoolBuildError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `build_global` was called after the global pool was built (explicitly, or
    /// lazily by its first use).
    GlobalPoolAlreadyInitialized,
    /// The operating system refused to start a worker thread.
    IOError(io::Error),
}

impl ThreadPoolBuildError {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        ThreadPoolBuildError { kind }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for ThreadPoolBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::GlobalPoolAlreadyInitialized => {
                f.write_str("the global thread pool has already been initialized")
            }
            ErrorKind::IOError(error) => write!(f, "could not start a worker thread: {error}"),
        }
    }
}

impl Error for ThreadPoolBuildError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.kind {
            ErrorKind::IOError(error) => Some(error),
            ErrorKind::GlobalPoolAlreadyInitialized => None,
        }
    }
}

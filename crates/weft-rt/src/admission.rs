//! Admission control: a [`Spawner`] that lets at most `n` of its tasks live at once,
//! and bounded concurrent maps over streams ([`MapConcurrentExt`]).
//!
//! Both turn a flood of work into backpressure instead of a flood of tasks: the
//! producer waits (or is told "full") while the limit is reached, so memory stays
//! bounded by `n` tasks, however fast work arrives.
//!
//! # How a slot is held
//!
//! A [`Spawner`] is an `Arc` of weft-sync's async [`Semaphore`] with `n` permits.
//! Spawning takes a permit first and moves it, owned, into the task's future; the
//! permit goes back when that future is dropped. The runtime drops a task's future
//! when the task completes, panics (during the unwind), or is aborted (when a worker
//! reaches the abort), so the slot frees in all three cases, and it is free before
//! the task's `JoinHandle` resolves (the future is dropped before the output is
//! published).
//!
//! # Concurrent maps
//!
//! [`map_concurrent(n, f)`](MapConcurrentExt::map_concurrent) and
//! [`map_concurrent_unordered`](MapConcurrentExt::map_concurrent_unordered) **spawn**
//! each `f(item)` as a task (on the runtime current when the stream is polled), so up
//! to `n` of them run in parallel on the workers, not only concurrently inside the
//! consumer's task. A result is `Err(JoinError)` if its task panicked. The input
//! stream is only polled while fewer than `n` items are in flight, so a slow consumer
//! or slow tasks hold the producer back. Dropping the map aborts the tasks in flight.
//!
//! # Examples
//!
//! ```
//! use std::pin::Pin;
//! use futures_core::Stream;
//! use weft_rt::{MapConcurrentExt, Spawner};
//!
//! /// A stream over a vector (any `futures_core::Stream` will do).
//! struct Items(std::vec::IntoIter<u64>);
//! impl Stream for Items {
//!     type Item = u64;
//!     fn poll_next(
//!         mut self: Pin<&mut Self>,
//!         _: &mut std::task::Context<'_>,
//!     ) -> std::task::Poll<Option<u64>> {
//!         std::task::Poll::Ready(self.0.next())
//!     }
//! }
//!
//! let rt = weft_rt::Runtime::new().unwrap();
//! rt.block_on(async {
//!     // At most 4 tasks of this spawner at once.
//!     let spawner = Spawner::with_limit(4);
//!     let mut handles = Vec::new();
//!     for i in 0..16u64 {
//!         handles.push(spawner.spawn(async move { i * 2 }).await);
//!     }
//!     for (i, handle) in handles.into_iter().enumerate() {
//!         assert_eq!(handle.await.unwrap(), i as u64 * 2);
//!     }
//!
//!     // At most 3 squarings in flight; results in input order.
//!     let mut squares = Items(vec![1, 2, 3, 4, 5].into_iter())
//!         .map_concurrent(3, |x| async move { x * x });
//!     let mut out = Vec::new();
//!     while let Some(square) = std::future::poll_fn(|cx| Pin::new(&mut squares).poll_next(cx)).await {
//!         out.push(square.unwrap());
//!     }
//!     assert_eq!(out, vec![1, 4, 9, 16, 25]);
//! });
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use crate::group::{Done, TaskSet};
use crate::runtime::Handle;
use crate::sync::Semaphore;
use crate::task::{JoinError, JoinHandle, TaskMeta};

/// Spawns tasks, at most `limit` of them alive at once: [`spawn`](Self::spawn) waits
/// for a free slot, [`try_spawn`](Self::try_spawn) gives the future back when there
/// is none. A slot is freed when its task completes, panics or is aborted (see the
/// [module docs](self)).
///
/// Clones share the limit. Tasks go to the runtime given to
/// [`with_limit_on`](Self::with_limit_on), or, for [`with_limit`](Self::with_limit),
/// to the runtime that is current when each task is spawned (as
/// [`spawn`](crate::spawn)).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let rt = weft_rt::Runtime::new().unwrap();
/// rt.block_on(async {
///     let spawner = weft_rt::Spawner::with_limit(2);
///     let done = Arc::new(AtomicUsize::new(0));
///     let mut handles = Vec::new();
///     for _ in 0..10 {
///         let done = Arc::clone(&done);
///         // Waits here while two tasks of `spawner` are running.
///         let handle = spawner
///             .spawn(async move { done.fetch_add(1, Ordering::Relaxed); })
///             .await;
///         assert!(spawner.live() <= 2);
///         handles.push(handle);
///     }
///     for handle in handles {
///         handle.await.unwrap();
///     }
///     assert_eq!(done.load(Ordering::Relaxed), 10);
/// });
/// ```
#[derive(Clone)]
pub struct Spawner {
    slots: Arc<Semaphore>,
    limit: usize,
    handle: Option<Handle>,
}

impl Spawner {
    /// A spawner for at most `limit` live tasks, on the runtime current at each spawn.
    ///
    /// # Panics
    ///
    /// If `limit` is 0 (nothing could ever be spawned) or above
    /// [`Semaphore::MAX_PERMITS`].
    ///
    /// # Examples
    ///
    /// ```
    /// let spawner = weft_rt::Spawner::with_limit(100);
    /// assert_eq!(spawner.limit(), 100);
    /// ```
    #[track_caller]
    pub fn with_limit(limit: usize) -> Spawner {
        Spawner::build(None, limit)
    }

    /// A spawner for at most `limit` live tasks on the runtime of `handle`.
    ///
    /// # Panics
    ///
    /// As [`with_limit`](Self::with_limit).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_rt::Runtime::new().unwrap();
    /// let spawner = weft_rt::Spawner::with_limit_on(rt.handle().clone(), 8);
    /// // `try_spawn` needs no async context.
    /// let handle = spawner.try_spawn(async { 5 }).ok().unwrap();
    /// assert_eq!(rt.block_on(handle).unwrap(), 5);
    /// ```
    #[track_caller]
    pub fn with_limit_on(handle: Handle, limit: usize) -> Spawner {
        Spawner::build(Some(handle), limit)
    }

    #[track_caller]
    fn build(handle: Option<Handle>, limit: usize) -> Spawner {
        assert!(limit > 0, "weft-rt: a Spawner's limit must be at least 1");
        assert!(
            limit <= Semaphore::MAX_PERMITS,
            "weft-rt: a Spawner's limit must be at most Semaphore::MAX_PERMITS"
        );
        Spawner {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
            handle,
        }
    }

    /// The most tasks this spawner lets live at once.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_rt::Spawner::with_limit(3).limit(), 3);
    /// ```
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// How many of this spawner's tasks are alive now (a snapshot; a slot being taken
    /// by a `spawn` that is about to return counts as alive).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_rt::Spawner::with_limit(3).live(), 0);
    /// ```
    pub fn live(&self) -> usize {
        self.limit.saturating_sub(self.slots.available_permits())
    }

    /// Waits until fewer than [`limit`](Self::limit) tasks of this spawner are alive,
    /// then spawns `future` and returns its handle.
    ///
    /// Cancel-safe: dropping the returned future before it completes spawns nothing
    /// (the `future` is dropped with it) and holds no slot. Waiters are not served in
    /// strict FIFO order (weft-sync's `Semaphore` lets arrivals barge, with a
    /// starvation guard).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_rt::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let spawner = weft_rt::Spawner::with_limit(1);
    ///     let first = spawner.spawn(async { 1 }).await;
    ///     // Waits for `first` to finish.
    ///     let second = spawner.spawn(async { 2 }).await;
    ///     assert_eq!(first.await.unwrap() + second.await.unwrap(), 3);
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future before it completes spawns nothing and holds
    /// no slot; the task's future is dropped.
    #[track_caller]
    #[allow(
        clippy::async_yields_async,
        reason = "the JoinHandle is the output: awaiting it is the caller's choice"
    )]
    pub fn spawn<F>(
        &self,
        future: F,
    ) -> impl Future<Output = JoinHandle<F::Output>> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = TaskMeta::here();
        let slots = Arc::clone(&self.slots);
        let handle = self.handle.clone();
        async move {
            let permit = match slots.acquire_owned_async().await {
                Ok(permit) => permit,
                // The semaphore is private to the spawners and never closed.
                Err(_) => unreachable!("a Spawner's semaphore is never closed"),
            };
            spawn_with(
                handle.as_ref(),
                async move {
                    let _slot = permit;
                    future.await
                },
                meta,
            )
        }
    }

    /// Spawns `future` if fewer than [`limit`](Self::limit) tasks of this spawner are
    /// alive.
    ///
    /// # Errors
    ///
    /// [`TrySpawnError`], holding `future`, when the spawner is full.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft_rt::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let spawner = weft_rt::Spawner::with_limit(1);
    ///     let long = spawner.spawn(weft_rt::time::sleep(Duration::from_secs(3600))).await;
    ///     let job = async { "later" };
    ///     let weft_rt::TrySpawnError { future: job, .. } = spawner.try_spawn(job).unwrap_err();
    ///     long.abort();
    ///     let _ = long.await;
    ///     // The aborted task gave its slot back.
    ///     let handle = spawner.try_spawn(job).ok().unwrap();
    ///     assert_eq!(handle.await.unwrap(), "later");
    /// });
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, TrySpawnError<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = TaskMeta::here();
        match self.slots.try_acquire_owned() {
            Ok(permit) => Ok(spawn_with(
                self.handle.as_ref(),
                async move {
                    let _slot = permit;
                    future.await
                },
                meta,
            )),
            Err(_) => Err(TrySpawnError {
                future,
                limit: self.limit,
            }),
        }
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner")
            .field("limit", &self.limit)
            .field("live", &self.live())
            .field("handle", &self.handle)
            .finish()
    }
}

/// Spawns on `handle`, or on the current runtime (else the global one) as
/// [`crate::spawn`] does.
fn spawn_with<F>(handle: Option<&Handle>, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match handle {
        Some(handle) => handle.spawn_with_meta(future, meta),
        None => crate::context::with_current(move |current| match current {
            Some(current) => current.spawn_with_meta(future, meta),
            None => crate::runtime::global().spawn_with_meta(future, meta),
        }),
    }
}

/// The error of [`Spawner::try_spawn`]: the spawner had no free slot. The future is
/// given back, unpolled, in [`future`](Self::future).
///
/// # Examples
///
/// ```
/// fn retry_later<F>(error: weft_rt::TrySpawnError<F>) -> F {
///     eprintln!("busy: {error}");
///     error.into_future()
/// }
/// # let _ = retry_later::<std::future::Ready<()>>;
/// ```
pub struct TrySpawnError<F> {
    /// The future that was not spawned.
    pub future: F,
    limit: usize,
}

impl<F> TrySpawnError<F> {
    /// The future that was not spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// let spawner = weft_rt::Spawner::with_limit(1);
    /// # let rt = weft_rt::Runtime::new().unwrap();
    /// # let _enter = rt.enter();
    /// let _busy = spawner.try_spawn(std::future::pending::<()>()).ok().unwrap();
    /// let error = spawner.try_spawn(async { 1 }).unwrap_err();
    /// let _future = error.into_future();
    /// # _busy.abort();
    /// ```
    pub fn into_future(self) -> F {
        self.future
    }

    /// The spawner's limit, which was reached.
    ///
    /// # Examples
    ///
    /// ```
    /// fn limit<F>(error: &weft_rt::TrySpawnError<F>) -> usize {
    ///     error.limit()
    /// }
    /// # let _ = limit::<()>;
    /// ```
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl<F> fmt::Display for TrySpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the spawner already has {} live tasks, its limit",
            self.limit
        )
    }
}

impl<F> fmt::Debug for TrySpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrySpawnError")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<F> std::error::Error for TrySpawnError<F> {}

/// Bounded concurrent maps for every [`futures_core::Stream`] (see the [module
/// docs](self)).
///
/// # Examples
///
/// ```
/// use std::pin::Pin;
/// use futures_core::Stream;
/// use weft_rt::MapConcurrentExt;
///
/// async fn fetch_all<S>(urls: S) -> Vec<usize>
/// where
///     S: Stream<Item = String>,
/// {
///     let mut lengths = urls.map_concurrent_unordered(8, |url| async move { url.len() });
///     let mut out = Vec::new();
///     while let Some(length) =
///         std::future::poll_fn(|cx| Pin::new(&mut lengths).poll_next(cx)).await
///     {
///         out.push(length.unwrap_or(0));
///     }
///     out
/// }
/// # let _ = fetch_all::<std::pin::Pin<Box<dyn Stream<Item = String>>>>;
/// ```
pub trait MapConcurrentExt: Stream {
    /// Maps each item to a task running `f(item)`, at most `limit` in flight, and
    /// yields their results **in input order**. An item counts as in flight from the
    /// moment its task is spawned until its result is yielded, so a slow first item
    /// holds back `limit - 1` finished ones (and the input) until it is done.
    ///
    /// # Panics
    ///
    /// If `limit` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::pin::Pin;
    /// use std::time::Duration;
    /// use futures_core::Stream;
    /// use weft_rt::MapConcurrentExt;
    ///
    /// async fn ordered<S: Stream<Item = u64>>(input: S) -> Vec<u64> {
    ///     let mut out = Vec::new();
    ///     let mut stream = input.map_concurrent(4, |ms| async move {
    ///         weft_rt::time::sleep(Duration::from_millis(ms)).await;
    ///         ms
    ///     });
    ///     while let Some(ms) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
    ///         out.push(ms.unwrap());
    ///     }
    ///     out // in the input's order, whatever order the sleeps ended in
    /// }
    /// # let _ = ordered::<std::pin::Pin<Box<dyn Stream<Item = u64>>>>;
    /// ```
    #[track_caller]
    fn map_concurrent<F, Fut>(self, limit: usize, f: F) -> MapConcurrent<Self, F, Fut>
    where
        Self: Sized,
        F: FnMut(Self::Item) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        assert!(
            limit > 0,
            "weft-rt: map_concurrent's limit must be at least 1"
        );
        MapConcurrent {
            input: Box::pin(self),
            input_done: false,
            f,
            limit,
            in_flight: VecDeque::new(),
            location: Location::caller(),
            _future: PhantomData,
        }
    }

    /// Maps each item to a task running `f(item)`, at most `limit` in flight, and
    /// yields their results **as they complete**. An item counts as in flight until
    /// its result is yielded.
    ///
    /// # Panics
    ///
    /// If `limit` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::pin::Pin;
    /// use futures_core::Stream;
    /// use weft_rt::MapConcurrentExt;
    ///
    /// async fn total<S: Stream<Item = u64>>(input: S) -> u64 {
    ///     let mut sum = 0;
    ///     let mut stream = input.map_concurrent_unordered(16, |x| async move { x * 3 });
    ///     while let Some(x) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
    ///         sum += x.unwrap();
    ///     }
    ///     sum
    /// }
    /// # let _ = total::<std::pin::Pin<Box<dyn Stream<Item = u64>>>>;
    /// ```
    #[track_caller]
    fn map_concurrent_unordered<F, Fut>(
        self,
        limit: usize,
        f: F,
    ) -> MapConcurrentUnordered<Self, F, Fut>
    where
        Self: Sized,
        F: FnMut(Self::Item) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        assert!(
            limit > 0,
            "weft-rt: map_concurrent_unordered's limit must be at least 1"
        );
        MapConcurrentUnordered {
            input: Box::pin(self),
            input_done: false,
            f,
            limit,
            in_flight: TaskSet::new(),
            location: Location::caller(),
            _future: PhantomData,
        }
    }
}

impl<S: Stream + ?Sized> MapConcurrentExt for S {}

/// The stream of [`MapConcurrentExt::map_concurrent`]: results in input order.
/// Dropping it aborts the tasks in flight.
#[must_use = "streams do nothing unless polled"]
pub struct MapConcurrent<S, F, Fut: Future> {
    input: Pin<Box<S>>,
    input_done: bool,
    f: F,
    limit: usize,
    in_flight: VecDeque<JoinHandle<Fut::Output>>,
    location: &'static Location<'static>,
    _future: PhantomData<fn() -> Fut>,
}

fn meta_at(location: &'static Location<'static>) -> TaskMeta {
    TaskMeta {
        location,
        name: None,
        runtime: 0,
    }
}

// Nothing is pinned in place: the input is boxed, `f` is only called by `&mut`.
impl<S, F, Fut: Future> Unpin for MapConcurrent<S, F, Fut> {}

impl<S, F, Fut> Stream for MapConcurrent<S, F, Fut>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    type Item = Result<Fut::Output, JoinError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // `MapConcurrent` is `Unpin`: the input is boxed.
        let this = self.get_mut();
        while !this.input_done && this.in_flight.len() < this.limit {
            match this.input.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    let future = (this.f)(item);
                    let handle = spawn_with(None, future, meta_at(this.location));
                    this.in_flight.push_back(handle);
                }
                Poll::Ready(None) => this.input_done = true,
                Poll::Pending => break,
            }
        }
        let Some(front) = this.in_flight.front_mut() else {
            return if this.input_done {
                Poll::Ready(None)
            } else {
                Poll::Pending // the input's waker is registered
            };
        };
        let result = std::task::ready!(Pin::new(front).poll(cx));
        this.in_flight.pop_front();
        Poll::Ready(Some(result))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (low, high) = if self.input_done {
            (0, Some(0))
        } else {
            self.input.size_hint()
        };
        let n = self.in_flight.len();
        (
            low.saturating_add(n),
            high.and_then(|high| high.checked_add(n)),
        )
    }
}

impl<S, F, Fut> FusedStream for MapConcurrent<S, F, Fut>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn is_terminated(&self) -> bool {
        self.input_done && self.in_flight.is_empty()
    }
}

impl<S, F, Fut: Future> Drop for MapConcurrent<S, F, Fut> {
    fn drop(&mut self) {
        for handle in &self.in_flight {
            handle.abort();
        }
    }
}

impl<S, F, Fut: Future> fmt::Debug for MapConcurrent<S, F, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapConcurrent")
            .field("limit", &self.limit)
            .field("in_flight", &self.in_flight.len())
            .field("input_done", &self.input_done)
            .finish_non_exhaustive()
    }
}

/// The stream of [`MapConcurrentExt::map_concurrent_unordered`]: results as they
/// complete. Dropping it aborts the tasks in flight.
#[must_use = "streams do nothing unless polled"]
pub struct MapConcurrentUnordered<S, F, Fut: Future> {
    input: Pin<Box<S>>,
    input_done: bool,
    f: F,
    limit: usize,
    in_flight: TaskSet<Fut::Output>,
    location: &'static Location<'static>,
    _future: PhantomData<fn() -> Fut>,
}

// Nothing is pinned in place: the input is boxed, `f` is only called by `&mut`.
impl<S, F, Fut: Future> Unpin for MapConcurrentUnordered<S, F, Fut> {}

impl<S, F, Fut> Stream for MapConcurrentUnordered<S, F, Fut>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    type Item = Result<Fut::Output, JoinError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // `MapConcurrentUnordered` is `Unpin`: the input is boxed.
        let this = self.get_mut();
        while !this.input_done && this.in_flight.len() < this.limit {
            match this.input.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    let future = (this.f)(item);
                    let handle = spawn_with(None, future, meta_at(this.location));
                    this.in_flight.insert(handle, 0);
                }
                Poll::Ready(None) => this.input_done = true,
                Poll::Pending => break,
            }
        }
        match this.in_flight.poll_next(cx) {
            Poll::Ready(Some(Done { result, .. })) => Poll::Ready(Some(result)),
            Poll::Ready(None) if this.input_done => Poll::Ready(None),
            // Empty, and the input is pending: its waker is registered.
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (low, high) = if self.input_done {
            (0, Some(0))
        } else {
            self.input.size_hint()
        };
        let n = self.in_flight.len();
        (
            low.saturating_add(n),
            high.and_then(|high| high.checked_add(n)),
        )
    }
}

impl<S, F, Fut> FusedStream for MapConcurrentUnordered<S, F, Fut>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn is_terminated(&self) -> bool {
        self.input_done && self.in_flight.len() == 0
    }
}

impl<S, F, Fut: Future> fmt::Debug for MapConcurrentUnordered<S, F, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapConcurrentUnordered")
            .field("limit", &self.limit)
            .field("in_flight", &self.in_flight.len())
            .field("input_done", &self.input_done)
            .finish_non_exhaustive()
    }
}

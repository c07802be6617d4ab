//! The single-threaded executor: a queue of tasks that one thread runs. It is the
//! engine of three things: the current-thread runtime, [`LocalSet`] (tasks that are
//! not `Send`, on the thread that owns the set), and each core of the thread-per-core
//! runtime.
//!
//! # The queue and its wake-up
//!
//! Any thread may schedule a task (a waker may fire anywhere); only the owner thread
//! runs them. Scheduling pushes the task under the queue's lock and then, if the owner
//! announced it is idle, wakes the owner's waker (its parker, or the outer task's
//! waker for a `LocalSet` polled inside another executor). The owner announces `idle`
//! (SeqCst) *before* it re-checks the queue under the same lock, so either its
//! re-check sees the new task or the scheduler's load of `idle`, which follows the
//! push's unlock, sees the announcement: a task is never left behind a sleeping owner.
//!
//! # Fairness
//!
//! The owner runs at most [`BUDGET`] tasks before it looks at its main future (or, in
//! a `LocalSet`, yields to the executor that polls it): a task that keeps waking
//! itself goes to the back of the queue each time and cannot starve the others.

use crate::park::Parker;
use crate::task::{self, JoinHandle, Runnable, Schedule, ScheduleHint, TaskMeta};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// Tasks run in a row before the owner looks elsewhere.
pub(crate) const BUDGET: usize = 61;

/// A queue of runnable tasks owned by one thread.
pub(crate) struct LocalQueue {
    queue: weft_sync::Mutex<VecDeque<Runnable>>,
    /// The owner found nothing to run and is about to wait (module docs).
    idle: AtomicBool,
    /// How to wake the owner.
    waker: weft_sync::Mutex<Option<Waker>>,
    /// No more tasks run here: the owner's loop ends, and `drain` cancels what is
    /// queued.
    closed: AtomicBool,
}

impl fmt::Debug for LocalQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalQueue")
            .field("len", &self.queue.lock().len())
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl LocalQueue {
    pub(crate) fn new() -> Arc<LocalQueue> {
        Arc::new(LocalQueue {
            queue: weft_sync::Mutex::new(VecDeque::new()),
            idle: AtomicBool::new(false),
            waker: weft_sync::Mutex::new(None),
            closed: AtomicBool::new(false),
        })
    }

    pub(crate) fn push(&self, task: Runnable) {
        // Even when closed: cancelling here would drop the future inside whatever
        // `wake` called us, perhaps under a lock its destructor takes. The owner's
        // `drain` cancels queued tasks on its own thread.
        self.queue.lock().push_back(task);
        if self.idle.load(Ordering::SeqCst) {
            self.wake_owner();
        }
    }

    pub(crate) fn pop(&self) -> Option<Runnable> {
        self.queue.lock().pop_front()
    }

    fn is_empty(&self) -> bool {
        self.queue.lock().is_empty()
    }

    fn wake_owner(&self) {
        let waker = self.waker.lock().clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Sets how to wake the owner (skipped if it would wake the same task).
    fn set_waker(&self, waker: &Waker) {
        let mut slot = self.waker.lock();
        if !slot.as_ref().is_some_and(|old| old.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    /// Runs up to `BUDGET` tasks; returns how many ran.
    fn run_some(&self) -> usize {
        let mut ran = 0;
        while ran < BUDGET {
            match self.pop() {
                Some(task) => {
                    // Each poll gets a fresh budget (`weft_sync::coop`).
                    weft_sync::coop::with_budget(weft_sync::coop::DEFAULT_BUDGET, || task.run());
                    ran += 1;
                }
                None => break,
            }
        }
        ran
    }

    /// Announces idleness and re-checks: `true` if the owner may wait now.
    fn go_idle(&self) -> bool {
        self.idle.store(true, Ordering::SeqCst);
        if self.is_empty() {
            true
        } else {
            self.idle.store(false, Ordering::SeqCst);
            false
        }
    }

    fn wake_up(&self) {
        self.idle.store(false, Ordering::Relaxed);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the queue: later tasks are cancelled on arrival, and the owner is woken
    /// so that its loop can end. Call [`drain`](Self::drain) on the owner thread next.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake_owner();
    }

    /// Cancels every queued task (on the owner thread: local futures are dropped
    /// there).
    pub(crate) fn drain(&self) {
        loop {
            let Some(task) = self.pop() else { return };
            task.shutdown();
        }
    }
}

/// The scheduler of tasks owned by a [`LocalQueue`].
#[derive(Clone, Debug)]
pub(crate) struct LocalScheduler(pub(crate) Arc<LocalQueue>);

impl Schedule for LocalScheduler {
    fn schedule(&self, task: Runnable, _hint: ScheduleHint) {
        // One FIFO: a woken or yielding task goes to the back either way.
        self.0.push(task);
    }
}

std::thread_local! {
    /// The local queue of the `LocalSet` or core this thread is running, if any.
    static CURRENT_LOCAL: RefCell<Option<Arc<LocalQueue>>> = const { RefCell::new(None) };
}

/// Makes `queue` the thread's local queue until the guard drops.
pub(crate) fn enter_local(queue: &Arc<LocalQueue>) -> LocalGuard {
    let previous = CURRENT_LOCAL.with(|current| current.borrow_mut().replace(Arc::clone(queue)));
    LocalGuard { previous }
}

pub(crate) struct LocalGuard {
    previous: Option<Arc<LocalQueue>>,
}

impl Drop for LocalGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT_LOCAL.try_with(|current| *current.borrow_mut() = previous);
    }
}

/// The thread's current local queue.
pub(crate) fn current_local() -> Option<Arc<LocalQueue>> {
    CURRENT_LOCAL
        .try_with(|current| current.borrow().clone())
        .ok()
        .flatten()
}

/// `true` while the thread runs a local executor's loop (the current-thread runtime,
/// a `LocalSet`, a thread-per-core core).
pub(crate) fn in_local_executor() -> bool {
    CURRENT_LOCAL
        .try_with(|current| current.borrow().is_some())
        .unwrap_or(false)
}

/// Spawns a `Send` task onto `queue`.
pub(crate) fn spawn_onto<F>(
    queue: &Arc<LocalQueue>,
    future: F,
    meta: TaskMeta,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (runnable, handle) = task::spawn(future, LocalScheduler(Arc::clone(queue)), meta);
    queue.push(runnable);
    handle
}

/// Spawns a task that is not `Send` onto `queue`, which the current thread owns.
///
/// # Safety
///
/// The current thread is `queue`'s owner: the only thread that runs its tasks, and
/// it drains the queue before it stops running it.
pub(crate) unsafe fn spawn_local_onto<F>(
    queue: &Arc<LocalQueue>,
    future: F,
    meta: TaskMeta,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    // SAFETY: the caller owns the queue: runnables run (and are drained) only here.
    let (runnable, handle) =
        unsafe { task::spawn_local_unchecked(future, LocalScheduler(Arc::clone(queue)), meta) };
    queue.push(runnable);
    handle
}

/// The main future's waker: a flag plus the thread's parker.
struct MainWaker {
    woken: AtomicBool,
    thread: Waker,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.woken.swap(true, Ordering::SeqCst) {
            self.thread.wake_by_ref();
        }
    }
}

/// Runs `future` to completion on this thread, running `queue`'s tasks meanwhile.
/// The caller has made this thread the queue's owner for the duration.
pub(crate) fn block_on<F: Future>(queue: &Arc<LocalQueue>, future: F) -> F::Output {
    let _local = enter_local(queue);
    let parker = Parker::new();
    let thread_waker = parker.waker();
    queue.set_waker(&thread_waker);
    let main = Arc::new(MainWaker {
        woken: AtomicBool::new(true),
        thread: thread_waker,
    });
    let main_waker = Waker::from(Arc::clone(&main));
    let mut cx = Context::from_waker(&main_waker);
    let mut future = pin!(future);
    loop {
        if main.woken.swap(false, Ordering::SeqCst)
            && let Poll::Ready(output) =
                weft_sync::coop::unconstrained(|| future.as_mut().poll(&mut cx))
        {
            return output;
        }
        if queue.run_some() == BUDGET {
            continue;
        }
        if main.woken.load(Ordering::SeqCst) || !queue.go_idle() {
            continue;
        }
        if !main.woken.load(Ordering::SeqCst) {
            parker.park();
        }
        queue.wake_up();
    }
}

/// Runs `queue`'s tasks on this thread until the queue is closed, then cancels what
/// is left (a thread-per-core core's loop).
pub(crate) fn run_until_closed(queue: &Arc<LocalQueue>) {
    let _local = enter_local(queue);
    let parker = Parker::new();
    queue.set_waker(&parker.waker());
    while !queue.is_closed() {
        if queue.run_some() == BUDGET || !queue.go_idle() {
            continue;
        }
        if !queue.is_closed() {
            parker.park();
        }
        queue.wake_up();
    }
    queue.drain();
}

/// A set of tasks that are not `Send`, run on the thread that owns the set.
///
/// Tasks spawned with [`spawn_local`](LocalSet::spawn_local) (or the free function
/// [`spawn_local`](crate::spawn_local) while the set runs) make progress while the
/// set is driven: inside [`run_until`](LocalSet::run_until), which can be awaited in
/// any runtime's task or `block_on`, or by [`block_on`](LocalSet::block_on). Dropping
/// the set cancels the tasks left in it.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use weft_rt::{LocalSet, Runtime};
///
/// let rt = Runtime::new().unwrap();
/// let local = LocalSet::new();
/// let shared = Rc::new(41); // not Send
/// let answer = local.block_on(&rt, async move {
///     let task = weft_rt::spawn_local(async move { *shared + 1 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct LocalSet {
    pub(crate) queue: Arc<LocalQueue>,
    _not_send: PhantomData<Rc<()>>,
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSet")
            .field("queue", &self.queue)
            .finish()
    }
}

impl Default for LocalSet {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalSet {
    /// An empty set.
    pub fn new() -> LocalSet {
        LocalSet {
            queue: LocalQueue::new(),
            _not_send: PhantomData,
        }
    }

    /// Spawns a task that is not `Send` into this set. It runs when the set is driven.
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        // SAFETY: the set is `!Send` and `!Sync`: its tasks run (in `run_until`, or
        // `block_on`) and are drained (on drop) only on this thread.
        unsafe { spawn_local_onto(&self.queue, future, TaskMeta::here()) }
    }

    /// Runs `future` to completion while driving the set's tasks; await it inside any
    /// executor.
    pub fn run_until<F: Future>(&self, future: F) -> RunUntil<'_, F> {
        RunUntil { set: self, future }
    }

    /// Runs `future` on `runtime` (as [`Runtime::block_on`](crate::Runtime::block_on))
    /// while driving the set's tasks on this thread.
    ///
    /// # Panics
    ///
    /// As [`Runtime::block_on`](crate::Runtime::block_on).
    #[track_caller]
    pub fn block_on<F: Future>(&self, runtime: &crate::Runtime, future: F) -> F::Output {
        runtime.block_on(self.run_until(future))
    }
}

impl Drop for LocalSet {
    fn drop(&mut self) {
        self.queue.close();
        self.queue.drain();
    }
}

/// The future of [`LocalSet::run_until`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct RunUntil<'a, F> {
    set: &'a LocalSet,
    future: F,
}

impl<F: Future> Future for RunUntil<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is never moved out of the pinned `RunUntil`; `set` is a
        // plain reference.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above, structural pinning of `future`.
        let mut future = unsafe { Pin::new_unchecked(&mut this.future) };
        let queue = &this.set.queue;
        let _local = enter_local(queue);
        queue.wake_up();
        queue.set_waker(cx.waker());
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(output);
        }
        if queue.run_some() == BUDGET || !queue.go_idle() {
            // More to do: come back after the outer executor ran its other work.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

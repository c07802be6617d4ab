//! Unit tests of the task core, with a test scheduler: a `Mutex<VecDeque<Runnable>>`
//! drained by the test thread or by a few std threads. Every scheduler clone carries
//! a liveness token, so "all allocations were freed" is checked by counting tokens.

// `waker.clone().wake()` is on purpose: it exercises wake-by-value.
#![allow(clippy::waker_clone_wake)]

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::panic::Location;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

// weft's own locks, not std's: they are compiled with the crate, so ThreadSanitizer
// (without a rebuilt std) sees their synchronisation.
use weft_sync::{Barrier, Condvar, Mutex};

use super::*;

/// Counts wakes; used as the JoinHandle's waker.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl CountingWaker {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Increments a shared counter when dropped.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Queue {
    tasks: Mutex<VecDeque<(Runnable, ScheduleHint)>>,
    available: Condvar,
    /// Live scheduler clones: one per task allocation (plus the test's own).
    alive: AtomicUsize,
}

struct TestScheduler(Arc<Queue>);

impl TestScheduler {
    fn new(queue: &Arc<Queue>) -> Self {
        queue.alive.fetch_add(1, Ordering::SeqCst);
        TestScheduler(queue.clone())
    }
}

impl Drop for TestScheduler {
    fn drop(&mut self) {
        self.0.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Schedule for TestScheduler {
    fn schedule(&self, task: Runnable, hint: ScheduleHint) {
        self.0.tasks.lock().push_back((task, hint));
        self.0.available.notify_one();
    }
}

impl Queue {
    fn new() -> Arc<Queue> {
        Arc::new(Queue::default())
    }

    fn spawn<F>(self: &Arc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (runnable, handle) = spawn(future, TestScheduler::new(self), TaskMeta::here());
        TestScheduler(self.clone()).schedule_untracked(runnable);
        handle
    }

    fn pop(&self) -> Option<(Runnable, ScheduleHint)> {
        self.tasks.lock().pop_front()
    }

    fn len(&self) -> usize {
        self.tasks.lock().len()
    }

    /// Runs queued tasks on this thread until the queue is empty.
    fn run_all(&self) -> usize {
        let mut runs = 0;
        while let Some((task, _)) = self.pop() {
            task.run();
            runs += 1;
        }
        runs
    }

    fn alive(&self) -> usize {
        self.alive.load(Ordering::SeqCst)
    }
}

impl TestScheduler {
    /// Queues without counting a liveness token (the test's own push).
    fn schedule_untracked(self, runnable: Runnable) {
        let queue = self.0.clone();
        std::mem::forget(self);
        queue
            .tasks
            .lock()
            .push_back((runnable, ScheduleHint::Spawned));
        queue.available.notify_one();
    }
}

/// Polls a future to completion on this thread, parking between polls.
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
    let mut polls = 0u64;
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        polls += 1;
        assert!(polls < 1_000_000, "block_on: future never completed");
        thread::park_timeout(Duration::from_millis(10));
    }
}

fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

fn noop_waker() -> Waker {
    Waker::from(Arc::new(CountingWaker::default()))
}

/// Pending until `flag` is set; while pending, its latest waker is in `slot`.
fn wait_for_flag(
    flag: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
) -> impl Future<Output = ()> + Send {
    poll_fn(move |cx| {
        let mut slot = slot.lock();
        if flag.load(Ordering::SeqCst) {
            // Keep no waker after completion (it would keep the task allocated).
            *slot = None;
            Poll::Ready(())
        } else {
            *slot = Some(cx.waker().clone());
            Poll::Pending
        }
    })
}

#[test]
fn hundred_thousand_tasks_complete_exactly_once() {
    const TASKS: usize = 100_000;
    const THREADS: usize = 4;
    let queue = Queue::new();
    let completions: Arc<Vec<AtomicUsize>> =
        Arc::new((0..TASKS).map(|_| AtomicUsize::new(0)).collect());
    let dropped = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));

    let runners: Vec<_> = (0..THREADS)
        .map(|_| {
            let queue = queue.clone();
            let finished = finished.clone();
            thread::spawn(move || {
                loop {
                    let next = {
                        let mut tasks = queue.tasks.lock();
                        loop {
                            if let Some(task) = tasks.pop_front() {
                                break Some(task);
                            }
                            if finished.load(Ordering::SeqCst) == TASKS {
                                break None;
                            }
                            queue
                                .available
                                .wait_for(&mut tasks, Duration::from_millis(5));
                        }
                    };
                    match next {
                        Some((task, _)) => {
                            task.run();
                        }
                        None => return,
                    }
                }
            })
        })
        .collect();

    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let completions = completions.clone();
            let finished = finished.clone();
            let guard = DropCounter(dropped.clone());
            queue.spawn(async move {
                let _guard = guard;
                if i % 2 == 0 {
                    yield_now().await;
                }
                completions[i].fetch_add(1, Ordering::SeqCst);
                finished.fetch_add(1, Ordering::SeqCst);
                i
            })
        })
        .collect();

    for (i, handle) in handles.into_iter().enumerate() {
        assert_eq!(block_on(handle).unwrap(), i);
    }
    for runner in runners {
        runner.join().unwrap();
    }
    assert!(completions.iter().all(|c| c.load(Ordering::SeqCst) == 1));
    assert_eq!(dropped.load(Ordering::SeqCst), TASKS);
    assert_eq!(queue.alive(), 0, "every task allocation was freed");
}

#[test]
fn wake_from_another_thread_during_poll_reschedules_with_yielded() {
    let queue = Queue::new();
    let (waker_tx, waker_rx) = mpsc::channel::<Waker>();
    let woken = Arc::new(Barrier::new(2));
    let polls = Arc::new(AtomicUsize::new(0));

    let waker_thread = {
        let woken = woken.clone();
        thread::spawn(move || {
            let waker = waker_rx.recv().unwrap();
            waker.wake();
            woken.wait();
        })
    };

    let handle = {
        let polls = polls.clone();
        let woken = woken.clone();
        let mut waker_tx = Some(waker_tx);
        queue.spawn(poll_fn(move |cx| {
            if polls.fetch_add(1, Ordering::SeqCst) == 0 {
                waker_tx.take().unwrap().send(cx.waker().clone()).unwrap();
                // The other thread wakes us while we are still inside `poll`.
                woken.wait();
                Poll::Pending
            } else {
                Poll::Ready(7)
            }
        }))
    };

    let (task, hint) = queue.pop().unwrap();
    assert_eq!(hint, ScheduleHint::Spawned);
    assert!(task.run(), "woken during its poll");
    waker_thread.join().unwrap();
    let (task, hint) = queue.pop().expect("re-scheduled");
    assert_eq!(hint, ScheduleHint::Yielded);
    assert!(!task.run());
    assert_eq!(queue.len(), 0);
    assert_eq!(polls.load(Ordering::SeqCst), 2);
    assert_eq!(block_on(handle).unwrap(), 7);
    assert_eq!(queue.alive(), 0);
}

#[test]
fn wake_of_idle_task_schedules_once() {
    let queue = Queue::new();
    let flag = Arc::new(AtomicBool::new(false));
    let slot = Arc::new(Mutex::new(None));
    let handle = queue.spawn(wait_for_flag(flag.clone(), slot.clone()));
    assert_eq!(queue.run_all(), 1);
    let waker = slot.lock().take().unwrap();
    flag.store(true, Ordering::SeqCst);
    // Many wakes of an idle task: one Runnable.
    waker.wake_by_ref();
    waker.wake_by_ref();
    waker.clone().wake();
    assert_eq!(queue.len(), 1);
    assert_eq!(
        queue.pop().map(|(_, hint)| hint).unwrap(),
        ScheduleHint::Woken
    );
    drop(waker);
    // The popped Runnable was dropped above: the task was cancelled, not run.
    assert!(block_on(handle).unwrap_err().is_cancelled());
    assert_eq!(queue.alive(), 0);
}

#[test]
fn wake_after_complete_is_a_no_op() {
    let queue = Queue::new();
    let slot = Arc::new(Mutex::new(None));
    let handle = {
        let slot = slot.clone();
        queue.spawn(poll_fn(move |cx| {
            *slot.lock() = Some(cx.waker().clone());
            Poll::Ready("done")
        }))
    };
    assert_eq!(queue.run_all(), 1);
    let waker = slot.lock().take().unwrap();
    waker.wake_by_ref();
    waker.clone().wake();
    assert_eq!(queue.len(), 0, "a completed task is never scheduled again");
    assert_eq!(block_on(handle).unwrap(), "done");
    assert_eq!(queue.alive(), 1, "the waker still holds the task");
    waker.wake();
    assert_eq!(queue.alive(), 0, "the last waker freed it");
}

#[test]
fn abort_of_a_pending_task_drops_the_future_and_cancels() {
    let queue = Queue::new();
    let dropped = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(dropped.clone());
    let handle = queue.spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    });
    assert_eq!(queue.run_all(), 1);
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    assert!(!handle.is_finished());
    handle.abort();
    let (task, hint) = queue.pop().expect("abort schedules an idle task");
    assert_eq!(hint, ScheduleHint::Woken);
    task.run();
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert!(handle.is_finished());
    handle.abort(); // no effect once finished
    assert_eq!(queue.len(), 0);
    let error = block_on(handle).unwrap_err();
    assert!(error.is_cancelled() && !error.is_panic());
    assert_eq!(queue.alive(), 0);
}

#[test]
fn abort_before_the_first_poll_never_polls() {
    let queue = Queue::new();
    let polled = Arc::new(AtomicBool::new(false));
    let handle = {
        let polled = polled.clone();
        queue.spawn(async move { polled.store(true, Ordering::SeqCst) })
    };
    let abort = handle.abort_handle();
    abort.abort();
    assert_eq!(queue.len(), 1, "already scheduled: abort adds no Runnable");
    queue.run_all();
    assert!(!polled.load(Ordering::SeqCst));
    assert!(abort.is_finished());
    assert_eq!(abort.id(), handle.id());
    assert!(block_on(handle).unwrap_err().is_cancelled());
    drop(abort);
    assert_eq!(queue.alive(), 0);
}

#[test]
fn abort_during_poll_drops_the_future_after_the_poll() {
    let queue = Queue::new();
    let dropped = Arc::new(AtomicUsize::new(0));
    let abort_slot: Arc<Mutex<Option<AbortHandle>>> = Arc::new(Mutex::new(None));
    let handle = {
        let abort_slot = abort_slot.clone();
        let guard = DropCounter(dropped.clone());
        let dropped = dropped.clone();
        queue.spawn(poll_fn(move |_| {
            let _keep = &guard;
            abort_slot.lock().take().unwrap().abort();
            // Aborted, but still inside the poll: nothing dropped yet.
            assert_eq!(dropped.load(Ordering::SeqCst), 0);
            Poll::<()>::Pending
        }))
    };
    *abort_slot.lock() = Some(handle.abort_handle());
    let (task, _) = queue.pop().unwrap();
    assert!(!task.run());
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(queue.len(), 0);
    assert!(block_on(handle).unwrap_err().is_cancelled());
    assert_eq!(queue.alive(), 0);
}

#[test]
fn abort_from_another_thread_during_poll() {
    let queue = Queue::new();
    let dropped = Arc::new(AtomicUsize::new(0));
    let in_poll = Arc::new(Barrier::new(2));
    let aborted = Arc::new(Barrier::new(2));
    let handle = {
        let guard = DropCounter(dropped.clone());
        let (in_poll, aborted) = (in_poll.clone(), aborted.clone());
        queue.spawn(poll_fn(move |_| {
            let _keep = &guard;
            in_poll.wait();
            aborted.wait();
            Poll::<u8>::Pending
        }))
    };
    let abort = handle.abort_handle();
    let aborter = thread::spawn(move || {
        in_poll.wait();
        abort.abort();
        aborted.wait();
    });
    queue.run_all();
    aborter.join().unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert!(block_on(handle).unwrap_err().is_cancelled());
    assert_eq!(queue.alive(), 0);
}

#[test]
fn join_handle_dropped_early_output_dropped_once_by_the_runner() {
    let queue = Queue::new();
    let dropped = Arc::new(AtomicUsize::new(0));
    let handle = {
        let dropped = dropped.clone();
        queue.spawn(async move { DropCounter(dropped) })
    };
    drop(handle);
    assert_eq!(queue.alive(), 1);
    queue.run_all();
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(queue.alive(), 0);
}

#[test]
fn join_handle_dropped_after_completion_drops_the_output_once() {
    let queue = Queue::new();
    let dropped = Arc::new(AtomicUsize::new(0));
    let handle = {
        let dropped = dropped.clone();
        queue.spawn(async move { DropCounter(dropped) })
    };
    queue.run_all();
    assert!(handle.is_finished());
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        0,
        "the output waits for the handle"
    );
    drop(handle);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(queue.alive(), 0);
}

#[test]
fn join_handles_dropped_concurrently_with_completion() {
    const TASKS: usize = 2_000;
    let queue = Queue::new();
    let dropped = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            let dropped = dropped.clone();
            queue.spawn(async move {
                yield_now().await;
                DropCounter(dropped)
            })
        })
        .collect();
    let dropper = thread::spawn(move || {
        for (i, handle) in handles.into_iter().enumerate() {
            if i % 3 == 0 {
                thread::yield_now();
            }
            drop(handle);
        }
    });
    queue.run_all();
    dropper.join().unwrap();
    queue.run_all();
    assert_eq!(dropped.load(Ordering::SeqCst), TASKS);
    assert_eq!(queue.alive(), 0);
}

#[test]
fn panic_becomes_join_error_and_the_scheduler_goes_on() {
    let queue = Queue::new();
    let dropped = Arc::new(AtomicUsize::new(0));
    let failing = {
        let guard = DropCounter(dropped.clone());
        queue.spawn(async move {
            let _guard = guard;
            if dropped_never() {
                return 0;
            }
            panic!("boom");
        })
    };
    let fine = queue.spawn(async { 5 });
    assert_eq!(queue.run_all(), 2);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the panicked future was dropped"
    );
    assert_eq!(block_on(fine).unwrap(), 5);
    let error = block_on(failing).unwrap_err();
    assert!(error.is_panic() && !error.is_cancelled());
    assert_eq!(
        error.to_string(),
        format!("task {} panicked with message \"boom\"", error.id())
    );
    assert!(format!("{error:?}").contains("boom"));
    let payload = error.into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    assert_eq!(queue.alive(), 0);
}

/// Stops the compiler from seeing that the task always panics.
fn dropped_never() -> bool {
    std::hint::black_box(false)
}

#[test]
fn panic_with_a_formatted_message_and_a_non_string_payload() {
    let queue = Queue::new();
    let formatted = queue.spawn(async {
        if !dropped_never() {
            panic!("code {}", 42);
        }
    });
    let opaque = queue.spawn(async {
        if !dropped_never() {
            std::panic::panic_any(17_u32);
        }
    });
    queue.run_all();
    let error = block_on(formatted).unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("panicked with message \"code 42\"")
    );
    let error = block_on(opaque).unwrap_err();
    assert_eq!(error.to_string(), format!("task {} panicked", error.id()));
    let error = error.try_into_panic().unwrap();
    assert_eq!(error.downcast_ref::<u32>(), Some(&17));
}

#[test]
fn cancelled_error_display_and_io_conversion() {
    let queue = Queue::new();
    let handle = queue.spawn(async {});
    handle.abort();
    queue.run_all();
    let error = block_on(handle).unwrap_err();
    let id = error.id();
    assert_eq!(error.to_string(), format!("task {id} was cancelled"));
    assert_eq!(
        format!("{error:?}"),
        format!("JoinError::Cancelled(Id({id}))")
    );
    let error = error.try_into_panic().unwrap_err();
    let io: std::io::Error = error.into();
    assert_eq!(io.kind(), std::io::ErrorKind::Other);
    assert_eq!(io.to_string(), format!("task {id} was cancelled"));
    let inner = io.into_inner().unwrap().downcast::<JoinError>().unwrap();
    assert!(inner.is_cancelled());
}

#[test]
#[should_panic(expected = "not a panic")]
fn into_panic_of_a_cancelled_error_panics() {
    let queue = Queue::new();
    let handle = queue.spawn(async {});
    handle.abort();
    queue.run_all();
    let _ = block_on(handle).unwrap_err().into_panic();
}

#[test]
fn join_handle_polled_with_changing_wakers_wakes_the_latest() {
    let queue = Queue::new();
    let flag = Arc::new(AtomicBool::new(false));
    let slot = Arc::new(Mutex::new(None));
    let mut handle = queue.spawn(wait_for_flag(flag.clone(), slot.clone()));
    queue.run_all();

    let first = Arc::new(CountingWaker::default());
    let second = Arc::new(CountingWaker::default());
    let first_waker = Waker::from(first.clone());
    let second_waker = Waker::from(second.clone());
    assert!(poll_once(&mut handle, &first_waker).is_pending());
    assert!(poll_once(&mut handle, &first_waker).is_pending()); // same waker: kept
    assert!(poll_once(&mut handle, &second_waker).is_pending()); // replaced
    drop((first_waker, second_waker));
    assert_eq!(
        Arc::strong_count(&first),
        1,
        "the replaced waker was dropped"
    );

    flag.store(true, Ordering::SeqCst);
    slot.lock().take().unwrap().wake();
    queue.run_all();
    assert_eq!(first.count(), 0);
    assert_eq!(second.count(), 1);
    assert!(poll_once(&mut handle, &noop_waker()).is_ready());
    drop(handle);
    assert_eq!(
        Arc::strong_count(&second),
        1,
        "the join waker was freed with the task"
    );
    assert_eq!(queue.alive(), 0);
}

#[test]
fn join_handle_dropped_while_waiting_drops_its_waker() {
    let queue = Queue::new();
    let flag = Arc::new(AtomicBool::new(false));
    let slot = Arc::new(Mutex::new(None));
    let mut handle = queue.spawn(wait_for_flag(flag.clone(), slot.clone()));
    let counting = Arc::new(CountingWaker::default());
    assert!(poll_once(&mut handle, &Waker::from(counting.clone())).is_pending());
    assert_eq!(Arc::strong_count(&counting), 2);
    drop(handle);
    assert_eq!(Arc::strong_count(&counting), 1);
    queue.run_all();
    flag.store(true, Ordering::SeqCst);
    slot.lock().take().unwrap().wake();
    queue.run_all();
    assert_eq!(counting.count(), 0);
    assert_eq!(queue.alive(), 0);
}

#[test]
fn join_waker_registration_races_completion() {
    const ROUNDS: usize = 500;
    for _ in 0..ROUNDS {
        let queue = Queue::new();
        let handle = queue.spawn(async {
            yield_now().await;
            3
        });
        let runner = {
            let queue = queue.clone();
            thread::spawn(move || while queue.run_all() > 0 {})
        };
        // Resolves only if the registration and completion never lose the wake.
        assert_eq!(block_on(handle).unwrap(), 3);
        runner.join().unwrap();
        queue.run_all();
        assert_eq!(queue.alive(), 0);
    }
}

#[test]
fn runnable_shutdown_drops_the_future_unpolled() {
    let queue = Queue::new();
    let dropped = Arc::new(AtomicUsize::new(0));
    let polled = Arc::new(AtomicBool::new(false));
    let handle = {
        let guard = DropCounter(dropped.clone());
        let polled = polled.clone();
        queue.spawn(async move {
            let _guard = guard;
            polled.store(true, Ordering::SeqCst);
        })
    };
    let (task, _) = queue.pop().unwrap();
    let id = task.id();
    assert_eq!(id, handle.id());
    task.shutdown();
    assert!(!polled.load(Ordering::SeqCst));
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    let error = block_on(handle).unwrap_err();
    assert!(error.is_cancelled());
    assert_eq!(error.id(), id);
    assert_eq!(queue.alive(), 0);
}

#[test]
fn runnable_round_trips_through_a_raw_pointer() {
    let queue = Queue::new();
    let handle = queue.spawn(async { 11 });
    let (task, _) = queue.pop().unwrap();
    let ptr = task.into_raw();
    // SAFETY: from `into_raw`, once.
    let task = unsafe { Runnable::from_raw(ptr) };
    assert!(format!("{task:?}").contains("Runnable"));
    assert_eq!(task.location().file(), file!());
    assert_eq!(task.name(), None);
    task.run();
    assert_eq!(block_on(handle).unwrap(), 11);
}

#[test]
fn yield_now_reschedules_behind_with_the_yielded_hint() {
    let queue = Queue::new();
    let handle = queue.spawn(async {
        for _ in 0..3 {
            yield_now().await;
        }
        "after three yields"
    });
    let mut yields = 0;
    while let Some((task, hint)) = queue.pop() {
        if yields > 0 {
            assert_eq!(hint, ScheduleHint::Yielded);
        }
        if task.run() {
            yields += 1;
        }
    }
    assert_eq!(yields, 3);
    assert_eq!(block_on(handle).unwrap(), "after three yields");
}

#[test]
fn current_id_inside_and_outside_a_task() {
    let queue = Queue::new();
    assert_eq!(try_current_id(), None);
    let seen = Arc::new(Mutex::new(None));
    let handle = {
        let seen = seen.clone();
        queue.spawn(async move {
            *seen.lock() = try_current_id();
        })
    };
    let id = handle.id();
    queue.run_all();
    assert_eq!(*seen.lock(), Some(id));
    assert_eq!(try_current_id(), None);
    block_on(handle).unwrap();
}

#[test]
fn ids_are_unique_and_print_as_numbers() {
    let queue = Queue::new();
    let a = queue.spawn(async {});
    let b = queue.spawn(async {});
    assert_ne!(a.id(), b.id());
    assert_eq!(a.id().to_string(), a.id().as_u64().to_string());
    assert!(format!("{a:?}").contains("JoinHandle"));
    assert!(format!("{:?}", a.abort_handle()).contains("AbortHandle"));
    drop((a, b));
    queue.run_all();
    assert_eq!(queue.alive(), 0);
}

#[test]
fn wakers_cloned_and_dropped_across_threads_free_the_task() {
    const THREADS: usize = 4;
    let queue = Queue::new();
    let flag = Arc::new(AtomicBool::new(false));
    let slot = Arc::new(Mutex::new(None));
    let handle = queue.spawn(wait_for_flag(flag.clone(), slot.clone()));
    queue.run_all();
    let waker = slot.lock().take().unwrap();
    let wakers: Vec<_> = (0..THREADS)
        .map(|_| {
            let waker = waker.clone();
            thread::spawn(move || {
                for _ in 0..1_000 {
                    waker.clone().wake();
                    waker.wake_by_ref();
                }
            })
        })
        .collect();
    for thread in wakers {
        thread.join().unwrap();
    }
    // Each wake of the idle task at most queued one Runnable at a time.
    assert!(queue.len() <= 1);
    flag.store(true, Ordering::SeqCst);
    waker.wake();
    queue.run_all();
    block_on(handle).unwrap();
    assert_eq!(queue.alive(), 0);
}

#[test]
fn task_meta_records_the_spawn_location_and_name() {
    let queue = Queue::new();
    let meta = TaskMeta {
        location: Location::caller(),
        name: Some(Arc::from("worker-7")),
        runtime: 0,
    };
    let (task, handle) = spawn(async {}, TestScheduler::new(&queue), meta);
    assert_eq!(task.name(), Some("worker-7"));
    task.run();
    assert!(handle.is_finished());
}

#[test]
fn local_task_runs_a_non_send_future_on_its_thread() {
    let queue = Queue::new();
    let shared = Rc::new(AtomicUsize::new(0));
    let inside = shared.clone();
    // SAFETY: the Runnable is run on this thread, and no wake happens elsewhere.
    let (task, handle) = unsafe {
        spawn_local_unchecked(
            async move {
                yield_now().await;
                inside.fetch_add(1, Ordering::SeqCst);
                Rc::strong_count(&inside)
            },
            TestScheduler::new(&queue),
            TaskMeta::here(),
        )
    };
    assert!(task.run());
    queue.run_all();
    assert_eq!(shared.load(Ordering::SeqCst), 1);
    assert_eq!(block_on(handle).unwrap(), 2);
    assert_eq!(queue.alive(), 0);
}

#[test]
fn local_task_runnable_dropped_off_thread_is_leaked_not_dropped() {
    let queue = Queue::new();
    let dropped = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(dropped.clone());
    // SAFETY: the test breaks the contract on purpose, in the one way the core
    // checks (dropping the Runnable on another thread).
    let (task, handle) = unsafe {
        spawn_local_unchecked(
            async move {
                let _guard = guard;
            },
            TestScheduler::new(&queue),
            TaskMeta::here(),
        )
    };
    thread::spawn(move || drop(task)).join().unwrap();
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        0,
        "never dropped off its thread"
    );
    assert!(!handle.is_finished());
    std::mem::forget(handle);
}

#[test]
fn current_id_is_set_while_the_future_is_dropped() {
    struct RecordOnDrop(Arc<Mutex<Vec<Option<Id>>>>);
    impl Drop for RecordOnDrop {
        fn drop(&mut self) {
            self.0.lock().push(try_current_id());
        }
    }
    let queue = Queue::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let finished = {
        let guard = RecordOnDrop(seen.clone());
        queue.spawn(async move {
            let _guard = guard;
        })
    };
    let aborted = {
        let guard = RecordOnDrop(seen.clone());
        queue.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        })
    };
    queue.run_all();
    aborted.abort();
    queue.run_all();
    assert_eq!(*seen.lock(), vec![Some(finished.id()), Some(aborted.id())]);
    assert_eq!(try_current_id(), None);
}

/// Records the address it was polled at and checks, in `drop`, that it was not moved
/// (a pinned future is dropped in place: intrusive waiter lists rely on it).
struct AddressChecked {
    polled_at: Option<usize>,
    ready: bool,
    drops_in_place: Arc<AtomicUsize>,
    _pinned: std::marker::PhantomPinned,
}

impl Future for AddressChecked {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let address = &*self as *const Self as usize;
        // SAFETY: no field is structurally pinned; nothing is moved.
        let this = unsafe { self.get_unchecked_mut() };
        this.polled_at = Some(address);
        if this.ready {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for AddressChecked {
    fn drop(&mut self) {
        if self.polled_at == Some(self as *const Self as usize) {
            self.drops_in_place.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn a_polled_future_is_dropped_where_it_was_pinned() {
    let queue = Queue::new();
    let in_place = Arc::new(AtomicUsize::new(0));
    let future = |ready| AddressChecked {
        polled_at: None,
        ready,
        drops_in_place: in_place.clone(),
        _pinned: std::marker::PhantomPinned,
    };
    let completed = queue.spawn(future(true));
    let aborted = queue.spawn(future(false));
    queue.run_all();
    aborted.abort();
    queue.run_all();
    let detached = queue.spawn(future(false));
    queue.run_all();
    drop(detached); // no waker anywhere: the last reference drops the future
    assert!(block_on(completed).is_ok());
    assert!(block_on(aborted).unwrap_err().is_cancelled());
    assert_eq!(in_place.load(Ordering::SeqCst), 3);
    assert_eq!(queue.alive(), 0);
}

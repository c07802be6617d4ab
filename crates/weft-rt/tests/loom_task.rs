//! Loom models of the task state machine: each explores every interleaving (up to the
//! preemption bound) of a runner and one or two other threads touching the same task.
//!
//! Every model checks that the future and the output are dropped exactly once and that
//! the allocation is freed (the scheduler closure, owned by the task, is dropped).

#![cfg(loom)]

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

use weft_rt::__loom::{JoinHandle, Runnable, spawn, yield_now};

/// Increments a counter when dropped.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

type Queue = Arc<Mutex<VecDeque<Runnable>>>;

/// A queue, a scheduler closure pushing into it, and a counter of freed tasks (the
/// closure is owned by the task and dropped with its allocation).
fn scheduler() -> (
    Queue,
    Arc<AtomicUsize>,
    impl Fn(Runnable) + Send + Sync + 'static,
) {
    let queue: Queue = Arc::new(Mutex::new(VecDeque::new()));
    let freed = Arc::new(AtomicUsize::new(0));
    let token = DropCounter(freed.clone());
    let push = {
        let queue = queue.clone();
        move |task| {
            let _keep = &token;
            queue.lock().unwrap().push_back(task);
        }
    };
    (queue, freed, push)
}

/// Runs queued tasks until the queue is empty; returns how many runs.
fn drain(queue: &Queue) -> usize {
    let mut runs = 0;
    loop {
        let next = queue.lock().unwrap().pop_front();
        match next {
            Some(task) => {
                task.run();
                runs += 1;
            }
            None => return runs,
        }
    }
}

fn poll_ready<T>(handle: &mut JoinHandle<T>) -> T {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(handle).poll(&mut cx) {
        Poll::Ready(Ok(value)) => value,
        Poll::Ready(Err(error)) => panic!("task failed: {error}"),
        Poll::Pending => panic!("task not finished"),
    }
}

#[test]
fn wake_during_poll() {
    loom::model(|| {
        let (queue, freed, push) = scheduler();
        let flag = Arc::new(AtomicBool::new(false));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let (runnable, mut handle) = {
            let (flag, slot) = (flag.clone(), slot.clone());
            spawn(
                poll_fn(move |cx| {
                    let mut slot = slot.lock().unwrap();
                    if flag.load(Ordering::SeqCst) {
                        *slot = None;
                        Poll::Ready(9)
                    } else {
                        *slot = Some(cx.waker().clone());
                        Poll::Pending
                    }
                }),
                push,
            )
        };
        assert!(!runnable.run());
        // Scheduled again; the waker thread races the second poll (before, during or
        // after it).
        slot.lock().unwrap().as_ref().unwrap().wake_by_ref();
        let waker_thread = {
            let (flag, slot) = (flag.clone(), slot.clone());
            thread::spawn(move || {
                flag.store(true, Ordering::SeqCst);
                let waker = slot.lock().unwrap().take();
                if let Some(waker) = waker {
                    waker.wake();
                }
            })
        };
        drain(&queue);
        waker_thread.join().unwrap();
        drain(&queue);
        assert_eq!(poll_ready(&mut handle), 9);
        drop(handle);
        slot.lock().unwrap().take();
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn wake_after_complete() {
    loom::model(|| {
        let (queue, freed, push) = scheduler();
        let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let (runnable, mut handle) = {
            let slot = slot.clone();
            spawn(
                poll_fn(move |cx| {
                    *slot.lock().unwrap() = Some(cx.waker().clone());
                    Poll::Ready(1)
                }),
                push,
            )
        };
        let waker_thread = {
            let slot = slot.clone();
            thread::spawn(move || {
                let waker = slot.lock().unwrap().take();
                if let Some(waker) = waker {
                    waker.wake_by_ref();
                    waker.wake();
                }
            })
        };
        assert!(!runnable.run());
        waker_thread.join().unwrap();
        assert_eq!(drain(&queue), 0, "a completed task is never scheduled");
        assert_eq!(poll_ready(&mut handle), 1);
        drop(handle);
        slot.lock().unwrap().take();
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn abort_during_poll() {
    loom::model(|| {
        let (queue, freed, push) = scheduler();
        let dropped = Arc::new(AtomicUsize::new(0));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let (runnable, handle) = {
            let slot = slot.clone();
            let guard = DropCounter(dropped.clone());
            spawn(
                poll_fn(move |cx| {
                    let _keep = &guard;
                    *slot.lock().unwrap() = Some(cx.waker().clone());
                    Poll::<()>::Pending
                }),
                push,
            )
        };
        let abort = handle.abort_handle();
        let aborter = thread::spawn(move || abort.abort());
        runnable.run();
        aborter.join().unwrap();
        drain(&queue);
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert!(handle.is_finished());
        let error = loom::future::block_on(handle).unwrap_err();
        assert!(error.is_cancelled());
        slot.lock().unwrap().take();
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn join_handle_dropped_early() {
    loom::model(|| {
        let (queue, freed, push) = scheduler();
        let outputs = Arc::new(AtomicUsize::new(0));
        let (runnable, handle) = {
            let outputs = outputs.clone();
            spawn(
                async move {
                    yield_now().await;
                    DropCounter(outputs)
                },
                push,
            )
        };
        let dropper = thread::spawn(move || drop(handle));
        assert!(runnable.run(), "yield_now re-schedules");
        drain(&queue);
        dropper.join().unwrap();
        assert_eq!(
            outputs.load(Ordering::SeqCst),
            1,
            "output dropped exactly once"
        );
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn join_waker_registration_races_completion() {
    loom::model(|| {
        let (queue, freed, push) = scheduler();
        let (runnable, handle) = spawn(async { 5 }, push);
        // A lost wake-up leaves `block_on` parked for ever: loom reports a deadlock.
        let joiner = thread::spawn(move || loom::future::block_on(handle).unwrap());
        runnable.run();
        assert_eq!(joiner.join().unwrap(), 5);
        assert_eq!(drain(&queue), 0);
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn two_wakers_race_the_runner() {
    loom::model(|| {
        let (queue, freed, push) = scheduler();
        let polls = Arc::new(AtomicUsize::new(0));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let (runnable, handle) = {
            let (polls, slot) = (polls.clone(), slot.clone());
            spawn(
                poll_fn(move |cx| {
                    if polls.fetch_add(1, Ordering::SeqCst) == 0 {
                        *slot.lock().unwrap() = Some(cx.waker().clone());
                        Poll::Pending
                    } else {
                        Poll::Ready(())
                    }
                }),
                push,
            )
        };
        drop(handle);
        runnable.run();
        let waker = slot.lock().unwrap().take().unwrap();
        let other = waker.clone();
        let a = thread::spawn(move || waker.wake());
        let b = thread::spawn(move || other.wake());
        drain(&queue);
        a.join().unwrap();
        b.join().unwrap();
        drain(&queue);
        let polls = polls.load(Ordering::SeqCst);
        assert_eq!(polls, 2, "two wakes, at most one poll after the first");
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn join_waker_replacement_races_completion() {
    loom::model(|| {
        let (queue, freed, push) = scheduler();
        let (runnable, mut handle) = spawn(async { 8 }, push);
        let joiner = thread::spawn(move || {
            // A first registration with a waker that goes nowhere, then `block_on`'s
            // own: the second poll replaces the stored waker (or finds the output).
            let mut cx = Context::from_waker(Waker::noop());
            match Pin::new(&mut handle).poll(&mut cx) {
                Poll::Ready(out) => out.unwrap(),
                Poll::Pending => loom::future::block_on(handle).unwrap(),
            }
        });
        runnable.run();
        assert_eq!(joiner.join().unwrap(), 8);
        assert_eq!(drain(&queue), 0);
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn join_handle_dropped_after_registering_races_completion() {
    loom::model(|| {
        let (queue, freed, push) = scheduler();
        let outputs = Arc::new(AtomicUsize::new(0));
        let (runnable, mut handle) = {
            let outputs = outputs.clone();
            spawn(async move { DropCounter(outputs) }, push)
        };
        let woken = Arc::new(AtomicUsize::new(0));
        let dropper = {
            let woken = woken.clone();
            thread::spawn(move || {
                let waker = counting_waker(woken);
                let polled = Pin::new(&mut handle).poll(&mut Context::from_waker(&waker));
                drop(polled);
                drop(handle);
            })
        };
        runnable.run();
        dropper.join().unwrap();
        drain(&queue);
        assert_eq!(
            outputs.load(Ordering::SeqCst),
            1,
            "output dropped exactly once"
        );
        assert!(woken.load(Ordering::SeqCst) <= 1);
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn abort_races_wake_of_an_idle_task() {
    loom::model(|| {
        let (queue, freed, push) = scheduler();
        let dropped = Arc::new(AtomicUsize::new(0));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let (runnable, handle) = {
            let slot = slot.clone();
            let guard = DropCounter(dropped.clone());
            spawn(
                poll_fn(move |cx| {
                    let _keep = &guard;
                    *slot.lock().unwrap() = Some(cx.waker().clone());
                    Poll::<()>::Pending
                }),
                push,
            )
        };
        assert!(!runnable.run());
        let waker = slot.lock().unwrap().take().unwrap();
        let waker_thread = thread::spawn(move || waker.wake());
        handle.abort();
        drain(&queue);
        waker_thread.join().unwrap();
        drain(&queue);
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert!(loom::future::block_on(handle).unwrap_err().is_cancelled());
        slot.lock().unwrap().take();
        assert_eq!(freed.load(Ordering::SeqCst), 1);
    });
}

/// A waker that counts its wakes in a loom atomic.
fn counting_waker(count: Arc<AtomicUsize>) -> Waker {
    use std::task::{RawWaker, RawWakerVTable};
    // Loom's `Arc` has no `into_raw`, so the counter is boxed behind a thin pointer.
    fn raw(count: Box<Arc<AtomicUsize>>) -> RawWaker {
        RawWaker::new(Box::into_raw(count).cast(), &VTABLE)
    }
    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` is a live `Box<Arc<AtomicUsize>>` made by `raw`.
        let count = unsafe { &*data.cast::<Arc<AtomicUsize>>() };
        raw(Box::new(count.clone()))
    }
    unsafe fn wake(data: *const ()) {
        // SAFETY: as above; by value, so `drop` follows.
        unsafe {
            wake_by_ref(data);
            drop_waker(data);
        }
    }
    unsafe fn wake_by_ref(data: *const ()) {
        // SAFETY: as above.
        unsafe { &*data.cast::<Arc<AtomicUsize>>() }.fetch_add(1, Ordering::SeqCst);
    }
    unsafe fn drop_waker(data: *const ()) {
        // SAFETY: as above, given up once.
        drop(unsafe { Box::from_raw(data.cast_mut().cast::<Arc<AtomicUsize>>()) });
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);
    // SAFETY: the vtable functions follow the `RawWaker` contract for this pointer.
    unsafe { Waker::from_raw(raw(Box::new(count))) }
}

//! The public face of `weft_rt::task`, without a runtime: auto traits of the handles,
//! `yield_now` under a foreign executor, `try_current_id` outside a task.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use weft_rt::task::{self, AbortHandle, Id, JoinError, JoinHandle};

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_unpin<T: Unpin>() {}
fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
fn assert_id<T: Copy + Eq + std::hash::Hash + std::fmt::Display + std::fmt::Debug>() {}

#[test]
fn handles_have_the_documented_auto_traits() {
    assert_send::<JoinHandle<u32>>();
    assert_sync::<JoinHandle<u32>>();
    assert_unpin::<JoinHandle<std::marker::PhantomPinned>>();
    assert_send::<AbortHandle>();
    assert_sync::<AbortHandle>();
    assert_error::<JoinError>();
    assert_id::<Id>();
    // The crate root re-exports them.
    let _: fn(weft_rt::JoinHandle<()>) -> weft_rt::AbortHandle = |handle| handle.abort_handle();
    let _: Option<weft_rt::Id> = None;
    let _: Option<weft_rt::JoinError> = None;
}

#[test]
fn join_error_converts_into_io_error() {
    fn convert(error: JoinError) -> std::io::Error {
        error.into()
    }
    let _ = convert;
}

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn yield_now_wakes_once_and_completes_on_the_second_poll() {
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut yielding = pin!(task::yield_now());
    assert!(yielding.as_mut().poll(&mut cx).is_pending());
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        1,
        "woke itself before returning Pending"
    );
    assert_eq!(yielding.as_mut().poll(&mut cx), Poll::Ready(()));
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
}

#[test]
fn no_current_task_outside_a_task() {
    assert_eq!(task::try_current_id(), None);
    let seen = std::thread::spawn(task::try_current_id).join().unwrap();
    assert_eq!(seen, None);
}

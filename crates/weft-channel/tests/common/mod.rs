//! Helpers shared by the integration tests: a tiny `block_on` driving futures on
//! the calling thread with a thread-parking waker, and a drop counter.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` to completion, parking the thread between polls. A future that
/// returns `Pending` without arranging a wake-up hangs here, so tests fail (by the
/// harness timeout) rather than pass by spinning.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// Polls once with a waker that counts its wake-ups.
pub fn poll_once<F: Future + Unpin>(future: &mut F, wakes: &Arc<WakeCounter>) -> Poll<F::Output> {
    let waker = Waker::from(Arc::clone(wakes));
    let mut cx = Context::from_waker(&waker);
    std::pin::Pin::new(future).poll(&mut cx)
}

/// A waker that counts how often it was woken.
#[derive(Default)]
pub struct WakeCounter(pub AtomicUsize);

impl WakeCounter {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for WakeCounter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A value that counts its drops in a shared counter.
#[derive(Debug)]
pub struct DropCounter {
    pub id: usize,
    drops: Arc<AtomicUsize>,
}

impl DropCounter {
    pub fn new(id: usize, drops: &Arc<AtomicUsize>) -> Self {
        Self {
            id,
            drops: Arc::clone(drops),
        }
    }
}

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// Every flavour's constructor, for tests that must hold for all of them.
pub fn flavours<T>() -> Vec<(
    &'static str,
    weft_channel::Sender<T>,
    weft_channel::Receiver<T>,
)> {
    let mut v = Vec::new();
    let (s, r) = weft_channel::bounded(0);
    v.push(("bounded(0)", s, r));
    let (s, r) = weft_channel::bounded(1);
    v.push(("bounded(1)", s, r));
    let (s, r) = weft_channel::bounded(16);
    v.push(("bounded(16)", s, r));
    let (s, r) = weft_channel::unbounded();
    v.push(("unbounded", s, r));
    v
}

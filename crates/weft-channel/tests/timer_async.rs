//! Async waits on timer channels (`after`, `at`, `tick`): one shared timer thread
//! serves them all, dropped futures withdraw their registration, and every due
//! message is delivered.

mod common;

use common::{WakeCounter, block_on, poll_once};
use futures_core::Stream;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use weft_channel::{after, at, tick};

/// Threads of this process (Linux: one entry per thread in /proc/self/task).
#[cfg(target_os = "linux")]
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Polls every future until all are ready, from one task; returns their outputs.
fn join_all<F: Future + Unpin>(mut futures: Vec<F>) -> Vec<F::Output> {
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    block_on(std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futures.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match Pin::new(f).poll(cx) {
                    Poll::Ready(v) => *o = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }));
    out.into_iter().map(Option::unwrap).collect()
}

#[test]
fn many_concurrent_timers_all_fire_at_their_instant() {
    let start = Instant::now();
    let receivers: Vec<_> = (0..300u64)
        .map(|i| after(Duration::from_millis(i % 25)))
        .collect();
    let futures: Vec<_> = receivers.iter().map(|r| r.recv_async()).collect();
    let got = join_all(futures);
    for (i, res) in got.into_iter().enumerate() {
        let due = res.expect("a timer never disconnects");
        assert!(
            due >= start + Duration::from_millis(i as u64 % 25),
            "timer {i} delivered its due instant"
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn pending_timer_futures_share_one_thread() {
    // Start the shared thread (if no other test has), so the count below is stable.
    block_on(after(Duration::from_millis(1)).recv_async()).unwrap();
    let before = thread_count();
    let receivers: Vec<_> = (0..200).map(|_| after(Duration::from_secs(60))).collect();
    let mut futures: Vec<_> = receivers.iter().map(|r| Box::pin(r.recv_async())).collect();
    let wakes = Arc::new(WakeCounter::default());
    for f in &mut futures {
        assert!(poll_once(f, &wakes).is_pending());
    }
    let during = thread_count();
    // Other tests of this binary may start or end threads meanwhile; 200 sleepers
    // could not hide in that.
    assert!(
        during < before + 50,
        "200 pending timers: {before} threads before, {during} with them pending"
    );
    drop(futures);
    assert_eq!(wakes.count(), 0, "none was due");
}

#[test]
fn dropped_timer_future_withdraws_its_waker() {
    let r = after(Duration::from_secs(60));
    let wakes = Arc::new(WakeCounter::default());
    let mut f = Box::pin(r.recv_async());
    assert!(poll_once(&mut f, &wakes).is_pending());
    assert!(
        Arc::strong_count(&wakes) > 1,
        "the timer thread holds the waker while the future waits"
    );
    // A second poll with the same waker keeps the one registration.
    assert!(poll_once(&mut f, &wakes).is_pending());
    drop(f);
    assert_eq!(
        Arc::strong_count(&wakes),
        1,
        "dropping the future removed its entry (and the waker clone with it)"
    );
    assert_eq!(wakes.count(), 0);
}

#[test]
fn completed_timer_future_leaves_nothing_registered() {
    // Far enough ahead that even a sanitized or loaded run polls it before it is due.
    let r = at(Instant::now() + Duration::from_millis(200));
    let wakes = Arc::new(WakeCounter::default());
    let waker = Waker::from(Arc::clone(&wakes));
    let mut f = Box::pin(r.recv_async());
    // Poll with the counting waker, then drive to completion with `block_on`'s
    // (which parks the thread: only the timer thread can wake it).
    assert!(
        f.as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    drop(waker);
    assert!(Arc::strong_count(&wakes) > 1, "registered");
    assert!(block_on(f).is_ok());
    assert_eq!(wakes.count(), 0, "the newer waker was the one woken");
    assert_eq!(
        Arc::strong_count(&wakes),
        1,
        "the replaced waker was released, and nothing stays registered"
    );
}

#[test]
fn dropping_some_timer_futures_leaves_the_others_on_time() {
    let receivers: Vec<_> = (0..40u64)
        .map(|i| after(Duration::from_millis(1 + i % 10)))
        .collect();
    let mut futures: Vec<_> = receivers.iter().map(|r| Box::pin(r.recv_async())).collect();
    let wakes = Arc::new(WakeCounter::default());
    // A slow run (a sanitizer, a loaded machine) may find some already due at their
    // first poll: those are done, and only the pending ones are registered.
    let pending: Vec<bool> = futures
        .iter_mut()
        .map(|f| poll_once(f, &wakes).is_pending())
        .collect();
    // Drop every other pending one; the rest must still be woken and complete.
    let kept: Vec<_> = futures
        .into_iter()
        .zip(pending)
        .enumerate()
        .filter_map(|(i, (f, pending))| (pending && i % 2 == 0).then_some(f))
        .collect();
    let expected = kept.len();
    let delivered = join_all(kept);
    assert_eq!(delivered.len(), expected);
    assert!(
        delivered.iter().all(Result::is_ok),
        "a timer never disconnects"
    );
}

#[test]
fn tick_stream_keeps_one_registration_per_item() {
    let t = tick(Duration::from_millis(1));
    let mut stream = Box::pin(t.stream());
    let mut n = 0;
    let got = block_on(std::future::poll_fn(|cx| {
        loop {
            match stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(_)) => {
                    n += 1;
                    if n == 5 {
                        return Poll::Ready(n);
                    }
                }
                Poll::Ready(None) => unreachable!("a tick never ends"),
                Poll::Pending => return Poll::Pending,
            }
        }
    }));
    assert_eq!(got, 5);
}

//! Async sends and receives: task against thread, task against task, streams, and
//! cancel safety (a dropped future loses no message and no wake-up).

mod common;

use common::{WakeCounter, block_on, flavours, poll_once};
use futures_core::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::Duration;
use weft_channel::{RecvError, SendError, bounded, unbounded};

#[test]
fn task_receives_from_thread_every_flavour() {
    for (name, s, r) in flavours::<usize>() {
        let t = thread::spawn(move || {
            for i in 0..1000 {
                s.send(i).unwrap();
            }
        });
        block_on(async {
            for i in 0..1000 {
                assert_eq!(r.recv_async().await, Ok(i), "{name}");
            }
            assert_eq!(r.recv_async().await, Err(RecvError), "{name}");
        });
        t.join().unwrap();
    }
}

#[test]
fn task_sends_to_thread_every_flavour() {
    for (name, s, r) in flavours::<usize>() {
        let t = thread::spawn(move || r.iter().collect::<Vec<_>>());
        block_on(async {
            for i in 0..1000 {
                s.send_async(i).await.unwrap();
            }
        });
        drop(s);
        assert_eq!(t.join().unwrap(), (0..1000).collect::<Vec<_>>(), "{name}");
    }
}

#[test]
fn task_to_task_on_two_threads_every_flavour() {
    for (name, s, r) in flavours::<usize>() {
        let t = thread::spawn(move || {
            block_on(async {
                for i in 0..1000 {
                    s.send_async(i).await.unwrap();
                }
            })
        });
        let got = block_on(async {
            let mut got = Vec::new();
            while let Ok(v) = r.recv_async().await {
                got.push(v);
            }
            got
        });
        t.join().unwrap();
        assert_eq!(got, (0..1000).collect::<Vec<_>>(), "{name}");
    }
}

#[test]
fn async_ping_pong_rendezvous_and_bounded() {
    for cap in [0, 1] {
        let (ping_s, ping_r) = bounded::<u32>(cap);
        let (pong_s, pong_r) = bounded::<u32>(cap);
        let t = thread::spawn(move || {
            block_on(async {
                while let Ok(v) = ping_r.recv_async().await {
                    pong_s.send_async(v + 1).await.unwrap();
                }
            })
        });
        block_on(async {
            for i in 0..500 {
                ping_s.send_async(i).await.unwrap();
                assert_eq!(pong_r.recv_async().await, Ok(i + 1));
            }
        });
        drop(ping_s);
        t.join().unwrap();
    }
}

#[test]
fn stream_yields_all_then_ends() {
    let (s, r) = bounded(2);
    let t = thread::spawn(move || {
        for i in 0..100 {
            s.send(i).unwrap();
        }
    });
    let got = block_on(async {
        let mut stream = r.stream();
        let mut got = Vec::new();
        while let Some(v) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
            got.push(v);
        }
        got
    });
    t.join().unwrap();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[test]
fn send_async_reports_disconnection_with_the_message() {
    for (name, s, r) in flavours::<i32>() {
        drop(r);
        assert_eq!(block_on(s.send_async(4)), Err(SendError(4)), "{name}");
    }
    let (s, r) = bounded(1);
    s.send(0).unwrap();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(5));
        drop(r);
    });
    assert_eq!(block_on(s.send_async(1)), Err(SendError(1)));
    t.join().unwrap();
}

/// A receiver future that was woken for a message and then dropped must pass the
/// wake-up to the next waiting receiver; the message stays in the channel.
#[test]
fn dropped_woken_recv_future_passes_the_wake_up_on() {
    for (name, s, r) in flavours::<i32>() {
        let wakes_a = Arc::new(WakeCounter::default());
        let wakes_b = Arc::new(WakeCounter::default());
        let mut a = r.recv_async();
        let mut b = r.recv_async();
        assert!(poll_once(&mut a, &wakes_a).is_pending(), "{name}");
        assert!(poll_once(&mut b, &wakes_b).is_pending(), "{name}");
        let sender = if s.capacity() == Some(0) {
            // Rendezvous: the send waits for a taker, so it runs on a thread.
            let s = s.clone();
            Some(thread::spawn(move || s.send(1).unwrap()))
        } else {
            s.send(1).unwrap();
            None
        };
        // Wait until some future is woken.
        while wakes_a.count() + wakes_b.count() == 0 {
            thread::yield_now();
        }
        let (woken, mut other, other_wakes) = if wakes_a.count() > 0 {
            (a, b, wakes_b)
        } else {
            (b, a, wakes_a)
        };
        drop(woken);
        // The other future is woken in turn and gets the message.
        while other_wakes.count() == 0 {
            thread::yield_now();
        }
        loop {
            match poll_once(&mut other, &other_wakes) {
                Poll::Ready(v) => {
                    assert_eq!(v, Ok(1), "{name}");
                    break;
                }
                Poll::Pending => thread::yield_now(),
            }
        }
        if let Some(t) = sender {
            t.join().unwrap();
        }
    }
}

/// A recv future dropped at any point never takes a message with it.
#[test]
fn dropped_recv_futures_lose_no_message() {
    for (name, s, r) in flavours::<usize>() {
        let producer = thread::spawn(move || {
            for i in 0..500 {
                s.send(i).unwrap();
            }
        });
        let wakes = Arc::new(WakeCounter::default());
        let mut got = Vec::new();
        loop {
            // Poll a fresh future a couple of times, then drop it if still pending.
            let mut fut = r.recv_async();
            let mut outcome = None;
            for _ in 0..2 {
                if let Poll::Ready(v) = poll_once(&mut fut, &wakes) {
                    outcome = Some(v);
                    break;
                }
                thread::yield_now();
            }
            drop(fut);
            match outcome {
                Some(Ok(v)) => got.push(v),
                Some(Err(_)) => break,
                None => {}
            }
        }
        producer.join().unwrap();
        assert_eq!(got, (0..500).collect::<Vec<_>>(), "{name}");
    }
}

/// A send future dropped before completing sends nothing (not half).
#[test]
fn dropped_send_future_sends_nothing() {
    for cap in [0, 1] {
        let (s, r) = bounded::<i32>(cap);
        if cap == 1 {
            s.send(0).unwrap();
        }
        let wakes = Arc::new(WakeCounter::default());
        let mut fut = s.send_async(99);
        assert!(poll_once(&mut fut, &wakes).is_pending());
        drop(fut);
        if cap == 1 {
            assert_eq!(r.recv(), Ok(0));
        }
        assert!(
            r.try_recv().is_err(),
            "bounded({cap}): the dropped send left nothing"
        );
        drop(s);
        assert!(r.recv().is_err());
    }
}

#[test]
fn send_future_waits_for_room_and_wakes() {
    let (s, r) = bounded::<i32>(1);
    s.send(1).unwrap();
    let wakes = Arc::new(WakeCounter::default());
    let mut fut = s.send_async(2);
    assert!(poll_once(&mut fut, &wakes).is_pending());
    assert_eq!(r.recv(), Ok(1));
    assert_eq!(
        wakes.count(),
        1,
        "the receive made room and woke the sender"
    );
    assert!(matches!(poll_once(&mut fut, &wakes), Poll::Ready(Ok(()))));
    assert_eq!(r.recv(), Ok(2));
}

#[test]
fn unbounded_send_async_is_immediate() {
    let (s, r) = unbounded();
    let wakes = Arc::new(WakeCounter::default());
    let mut fut = s.send_async(5);
    assert!(matches!(poll_once(&mut fut, &wakes), Poll::Ready(Ok(()))));
    assert_eq!(r.recv(), Ok(5));
}

#[test]
fn recv_async_on_timer_channels() {
    let r = weft_channel::after(Duration::from_millis(2));
    assert!(block_on(r.recv_async()).is_ok());
    let t = weft_channel::tick(Duration::from_millis(1));
    for _ in 0..3 {
        assert!(block_on(t.recv_async()).is_ok());
    }
}

mod sink {
    use super::common::{DropCounter, WakeCounter, block_on, flavours};
    use futures_sink::Sink;
    use std::future::poll_fn;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Waker};
    use std::thread;
    use weft_channel::{SendError, bounded, unbounded};

    /// `SinkExt::send`: ready, start, flush.
    async fn send_via<S: Sink<T> + Unpin, T>(sink: &mut S, msg: T) -> Result<(), S::Error> {
        poll_fn(|cx| Pin::new(&mut *sink).poll_ready(cx)).await?;
        Pin::new(&mut *sink).start_send(msg)?;
        poll_fn(|cx| Pin::new(&mut *sink).poll_flush(cx)).await
    }

    #[test]
    fn sink_delivers_in_order_to_a_thread_every_flavour() {
        for (name, s, r) in flavours::<usize>() {
            let t = thread::spawn(move || r.iter().collect::<Vec<_>>());
            block_on(async {
                let mut sink = s.sink();
                for i in 0..500 {
                    send_via(&mut sink, i).await.unwrap();
                }
                // Feed without flushing in between: each poll_ready finishes the last.
                for i in 500..1000 {
                    poll_fn(|cx| Pin::new(&mut sink).poll_ready(cx))
                        .await
                        .unwrap();
                    Pin::new(&mut sink).start_send(i).unwrap();
                }
                poll_fn(|cx| Pin::new(&mut sink).poll_close(cx))
                    .await
                    .unwrap();
            });
            drop(s);
            assert_eq!(t.join().unwrap(), (0..1000).collect::<Vec<_>>(), "{name}");
        }
    }

    #[test]
    fn sink_reports_disconnection_with_the_message() {
        for (name, s, r) in flavours::<usize>() {
            drop(r);
            let mut sink = s.sink();
            let res = block_on(send_via(&mut sink, 7));
            assert_eq!(res, Err(SendError(7)), "{name}");
        }
    }

    #[test]
    fn sink_waits_for_room_and_its_waker_is_woken() {
        let (s, r) = bounded::<u32>(1);
        s.send(0).unwrap();
        let mut sink = s.sink();
        Pin::new(&mut sink).start_send(1).unwrap(); // full: in flight
        let wakes = Arc::new(WakeCounter::default());
        let waker = Waker::from(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut sink).poll_flush(&mut cx).is_pending());
        assert_eq!(r.recv(), Ok(0));
        assert!(
            wakes.count() >= 1,
            "the receive made room and woke the sink"
        );
        assert_eq!(Pin::new(&mut sink).poll_flush(&mut cx), Poll::Ready(Ok(())));
        assert_eq!(r.try_recv(), Ok(1));
    }

    #[test]
    fn dropping_a_sink_cancels_its_message_in_flight() {
        for cap in [0usize, 1] {
            let drops = Arc::new(AtomicUsize::new(0));
            let (s, r) = bounded(cap);
            if cap == 1 {
                s.send(DropCounter::new(0, &drops)).unwrap();
            }
            let mut sink = s.sink();
            Pin::new(&mut sink)
                .start_send(DropCounter::new(1, &drops))
                .unwrap();
            let waker = Waker::noop();
            assert!(
                Pin::new(&mut sink)
                    .poll_flush(&mut Context::from_waker(waker))
                    .is_pending()
            );
            drop(sink);
            assert_eq!(drops.load(Ordering::SeqCst), 1, "bounded({cap}): dropped");
            if cap == 1 {
                assert_eq!(r.recv().unwrap().id, 0);
            }
            assert!(r.try_recv().is_err(), "bounded({cap}): never sent");
            // The channel works on: the cancelled send left no registration behind.
            let t = thread::spawn(move || r.recv().map(|m| m.id));
            s.send(DropCounter::new(2, &drops)).unwrap();
            assert_eq!(t.join().unwrap(), Ok(2));
        }
    }

    #[test]
    fn unbounded_sink_never_waits() {
        let (s, r) = unbounded();
        let mut sink = s.sink();
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        for i in 0..100 {
            assert_eq!(Pin::new(&mut sink).poll_ready(&mut cx), Poll::Ready(Ok(())));
            Pin::new(&mut sink).start_send(i).unwrap();
        }
        assert_eq!(Pin::new(&mut sink).poll_flush(&mut cx), Poll::Ready(Ok(())));
        assert_eq!(r.try_iter().count(), 100);
    }
}

/// A waker whose `clone` panics (a broken executor) makes the poll that registers
/// panic; dropping that future leaves no registration behind, and the channel
/// serves the next waiters as before.
#[test]
fn panicking_waker_clone_leaves_the_channel_usable() {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::task::{Context, RawWaker, RawWakerVTable, Waker};

    fn panicking_clone(_: *const ()) -> RawWaker {
        panic!("this waker cannot be cloned")
    }
    fn no_op(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(panicking_clone, no_op, no_op, no_op);
    // SAFETY: every vtable function ignores the (null) data pointer.
    let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };

    for (name, s, r) in flavours::<u32>() {
        if s.capacity() == Some(0) {
            continue; // rendezvous futures wait elsewhere
        }
        {
            let mut fut = r.recv_async();
            let polled = catch_unwind(AssertUnwindSafe(|| {
                Pin::new(&mut fut).poll(&mut Context::from_waker(&waker))
            }));
            assert!(polled.is_err(), "{name}: the clone panicked");
        }
        // The next future takes the slot and is woken by a send from a thread.
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(10));
            s.send(7).unwrap();
            s
        });
        assert_eq!(block_on(r.recv_async()), Ok(7), "{name}");
        drop(t.join().unwrap());
        assert_eq!(block_on(r.recv_async()), Err(RecvError), "{name}");
    }
}

/// One message at a time through an unbounded channel, each receive polled on the
/// empty channel first: every slot of several blocks, each block's last among them,
/// is found empty, woken for once and received once.
#[test]
fn unbounded_recv_async_waits_at_every_slot_of_several_blocks() {
    let (s, r) = unbounded::<usize>();
    let wakes = Arc::new(WakeCounter::default());
    for i in 0..100 {
        let mut recv = r.recv_async();
        assert_eq!(poll_once(&mut recv, &wakes), Poll::Pending, "message {i}");
        s.send(i).unwrap();
        assert_eq!(wakes.count(), i + 1, "message {i}");
        assert_eq!(poll_once(&mut recv, &wakes), Poll::Ready(Ok(i)));
    }
    assert_eq!(r.try_recv(), Err(weft_channel::TryRecvError::Empty));
}

/// Disconnection is seen wherever the receivers stand in a block, the slot before a
/// block's end and the end itself included.
#[test]
fn unbounded_recv_async_sees_disconnection_at_any_slot() {
    for sent in [0, 1, 29, 30, 31, 32, 61, 62, 63] {
        let (s, r) = unbounded::<usize>();
        let wakes = Arc::new(WakeCounter::default());
        for i in 0..sent {
            s.send(i).unwrap();
        }
        for i in 0..sent {
            assert_eq!(poll_once(&mut r.recv_async(), &wakes), Poll::Ready(Ok(i)));
        }
        let mut recv = r.recv_async();
        assert_eq!(poll_once(&mut recv, &wakes), Poll::Pending, "after {sent}");
        drop(s);
        assert_eq!(wakes.count(), 1, "after {sent}");
        assert_eq!(poll_once(&mut recv, &wakes), Poll::Ready(Err(RecvError)));
    }
}

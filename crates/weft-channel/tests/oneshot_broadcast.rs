//! `oneshot` and `broadcast`.

mod common;

use common::block_on;
use std::thread;
use std::time::Duration;
use weft_channel::{
    BroadcastRecvError, BroadcastRecvTimeoutError, BroadcastTryRecvError, RecvError,
    RecvTimeoutError, TryRecvError, broadcast, oneshot,
};

#[test]
fn oneshot_send_then_recv_and_disconnect() {
    let (s, r) = oneshot();
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    s.send(1).unwrap();
    assert_eq!(r.recv(), Ok(1));
    assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
    let (s, r) = oneshot::<i32>();
    drop(s);
    assert_eq!(r.recv(), Err(RecvError));
    let (s, r) = oneshot::<i32>();
    assert!(!s.is_closed());
    drop(r);
    assert!(s.is_closed());
    assert_eq!(s.send(2).unwrap_err().into_inner(), 2);
}

#[test]
fn oneshot_blocking_across_threads_and_timeouts() {
    let (s, r) = oneshot();
    assert_eq!(
        r.recv_timeout(Duration::from_millis(2)),
        Err(RecvTimeoutError::Timeout)
    );
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(5));
        s.send("x").unwrap();
    });
    assert_eq!(r.recv_timeout(Duration::from_secs(30)), Ok("x"));
    t.join().unwrap();
    let (s, r) = oneshot::<i32>();
    let t = thread::spawn(move || r.recv());
    thread::sleep(Duration::from_millis(5));
    drop(s);
    assert_eq!(t.join().unwrap(), Err(RecvError));
}

#[test]
fn oneshot_awaited() {
    let (s, r) = oneshot();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(2));
        s.send(5).unwrap();
    });
    assert_eq!(block_on(r), Ok(5));
    t.join().unwrap();
    let (s, r) = oneshot::<i32>();
    let t = thread::spawn(move || drop(s));
    assert_eq!(block_on(r), Err(RecvError));
    t.join().unwrap();
}

#[test]
fn broadcast_every_receiver_sees_every_message() {
    let (s, r) = broadcast(16);
    let receivers: Vec<_> = (0..3)
        .map(|_| {
            let mut r = r.clone();
            thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    match r.recv() {
                        Ok(v) => got.push(v),
                        Err(BroadcastRecvError::Closed) => return got,
                        Err(BroadcastRecvError::Lagged(n)) => panic!("lagged {n}"),
                    }
                }
            })
        })
        .collect();
    drop(r);
    for i in 0..10 {
        assert_eq!(s.send(i).unwrap(), 3);
        thread::sleep(Duration::from_millis(1));
    }
    drop(s);
    for h in receivers {
        let got = h.join().unwrap();
        // No receiver can lag: 10 messages < capacity 16.
        assert_eq!(got, (0..10).collect::<Vec<_>>());
    }
}

#[test]
fn broadcast_lagging_receiver_is_told_how_many_it_skipped() {
    let (s, mut r) = broadcast(4);
    for i in 0..10 {
        s.send(i).unwrap();
    }
    assert_eq!(r.try_recv(), Err(BroadcastTryRecvError::Lagged(6)));
    for i in 6..10 {
        assert_eq!(r.try_recv(), Ok(i));
    }
    assert_eq!(r.try_recv(), Err(BroadcastTryRecvError::Empty));
    assert_eq!(
        r.recv_timeout(Duration::from_millis(2)),
        Err(BroadcastRecvTimeoutError::Timeout)
    );
    let mut late = s.subscribe();
    s.send(10).unwrap();
    assert_eq!(late.recv(), Ok(10));
    assert_eq!(r.recv(), Ok(10));
    drop(s);
    assert_eq!(r.recv(), Err(BroadcastRecvError::Closed));
}

#[test]
fn broadcast_async_and_no_receivers() {
    let (s, mut r) = broadcast(2);
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(2));
        s.send(1).unwrap();
        s
    });
    assert_eq!(block_on(r.recv_async()), Ok(1));
    let s = t.join().unwrap();
    drop(r);
    assert_eq!(s.send(2).unwrap_err().into_inner(), 2);
    assert_eq!(s.receiver_count(), 0);
}

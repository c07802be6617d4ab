//! The semantics of Go's channel tests (`chan_test.go`, `select` tests) re-expressed:
//! rendezvous hand-off, zero capacity with many senders, select fairness, channels
//! of channels, nonblocking select, close wakes everyone.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;
use weft_channel::{Receiver, Select, Sender, bounded, never, select, unbounded};

#[test]
fn rendezvous_hands_off_only_when_both_are_there() {
    let (s, r) = bounded::<usize>(0);
    let sent = Arc::new(AtomicUsize::new(0));
    let t = {
        let sent = Arc::clone(&sent);
        thread::spawn(move || {
            for i in 0..10 {
                s.send(i).unwrap();
                sent.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    for i in 0..10 {
        // A send completes only when its message is taken: the sender can be at most
        // one message past what we have received (it may have counted the last one).
        assert!(
            sent.load(Ordering::SeqCst) <= i,
            "a send completed without a receiver"
        );
        assert_eq!(r.recv(), Ok(i));
    }
    t.join().unwrap();
    assert_eq!(sent.load(Ordering::SeqCst), 10);
}

#[test]
fn zero_capacity_many_senders_many_receivers() {
    const SENDERS: usize = 8;
    const PER: usize = 500;
    let (s, r) = bounded::<usize>(0);
    let senders: Vec<_> = (0..SENDERS)
        .map(|id| {
            let s = s.clone();
            thread::spawn(move || {
                for i in 0..PER {
                    s.send(id * PER + i).unwrap();
                }
            })
        })
        .collect();
    drop(s);
    let receivers: Vec<_> = (0..3)
        .map(|_| {
            let r = r.clone();
            thread::spawn(move || r.iter().collect::<Vec<_>>())
        })
        .collect();
    drop(r);
    for h in senders {
        h.join().unwrap();
    }
    let mut all: Vec<usize> = receivers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..SENDERS * PER).collect::<Vec<_>>());
}

#[test]
fn close_wakes_every_blocked_receiver() {
    for cap in [0, 1, 8] {
        let (s, r) = bounded::<i32>(cap);
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let r = r.clone();
                thread::spawn(move || r.recv())
            })
            .collect();
        thread::sleep(Duration::from_millis(10));
        drop(s);
        for w in waiters {
            assert!(w.join().unwrap().is_err(), "bounded({cap})");
        }
    }
}

#[test]
fn channel_of_channels() {
    let (s, r) = unbounded::<Sender<i32>>();
    let server = thread::spawn(move || {
        for reply in r {
            reply.send(42).unwrap();
        }
    });
    for _ in 0..10 {
        let (rs, rr) = bounded(0);
        s.send(rs).unwrap();
        assert_eq!(rr.recv(), Ok(42));
    }
    drop(s);
    server.join().unwrap();
}

#[test]
fn nonblocking_select_on_empty_channels_takes_default() {
    let (_s1, r1) = unbounded::<i32>();
    let (_s2, r2) = bounded::<i32>(0);
    let (s3, _r3) = bounded::<i32>(0);
    for _ in 0..100 {
        let took_default = select! {
            recv(r1) -> _ => false,
            recv(r2) -> _ => false,
            send(s3, 1) -> _ => false,
            default => true,
        };
        assert!(took_default);
    }
}

/// Two always-ready receivers: over many selects, each must win a substantial share.
/// With a fair coin, the count for one side over 10,000 selects has standard
/// deviation 50; the bound (at least 30% each, i.e. 2,000 below the mean: 40 sigma)
/// cannot flake, yet any bias toward the first arm fails it.
#[test]
fn select_is_fair_between_ready_receivers() {
    const ROUNDS: usize = 10_000;
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    for _ in 0..ROUNDS {
        s1.send(()).unwrap();
        s2.send(()).unwrap();
    }
    let (mut first, mut second) = (0, 0);
    for _ in 0..ROUNDS {
        select! {
            recv(r1) -> m => { m.unwrap(); first += 1; },
            recv(r2) -> m => { m.unwrap(); second += 1; },
        }
    }
    assert_eq!(first + second, ROUNDS);
    assert!(
        first >= ROUNDS * 3 / 10,
        "first arm won {first} of {ROUNDS}"
    );
    assert!(
        second >= ROUNDS * 3 / 10,
        "second arm won {second} of {ROUNDS}"
    );
}

#[test]
fn dynamic_select_is_fair_too() {
    const ROUNDS: usize = 6_000;
    let channels: Vec<(Sender<()>, Receiver<()>)> = (0..3).map(|_| bounded(ROUNDS)).collect();
    for (s, _) in &channels {
        for _ in 0..ROUNDS {
            s.send(()).unwrap();
        }
    }
    let mut wins = [0usize; 3];
    for _ in 0..ROUNDS {
        let mut sel = Select::new();
        for (_, r) in &channels {
            sel.recv(r);
        }
        let oper = sel.select();
        let i = oper.index();
        oper.recv(&channels[i].1).unwrap();
        wins[i] += 1;
    }
    for (i, w) in wins.iter().enumerate() {
        // Mean 2,000, sd ~37: 1,200 is more than 20 sigma below.
        assert!(*w >= 1_200, "operation {i} won {w} of {ROUNDS}: {wins:?}");
    }
}

#[test]
fn select_send_and_recv_in_one_select_on_rendezvous() {
    // Go's "sync select": a send and a receive on two rendezvous channels served by
    // partner threads; every exchange must complete.
    let (s_in, r_in) = bounded::<i32>(0);
    let (s_out, r_out) = bounded::<i32>(0);
    let producer = thread::spawn(move || {
        for i in 0..200 {
            s_in.send(i).unwrap();
        }
    });
    let consumer = thread::spawn(move || r_out.iter().take(200).collect::<Vec<_>>());
    // A rendezvous sender nobody receives from: never ready (but not disconnected).
    let (idle, _idle_receiver) = bounded::<i32>(0);
    let (mut got, mut sent) = (Vec::new(), 0);
    while got.len() < 200 || sent < 200 {
        let live_in = if got.len() < 200 {
            r_in.clone()
        } else {
            never()
        };
        let out = if sent < 200 {
            s_out.clone()
        } else {
            idle.clone()
        };
        let out_ready: Receiver<()> = never();
        select! {
            recv(live_in) -> m => got.push(m.unwrap()),
            send(out, sent) -> res => { res.unwrap(); sent += 1; },
            recv(out_ready) -> _ => unreachable!(),
        }
    }
    assert_eq!(got, (0..200).collect::<Vec<_>>());
    drop(s_out);
    assert_eq!(consumer.join().unwrap(), (0..200).collect::<Vec<_>>());
    producer.join().unwrap();
}

#[test]
fn blocked_select_woken_by_each_kind_of_channel() {
    for cap in [0usize, 1, 100] {
        let (s, r) = bounded::<i32>(cap);
        let (_s2, r2) = unbounded::<i32>();
        let t = thread::spawn(move || {
            select! {
                recv(r2) -> _ => None,
                recv(r) -> m => Some(m.unwrap()),
            }
        });
        thread::sleep(Duration::from_millis(5));
        s.send(9).unwrap();
        assert_eq!(t.join().unwrap(), Some(9), "bounded({cap})");
    }
    let (s, r) = unbounded::<i32>();
    let t = thread::spawn(move || {
        select! {
            recv(r) -> m => m.unwrap(),
        }
    });
    thread::sleep(Duration::from_millis(5));
    s.send(10).unwrap();
    assert_eq!(t.join().unwrap(), 10);
}

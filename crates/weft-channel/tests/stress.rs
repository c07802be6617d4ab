//! MPMC stress: many producers and consumers over every flavour, with checksums
//! proving no message lost or duplicated, and a bound on the bounded flavours' size.
//! Sized to finish in a few seconds on two cores.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use weft_channel::{Receiver, Sender, bounded, select, unbounded};

const PRODUCERS: usize = 4;
const CONSUMERS: usize = 4;
const PER_PRODUCER: u64 = 20_000;

fn run(name: &str, s: Sender<u64>, r: Receiver<u64>, cap: Option<usize>) {
    let received = Arc::new(AtomicUsize::new(0));
    let sum = Arc::new(AtomicU64::new(0));
    let xor = Arc::new(AtomicU64::new(0));
    let max_len = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let r = r.clone();
            let (received, sum, xor, max_len) =
                (received.clone(), sum.clone(), xor.clone(), max_len.clone());
            thread::spawn(move || {
                let mut seen = [0u64; PRODUCERS];
                for v in r.iter() {
                    let producer = (v >> 32) as usize;
                    let seq = v & 0xffff_ffff;
                    // Per-producer order holds for each consumer's subsequence.
                    assert!(seq >= seen[producer], "out of order");
                    seen[producer] = seq + 1;
                    received.fetch_add(1, Ordering::Relaxed);
                    sum.fetch_add(v, Ordering::Relaxed);
                    xor.fetch_xor(v.wrapping_mul(0x9e37_79b9_7f4a_7c15), Ordering::Relaxed);
                    max_len.fetch_max(r.len(), Ordering::Relaxed);
                }
            })
        })
        .collect();
    drop(r);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let s = s.clone();
            thread::spawn(move || {
                for seq in 0..PER_PRODUCER {
                    s.send(((p as u64) << 32) | seq).unwrap();
                }
            })
        })
        .collect();
    drop(s);
    for h in producers {
        h.join().unwrap();
    }
    for h in consumers {
        h.join().unwrap();
    }
    let (mut want_sum, mut want_xor) = (0u64, 0u64);
    for p in 0..PRODUCERS as u64 {
        for seq in 0..PER_PRODUCER {
            let v = (p << 32) | seq;
            want_sum = want_sum.wrapping_add(v);
            want_xor ^= v.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    assert_eq!(
        received.load(Ordering::Relaxed),
        PRODUCERS * PER_PRODUCER as usize,
        "{name}: count"
    );
    assert_eq!(sum.load(Ordering::Relaxed), want_sum, "{name}: sum");
    assert_eq!(xor.load(Ordering::Relaxed), want_xor, "{name}: xor");
    if let Some(cap) = cap {
        assert!(
            max_len.load(Ordering::Relaxed) <= cap,
            "{name}: grew past its bound"
        );
    }
}

#[test]
fn mpmc_bounded_rendezvous() {
    let (s, r) = bounded(0);
    run("bounded(0)", s, r, Some(0));
}

#[test]
fn mpmc_bounded_one() {
    let (s, r) = bounded(1);
    run("bounded(1)", s, r, Some(1));
}

#[test]
fn mpmc_bounded_many() {
    let (s, r) = bounded(64);
    run("bounded(64)", s, r, Some(64));
}

#[test]
fn mpmc_unbounded() {
    let (s, r) = unbounded();
    run("unbounded", s, r, None);
}

/// Consumers receive through `select!` over two channels while producers send to
/// both: the union is exactly what was sent.
#[test]
fn select_fan_in_checksum() {
    for cap in [0usize, 1, 16] {
        let (s1, r1) = bounded::<u64>(cap);
        let (s2, r2) = bounded::<u64>(cap);
        const N: u64 = 10_000;
        let producers: Vec<_> = [s1, s2]
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                thread::spawn(move || {
                    for v in 0..N {
                        s.send(v * 2 + i as u64).unwrap();
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let (r1, r2) = (r1.clone(), r2.clone());
                thread::spawn(move || {
                    let (mut sum, mut count) = (0u64, 0u64);
                    let (mut open1, mut open2) = (true, true);
                    while open1 || open2 {
                        let a = if open1 { r1.clone() } else { weft_channel::never() };
                        let b = if open2 { r2.clone() } else { weft_channel::never() };
                        select! {
                            recv(a) -> m => match m { Ok(v) => { sum += v; count += 1; } Err(_) => open1 = false },
                            recv(b) -> m => match m { Ok(v) => { sum += v; count += 1; } Err(_) => open2 = false },
                        }
                    }
                    (sum, count)
                })
            })
            .collect();
        drop((r1, r2));
        for p in producers {
            p.join().unwrap();
        }
        let (sum, count) = consumers
            .into_iter()
            .map(|c| c.join().unwrap())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        assert_eq!(count, 2 * N, "bounded({cap})");
        assert_eq!(sum, (0..2 * N).sum::<u64>(), "bounded({cap})");
    }
}

/// Threads and tasks mixed on both ends of one channel.
#[test]
fn threads_and_tasks_mixed() {
    for cap in [0usize, 2] {
        let (s, r) = bounded::<u64>(cap);
        const N: u64 = 5_000;
        let thread_sender = {
            let s = s.clone();
            thread::spawn(move || (0..N).for_each(|v| s.send(v).unwrap()))
        };
        let task_sender = {
            let s = s.clone();
            thread::spawn(move || {
                common::block_on(async {
                    for v in N..2 * N {
                        s.send_async(v).await.unwrap();
                    }
                })
            })
        };
        drop(s);
        let task_receiver = {
            let r = r.clone();
            thread::spawn(move || {
                common::block_on(async {
                    let mut sum = 0;
                    while let Ok(v) = r.recv_async().await {
                        sum += v;
                    }
                    sum
                })
            })
        };
        let mut sum: u64 = r.iter().sum();
        thread_sender.join().unwrap();
        task_sender.join().unwrap();
        sum += task_receiver.join().unwrap();
        assert_eq!(sum, (0..2 * N).sum::<u64>(), "bounded({cap})");
    }
}

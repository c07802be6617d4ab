//! Every message is dropped exactly once: delivered ones by the receiver, undelivered
//! ones when the channel is freed (unbounded: when the last receiver goes), failed
//! sends' ones by the caller.

mod common;

use common::{DropCounter, flavours};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;
use weft_channel::{Select, bounded, broadcast, oneshot, unbounded};

#[test]
fn undelivered_messages_dropped_exactly_once_when_the_channel_goes() {
    for cap in [1usize, 7, 64] {
        for sent in [0usize, 1, cap / 2, cap] {
            let drops = Arc::new(AtomicUsize::new(0));
            let (s, r) = bounded(cap);
            for i in 0..sent {
                s.send(DropCounter::new(i, &drops)).unwrap();
            }
            let received = sent / 2;
            for _ in 0..received {
                drop(r.recv().unwrap());
            }
            assert_eq!(drops.load(Ordering::SeqCst), received);
            drop(s);
            assert_eq!(
                drops.load(Ordering::SeqCst),
                received,
                "the receiver keeps them"
            );
            drop(r);
            assert_eq!(
                drops.load(Ordering::SeqCst),
                sent,
                "bounded({cap}), {sent} sent"
            );
        }
    }
    for sent in [0usize, 1, 30, 31, 32, 100, 1000] {
        let drops = Arc::new(AtomicUsize::new(0));
        let (s, r) = unbounded();
        for i in 0..sent {
            s.send(DropCounter::new(i, &drops)).unwrap();
        }
        for _ in 0..sent / 3 {
            drop(r.recv().unwrap());
        }
        drop(r);
        drop(s);
        assert_eq!(drops.load(Ordering::SeqCst), sent, "unbounded, {sent} sent");
    }
}

#[test]
fn wrapped_ring_drops_the_right_slots() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (s, r) = bounded(4);
    for round in 0..10 {
        for i in 0..3 {
            s.send(DropCounter::new(round * 10 + i, &drops)).unwrap();
        }
        for _ in 0..3 {
            drop(r.recv().unwrap());
        }
    }
    // The ring has wrapped several times; leave three messages across the seam.
    for i in 0..3 {
        s.send(DropCounter::new(100 + i, &drops)).unwrap();
    }
    assert_eq!(drops.load(Ordering::SeqCst), 30);
    assert_eq!(r.len(), 3);
    drop((s, r));
    assert_eq!(drops.load(Ordering::SeqCst), 33);
}

#[test]
fn failed_sends_return_the_message_undropped() {
    for (name, s, r) in flavours::<DropCounter>() {
        let drops = Arc::new(AtomicUsize::new(0));
        drop(r);
        let back = s
            .send(DropCounter::new(1, &drops))
            .unwrap_err()
            .into_inner();
        assert_eq!(drops.load(Ordering::SeqCst), 0, "{name}");
        assert_eq!(back.id, 1);
        drop(back);
        let back = s
            .try_send(DropCounter::new(2, &drops))
            .unwrap_err()
            .into_inner();
        assert_eq!(back.id, 2);
        drop(back);
        assert_eq!(drops.load(Ordering::SeqCst), 2, "{name}");
    }
}

#[test]
fn timed_out_rendezvous_send_returns_the_message() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (s, _r) = bounded(0);
    let back = s
        .send_timeout(DropCounter::new(3, &drops), Duration::from_millis(2))
        .unwrap_err()
        .into_inner();
    assert_eq!((back.id, drops.load(Ordering::SeqCst)), (3, 0));
}

#[test]
fn concurrent_traffic_drops_each_message_once() {
    for cap in [Some(0), Some(3), None] {
        let drops = Arc::new(AtomicUsize::new(0));
        let (s, r) = match cap {
            Some(c) => bounded(c),
            None => unbounded(),
        };
        const PER: usize = 2_000;
        let senders: Vec<_> = (0..2)
            .map(|t| {
                let (s, drops) = (s.clone(), Arc::clone(&drops));
                thread::spawn(move || {
                    for i in 0..PER {
                        // The receiver leaves early: late sends fail and drop here.
                        let _ = s.send(DropCounter::new(t * PER + i, &drops));
                    }
                })
            })
            .collect();
        drop(s);
        for _ in 0..PER / 2 {
            drop(r.recv().unwrap());
        }
        drop(r);
        for h in senders {
            h.join().unwrap();
        }
        assert_eq!(drops.load(Ordering::SeqCst), 2 * PER, "cap {cap:?}");
    }
}

#[test]
fn select_registrations_on_rendezvous_channels_leak_nothing() {
    // Each blocked select over a zero channel allocates a packet; withdrawing it
    // must free it, and a message handed over must be dropped once.
    let drops = Arc::new(AtomicUsize::new(0));
    let (s, r) = bounded::<DropCounter>(0);
    let (_s2, r2) = bounded::<DropCounter>(0);
    let t = {
        let drops = Arc::clone(&drops);
        thread::spawn(move || {
            for i in 0..100 {
                s.send(DropCounter::new(i, &drops)).unwrap();
            }
        })
    };
    for _ in 0..100 {
        let mut sel = Select::new();
        let a = sel.recv(&r);
        let _b = sel.recv(&r2);
        let oper = sel.select();
        assert_eq!(oper.index(), a);
        drop(oper.recv(&r).unwrap());
    }
    t.join().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 100);
}

#[test]
fn oneshot_and_broadcast_drop_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (s, r) = oneshot();
    s.send(DropCounter::new(0, &drops)).unwrap();
    drop(r);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "an unreceived oneshot value is dropped"
    );
    let (s, r) = oneshot::<DropCounter>();
    drop(r);
    let back = s
        .send(DropCounter::new(1, &drops))
        .unwrap_err()
        .into_inner();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(back);
    assert_eq!(drops.load(Ordering::SeqCst), 2);

    let drops = Arc::new(AtomicUsize::new(0));
    let (s, r) = broadcast::<Arc<DropCounter>>(2);
    for i in 0..5 {
        s.send(Arc::new(DropCounter::new(i, &drops))).unwrap();
    }
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "overwritten messages are dropped"
    );
    drop((s, r));
    assert_eq!(drops.load(Ordering::SeqCst), 5);
}

#[test]
fn unbounded_drops_queued_messages_when_the_last_receiver_goes() {
    for sent in [0usize, 1, 30, 31, 32, 62, 63, 100] {
        for received in [0, sent / 2, sent] {
            let drops = Arc::new(AtomicUsize::new(0));
            let (s, r) = unbounded();
            let r2 = r.clone();
            for i in 0..sent {
                s.send(DropCounter::new(i, &drops)).unwrap();
            }
            for _ in 0..received {
                drop(r.recv().unwrap());
            }
            drop(r);
            assert_eq!(drops.load(Ordering::SeqCst), received, "a receiver is left");
            drop(r2);
            assert_eq!(
                drops.load(Ordering::SeqCst),
                sent,
                "{sent} sent, {received} received: dropped with the last receiver"
            );
            let back = s
                .send(DropCounter::new(sent, &drops))
                .unwrap_err()
                .into_inner();
            assert_eq!(
                drops.load(Ordering::SeqCst),
                sent,
                "a failed send hands back"
            );
            drop(back);
            drop(s);
            assert_eq!(
                drops.load(Ordering::SeqCst),
                sent + 1,
                "nothing dropped twice"
            );
        }
    }
}

/// A message whose drops are tallied per id, so a double drop shows up as a 2.
struct Tallied {
    id: usize,
    tally: Arc<Vec<AtomicUsize>>,
}

impl Drop for Tallied {
    fn drop(&mut self) {
        self.tally[self.id].fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn unbounded_receiver_leaving_under_concurrent_sends_drops_each_once() {
    const SENDERS: usize = 3;
    const PER_SENDER: usize = 2_000;
    for round in 0..20 {
        let tally: Arc<Vec<AtomicUsize>> = Arc::new(
            (0..SENDERS * PER_SENDER)
                .map(|_| AtomicUsize::new(0))
                .collect(),
        );
        let (s, r) = unbounded();
        let senders: Vec<_> = (0..SENDERS)
            .map(|t| {
                let s = s.clone();
                let tally = Arc::clone(&tally);
                thread::spawn(move || {
                    let mut failed = 0;
                    for i in 0..PER_SENDER {
                        let id = t * PER_SENDER + i;
                        let msg = Tallied {
                            id,
                            tally: Arc::clone(&tally),
                        };
                        if let Err(e) = s.send(msg) {
                            assert_eq!(e.0.id, id, "the failed send's own message");
                            failed += 1;
                        }
                    }
                    failed
                })
            })
            .collect();
        drop(s);
        // Receive a few (varying with the round), then leave mid-stream.
        for _ in 0..round * 50 {
            match r.recv() {
                Ok(m) => drop(m),
                Err(_) => break,
            }
        }
        drop(r);
        for t in senders {
            t.join().unwrap();
        }
        for (id, n) in tally.iter().enumerate() {
            assert_eq!(n.load(Ordering::SeqCst), 1, "message {id}, round {round}");
        }
    }
}

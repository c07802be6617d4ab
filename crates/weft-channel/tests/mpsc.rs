//! The semantics of std's `sync::mpsc` tests, re-expressed for every flavour:
//! smoke, ordering per sender, disconnection both ways, iterators, timeouts.

mod common;

use common::flavours;
use std::thread;
use std::time::{Duration, Instant};
use weft_channel::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError, bounded,
    unbounded,
};

#[test]
fn smoke() {
    for (name, s, r) in flavours::<i32>() {
        let t = thread::spawn(move || s.send(1).unwrap());
        assert_eq!(r.recv(), Ok(1), "{name}");
        t.join().unwrap();
    }
}

#[test]
fn smoke_threads_both_ways() {
    for (name, s, r) in flavours::<i32>() {
        let t = thread::spawn(move || {
            for i in 0..100 {
                s.send(i).unwrap();
            }
        });
        for i in 0..100 {
            assert_eq!(r.recv(), Ok(i), "{name}");
        }
        t.join().unwrap();
        assert_eq!(
            r.recv(),
            Err(RecvError),
            "{name}: disconnected after the sender left"
        );
    }
}

#[test]
fn port_gone_then_send_fails_with_the_message() {
    for (name, s, r) in flavours::<i32>() {
        drop(r);
        assert_eq!(s.send(7), Err(SendError(7)), "{name}");
        assert_eq!(s.try_send(8), Err(TrySendError::Disconnected(8)), "{name}");
        assert_eq!(
            s.send_timeout(9, Duration::from_millis(1)),
            Err(SendTimeoutError::Disconnected(9)),
            "{name}"
        );
    }
}

#[test]
fn chan_gone_then_recv_fails() {
    for (name, s, r) in flavours::<i32>() {
        drop(s);
        assert_eq!(r.recv(), Err(RecvError), "{name}");
        assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected), "{name}");
        assert_eq!(
            r.recv_timeout(Duration::from_millis(1)),
            Err(RecvTimeoutError::Disconnected),
            "{name}"
        );
    }
}

#[test]
fn buffered_messages_survive_sender_disconnect() {
    let (s, r) = bounded(4);
    s.send(1).unwrap();
    s.send(2).unwrap();
    drop(s);
    assert_eq!(r.recv(), Ok(1));
    assert_eq!(r.try_recv(), Ok(2));
    assert_eq!(r.recv(), Err(RecvError));
    let (s, r) = unbounded();
    for i in 0..100 {
        s.send(i).unwrap();
    }
    drop(s);
    assert_eq!(r.iter().collect::<Vec<_>>(), (0..100).collect::<Vec<_>>());
}

#[test]
fn blocked_receiver_wakes_on_sender_disconnect() {
    for (name, s, r) in flavours::<i32>() {
        let t = thread::spawn(move || r.recv());
        thread::sleep(Duration::from_millis(10));
        drop(s);
        assert_eq!(t.join().unwrap(), Err(RecvError), "{name}");
    }
}

#[test]
fn blocked_sender_wakes_on_receiver_disconnect() {
    for cap in [0, 1] {
        let (s, r) = bounded(cap);
        if cap == 1 {
            s.send(0).unwrap();
        }
        let t = thread::spawn(move || s.send(5));
        thread::sleep(Duration::from_millis(10));
        drop(r);
        assert_eq!(t.join().unwrap(), Err(SendError(5)), "bounded({cap})");
    }
}

#[test]
fn ordering_per_sender_with_many_senders() {
    const SENDERS: usize = 4;
    const PER: usize = 2_000;
    for (name, s, r) in flavours::<(usize, usize)>() {
        let handles: Vec<_> = (0..SENDERS)
            .map(|id| {
                let s = s.clone();
                thread::spawn(move || {
                    for seq in 0..PER {
                        s.send((id, seq)).unwrap();
                    }
                })
            })
            .collect();
        drop(s);
        let mut next = [0usize; SENDERS];
        for (id, seq) in r.iter() {
            assert_eq!(seq, next[id], "{name}: sender {id} out of order");
            next[id] += 1;
        }
        assert_eq!(next, [PER; SENDERS], "{name}: every message arrived");
        for h in handles {
            h.join().unwrap();
        }
    }
}

#[test]
fn many_receivers_each_message_once() {
    const N: usize = 4_000;
    for (name, s, r) in flavours::<usize>() {
        let receivers: Vec<_> = (0..3)
            .map(|_| {
                let r = r.clone();
                thread::spawn(move || r.iter().collect::<Vec<_>>())
            })
            .collect();
        drop(r);
        for i in 0..N {
            s.send(i).unwrap();
        }
        drop(s);
        let mut all: Vec<usize> = receivers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..N).collect::<Vec<_>>(), "{name}");
    }
}

#[test]
fn try_recv_states() {
    for (name, s, r) in flavours::<i32>() {
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty), "{name}");
        if s.capacity() != Some(0) {
            s.send(1).unwrap();
            assert_eq!(r.try_recv(), Ok(1), "{name}");
        }
        drop(s);
        assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected), "{name}");
    }
}

#[test]
fn try_send_full_and_rendezvous() {
    let (s, r) = bounded(2);
    assert_eq!(s.try_send(1), Ok(()));
    assert_eq!(s.try_send(2), Ok(()));
    assert_eq!(s.try_send(3), Err(TrySendError::Full(3)));
    assert!(s.is_full() && r.is_full());
    assert_eq!(s.len(), 2);
    assert_eq!(r.recv(), Ok(1));
    assert_eq!(s.try_send(3), Ok(()));
    // Rendezvous: try_send succeeds only when a receiver is already waiting.
    let (s, r) = bounded(0);
    assert_eq!(s.try_send(1), Err(TrySendError::Full(1)));
    let t = thread::spawn(move || r.recv());
    loop {
        match s.try_send(2) {
            Ok(()) => break,
            Err(TrySendError::Full(_)) => thread::yield_now(),
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(t.join().unwrap(), Ok(2));
}

#[test]
fn recv_timeout_outcomes() {
    for (name, s, r) in flavours::<i32>() {
        assert_eq!(
            r.recv_timeout(Duration::from_millis(5)),
            Err(RecvTimeoutError::Timeout),
            "{name}"
        );
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(5));
            s.send(1).unwrap();
            s
        });
        assert_eq!(r.recv_timeout(Duration::from_secs(30)), Ok(1), "{name}");
        let s = t.join().unwrap();
        drop(s);
        assert_eq!(
            r.recv_deadline(Instant::now() + Duration::from_secs(30)),
            Err(RecvTimeoutError::Disconnected),
            "{name}"
        );
    }
}

#[test]
fn send_timeout_outcomes() {
    let (s, r) = bounded(1);
    s.send(1).unwrap();
    assert_eq!(
        s.send_timeout(2, Duration::from_millis(5)),
        Err(SendTimeoutError::Timeout(2))
    );
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(5));
        (r.recv().unwrap(), r)
    });
    assert_eq!(s.send_timeout(3, Duration::from_secs(30)), Ok(()));
    let (first, r) = t.join().unwrap();
    assert_eq!(first, 1);
    assert_eq!(r.recv(), Ok(3));
    let (s, _r) = bounded(0);
    assert_eq!(
        s.send_deadline(4, Instant::now() + Duration::from_millis(5)),
        Err(SendTimeoutError::Timeout(4))
    );
}

#[test]
fn huge_timeouts_do_not_overflow() {
    let (s, r) = unbounded();
    s.send(1).unwrap();
    assert_eq!(r.recv_timeout(Duration::MAX), Ok(1));
    assert_eq!(s.send_timeout(2, Duration::MAX), Ok(()));
}

#[test]
fn iterators() {
    let (s, r) = unbounded();
    for i in 0..3 {
        s.send(i).unwrap();
    }
    assert_eq!(r.try_iter().collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(r.try_iter().next(), None);
    s.send(3).unwrap();
    drop(s);
    assert_eq!((&r).into_iter().collect::<Vec<_>>(), [3]);
    let (s, r) = bounded(1);
    let t = thread::spawn(move || r.into_iter().sum::<i32>());
    for i in 1..=10 {
        s.send(i).unwrap();
    }
    drop(s);
    assert_eq!(t.join().unwrap(), 55);
}

#[test]
fn len_capacity_and_same_channel() {
    let (s, r) = bounded::<i32>(3);
    assert_eq!((s.capacity(), r.capacity()), (Some(3), Some(3)));
    assert!(s.is_empty() && r.is_empty());
    s.send(1).unwrap();
    assert_eq!((s.len(), r.len()), (1, 1));
    let (s0, r0) = bounded::<i32>(0);
    assert_eq!(s0.capacity(), Some(0));
    assert!(s0.is_empty() && s0.is_full() && r0.is_full());
    let (su, ru) = unbounded::<i32>();
    assert_eq!(su.capacity(), None);
    for i in 0..100 {
        su.send(i).unwrap();
    }
    assert_eq!(ru.len(), 100);
    assert!(!su.is_full());
    assert!(s.same_channel(&s.clone()));
    assert!(!s.same_channel(&s0));
    assert!(r.same_channel(&r.clone()) && !r.same_channel(&ru));
}

#[test]
fn unbounded_len_across_blocks() {
    let (s, r) = unbounded();
    for i in 0..1000 {
        s.send(i).unwrap();
        assert_eq!(r.len(), i + 1);
    }
    for i in 0..1000 {
        assert_eq!(r.recv(), Ok(i));
        assert_eq!(r.len(), 999 - i);
    }
}

#[test]
fn handles_are_send_sync_and_errors_display() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<weft_channel::Sender<String>>();
    assert_send_sync::<weft_channel::Receiver<String>>();
    let errors: Vec<Box<dyn std::error::Error>> = vec![
        Box::new(SendError(1)),
        Box::new(TrySendError::Full(1)),
        Box::new(TrySendError::Disconnected(1)),
        Box::new(SendTimeoutError::Timeout(1)),
        Box::new(RecvError),
        Box::new(TryRecvError::Empty),
        Box::new(RecvTimeoutError::Timeout),
    ];
    for e in errors {
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(TrySendError::Full(5).into_inner(), 5);
    assert_eq!(SendTimeoutError::Timeout(6).into_inner(), 6);
}

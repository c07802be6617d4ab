//! `select!` and `Select`: arms of every kind, timeouts and defaults, timers as
//! channels, readiness, disconnection.

mod common;

use std::thread;
use std::time::{Duration, Instant};
use weft_channel::{
    RecvTimeoutError, Select, TryRecvError, after, at, bounded, never, select, tick, unbounded,
};

#[test]
fn macro_recv_send_default_and_timeout_arms() {
    let (s, r) = unbounded::<i32>();
    let (s2, r2) = bounded::<i32>(1);
    s.send(1).unwrap();
    let v = select! {
        recv(r) -> m => m.unwrap(),
        default => -1,
    };
    assert_eq!(v, 1);
    let v = select! {
        recv(r) -> m => m.unwrap(),
        default => -1,
    };
    assert_eq!(v, -1);
    select! {
        send(s2, 5) -> res => res.unwrap(),
        default(Duration::from_secs(30)) => panic!("room for one"),
    }
    let timed_out = select! {
        send(s2, 6) -> _ => false,
        default(Duration::from_millis(5)) => true,
    };
    assert!(timed_out, "full channel, so the timeout arm runs");
    assert_eq!(r2.recv(), Ok(5));
}

#[test]
fn macro_evaluates_channel_expressions_once_and_message_only_when_selected() {
    let mut evaluated = 0;
    let (s, r) = bounded::<i32>(0);
    let mut make = || {
        evaluated += 1;
        after(Duration::from_millis(1))
    };
    select! {
        recv(make()) -> m => assert!(m.is_ok()),
    }
    assert_eq!(evaluated, 1);
    let message_built = std::cell::Cell::new(false);
    select! {
        send(s, { message_built.set(true); 1 }) -> _ => panic!("nobody receives"),
        default => {},
    }
    assert!(
        !message_built.get(),
        "a send's message is built only when it is selected"
    );
    drop(r);
}

#[test]
fn disconnected_channels_are_ready_with_errors() {
    let (s, r) = unbounded::<i32>();
    drop(s);
    select! {
        recv(r) -> m => assert!(m.is_err()),
        default(Duration::from_secs(30)) => panic!("disconnected is ready"),
    }
    let (s, r) = bounded::<i32>(0);
    drop(r);
    select! {
        send(s, 1) -> res => assert_eq!(res.unwrap_err().into_inner(), 1),
        default(Duration::from_secs(30)) => panic!("disconnected is ready"),
    }
}

#[test]
fn after_fires_once() {
    let r = after(Duration::from_millis(2));
    let start = Instant::now();
    let fired = r.recv().unwrap();
    assert!(fired >= start);
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        r.recv_timeout(Duration::from_millis(2)),
        Err(RecvTimeoutError::Timeout)
    );
    let r = at(Instant::now());
    assert!(r.try_recv().is_ok());
}

#[test]
fn after_in_select_times_out_an_empty_channel() {
    let (_s, r) = unbounded::<i32>();
    let timeout = after(Duration::from_millis(5));
    let got = select! {
        recv(r) -> _ => "message",
        recv(timeout) -> _ => "timeout",
    };
    assert_eq!(got, "timeout");
}

#[test]
fn tick_delivers_repeatedly() {
    let t = tick(Duration::from_millis(1));
    let mut last = Instant::now() - Duration::from_secs(1);
    for _ in 0..5 {
        let now = t.recv().unwrap();
        assert!(now > last, "ticks move forward");
        last = now;
    }
    for _ in 0..3 {
        select! {
            recv(t) -> m => assert!(m.is_ok()),
            recv(never::<Instant>()) -> _ => unreachable!(),
        }
    }
}

#[test]
fn never_never_fires() {
    let r = never::<i32>();
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    let got = select! {
        recv(r) -> _ => false,
        default(Duration::from_millis(2)) => true,
    };
    assert!(got);
}

#[test]
fn builder_try_select_timeout_and_ready() {
    let (s1, r1) = unbounded::<i32>();
    let (s2, r2) = bounded::<i32>(0);
    let mut sel = Select::new();
    let a = sel.recv(&r1);
    let b = sel.recv(&r2);
    assert!(sel.try_select().is_err());
    assert!(sel.select_timeout(Duration::from_millis(2)).is_err());
    assert!(sel.try_ready().is_err());
    s1.send(3).unwrap();
    assert_eq!(sel.ready(), a);
    let oper = sel.select();
    assert_eq!(oper.index(), a);
    assert_eq!(oper.recv(&r1), Ok(3));
    let t = thread::spawn(move || s2.send(4).unwrap());
    let oper = sel.select_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(oper.index(), b);
    assert_eq!(oper.recv(&r2), Ok(4));
    t.join().unwrap();
}

#[test]
fn builder_send_operations_and_remove() {
    let (s1, r1) = bounded::<i32>(1);
    let (s2, r2) = bounded::<i32>(1);
    s1.send(0).unwrap(); // full
    let mut sel = Select::new();
    let a = sel.send(&s1);
    let b = sel.send(&s2);
    let oper = sel.select();
    assert_eq!(oper.index(), b, "only s2 has room");
    oper.send(&s2, 7).unwrap();
    assert_eq!(r2.recv(), Ok(7));
    sel.remove(b);
    assert!(sel.try_select().is_err(), "s1 is full and s2 was removed");
    assert_eq!(r1.recv(), Ok(0));
    let oper = sel.select();
    assert_eq!(oper.index(), a);
    oper.send(&s1, 8).unwrap();
    assert_eq!(r1.recv(), Ok(8));
}

#[test]
fn select_waits_for_rendezvous_partner_thread() {
    let (s, r) = bounded::<i32>(0);
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(5));
        r.recv().unwrap()
    });
    select! {
        send(s, 11) -> res => res.unwrap(),
    }
    assert_eq!(t.join().unwrap(), 11);
    // Both ends in a select.
    let (s, r) = bounded::<i32>(0);
    let t = thread::spawn(move || {
        select! {
            recv(r) -> m => m.unwrap(),
        }
    });
    select! {
        send(s, 12) -> res => res.unwrap(),
    }
    assert_eq!(t.join().unwrap(), 12);
}

#[test]
#[should_panic(expected = "without completing")]
fn dropping_a_selected_operation_panics() {
    let (s, r) = unbounded::<i32>();
    s.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&r);
    let _oper = sel.select();
}

#[test]
fn ready_on_a_rendezvous_channel() {
    let (s, r) = bounded::<i32>(0);
    let t = thread::spawn(move || s.send(1).unwrap());
    let mut sel = Select::new();
    let i = sel.recv(&r);
    assert_eq!(sel.ready(), i);
    assert_eq!(r.recv(), Ok(1));
    t.join().unwrap();
}

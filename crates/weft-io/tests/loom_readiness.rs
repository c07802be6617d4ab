//! loom models of the readiness handshake (`reactor::readiness`): an edge that races a
//! task's check-then-register, its `WouldBlock`-then-clear, its lock-free "already
//! registered" check, or another task's registration is never lost.
//!
//! The models that run a task through `loom::future::block_on` need no assertion for
//! the lost wake-up: a task that goes `Pending` and is never woken parks forever, and
//! loom reports the deadlock.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;
use std::future::poll_fn;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Wake, Waker};
use weft_io::reactor::readiness::Readiness;

/// Counts wake-ups (loom-visible).
struct Flag(AtomicUsize);

impl Flag {
    fn waker() -> (StdArc<Flag>, Waker) {
        let flag = StdArc::new(Flag(AtomicUsize::new(0)));
        let waker = Waker::from(flag.clone());
        (flag, waker)
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for Flag {
    fn wake(self: StdArc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The reactor's side of one edge: mark ready, then wake what it took.
fn edge(readiness: &Readiness) {
    let mut wakers = Vec::new();
    readiness.set_ready(&mut wakers);
    wakers.into_iter().for_each(Waker::wake);
}

/// The task side: tries the "syscall" (reading `data`) while the readiness says ready,
/// clears on `WouldBlock`. Returns whether it got the data before going Pending.
fn task_attempt(readiness: &Readiness, data: &AtomicBool, cx: &mut Context<'_>) -> bool {
    loop {
        match readiness.poll_ready(cx) {
            Poll::Ready(tick) => {
                // A load then a store (only this thread writes `false`).
                if data.load(Ordering::SeqCst) {
                    data.store(false, Ordering::SeqCst);
                    return true;
                }
                readiness.clear_ready(tick);
            }
            Poll::Pending => return false,
        }
    }
}

#[test]
fn edge_during_attempt_is_not_lost() {
    loom::model(|| {
        let readiness = Arc::new(Readiness::new());
        let data = Arc::new(AtomicBool::new(false));
        let (flag, waker) = Flag::waker();

        // Make the first attempt see a stale edge, so the clear races the real one.
        edge(&readiness);

        let reactor = {
            let (readiness, data) = (readiness.clone(), data.clone());
            thread::spawn(move || {
                // The kernel's order: data lands, then the edge is reported.
                data.store(true, Ordering::SeqCst);
                edge(&readiness);
            })
        };
        let mut cx = Context::from_waker(&waker);
        let got = task_attempt(&readiness, &data, &mut cx);
        reactor.join().unwrap();
        if !got {
            // Pending: then the edge must have woken us, and a re-poll finds the data.
            assert!(flag.count() >= 1, "lost wake-up");
            assert!(task_attempt(&readiness, &data, &mut cx), "lost edge");
        }
    });
}

/// The edge races the task's first registration (the `LOCKED` compare-and-swap, the
/// push, the unlock that may find `WAKE_PENDING`).
#[test]
fn edge_during_registration_wakes_or_is_seen() {
    loom::model(|| {
        let readiness = Arc::new(Readiness::new());
        let (flag, waker) = Flag::waker();
        let reactor = {
            let readiness = readiness.clone();
            thread::spawn(move || edge(&readiness))
        };
        let mut cx = Context::from_waker(&waker);
        let first = readiness.poll_ready(&mut cx);
        reactor.join().unwrap();
        if first.is_pending() {
            assert_eq!(flag.count(), 1, "lost wake-up");
        }
        // Either way the edge is still recorded (nothing consumed it).
        assert!(readiness.poll_ready(&mut cx).is_ready());
    });
}

/// A task polled again while already registered takes the lock-free path; an edge
/// racing that re-poll still wakes it (or the re-poll sees it).
#[test]
fn edge_during_registered_repoll_is_not_lost() {
    loom::model(|| {
        let readiness = Arc::new(Readiness::new());
        let (flag, waker) = Flag::waker();
        let mut cx = Context::from_waker(&waker);
        assert!(readiness.poll_ready(&mut cx).is_pending());
        let reactor = {
            let readiness = readiness.clone();
            thread::spawn(move || edge(&readiness))
        };
        // A spurious poll (the task was woken for something else).
        let again = readiness.poll_ready(&mut cx);
        reactor.join().unwrap();
        if again.is_pending() {
            assert_eq!(flag.count(), 1, "lost wake-up");
        }
        assert!(readiness.poll_ready(&mut cx).is_ready(), "lost edge");
    });
}

/// After an edge took the list, `last` must not let a re-poll skip registering: the
/// task consumes a stale edge (clear), re-polls while the next real edge arrives.
#[test]
fn taken_registration_is_not_reused() {
    loom::model(|| {
        let readiness = Arc::new(Readiness::new());
        let data = Arc::new(AtomicBool::new(false));
        let (flag, waker) = Flag::waker();
        let mut cx = Context::from_waker(&waker);
        assert!(readiness.poll_ready(&mut cx).is_pending());
        edge(&readiness); // takes and wakes the registration; no data: a stale edge
        assert_eq!(flag.count(), 1);

        let reactor = {
            let (readiness, data) = (readiness.clone(), data.clone());
            thread::spawn(move || {
                data.store(true, Ordering::SeqCst);
                edge(&readiness);
            })
        };
        let got = task_attempt(&readiness, &data, &mut cx);
        reactor.join().unwrap();
        if !got {
            assert_eq!(flag.count(), 2, "re-poll trusted a taken registration");
            assert!(task_attempt(&readiness, &data, &mut cx), "lost edge");
        }
    });
}

/// `last` names another task's waker (it registered after this task's registration
/// was taken): this task's re-poll must register again, not trust the list.
#[test]
fn another_tasks_registration_is_not_mine() {
    loom::model(|| {
        let readiness = Arc::new(Readiness::new());
        let data = Arc::new(AtomicBool::new(false));
        let (mine, my_waker) = Flag::waker();
        let (_theirs, their_waker) = Flag::waker();
        let mut cx = Context::from_waker(&my_waker);
        assert!(readiness.poll_ready(&mut cx).is_pending());
        edge(&readiness); // takes mine; a stale edge (no data)
        assert!(readiness.poll_ready(&mut cx).is_ready());
        let Poll::Ready(tick) = readiness.poll_ready(&mut cx) else {
            unreachable!()
        };
        readiness.clear_ready(tick); // this task's read would block ...
        // ... and before it re-polls, another task registers.
        let mut their_cx = Context::from_waker(&their_waker);
        assert!(readiness.poll_ready(&mut their_cx).is_pending());

        let reactor = {
            let (readiness, data) = (readiness.clone(), data.clone());
            thread::spawn(move || {
                data.store(true, Ordering::SeqCst);
                edge(&readiness);
            })
        };
        let got = task_attempt(&readiness, &data, &mut cx);
        reactor.join().unwrap();
        if !got {
            assert_eq!(
                mine.count(),
                2,
                "re-poll trusted another task's registration"
            );
        }
    });
}

/// Two wakers whose identities share halves: `(p, A)` and `(q, B)`. A task whose waker
/// is `(q, A)` is not registered, and its lock-free check must not trust a torn read
/// of `last` (one half from each registration) while `(q, B)` registers: that is what
/// the tick move on every registration's unlock is for.
///
/// `(q, B)` starts before `(p, A)` registers, so it may skip its own read of `last`
/// (no `WAITERS` yet): loom remembers only the last access to an atomic when it looks
/// for races, and a read of `last` by the writer itself would hide the reader's.
///
/// What this catches: a check without the second load of `state` (loom finds the torn
/// read). What it cannot reach: a second load kept but a registration that unlocks
/// without moving the tick (the word then returns to its old value); the checker spins
/// on `state` after its second load, and that same one-access history never moves the
/// writer's unlock before the load. That case rests on the module docs' argument.
#[test]
fn torn_last_is_not_trusted() {
    loom::model(|| {
        let p = StdArc::new(Halves::default());
        let q = StdArc::new(Halves::default());
        let readiness = Arc::new(Readiness::new());
        let other = {
            let (readiness, q) = (readiness.clone(), q.clone());
            thread::spawn(move || {
                let qb = halves_waker(&q, &VTABLE_B);
                let mut qb_cx = Context::from_waker(&qb);
                assert!(readiness.poll_ready(&mut qb_cx).is_pending());
            })
        };
        let pa = halves_waker(&p, &VTABLE_A);
        let mut pa_cx = Context::from_waker(&pa);
        assert!(readiness.poll_ready(&mut pa_cx).is_pending());
        let qa = halves_waker(&q, &VTABLE_A);
        let mut qa_cx = Context::from_waker(&qa);
        assert!(readiness.poll_ready(&mut qa_cx).is_pending());
        other.join().unwrap();
        edge(&readiness);
        assert_eq!(
            q.by_a.load(Ordering::SeqCst),
            1,
            "(q, A) was never registered"
        );
    });
}

/// Wake counters for the wakers of `torn_last_is_not_trusted`, one per vtable.
#[derive(Default)]
struct Halves {
    by_a: AtomicUsize,
    by_b: AtomicUsize,
}

fn halves_waker(data: &StdArc<Halves>, vtable: &'static RawWakerVTable) -> Waker {
    // SAFETY: the vtables' functions only read a `Halves` through the data pointer,
    // and every `Halves` outlives the model's wakers (the `Readiness` holding clones
    // is dropped before them); clone and drop do not touch the count.
    unsafe { Waker::from_raw(RawWaker::new(StdArc::as_ptr(data).cast(), vtable)) }
}

static VTABLE_A: RawWakerVTable = RawWakerVTable::new(clone_a, wake_a, wake_a, drop_raw);
static VTABLE_B: RawWakerVTable = RawWakerVTable::new(clone_b, wake_b, wake_b, drop_raw);

fn clone_a(data: *const ()) -> RawWaker {
    RawWaker::new(data, &VTABLE_A)
}

fn clone_b(data: *const ()) -> RawWaker {
    RawWaker::new(data, &VTABLE_B)
}

fn wake_a(data: *const ()) {
    // SAFETY: `data` points to a live `Halves` (see `halves_waker`).
    unsafe { &*data.cast::<Halves>() }
        .by_a
        .fetch_add(1, Ordering::SeqCst);
}

fn wake_b(data: *const ()) {
    // SAFETY: as in `wake_a`.
    unsafe { &*data.cast::<Halves>() }
        .by_b
        .fetch_add(1, Ordering::SeqCst);
}

fn drop_raw(_: *const ()) {}

/// Two tasks wait on the same direction (say a reader and a task awaiting
/// `readable()`); one edge wakes both, including when it lands while the second is
/// registering (the hand-off through `WAKE_PENDING`, where the registering task wakes
/// the other). A lost wake-up deadlocks `block_on`.
#[test]
fn one_edge_wakes_every_waiter() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let readiness = Arc::new(Readiness::new());
        let wait_ready = |readiness: &Readiness| {
            loom::future::block_on(poll_fn(|cx| readiness.poll_ready(cx)));
        };
        let other = {
            let readiness = readiness.clone();
            thread::spawn(move || wait_ready(&readiness))
        };
        let reactor = {
            let readiness = readiness.clone();
            thread::spawn(move || edge(&readiness))
        };
        wait_ready(&readiness);
        other.join().unwrap();
        reactor.join().unwrap();
    });
}

/// An echo-shaped loop: the reactor delivers two chunks, each with its edge; the task
/// drains what is there, clears on `WouldBlock`, sleeps, and must get both chunks.
/// Exercises register, take, clear and re-register in sequence against the reactor.
#[test]
fn task_gets_every_chunk() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let readiness = Arc::new(Readiness::new());
        let data = Arc::new(AtomicUsize::new(0));
        let reactor = {
            let (readiness, data) = (readiness.clone(), data.clone());
            thread::spawn(move || {
                for _ in 0..2 {
                    data.fetch_add(1, Ordering::SeqCst);
                    edge(&readiness);
                }
            })
        };
        let mut got = 0;
        while got < 2 {
            got += loom::future::block_on(poll_fn(|cx| {
                loop {
                    let Poll::Ready(tick) = readiness.poll_ready(cx) else {
                        return Poll::Pending;
                    };
                    // The "read": takes all there is, or would block.
                    match data.swap(0, Ordering::SeqCst) {
                        0 => readiness.clear_ready(tick),
                        n => return Poll::Ready(n),
                    }
                }
            }));
        }
        reactor.join().unwrap();
        assert_eq!(got, 2);
    });
}

#[test]
fn two_edges_two_directions_independent() {
    loom::model(|| {
        let read = Arc::new(Readiness::new());
        let write = Arc::new(Readiness::new());
        let (flag, waker) = Flag::waker();
        let mut cx = Context::from_waker(&waker);
        assert!(read.poll_ready(&mut cx).is_pending());
        assert!(write.poll_ready(&mut cx).is_pending());
        let reactor = {
            let write = write.clone();
            thread::spawn(move || edge(&write))
        };
        // A read edge arriving concurrently with the write edge.
        edge(&read);
        reactor.join().unwrap();
        // Both directions ready; each woke the waker once (deduplicated per direction).
        assert_eq!(flag.count(), 2);
        assert!(read.is_ready() && write.is_ready());
    });
}

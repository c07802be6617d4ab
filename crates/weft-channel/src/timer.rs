//! One shared timer thread for the async waits on timer channels (`after`, `at`,
//! `tick`), instead of a sleeping helper thread per pending future.
//!
//! Pending futures put their deadline and `Waker` into one map ordered by deadline
//! (a priority queue that also removes by key, so a dropped future takes its entry
//! out instead of leaving a tombstone). The timer thread, started on first use,
//! wakes every entry that is due, then parks on weft-sync's [`Parker`] (a futex wait
//! with a timeout) until the earliest remaining deadline. A registration that becomes
//! the new earliest deadline unparks it; the parker's token makes that race-free: an
//! unpark that arrives between the thread's look at the map and its park is
//! remembered, so the thread looks again rather than oversleeping.
//!
//! Wakers are woken, and dropped, outside the lock: a waker may run executor code.
//!
//! The mechanism is a mutex and a parker, both weft-sync's (and loom-checked there);
//! it adds no atomics of its own. Under loom time stands still, so timer futures are
//! woken at once instead (see `channel.rs`).

use std::collections::BTreeMap;
use std::task::Waker;
use std::time::Instant;
use weft_sync::{Mutex, Parker};

/// A registration: its deadline, and a sequence number that tells apart entries
/// with the same deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerKey {
    deadline: Instant,
    id: u64,
}

impl TimerKey {
    /// The instant it fires at.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }
}

struct Inner {
    entries: BTreeMap<TimerKey, Waker>,
    next_id: u64,
    /// Whether the timer thread was started.
    started: bool,
}

struct Timers {
    inner: Mutex<Inner>,
    /// The timer thread's parker; only that thread parks on it.
    parker: Parker,
}

static TIMERS: Timers = Timers {
    inner: Mutex::new(Inner {
        entries: BTreeMap::new(),
        next_id: 0,
        started: false,
    }),
    parker: Parker::new(),
};

/// Wakes `waker` at `deadline` (at once if it has passed), until cancelled.
pub(crate) fn register(deadline: Instant, waker: Waker) -> TimerKey {
    let (key, earliest, unqueued) = {
        let mut inner = TIMERS.inner.lock();
        let key = TimerKey {
            deadline,
            id: inner.next_id,
        };
        inner.next_id += 1;
        if !inner.started {
            inner.started = spawn();
        }
        if inner.started {
            inner.entries.insert(key, waker);
            let earliest = inner.entries.first_key_value().map(|(k, _)| *k) == Some(key);
            (key, earliest, None)
        } else {
            (key, false, Some(waker))
        }
    };
    if let Some(waker) = unqueued {
        // No timer thread could be started (out of threads): wake at once, so the
        // future polls again and re-registers (and retries the start) rather than
        // sleeping forever. Degraded to polling, never hung.
        waker.wake();
    } else if earliest {
        // The thread may be sleeping until a later deadline.
        TIMERS.parker.unpark();
    }
    key
}

/// Replaces the waker of a registration; `false` if it is gone (it fired).
pub(crate) fn update(key: TimerKey, waker: &Waker) -> bool {
    let old = {
        let mut inner = TIMERS.inner.lock();
        match inner.entries.get_mut(&key) {
            Some(w) if w.will_wake(waker) => return true,
            Some(w) => std::mem::replace(w, waker.clone()),
            None => return false,
        }
    };
    drop(old);
    true
}

/// Removes a registration, if it has not fired yet.
pub(crate) fn cancel(key: TimerKey) {
    let removed = TIMERS.inner.lock().entries.remove(&key);
    drop(removed);
}

/// Starts the timer thread; `false` if the OS refused.
fn spawn() -> bool {
    std::thread::Builder::new()
        .name("weft-channel-timer".into())
        .spawn(run)
        .is_ok()
}

/// The timer thread: wake what is due, sleep until the next deadline, forever.
fn run() {
    let mut due = Vec::new();
    loop {
        let next = {
            let mut inner = TIMERS.inner.lock();
            let now = Instant::now();
            while let Some(entry) = inner.entries.first_entry() {
                if entry.key().deadline > now {
                    break;
                }
                due.push(entry.remove());
            }
            inner.entries.first_key_value().map(|(k, _)| k.deadline)
        };
        for waker in due.drain(..) {
            waker.wake();
        }
        TIMERS.parker.park_until(next);
    }
}

//! The reactor: one process-wide [`Poller`] plus timers, driven by one thread at a time,
//! that turns readiness and deadlines into waker calls.
//!
//! # Shape
//!
//! [`Reactor::get`] returns the process's reactor. It holds
//!
//! * a [`Poller`] (epoll) on which every registered source is added **once, for both
//!   directions, edge-triggered** ([`PollMode::Edge`]) under its slab key;
//! * a slab of sources, each with one [`Readiness`] per direction (the waker protocol
//!   is written down in the [`readiness`] module);
//! * a [`TimerWheel`] of wakers behind a mutex, its milliseconds counted from a fixed
//!   `Instant` taken when the reactor was created.
//!
//! # Why edge-triggered
//!
//! With level triggering a descriptor that stays readable (a task has not got round to
//! reading it yet) is reported on every wait: the driver spins, or must `modify` the
//! registration away and back around every wait (two syscalls per I/O operation). With
//! edge triggering the registration never changes from `Async::new` to drop; the
//! kernel reports each transition once, and the per-direction `ready` flag and `tick`
//! remember it until an I/O attempt returns `WouldBlock` — see [`readiness`] for why
//! no edge is lost in between.
//!
//! # Driving
//!
//! At most one thread drives the reactor at a time: it takes the [`ReactorLock`]
//! ([`Reactor::try_lock`] / [`Reactor::lock`]) and calls [`ReactorLock::react`], which
//!
//! 1. fires the timers that are due and collects their wakers;
//! 2. if none was due, blocks in the poller until the earlier of the caller's timeout
//!    and the next timer deadline (`Some(Duration::ZERO)`: does not block);
//! 3. marks every reported direction ready and collects its wakers, and fires the
//!    timers that came due while it slept;
//! 4. drops every internal lock, then calls `wake()` on each collected waker, on the
//!    driving thread, and returns how many it woke.
//!
//! [`Reactor::notify`] interrupts a thread blocked in step 2 (or makes the next `react`
//! return at once); [`Reactor::insert_timer`] does so by itself when the new deadline is
//! earlier than the one the driver sleeps to. When a `ReactorLock` is dropped, threads
//! in [`block_on`](crate::block_on) that are waiting for the lock are woken to take
//! over the driving.
//!
//! # For the runtime that drives it
//!
//! * **Wakers woken inside `react`** are called synchronously on the driving thread,
//!   after the reactor's internal locks (sources, timers) are released but while the
//!   caller still holds its [`ReactorLock`]. A waker may therefore insert and remove
//!   timers, notify, and register or deregister sources (`Async::new`, dropping an
//!   `Async`), but must not call [`Reactor::lock`] (it would wait for itself;
//!   [`Reactor::try_lock`] returns `None`). Wakers should be cheap — push the task on a
//!   queue — since they run one after another before `react` returns. A task woken
//!   this way may be polled on another thread while `react` is still waking others.
//! * **`Reactor::notify` and a `react` in progress**: the notify sets a flag and, if
//!   it was clear, writes the poller's eventfd; notifies coalesce and are never lost.
//!   If the driver is blocked in `epoll_wait`, it returns promptly (with whatever it
//!   has, often 0 wakers). If `react` has not reached its wait yet (it is firing
//!   timers), the wait returns at once. If `react` is already past its wait, the
//!   notify stays pending and the *next* `react` returns at once (one early return,
//!   not a lost wake-up).
//! * A return of 0 means a timeout, a notify, or a cascade wake-up of the timer wheel;
//!   drivers loop. `react(Some(Duration::ZERO))` never blocks.
//! * [`Reactor::lock`] notifies the current driver; a [`block_on`](crate::block_on)
//!   driver hands the lock over when its `react` returns. Drop the `ReactorLock`
//!   between `react` calls when other threads may need to drive (threads waiting in
//!   `block_on` are woken on each release).
//! * The reactor is created on first use and lives for the process; it is not
//!   fork-aware (a child shares the parent's epoll instance).
//!
//! # Examples
//!
//! ```
//! use std::task::Waker;
//! use std::time::{Duration, Instant};
//! use weft_io::reactor::Reactor;
//!
//! let reactor = Reactor::get();
//! let id = reactor.insert_timer(Instant::now() + Duration::from_millis(1), Waker::noop());
//! let mut lock = reactor.lock();
//! // Blocks until the timer is due (bounded by a generous timeout), then wakes it.
//! let mut woken = 0;
//! for _ in 0..100 {
//!     woken += lock.react(Some(Duration::from_secs(1)))?;
//!     if woken > 0 { break; }
//! }
//! assert_eq!(woken, 1);
//! reactor.remove_timer(id); // already fired: nothing to do
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod readiness;

use crate::poller::{Events, Interest, PollMode, Poller};
use crate::timer::{TimerKey, TimerWheel};
use readiness::Readiness;
use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::{Arc, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};
use weft_sync::primitive::atomic::{AtomicU64, AtomicUsize, Ordering};
use weft_sync::{Mutex, MutexGuard};

/// `sleep_until` when no driver is blocked: no timer insertion needs to notify.
const NOT_SLEEPING: u64 = 0;
/// `sleep_until` for a driver blocked with no deadline.
const FOREVER: u64 = u64::MAX;

/// The process-wide reactor; see the [module docs](self).
pub struct Reactor {
    poller: Poller,
    sources: Mutex<Slab>,
    /// The driver's buffers; holding its lock is being the driver.
    driver: Mutex<DriverBuffers>,
    /// Wakers to call when the driver lock is released ([`block_on`](crate::block_on)
    /// threads waiting to take over the driving).
    lock_waiters: Mutex<Vec<Waker>>,
    timers: Mutex<TimerWheel<Waker>>,
    origin: Instant,
    /// Threads blocked in [`Reactor::lock`]; a `block_on` driver that sees a request
    /// hands the lock over instead of driving again.
    lock_requests: AtomicUsize,
    /// The wheel time (ms) the driver sleeps until, `FOREVER`, or `NOT_SLEEPING`.
    /// Written and read only under the `timers` lock (so Relaxed suffices).
    sleep_until: AtomicU64,
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("poller", &self.poller)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Names a timer registered with [`Reactor::insert_timer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(TimerKey);

/// What one `react` fills and empties, kept across calls so a busy driver does not
/// allocate: the poller's events and the wakers collected to wake.
struct DriverBuffers {
    events: Events,
    wakers: Vec<Waker>,
}

/// The right to drive the reactor; see [`Reactor::try_lock`].
pub struct ReactorLock<'a> {
    reactor: &'a Reactor,
    buffers: Option<MutexGuard<'a, DriverBuffers>>,
}

impl fmt::Debug for ReactorLock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReactorLock").finish_non_exhaustive()
    }
}

/// A registered descriptor's readiness, one [`Readiness`] per direction.
#[derive(Debug)]
pub(crate) struct Source {
    key: usize,
    pub(crate) read: Readiness,
    pub(crate) write: Readiness,
}

/// Sources by poller key; freed keys are reused.
#[derive(Debug, Default)]
struct Slab {
    entries: Vec<Option<Arc<Source>>>,
    free: Vec<usize>,
}

impl Slab {
    fn next_key(&self) -> usize {
        self.free.last().copied().unwrap_or(self.entries.len())
    }

    fn insert(&mut self, source: Arc<Source>) {
        let key = source.key;
        if self.free.last() == Some(&key) {
            self.free.pop();
            self.entries[key] = Some(source);
        } else {
            debug_assert_eq!(key, self.entries.len());
            self.entries.push(Some(source));
        }
    }

    fn remove(&mut self, key: usize) {
        if let Some(slot) = self.entries.get_mut(key)
            && slot.take().is_some()
        {
            self.free.push(key);
        }
    }

    fn get(&self, key: usize) -> Option<&Arc<Source>> {
        self.entries.get(key)?.as_ref()
    }
}

impl Reactor {
    /// The process's reactor, created on first use.
    ///
    /// # Panics
    ///
    /// If the reactor cannot be created on first use: the process is out of file
    /// descriptors or memory for an epoll instance and an eventfd.
    pub fn get() -> &'static Reactor {
        static REACTOR: OnceLock<Reactor> = OnceLock::new();
        REACTOR.get_or_init(|| {
            Reactor::new().unwrap_or_else(|e| {
                panic!("weft-io: cannot create the reactor (epoll_create1/eventfd): {e}")
            })
        })
    }

    fn new() -> io::Result<Reactor> {
        Ok(Reactor {
            poller: Poller::new()?,
            sources: Mutex::new(Slab::default()),
            driver: Mutex::new(DriverBuffers {
                events: Events::new(),
                wakers: Vec::new(),
            }),
            lock_waiters: Mutex::new(Vec::new()),
            lock_requests: AtomicUsize::new(0),
            timers: Mutex::new(TimerWheel::new()),
            origin: Instant::now(),
            sleep_until: AtomicU64::new(NOT_SLEEPING),
        })
    }

    /// Takes the driver lock if no other thread holds it.
    pub fn try_lock(&self) -> Option<ReactorLock<'_>> {
        let buffers = self.driver.try_lock()?;
        Some(ReactorLock {
            reactor: self,
            buffers: Some(buffers),
        })
    }

    /// Takes the driver lock, blocking while another thread drives. The current
    /// driver is notified, and a [`block_on`](crate::block_on) driver hands the lock
    /// over when its `react` returns; a driver that keeps calling `react` without
    /// releasing the lock (a runtime worker) is not interrupted, so this waits until it
    /// releases it.
    pub fn lock(&self) -> ReactorLock<'_> {
        if let Some(lock) = self.try_lock() {
            return lock;
        }
        // SeqCst: a `block_on` driver reads it after its `react` returns; the notify
        // below makes that return happen.
        self.lock_requests.fetch_add(1, Ordering::SeqCst);
        self.notify();
        let buffers = self.driver.lock();
        self.lock_requests.fetch_sub(1, Ordering::SeqCst);
        ReactorLock {
            reactor: self,
            buffers: Some(buffers),
        }
    }

    /// Whether a thread is blocked in [`Reactor::lock`].
    pub(crate) fn lock_requested(&self) -> bool {
        self.lock_requests.load(Ordering::SeqCst) > 0
    }

    /// Interrupts a thread blocked in [`ReactorLock::react`], or, if none is, makes the
    /// next `react` return without blocking. Notifies coalesce. Callable from any
    /// thread, including from a waker woken inside `react`.
    pub fn notify(&self) {
        // Writing an eventfd we own cannot fail in practice; if it did, the driver
        // still wakes at its next deadline, which is all a caller could do about it.
        let _ = self.poller.notify();
    }

    /// Registers `waker` to be woken once `when` has passed, and returns its id. A
    /// timer is never woken early: its deadline is rounded up to the next millisecond
    /// of the reactor's clock. If the driver is blocked with a later wake-up time, it
    /// is notified so it re-computes its sleep.
    pub fn insert_timer(&self, when: Instant, waker: &Waker) -> TimerId {
        let ms = self.deadline_ms(when);
        let mut timers = self.timers.lock();
        let key = timers.insert(ms, waker.clone());
        // Relaxed: read under the `timers` lock, which `react` holds to write it.
        let must_notify = ms < self.sleep_until.load(Ordering::Relaxed);
        drop(timers);
        if must_notify {
            self.notify();
        }
        TimerId(key)
    }

    /// Removes a timer that has not fired; a no-op for one that fired or was removed.
    pub fn remove_timer(&self, id: TimerId) {
        let waker = self.timers.lock().cancel(id.0);
        // Dropped outside the lock: a waker's drop may do arbitrary work.
        drop(waker);
    }

    /// Registers `fd` edge-triggered for both directions.
    pub(crate) fn register(&self, fd: BorrowedFd<'_>) -> io::Result<Arc<Source>> {
        // The slab lock is held across `add` so the driver cannot see an event for
        // the key before the source is in the slab (that edge would be lost).
        let mut sources = self.sources.lock();
        let key = sources.next_key();
        let source = Arc::new(Source {
            key,
            read: Readiness::new(),
            write: Readiness::new(),
        });
        self.poller.add(fd, key, Interest::BOTH, PollMode::Edge)?;
        sources.insert(source.clone());
        Ok(source)
    }

    /// Removes a source; its key may be reused at once (an event for the old
    /// registration still in the driver's buffer is then a spurious wake-up).
    pub(crate) fn deregister(&self, source: &Source, fd: BorrowedFd<'_>) -> io::Result<()> {
        let result = self.poller.delete(fd);
        self.sources.lock().remove(source.key);
        result
    }

    /// Calls `waker` when the driver lock is next released (once). For a thread that
    /// found the lock taken and will sleep: the holder may stop driving (another
    /// runtime's worker that goes busy, a `block_on` that returns), and then the
    /// sleeper must take over. Register, then try the lock once more, so a release in
    /// between is not missed.
    pub fn wake_when_unlocked(&self, waker: &Waker) {
        let mut waiters = self.lock_waiters.lock();
        if !waiters.iter().any(|w| w.will_wake(waker)) {
            waiters.push(waker.clone());
        }
    }

    fn deadline_ms(&self, when: Instant) -> u64 {
        let since = when.saturating_duration_since(self.origin);
        // Rounded up to the millisecond, in 64-bit arithmetic (the u128 of
        // `as_nanos` costs a library division per timer).
        let millis = u64::from(since.subsec_nanos().div_ceil(1_000_000));
        since.as_secs().saturating_mul(1_000).saturating_add(millis)
    }

    fn now_ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.origin).as_millis()).unwrap_or(u64::MAX)
    }

    fn instant_of(&self, ms: u64) -> Option<Instant> {
        self.origin.checked_add(Duration::from_millis(ms))
    }
}

impl ReactorLock<'_> {
    /// Drives the reactor once: fires due timers, waits for I/O up to the earlier of
    /// `timeout` and the next timer deadline (`None`: no limit of its own;
    /// `Some(Duration::ZERO)`: do not block; it also does not block if a timer was
    /// already due), then wakes the wakers of ready sources and due timers. Returns how
    /// many wakers it woke; 0 after a timeout, a [`Reactor::notify`], or a wake-up for
    /// a timer cascade (the wheel wakes the driver at the start of a coarse slot to
    /// re-file its timers; callers loop).
    ///
    /// Wakers are called on this thread after every internal lock is released, so a
    /// waker may use the reactor (insert timers, notify, register) freely.
    ///
    /// # Errors
    ///
    /// The OS error of `epoll_wait` (not `EINTR`, which is retried). The wakers
    /// collected before it are woken all the same.
    pub fn react(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        let reactor = self.reactor;
        let buffers = &mut **self.buffers.as_mut().expect("ReactorLock: buffers taken");
        let (events, wakers) = (&mut buffers.events, &mut buffers.wakers);
        debug_assert!(wakers.is_empty());
        let start = Instant::now();
        let user_deadline = timeout.and_then(|t| start.checked_add(t));
        let wait = {
            let mut timers = reactor.timers.lock();
            timers.advance(reactor.now_ms(start), |_, waker| wakers.push(waker));
            let timer_deadline = timers.next_deadline().and_then(|ms| reactor.instant_of(ms));
            let deadline = match (user_deadline, timer_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if !wakers.is_empty() || timeout == Some(Duration::ZERO) {
                Some(Duration::ZERO)
            } else {
                let sleep = deadline.map_or(FOREVER, |d| reactor.deadline_ms(d).max(1));
                // Relaxed: under the `timers` lock, like the load in `insert_timer`.
                reactor.sleep_until.store(sleep, Ordering::Relaxed);
                deadline.map(|d| d.saturating_duration_since(start))
            }
        };
        let result = reactor.poller.wait(events, wait);
        {
            let mut timers = reactor.timers.lock();
            reactor.sleep_until.store(NOT_SLEEPING, Ordering::Relaxed);
            timers.advance(reactor.now_ms(Instant::now()), |_, waker| {
                wakers.push(waker)
            });
        }
        if result.is_ok() {
            let sources = reactor.sources.lock();
            for event in events.iter() {
                // A missing key: deregistered since the wait returned.
                let Some(source) = sources.get(event.key) else {
                    continue;
                };
                if event.readable {
                    source.read.set_ready(wakers);
                }
                if event.writable {
                    source.write.set_ready(wakers);
                }
            }
        }
        let woken = wakers.len();
        // `drain` keeps the buffer's capacity for the next call (and if a waker
        // panics, drops the rest as it unwinds, so the buffer is empty again).
        for waker in wakers.drain(..) {
            waker.wake();
        }
        result.map(|_| woken)
    }
}

impl Drop for ReactorLock<'_> {
    fn drop(&mut self) {
        // Release first, so a woken waiter finds the lock free.
        drop(self.buffers.take());
        let waiters = std::mem::take(&mut *self.reactor.lock_waiters.lock());
        for waker in waiters {
            waker.wake();
        }
    }
}

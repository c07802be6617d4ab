//! The sleep protocol: how idle workers go to sleep without losing a wake-up, and how
//! a new job wakes one of them (not all).
//!
//! # The counters (one `AtomicU64`)
//!
//! | bits | field | meaning |
//! |---|---|---|
//! | 0..16 | `sleeping` | workers registered as asleep (blocked, or about to block) |
//! | 16..32 | `inactive` | workers in the idle loop, asleep or still searching |
//! | 32..64 | `jobs_event` (JEC) | an event counter; odd means *sleepy*: some worker announced it is about to sleep, and no job was posted since |
//!
//! `inactive - sleeping` is the number of idle workers still awake and searching: a new
//! job need not wake anyone while one of those exists.
//!
//! # An idle worker
//!
//! 1. *Searching* (rounds `0..ROUNDS_UNTIL_SLEEPY`, and at most `SEARCH_TIME` of wall
//!    time): look for work (own deque, steal, injector), spinning between rounds and
//!    yielding every eighth.
//! 2. *Sleepy*: make the JEC odd if it is even (one CAS) and remember its value `S`.
//!    Then search once more.
//! 3. *Sleeping*: take this worker's sleep lock; move the latch it waits for to
//!    `SLEEPING` (give up if it is set); add one to `sleeping` with a CAS that fails if
//!    the JEC is no longer `S` (a job was posted since step 2: search again); re-check
//!    the injector and the deques (give up, undoing the count, if any holds a job);
//!    mark itself blocked and wait on its condition variable (a futex), which releases
//!    the lock.
//!
//! On an idle machine a search round is a microsecond or so (`sched_yield` returns at
//! once); on a loaded one a `sched_yield` may give the CPU away for a whole time slice,
//! so 32 rounds alone measured ~140 ms there. The wall-time bound (half a millisecond)
//! keeps "asleep within about a millisecond" true in both cases; after that the worker
//! uses no CPU.
//!
//! ## Why the search spins and yields (measured, TCP echo on weft-rt, 2 workers)
//!
//! A profile of `cargo bench -p weft-bench --bench rt -- --quick --only tcp` puts the
//! idle search at ~4-6% of the workers' CPU (`wait_until_cold`'s spin, and 4,500 to
//! 30,000 `sched_yield`s per run, more on a loaded machine; tokio makes none). Three ways to cut it were tried,
//! each against this protocol in the same run, alternating, ratios of medians
//! (weft/tokio, new over old):
//!
//! - no spinning once every running worker is idle (the peer asleep in the driver):
//!   tcp100 throughput 0.68x, tcp1k 0.72x, futex calls ~1,900 -> ~12,600: the spin is
//!   what lets the idle worker steal the tasks the driver's holder wakes without a
//!   futex wake-up each time;
//! - 8 search rounds instead of 32 while the peer sleeps in the driver: 0.94x, 0.93x;
//! - no `sched_yield` at all: 0.77x, 0.80x. A yield lets the kernel's network
//!   processing (softirq work deferred to `ksoftirqd`) and any other runnable thread
//!   use the CPU we would spin on, and that is what brings the next events;
//! - no yield only while the peer sleeps in the driver: within noise (tcp100
//!   1.01x-1.06x, tcp1k 0.86x-1.08x over three sets of runs), and few yields happen
//!   then (5,054 -> 5,657 in one pair of runs): most come while the peer is busy.
//!
//! So the search stays as it is; a worker that would do better asleep is the case of
//! a machine with more idle workers than the driver's events can feed, where tokio's
//! cap on searching workers (half of them) would be the next thing to try.
//!
//! # Posting a job
//!
//! Push it. Then, for a job injected from outside, read the counters with an RMW
//! (`fetch_add(0)`, SeqCst); for a job pushed on a worker's own deque, with a plain
//! load. If the JEC is odd, CAS it to even (that is the "jobs event"). Then, if
//! `sleeping > 0`, wake *one* sleeper: take its sleep lock, and if it is blocked, clear
//! the flag, subtract it from `sleeping` and notify. (A job a worker pushes on its own
//! deque wakes a sleeper only when no idle worker is still awake, or its deque already
//! held jobs: an awake idle worker will find it.) When nobody is sleepy (the common,
//! busy case) an internal push costs one load of the counters: no read-modify-write.
//!
//! # Why an injected job is never stranded
//!
//! Let P post job J: its push (the injector claims a slot with a SeqCst CAS on its
//! tail index, which `is_empty` reads), then the RMW `R` on the counters. Let worker W
//! go to sleep: the CAS `C` (`sleeping + 1`, expecting JEC `S`), then the re-check of
//! the queues. The counters change only by RMWs, so `R` and `C` are ordered in their
//! modification order, and each reads the value the other left if it comes second:
//!
//! - *`R` after `C`*: `R` reads `sleeping > 0`, so P wakes a sleeper. If that is W,
//!   done; if another, that one searches again before it may sleep, and finds J (or J
//!   was taken). If P's CAS of the JEC races W's CAS, one fails and retries: either W's
//!   fails (W searches again) or P's retry sees W counted.
//! - *`R` before `C`*: `C` reads `R`'s value or a later RMW's, all in `R`'s release
//!   sequence, so `R` (SeqCst, hence Release) synchronizes with `C` (Acquire): J's push
//!   happens before W's re-check, which therefore sees J, and W does not sleep. (If the
//!   JEC was `S` when `R` came, `R`'s jobs event already made `C` fail.)
//!
//! In each case some worker that will run J is awake. Two further windows are closed by
//! the sleep lock: the waker that saw W counted in `sleeping` takes W's lock, which W
//! holds from before its CAS until it blocks, so it cannot arrive "between" W's check
//! and W's block; and a latch set while W falls asleep is handled the same way
//! (`latch.rs`). The loom models `tests/loom_sleep.rs` and `tests/loom_latch.rs` check
//! these interleavings.
//!
//! A first version read the counters with a SeqCst fence and a plain load, as the
//! internal path does, and argued through the fences' total order; the RMW costs the
//! same on the (already CAS-bearing) injection path and its argument needs no fence.
//!
//! Jobs a worker pushes on its own deque (`join`'s second half) read the counters with
//! a plain load, no RMW: if a sleeper misses such a job, the pushing worker is awake
//! and will run the job itself, so the miss costs parallelism, never progress.
//!
//! The JEC is 32 bits and moves only on sleepy/event transitions; a wrap-around in the
//! few instructions between a worker's steps 2 and 3 would need 2^31 such transitions.
//!
//! The idea of the jobs-event counter comes from rayon-core's sleep module (its
//! `README.md`); this protocol is a smaller variant with its own proof above.

use crate::latch::CoreLatch;
use crate::primitive::atomic::{AtomicU64, AtomicUsize, Ordering, fence};
use crate::primitive::thread;
use crate::raw::Driver;
use std::sync::{Arc, OnceLock};
use weft_sync::{CachePadded, Condvar, Mutex};

/// Search rounds before a worker announces it is sleepy.
#[cfg(not(loom))]
const ROUNDS_UNTIL_SLEEPY: u32 = 32;
/// Under loom every round is a scheduling point: keep the models small.
#[cfg(loom)]
const ROUNDS_UNTIL_SLEEPY: u32 = 1;
/// Rounds after which a sleepy worker goes to sleep.
const ROUNDS_UNTIL_SLEEPING: u32 = ROUNDS_UNTIL_SLEEPY + 1;
/// Spin-loop hints between two search rounds (under loom each is a yield: one).
#[cfg(not(loom))]
const SPINS_PER_ROUND: u32 = 64;
#[cfg(loom)]
const SPINS_PER_ROUND: u32 = 1;
/// The longest a worker searches before it announces it is sleepy.
#[cfg(not(loom))]
const SEARCH_TIME: std::time::Duration = std::time::Duration::from_micros(500);

const SLEEPING_ONE: u64 = 1;
const INACTIVE_ONE: u64 = 1 << 16;
const JEC_ONE: u64 = 1 << 32;
const THREADS_MASK: u64 = 0xFFFF;

/// A snapshot of the counters.
#[derive(Copy, Clone, Debug)]
struct Counters(u64);

impl Counters {
    fn sleeping(self) -> u64 {
        self.0 & THREADS_MASK
    }

    fn inactive(self) -> u64 {
        (self.0 >> 16) & THREADS_MASK
    }

    fn jobs_event(self) -> u32 {
        (self.0 >> 32) as u32
    }

    fn is_sleepy(self) -> bool {
        self.jobs_event() & 1 == 1
    }
}

/// The most workers a pool may have (the counters' fields are 16 bits).
pub(crate) const MAX_THREADS: usize = THREADS_MASK as usize;

#[derive(Debug)]
struct WorkerSleepState {
    is_blocked: Mutex<Blocked>,
    condvar: Condvar,
}

/// A worker's sleep flags, under its sleep lock.
#[derive(Debug, Default)]
struct Blocked {
    /// `true` while the worker sleeps (on `condvar`, or in the driver); cleared by
    /// whoever wakes it, or by the worker itself when the driver returned on its own.
    blocked: bool,
    /// `true` while the worker sleeps in the driver rather than on `condvar`: a waker
    /// then calls [`Driver::unpark`].
    in_driver: bool,
}

/// The sleep state of one pool.
#[derive(Debug)]
pub struct Sleep {
    worker_sleep_states: Box<[CachePadded<WorkerSleepState>]>,
    /// See the module docs. SeqCst throughout: the proof uses the single total order.
    counters: AtomicU64,
    /// Successful wake-ups, for tests of "one job wakes one worker".
    wakeups: AtomicUsize,
    /// The event source idle workers sleep in, if a runtime attached one (`raw.rs`).
    driver: OnceLock<Arc<dyn Driver>>,
    /// `true` while one of this pool's workers holds the driver.
    driver_held: std::sync::atomic::AtomicBool,
    /// This sleep state itself, for wakers that wake a sleeper (`sleeper_waker`).
    me: OnceLock<std::sync::Weak<Sleep>>,
}

/// Wakes one sleeper of a pool when the driver it waits for is released.
struct SleeperWaker {
    sleep: Arc<Sleep>,
    index: usize,
}

impl std::task::Wake for SleeperWaker {
    fn wake(self: Arc<Self>) {
        self.sleep.wake_specific_thread(self.index);
    }
}

/// Where an idle worker is in the protocol.
#[derive(Debug)]
pub struct IdleState {
    worker_index: usize,
    rounds: u32,
    /// The JEC value `S` from the worker's sleepy announcement.
    jobs_event: u32,
    /// When the first fruitless round ended (taken lazily: a worker that finds work
    /// at once never reads the clock).
    #[cfg(not(loom))]
    searching_since: Option<std::time::Instant>,
}

impl IdleState {
    fn wake_fully(&mut self) {
        self.rounds = 0;
        #[cfg(not(loom))]
        {
            self.searching_since = None;
        }
    }

    /// `true` once the search has lasted `SEARCH_TIME` (never under loom: no time).
    #[inline]
    fn searched_long_enough(&mut self) -> bool {
        #[cfg(not(loom))]
        {
            let since = *self
                .searching_since
                .get_or_insert_with(std::time::Instant::now);
            since.elapsed() >= SEARCH_TIME
        }
        #[cfg(loom)]
        {
            false
        }
    }

    /// Back to sleepy: the JEC moved, so announce again, search once more, then sleep.
    fn wake_partly(&mut self) {
        self.rounds = ROUNDS_UNTIL_SLEEPY;
    }
}

impl Sleep {
    /// The sleep state of a pool of `threads` workers.
    pub fn new(threads: usize) -> Sleep {
        assert!(threads <= MAX_THREADS);
        Sleep {
            worker_sleep_states: (0..threads)
                .map(|_| {
                    CachePadded::new(WorkerSleepState {
                        is_blocked: Mutex::new(Blocked::default()),
                        condvar: Condvar::new(),
                    })
                })
                .collect(),
            counters: AtomicU64::new(0),
            wakeups: AtomicUsize::new(0),
            driver: OnceLock::new(),
            driver_held: std::sync::atomic::AtomicBool::new(false),
            me: OnceLock::new(),
        }
    }

    /// Takes the driver for worker `index` about to sleep in it. If a thread outside
    /// this pool holds it (`driver_held` is ours only), asks to be woken when it is
    /// released and tries once more: that holder may stop driving for good.
    fn take_driver(&self, driver: &Arc<dyn Driver>, index: usize) -> bool {
        if driver.try_lock() {
            self.driver_held.store(true, Ordering::SeqCst);
            return true;
        }
        if self.driver_held.load(Ordering::SeqCst) {
            // One of our workers drives: it takes the driver again whenever it sleeps.
            return false;
        }
        if let Some(waker) = self.sleeper_waker(index) {
            driver.wake_when_free(&waker);
        }
        if driver.try_lock() {
            self.driver_held.store(true, Ordering::SeqCst);
            return true;
        }
        false
    }

    /// A waker that wakes worker `index` (for `Driver::wake_when_free`), if the pool
    /// gave the sleep state a way back to itself.
    fn sleeper_waker(&self, index: usize) -> Option<std::task::Waker> {
        let me = self.me.get()?.upgrade()?;
        Some(std::task::Waker::from(Arc::new(SleeperWaker {
            sleep: me,
            index,
        })))
    }

    /// Lets sleepers build wakers for themselves (`sleeper_waker`).
    pub fn set_self(&self, me: std::sync::Weak<Sleep>) {
        let _ = self.me.set(me);
    }

    /// Attaches the driver (`raw.rs`); gives it back if one is attached already.
    pub fn set_driver(&self, driver: Arc<dyn Driver>) -> Result<(), Arc<dyn Driver>> {
        self.driver.set(driver)
    }

    /// The attached driver, if any.
    #[inline]
    pub fn driver(&self) -> Option<&Arc<dyn Driver>> {
        self.driver.get()
    }

    /// Successful wake-ups so far.
    pub fn wakeups(&self) -> usize {
        self.wakeups.load(Ordering::Relaxed)
    }

    /// Worker `worker_index` found no work and enters the idle loop.
    #[inline]
    pub fn start_looking(&self, worker_index: usize) -> IdleState {
        self.counters.fetch_add(INACTIVE_ONE, Ordering::SeqCst);
        IdleState {
            worker_index,
            rounds: 0,
            jobs_event: 0,
            #[cfg(not(loom))]
            searching_since: None,
        }
    }

    /// The worker leaves the idle loop (it found work, or its latch was set).
    #[inline]
    pub fn work_found(&self) {
        self.counters.fetch_sub(INACTIVE_ONE, Ordering::SeqCst);
    }

    /// One more idle round without work: spin, announce sleepy, or sleep.
    /// `has_work` is the final re-check of the queues, made under the sleep lock.
    #[inline]
    pub fn no_work_found(
        &self,
        idle: &mut IdleState,
        latch: &CoreLatch,
        has_work: impl Fn() -> bool,
    ) {
        if idle.rounds < ROUNDS_UNTIL_SLEEPY {
            if !idle.searched_long_enough() {
                idle.rounds += 1;
                // Mostly spin, sometimes yield: a `sched_yield` on a loaded machine
                // can cost a whole time slice, which would stretch the search far past
                // `SEARCH_TIME`.
                if idle.rounds.is_multiple_of(8) {
                    thread::yield_now();
                } else {
                    for _ in 0..SPINS_PER_ROUND {
                        thread::spin_loop();
                    }
                }
                return;
            }
            idle.rounds = ROUNDS_UNTIL_SLEEPY;
        }
        if idle.rounds == ROUNDS_UNTIL_SLEEPY {
            idle.jobs_event = self.announce_sleepy();
            // No yield: the caller's next search is the one more round of step 2.
            idle.rounds = ROUNDS_UNTIL_SLEEPING;
        } else {
            self.sleep(idle, latch, has_work);
        }
    }

    /// Step 2: make the JEC odd (sleepy) and return its value.
    fn announce_sleepy(&self) -> u32 {
        let mut old = Counters(self.counters.load(Ordering::SeqCst));
        loop {
            if old.is_sleepy() {
                return old.jobs_event();
            }
            let new = old.0.wrapping_add(JEC_ONE);
            match self.counters.compare_exchange_weak(
                old.0,
                new,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return Counters(new).jobs_event(),
                Err(actual) => old = Counters(actual),
            }
        }
    }

    /// Step 3 (module docs).
    #[cold]
    fn sleep(&self, idle: &mut IdleState, latch: &CoreLatch, has_work: impl Fn() -> bool) {
        let state = &self.worker_sleep_states[idle.worker_index];
        let mut is_blocked = state.is_blocked.lock();
        if !latch.fall_asleep() {
            idle.wake_fully();
            return;
        }
        // Count ourselves asleep, unless a job was posted since we got sleepy.
        let mut old = Counters(self.counters.load(Ordering::SeqCst));
        loop {
            if old.jobs_event() != idle.jobs_event {
                drop(is_blocked);
                latch.wake_up();
                idle.wake_partly();
                return;
            }
            match self.counters.compare_exchange_weak(
                old.0,
                old.0 + SLEEPING_ONE,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => break,
                Err(actual) => old = Counters(actual),
            }
        }
        // Not needed by the proof for injected jobs (the CAS acquires the poster's
        // RMW); it orders our count before the re-check of the deques, so an internal
        // push whose load of the counters missed our count is usually seen here.
        fence(Ordering::SeqCst);
        if has_work() {
            self.counters.fetch_sub(SLEEPING_ONE, Ordering::SeqCst);
            drop(is_blocked);
            latch.wake_up();
            idle.wake_fully();
            return;
        }
        is_blocked.blocked = true;
        if let Some(driver) = self.driver.get()
            && self.take_driver(driver, idle.worker_index)
        {
            // Sleep in the driver. A waker that finds us blocked clears the flag and
            // unparks the driver; an unpark between our unlock and the driver's wait
            // makes that wait return at once (the driver's contract), so it is not lost.
            is_blocked.in_driver = true;
            drop(is_blocked);
            driver.park();
            self.driver_held.store(false, Ordering::SeqCst);
            driver.unlock();
            let mut is_blocked = state.is_blocked.lock();
            is_blocked.in_driver = false;
            let woke_itself = is_blocked.blocked;
            if woke_itself {
                // I/O, a timer, or a spurious return: nobody took us out of the count.
                is_blocked.blocked = false;
                self.counters.fetch_sub(SLEEPING_ONE, Ordering::SeqCst);
            }
            drop(is_blocked);
            latch.wake_up();
            idle.wake_fully();
            // The driver woke tasks onto our queues: if others sleep, wake one to take
            // the driver over (and to steal some of the work).
            if woke_itself
                && Counters(self.counters.load(Ordering::SeqCst)).sleeping() > 0
                && has_work()
            {
                self.wake_any_threads(1);
            }
            return;
        }
        while is_blocked.blocked {
            state.condvar.wait(&mut is_blocked);
        }
        // The waker cleared `blocked` and took us out of `sleeping`.
        drop(is_blocked);
        latch.wake_up();
        idle.wake_fully();
    }

    /// Jobs were pushed on a worker's own deque; `queue_was_empty` is asked only if
    /// someone sleeps (it reads the deque's contended `top`).
    #[inline]
    pub fn new_internal_jobs(&self, queue_was_empty: impl FnOnce() -> bool) {
        let counters = self.jobs_event();
        if counters.sleeping() > 0 {
            self.maybe_wake(counters, queue_was_empty());
        }
    }

    /// A job was pushed on the injector (from outside the pool, or a job of another
    /// pool). Always wakes a sleeper if there is one: an idle worker that is still
    /// awake might leave the idle loop (its latch set) without taking the job.
    #[inline]
    pub fn new_injected_jobs(&self) {
        // `R` of the proof: an RMW, so it reads the latest counters and, if it comes
        // before the sleeper's CAS, releases our push to it.
        let counters = self.jobs_event_from(Counters(self.counters.fetch_add(0, Ordering::SeqCst)));
        self.maybe_wake(counters, false);
    }

    /// The jobs event: if the JEC is sleepy, make it active again.
    #[inline]
    fn jobs_event(&self) -> Counters {
        self.jobs_event_from(Counters(self.counters.load(Ordering::SeqCst)))
    }

    #[inline]
    fn jobs_event_from(&self, mut old: Counters) -> Counters {
        loop {
            if !old.is_sleepy() {
                return old;
            }
            let new = old.0.wrapping_add(JEC_ONE);
            match self.counters.compare_exchange_weak(
                old.0,
                new,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return Counters(new),
                Err(actual) => old = Counters(actual),
            }
        }
    }

    #[inline]
    fn maybe_wake(&self, counters: Counters, queue_was_empty: bool) {
        let sleeping = counters.sleeping();
        if sleeping == 0 {
            return;
        }
        let awake_but_idle = counters.inactive().saturating_sub(sleeping);
        if awake_but_idle == 0 || !queue_was_empty {
            self.wake_any_threads(1);
        }
    }

    /// Wakes one more sleeper if any sleeps: for a worker that found work and saw more
    /// left in the queue it took from (so a burst of jobs spreads).
    /// `work_left` is asked only if someone sleeps (it reads contended queue ends).
    #[inline]
    pub fn more_work_left(&self, work_left: impl FnOnce() -> bool) {
        let counters = Counters(self.counters.load(Ordering::SeqCst));
        // The caller may itself still count as inactive (it is in the idle loop).
        if counters.sleeping() > 0 && counters.inactive() - counters.sleeping() <= 1 && work_left()
        {
            self.wake_any_threads(1);
        }
    }

    /// Wakes up to `count` sleepers: first those on their futex, then the driver's
    /// holder (it keeps watching I/O and timers while others can take the work).
    #[cold]
    fn wake_any_threads(&self, mut count: usize) {
        for prefer_futex in [true, false] {
            if prefer_futex && self.driver.get().is_none() {
                continue;
            }
            for index in 0..self.worker_sleep_states.len() {
                if self.wake_thread(index, prefer_futex) {
                    count -= 1;
                    if count == 0 {
                        return;
                    }
                }
            }
        }
    }

    /// Wakes worker `index` if it is blocked; returns whether it was.
    pub fn wake_specific_thread(&self, index: usize) -> bool {
        self.wake_thread(index, false)
    }

    /// Wakes worker `index` if it is blocked (and, with `skip_driver`, not in the
    /// driver); returns whether it did.
    fn wake_thread(&self, index: usize, skip_driver: bool) -> bool {
        let state = &self.worker_sleep_states[index];
        let mut is_blocked = state.is_blocked.lock();
        if !is_blocked.blocked || (skip_driver && is_blocked.in_driver) {
            return false;
        }
        is_blocked.blocked = false;
        if is_blocked.in_driver {
            self.counters.fetch_sub(SLEEPING_ONE, Ordering::SeqCst);
            drop(is_blocked);
            if let Some(driver) = self.driver.get() {
                driver.unpark();
            }
            self.wakeups.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        // The waker takes the sleeper out of the count, so a second poster that looks
        // before the sleeper runs does not count it as still asleep.
        self.counters.fetch_sub(SLEEPING_ONE, Ordering::SeqCst);
        drop(is_blocked);
        // Notify after unlocking, so the sleeper does not wake only to block on the
        // lock we still hold. Safe: the flag was cleared under the lock, so a sleeper
        // that wakes early (spuriously) sees it and leaves; the condition variable
        // lives in the registry, not in the sleeper's frame.
        state.condvar.notify_one();
        self.wakeups.fetch_add(1, Ordering::Relaxed);
        true
    }
}

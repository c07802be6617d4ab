//! `RawMutex`: the mutex state machine on one `AtomicU32`, spin-then-park on
//! [`crate::futex`]. Shared by [`Mutex`](crate::Mutex), [`Condvar`](crate::Condvar)
//! (which releases and re-takes it) and [`ReentrantMutex`](crate::ReentrantMutex).
//!
//! # The state word
//!
//! ```text
//!  31                       4     3         2          1         0
//! +--------------------------+-------+----------+---------+--------+
//! |      waiter count        | WOKEN | STARVING | HANDOFF | LOCKED |
//! +--------------------------+-------+----------+---------+--------+
//! ```
//!
//! - `LOCKED`: some thread owns the lock (or it is reserved for a waiter, see
//!   `HANDOFF`). Set by the acquiring CAS, cleared by a plain (barging) unlock.
//! - `HANDOFF`: the lock is owned *on behalf of* the next counted waiter to look.
//!   Set by a fair unlock instead of clearing `LOCKED`; cleared by the waiter that
//!   takes the lock over. Only set while the waiter count is non-zero.
//! - `STARVING`: a waiter has waited longer than [`STARVATION_THRESHOLD`]. While it
//!   is set every unlock with waiters is a handoff, and newcomers neither spin nor
//!   barge (they see `LOCKED` and queue up).
//! - `WOKEN`: a wake-up is in flight: an unlock has woken a waiter that has not yet
//!   looked at the word. While it is set, plain unlocks do not wake anyone else (Go's
//!   `mutexWoken`). Without it, on an oversubscribed machine a woken waiter can sit
//!   runnable for a whole time slice while every unlock makes another, useless
//!   `futex_wake` call (measured: ~190,000 in 200 ms at 8 threads on 2 cores). Set by
//!   `unlock_slow` together with its wake; cleared by every CAS a counted waiter or a
//!   registering newcomer makes.
//! - waiter count (`WAITER` = one): threads committed to sleeping on the word. A
//!   waiter increments it before it sleeps and decrements it only with a CAS that
//!   expects `HANDOFF` clear (or consumes it): when it takes the lock, gives up
//!   (timeout), or, woken but beaten by a barger, goes back to spinning. Unlock issues
//!   `futex_wake` only when the count is non-zero, which is what saves the
//!   uncontended-waiter syscall that `std`'s 0/1/2 futex mutex makes.
//!
//! Invariants (each CAS below preserves them):
//!
//! 1. `HANDOFF ⇒ LOCKED ∧ count > 0`, and `STARVING ⇒ LOCKED`.
//! 2. A counted waiter is always in one of: about to re-read the word, inside
//!    `futex::wait` with an `expected` value it read, or asleep. A waiter never waits
//!    on a value with `HANDOFF` set, nor with `WOKEN` set (it clears it first). A
//!    counted waiter that sees `HANDOFF` takes the lock; a thread that is not yet
//!    counted never counts itself in while `HANDOFF` is set (it yields until the
//!    handoff is taken), so a handoff only ever goes to a waiter counted before it
//!    was made, and no sleeper can be stranded by the word returning to a
//!    `HANDOFF` value it slept on (an ABA a stress test found).
//! 3. `WOKEN ⇒` some counted waiter will look at the word: the one just woken, or,
//!    if `wake_one` found nobody asleep, one between its CAS and its `futex::wait`,
//!    whose `expected` lacks `WOKEN` (invariant 2) and so differs from the word.
//!
//! # Transitions
//!
//! | from | event | to | who |
//! |---|---|---|---|
//! | `!LOCKED` | lock (fast or barging) | `+LOCKED` | any thread |
//! | `LOCKED` | a thread decides to sleep | `+WAITER` | the waiter |
//! | `LOCKED, count>0` | waiter waited too long | `+STARVING` | the waiter |
//! | `LOCKED, count=0` | unlock | `0` (also clears `STARVING`) | owner |
//! | `LOCKED, count>0, !STARVING, !WOKEN` | unlock | `-LOCKED +WOKEN`, then `wake_one` | owner |
//! | `LOCKED, count>0, !STARVING, WOKEN` | unlock | `-LOCKED` (no wake) | owner |
//! | `LOCKED, count>0, STARVING or fair` | unlock | `+HANDOFF +WOKEN`, then `wake_one` | owner |
//! | any with `WOKEN` | a waiter registers or looks | `-WOKEN` (with its own change) | waiter |
//! | `HANDOFF` | a counted waiter looks | `-HANDOFF -WAITER` (it owns the lock) | waiter |
//! | `!LOCKED, count>0` | a counted waiter looks | `+LOCKED -WAITER` | waiter |
//! | `LOCKED, !HANDOFF` | waiter times out | `-WAITER` | waiter |
//! | `LOCKED, !HANDOFF, !STARVING` | woken waiter finds it taken | `-WAITER`, spin again | waiter |
//!
//! # Why no wake-up or handoff is lost
//!
//! Every change a waiter must react to (`LOCKED` cleared, `HANDOFF` set) is a change
//! of the word, and a waiter only sleeps through `futex::wait(word, expected)`, which
//! returns at once if the word no longer equals `expected`. So after an unlock, each
//! counted waiter is either asleep (and the unlocker's `wake_one` wakes one of them)
//! or will return from `wait` immediately and re-read. If `wake_one` finds nobody
//! asleep (every counted waiter is between its CAS and its `wait`), those waiters see
//! the changed word. If the word changes back (ABA: someone barges in and the word is
//! equal to `expected` again), the waiter sleeps, but the new owner sees the count and
//! will wake someone when it unlocks. A skipped wake (`WOKEN` already set) is covered
//! by invariant 3: the waiter in flight looks, clears `WOKEN`, and from then on
//! unlocks wake again. (The rule that nobody sleeps on a word with `WOKEN` set is what
//! keeps a stale `expected` from matching a later `WOKEN` word by ABA.)
//!
//! A waiter that times out (or goes back to spinning) withdraws only with a CAS that
//! expects `HANDOFF` clear. If a handoff lands first, the CAS fails, the waiter
//! re-reads, sees `HANDOFF` and takes the lock (reporting success). So `HANDOFF` is
//! never left with nobody to take it: it is only set while the count is non-zero, and
//! a counted waiter cannot leave without looking at it.
//!
//! # Fairness
//!
//! Plain unlocks let a running thread barge in ahead of a sleeping waiter: that keeps
//! the lock hot in one core's cache and is why barging locks have the best throughput.
//! It also allows starvation, which this lock bounds the way Go's `sync.Mutex` does
//! (starvation mode, Go 1.9): a woken waiter that finds the lock taken again and has
//! been waiting for more than [`STARVATION_THRESHOLD`] sets `STARVING`. From then on
//! every unlock hands the lock to a waiter (`HANDOFF`); newcomers cannot take it
//! because `LOCKED` never clears in between. The waiter that takes a handoff clears
//! `STARVING` when it was the last waiter or had itself waited less than the
//! threshold, returning the lock to barging mode. A handoff goes to whichever counted
//! waiter looks first, normally the one `wake_one` wakes, and Linux wakes futex
//! sleepers of equal priority in FIFO order; so a waiter gets the lock within about
//! one threshold plus one pass through the waiters that slept before it. The bound is
//! a property of the queue, not of time slices: `a_waiter_gets_the_lock_from_a_hot_
//! relocking_thread` in the unit tests checks that a hammering thread cannot keep a
//! waiter out.
//! `unlock_fair` forces a single handoff on demand.
//!
//! `RawMutex<false>` (behind [`BargingMutex`](crate::BargingMutex)) drops the
//! threshold rule and keeps everything else: `STARVING` is never set, so with no fair
//! unlock on that type `HANDOFF` never is either, and the word moves only between
//! barging states. Same transitions, minus two rows; the no-lost-wake-up argument
//! above does not use starvation mode, so it holds unchanged.
//!
//! # Where parking_lot is ahead: two threads, one hot lock
//!
//! With two threads on two cores taking and releasing the lock in a tight loop, this
//! lock reaches 0.71-0.88x `parking_lot`'s throughput (at 4 and 8 threads the two are
//! level). Counted on 2 cores (December 2026, a probe that records the owner in the
//! critical section and `getrusage`'s voluntary switches): weft's lock changes owner
//! about 1.9-2.0 M times a second against parking_lot's 1.4-1.7 M, and its waiter
//! really sleeps about 200 times a second against parking_lot's 4,000-9,000, although
//! it decides to sleep some 12,000 times a second. The cause is where it sleeps: on
//! the lock word, which the running holder changes every few tens of nanoseconds, so
//! the futex compare almost always fails and the waiter is back spinning for the
//! cache line. parking_lot's waiter sleeps on a word of its own that only its waker
//! changes: once it decides to sleep it does, and the holder runs alone for the
//! wake-up latency (tens of microseconds on this VM). Inlining the first retry of
//! the slow paths, and leaving starvation mode after a single handoff, measured no
//! different. The change that would close it is to park waiters on per-waiter words
//! (a queue of parked threads hung off the state word), at the cost of the one-word,
//! queue-free design.
//!
//! # Memory orderings
//!
//! Every CAS that takes `LOCKED` (or takes over a `HANDOFF`) is `Acquire`; every CAS
//! that clears `LOCKED` or sets `HANDOFF` is `Release`. They pair: the next owner's
//! Acquire reads the value written by the previous owner's Release (or a later RMW in
//! its release sequence, such as a waiter's count increment), so the previous critical
//! section happens-before the next. Count changes and `STARVING` are `Relaxed`: they
//! publish no data, and every decision based on them is re-validated by a CAS.

use crate::deadlock::{self, Access, LockClass};
use crate::futex;
use crate::primitive::atomic::{AtomicU32, Ordering};
use crate::primitive::thread;
use std::time::{Duration, Instant};

const LOCKED: u32 = 1;
const HANDOFF: u32 = 2;
const STARVING: u32 = 4;
/// A wake-up is in flight (see the module doc).
const WOKEN: u32 = 8;
/// One unit of the waiter count.
const WAITER: u32 = 16;
const WAITERS_MASK: u32 = !(WAITER - 1);

/// How long a waiter may lose to bargers before it switches the lock to handoff mode
/// (Go uses the same 1 ms).
#[cfg_attr(loom, allow(dead_code))] // loom has no time (see `waited_too_long`)
pub(crate) const STARVATION_THRESHOLD: Duration = Duration::from_millis(1);

/// Rounds of spinning before parking: the first `SPIN_ROUNDS_BUSY` spin `2^(k+1)`
/// pause instructions (2 + 4 + 8 = 14 pauses, a few hundred nanoseconds), the rest
/// yield the CPU. Measured on 2 cores against parking_lot (which uses the same
/// 3 + 7 split): without the yields, 4 and 8 threads on 2 cores fall asleep on the
/// futex and throughput halves; the yields let a preempted holder run instead.
/// Under loom there is no spinning: loom treats a spin (a yield) as "run the others
/// until they block", which would hide the races between parking and unlocking that
/// the models exist to explore.
const SPIN_ROUNDS: u32 = if cfg!(loom) { 0 } else { 10 };
const SPIN_ROUNDS_BUSY: u32 = 3;

/// The lock without data: a state word and the class the deadlock detector knows it
/// by. Every acquisition and release calls the `crate::deadlock` hooks, with this
/// raw lock's address as the lock's identity.
///
/// `EVENTUALLY_FAIR` chooses the starvation rule. With it (the default, what
/// [`Mutex`](crate::Mutex) uses) a waiter that has lost for
/// [`STARVATION_THRESHOLD`] sets `STARVING` and the lock moves by handoff until the
/// queue drains. Without it ([`BargingMutex`](crate::BargingMutex)) `STARVING` is
/// never set, so `HANDOFF` only comes from an explicit fair unlock, which that type
/// does not offer: every unlock lets a running thread barge in.
pub(crate) struct RawMutex<const EVENTUALLY_FAIR: bool = true> {
    state: AtomicU32,
    class: LockClass,
}

impl<const EVENTUALLY_FAIR: bool> RawMutex<EVENTUALLY_FAIR> {
    /// Spin rounds before a thread counts itself in and sleeps. `Mutex` spins busy,
    /// then yields (see [`SPIN_ROUNDS`]). `BargingMutex` only spins busy: its users
    /// hold it for a few dozen instructions, so a holder that is still holding after
    /// the busy rounds has most likely been preempted, and yielding then hands the
    /// core to another thread that will contend too. Measured on 2 cores with
    /// `bench --bench channel` (8 threads in `select_both`): bounded(1) select_both
    /// ran at 0.4-0.6M msgs/s with the yields and 1.3-1.75M without, level with
    /// `std::sync::Mutex` (which spins and sleeps, never yields).
    const SPIN_LIMIT: u32 = if EVENTUALLY_FAIR {
        SPIN_ROUNDS
    } else if cfg!(loom) {
        0
    } else {
        SPIN_ROUNDS_BUSY
    };

    #[cfg(not(loom))]
    #[track_caller]
    #[inline]
    pub(crate) const fn new() -> Self {
        Self {
            state: AtomicU32::new(0),
            class: LockClass::new(),
        }
    }

    #[cfg(loom)]
    #[track_caller]
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicU32::new(0),
            class: LockClass::new(),
        }
    }

    /// The identity the deadlock detector knows this lock by.
    #[inline]
    pub(crate) fn addr(&self) -> usize {
        self as *const Self as usize
    }

    /// Blocks until the lock is held.
    #[inline]
    #[track_caller]
    pub(crate) fn lock(&self) {
        // Acquire: pairs with the Release in `unlock`/`unlock_slow`.
        if self
            .state
            .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow(None);
        }
        deadlock::on_acquire(self.addr(), &self.class, Access::Exclusive);
    }

    /// Takes the lock if it is free right now (it may have waiters: barging is
    /// allowed unless a waiter is starving, in which case the lock is never free).
    #[inline]
    #[track_caller]
    pub(crate) fn try_lock(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & LOCKED != 0 {
                return false;
            }
            // Acquire: pairs with the Release in `unlock`/`unlock_slow`.
            match self.state.compare_exchange_weak(
                state,
                state | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        deadlock::on_acquire(self.addr(), &self.class, Access::TryExclusive);
        true
    }

    /// Blocks until the lock is held or `deadline` passes; `true` if it is held.
    #[inline]
    #[track_caller]
    pub(crate) fn try_lock_until(&self, deadline: Instant) -> bool {
        // Acquire: pairs with the Release in `unlock`/`unlock_slow`.
        let locked = self
            .state
            .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            || self.lock_slow(Some(deadline));
        if locked {
            // A timed acquisition can wait, so for lock ordering it is a blocking one.
            deadlock::on_acquire(self.addr(), &self.class, Access::Exclusive);
        }
        locked
    }

    /// Whether the lock is held (a snapshot, for diagnostics and assertions).
    #[inline]
    pub(crate) fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }

    /// How many threads are counted as waiting (for tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn waiter_count(&self) -> u32 {
        self.state.load(Ordering::Relaxed) / WAITER
    }

    /// Whether the word is in starvation mode (for tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_starving(&self) -> bool {
        self.state.load(Ordering::Relaxed) & STARVING != 0
    }

    /// Whether a wake-up is in flight: an unlock woke a waiter that has not looked
    /// at the word yet (for tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_woken(&self) -> bool {
        self.state.load(Ordering::Relaxed) & WOKEN != 0
    }

    /// What an unlock followed at once by a barger's re-lock leaves behind, made
    /// without the race (for tests): the lock still held, `WOKEN` set and one
    /// sleeper woken, who will find the lock taken. Call it holding the lock with a
    /// waiter counted and no wake-up in flight; invariant 3 then holds as after a
    /// real unlock.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn wake_into_a_barged_lock(&self) {
        let state = self.state.fetch_or(WOKEN, Ordering::Relaxed);
        assert!(state & LOCKED != 0 && state & WAITERS_MASK != 0 && state & WOKEN == 0);
        futex::wake_one(&self.state);
    }

    /// Releases the lock, letting a running thread barge in ahead of the waiters
    /// unless one of them is starving.
    ///
    /// # Safety
    ///
    /// The lock must be held, by the caller's guard (or on its behalf).
    #[inline]
    pub(crate) unsafe fn unlock(&self) {
        deadlock::on_release(self.addr());
        // Release: publishes the critical section to the next owner's Acquire.
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow(false);
        }
    }

    /// Releases the lock and, if anyone waits, hands it straight to one waiter: no
    /// thread can take it in between.
    ///
    /// # Safety
    ///
    /// The lock must be held, by the caller's guard (or on its behalf).
    #[inline]
    pub(crate) unsafe fn unlock_fair(&self) {
        deadlock::on_release(self.addr());
        // Release: as in `unlock`.
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow(true);
        }
    }

    /// Spins briefly, then registers as a waiter and sleeps on the word. Returns
    /// `true` once the lock is held, `false` if `deadline` passed first.
    #[cold]
    #[inline(never)]
    fn lock_slow(&self, deadline: Option<Instant>) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        // Set when we first decide to sleep: the start of our wait, for starvation.
        let mut waiting_since: Option<Instant> = None;
        loop {
            // Phase 1: spin (bounded), but never while a waiter starves: the lock then
            // only moves by handoff and will not come free for us. We spin even when
            // others sleep (as Go does, unlike parking_lot): measured at 8 threads on
            // 2 cores, skipping the spin whenever anyone sleeps made every newcomer
            // sleep too, and throughput fell by a quarter (median 44 vs 59 Mops/s).
            // Spinning starts with busy pauses and goes on with yields, which on an
            // oversubscribed machine let a preempted holder run and finish.
            let mut round = 0;
            loop {
                if state & LOCKED == 0 {
                    // Acquire: pairs with the Release in `unlock`/`unlock_slow`.
                    match self.state.compare_exchange_weak(
                        state,
                        state | LOCKED,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return true,
                        Err(actual) => {
                            state = actual;
                            continue;
                        }
                    }
                }
                if state & STARVING != 0 || round >= Self::SPIN_LIMIT {
                    break;
                }
                if round < SPIN_ROUNDS_BUSY {
                    for _ in 0..2u32 << round {
                        thread::spin_loop();
                    }
                } else {
                    thread::yield_now();
                }
                round += 1;
                state = self.state.load(Ordering::Relaxed);
            }

            // Phase 2: count ourselves in, unless the lock came free meanwhile.
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                if waiting_since.is_some() {
                    deadlock::on_wait_abort(self.addr());
                }
                return false;
            }
            let since = *waiting_since.get_or_insert_with(|| {
                deadlock::on_wait(self.addr(), &self.class);
                Instant::now()
            });
            loop {
                if state & HANDOFF != 0 {
                    // A handoff is pending for a waiter counted before it was made.
                    // We must not count in now: we could then take the handoff ahead
                    // of that waiter (barging past `unlock_fair`), and, worse, sleep
                    // on a word holding HANDOFF. That word can recur (ABA: the handoff
                    // is taken, and the new owner's fair unlock and re-count recreate
                    // the same value) after its one wake-up was spent, leaving two
                    // sleepers and a lock nobody takes. The counted waiter was woken
                    // and takes the handoff shortly; yield until it has.
                    if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                        deadlock::on_wait_abort(self.addr());
                        return false;
                    }
                    thread::yield_now();
                    state = self.state.load(Ordering::Relaxed);
                    continue;
                }
                if state & LOCKED == 0 {
                    // Acquire: pairs with the Release in `unlock`/`unlock_slow`.
                    match self.state.compare_exchange_weak(
                        state,
                        state | LOCKED,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return true,
                        Err(actual) => state = actual,
                    }
                } else {
                    match self.state.compare_exchange_weak(
                        state,
                        // Never sleep on a word with WOKEN set (module doc).
                        (state + WAITER) & !WOKEN,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => {
                            state = (state + WAITER) & !WOKEN;
                            break;
                        }
                        Err(actual) => state = actual,
                    }
                }
            }

            // Phase 3: sleep until the word changes, then look again. `state` is the
            // last value we read: LOCKED, no HANDOFF, and we are counted in it.
            'sleep: loop {
                let woken = futex::wait(&self.state, state, deadline);
                state = self.state.load(Ordering::Relaxed);
                loop {
                    let (new, outcome) = if state & HANDOFF != 0 {
                        // Take the lock over. Leave starvation mode if nobody else
                        // waits or we did not wait long ourselves (Go's rule).
                        let mut new = (state & !(HANDOFF | WOKEN)) - WAITER;
                        if new & WAITERS_MASK == 0 || !waited_too_long(since) {
                            new &= !STARVING;
                        }
                        (new, Outcome::Acquired)
                    } else if state & LOCKED == 0 {
                        (((state | LOCKED) & !WOKEN) - WAITER, Outcome::Acquired)
                    } else if !woken {
                        // Timed out. The CAS expects HANDOFF clear, so a handoff that
                        // lands first makes it fail and we take the lock on the retry.
                        ((state & !WOKEN) - WAITER, Outcome::TimedOut)
                    } else if state & STARVING != 0 {
                        // Starvation mode: the lock goes by handoff, so stay counted
                        // and asleep until one comes (clearing WOKEN first: we looked).
                        if state & WOKEN == 0 {
                            break;
                        }
                        (state & !WOKEN, Outcome::SleepAgain)
                    } else if EVENTUALLY_FAIR && waited_too_long(since) {
                        ((state | STARVING) & !WOKEN, Outcome::SleepAgain)
                    } else {
                        // Lost the race to a barger. Leave the count and spin again
                        // like a newcomer (parking_lot's policy): if we were the only
                        // sleeper, unlocks stop making wake-up calls meanwhile.
                        ((state & !WOKEN) - WAITER, Outcome::Retry)
                    };
                    // Acquire when taking the lock: pairs with the Release CAS that
                    // cleared LOCKED or set HANDOFF in `unlock`/`unlock_slow`.
                    let order = match outcome {
                        Outcome::Acquired => Ordering::Acquire,
                        _ => Ordering::Relaxed,
                    };
                    match self
                        .state
                        .compare_exchange_weak(state, new, order, Ordering::Relaxed)
                    {
                        Ok(_) => match outcome {
                            Outcome::Acquired => return true,
                            Outcome::TimedOut => {
                                deadlock::on_wait_abort(self.addr());
                                return false;
                            }
                            Outcome::SleepAgain => {
                                state = new;
                                continue 'sleep;
                            }
                            Outcome::Retry => {
                                state = new;
                                break 'sleep;
                            }
                        },
                        Err(actual) => state = actual,
                    }
                }
            }
        }
    }

    /// Unlock with waiters or `STARVING` set, or a fair unlock.
    #[cold]
    #[inline(never)]
    fn unlock_slow(&self, fair: bool) {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(state & LOCKED != 0 && state & HANDOFF == 0);
            let waiters = state & WAITERS_MASK != 0;
            let (new, wake) = if waiters && (fair || state & STARVING != 0) {
                // Keep LOCKED: the lock now belongs to whichever waiter looks first.
                // Always wake: a handoff must not wait for an in-flight wake-up.
                (state | HANDOFF | WOKEN, true)
            } else if waiters && state & WOKEN == 0 {
                ((state & !(LOCKED | STARVING)) | WOKEN, true)
            } else {
                // Nobody to wake, or a woken waiter is already on its way.
                (state & !(LOCKED | STARVING), false)
            };
            // Release: publishes the critical section to the next owner's Acquire
            // (a barger's CAS or the waiter taking the handoff).
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => {
                    if wake {
                        futex::wake_one(&self.state);
                    }
                    return;
                }
                Err(actual) => state = actual,
            }
        }
    }
}

/// What a counted waiter's CAS in `lock_slow` achieves if it succeeds.
#[derive(Clone, Copy)]
enum Outcome {
    /// We own the lock (took it free, or took over a handoff).
    Acquired,
    /// Our deadline passed; we left the count.
    TimedOut,
    /// We set `STARVING` and stay counted.
    SleepAgain,
    /// We left the count to spin again.
    Retry,
}

#[cfg(not(loom))]
#[inline]
fn waited_too_long(since: Instant) -> bool {
    since.elapsed() >= STARVATION_THRESHOLD
}

/// Under loom there is no time; one lost race counts as starving, so the models
/// walk through starvation mode and its handoffs.
#[cfg(loom)]
#[inline]
fn waited_too_long(_since: Instant) -> bool {
    true
}

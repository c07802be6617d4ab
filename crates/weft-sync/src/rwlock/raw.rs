//! The raw reader-writer lock: one 64-bit state word, three futex words, no data.
//!
//! The shape follows std's futex `RwLock` (a reader count plus waiter flags in one
//! word, writers sleeping on a separate word so waking one writer does not wake the
//! readers), plus parking_lot's *upgradable* read. The contention policy is the one
//! [`RawMutex`](crate::mutex) takes from Go's `sync.Mutex` (Go 1.9 starvation mode):
//! running threads barge, a thread spins (busy, then yielding) before it sleeps, at
//! most one wake-up per side is in flight, and fairness is *eventual*.
//!
//! Writers are preferred over newly arriving readers. Readers queued behind writers
//! are not let in at every write release, as in Brandenburg & Anderson's phase-fair
//! locks ("Spin-Based Reader-Writer Synchronization for Multiprocessor Real-Time
//! Systems", 2010), which this lock did before: handing the lock to readers that are
//! asleep made every following writer wait until they had been scheduled, run and
//! left (a lock convoy), and cost a factor of 10 to 100 against parking_lot at 4 and 8
//! threads on 2 cores. Instead a queued reader that has waited longer than
//! [`READER_STARVATION_THRESHOLD`] (1 ms) sets `READERS_STARVING`, and the next write
//! release *grants* the lock to every queued reader at once.
//!
//! # The state word
//!
//! | bits   | name               | meaning |
//! |--------|--------------------|---------|
//! | 0..27  | `READERS`          | read locks held, the upgradable one included |
//! | 27     | `WRITER_WOKEN`     | a writer was woken and has not yet gone back to sleep: do not wake another |
//! | 28     | `WRITE_LOCKED`     | a writer holds the lock (then `READERS` is 0 and `UPGRADABLE` clear) |
//! | 29     | `UPGRADABLE`       | an upgradable read is held (its holder is one of `READERS`) |
//! | 30     | `UPGRADING`        | that holder waits for the other readers to leave (implies `UPGRADABLE`) |
//! | 31     | `PHASE`            | flips on every grant; a queued reader waits for it to change |
//! | 32..46 | `WAITING_WRITERS`  | writers and upgradable readers registered on `writer_notify` |
//! | 46     | `READERS_WOKEN`    | queued readers were woken by a reopen and none has looked since |
//! | 47     | `READERS_STARVING` | a queued reader waited too long: the next write release grants |
//! | 48..64 | `QUEUED_READERS`   | readers registered to sleep on `reader_notify` |
//!
//! A thread *registers* (adds itself to a waiting count) with a compare-and-swap that
//! also saw the lock unavailable, and *deregisters itself* (when it enters, gives up at
//! its deadline, or, for a reader, leaves to spin again). Wakers never change the
//! counts, except a grant, which turns every queued reader into a holder. So a count is
//! exact. Invariants, kept by every compare-and-swap below:
//!
//! 1. `READERS_WOKEN ⇒ QUEUED_READERS > 0` and `READERS_STARVING ⇒ QUEUED_READERS > 0`:
//!    only a reopen (with readers queued) and a queued reader set them, and every
//!    change that takes the count to 0 clears them.
//! 2. No queued reader sleeps on a word with `READERS_WOKEN` set, and no registered
//!    writer with `WRITER_WOKEN` set: each clears the bit (re-checking the word in the
//!    same compare-and-swap) first.
//!
//! # Who may enter
//!
//! - a **reader** when `WRITE_LOCKED`, `UPGRADING` and `WAITING_WRITERS` are all clear
//!   ([`is_readable`]): once a writer waits, new readers queue behind it;
//! - a **writer** when `READERS`, `WRITE_LOCKED` and `UPGRADABLE` are all clear
//!   ([`is_writer_free`]), whether or not other writers wait (writers barge);
//! - an **upgradable reader** when `WRITE_LOCKED`, `UPGRADABLE` and `WAITING_WRITERS`
//!   are clear; once registered it ignores `WAITING_WRITERS` (it is one of them).
//!
//! # Waiting
//!
//! Every blocked thread first spins: 3 rounds of 2, 4, 8 pause instructions, then 7
//! `yield_now`s, re-reading the word and taking the lock as soon as it may enter. It
//! spins even while others sleep (sleeping early halves throughput at 8 threads on 2
//! cores, as the Mutex measured). Then it registers and sleeps:
//!
//! - a **reader** queues (`QUEUED_READERS += 1`) and sleeps on `reader_notify`, at most
//!   until `READER_STARVATION_THRESHOLD` after it first queued while
//!   `READERS_STARVING` is clear. When it wakes it looks at the word: granted (`PHASE`
//!   changed): it holds a read lock; readable: it lets itself in (`QUEUED_READERS -= 1`,
//!   `READERS += 1`); deadline passed: it leaves; waited too long: it sets
//!   `READERS_STARVING` and sleeps on, staying queued until granted or let in; woken
//!   but the lock was retaken and it does not starve yet: it leaves the queue and spins
//!   again like a newcomer, keeping the time it first queued.
//! - a **writer** (or upgradable reader) registers (`WAITING_WRITERS += 1`) and sleeps on
//!   `writer_notify`. Woken, it spins again *still registered*, so readers stay held
//!   back and it keeps `WRITER_WOKEN` (no second writer is woken meanwhile); it clears
//!   the bit only when it enters, gives up, or goes back to sleep.
//! - the **upgrader** spins, sets `UPGRADING`, and sleeps on `upgrade_notify`.
//!
//! # Transitions that hand the lock on
//!
//! | from | event | to, then | who |
//! |---|---|---|---|
//! | `WRITE_LOCKED`, queued readers, `READERS_STARVING` (or a downgrade) | write release | grant: `READERS += QUEUED_READERS`, `QUEUED_READERS = 0`, flip `PHASE`, clear both reader bits; wake `reader_notify` | writer |
//! | `WRITE_LOCKED`, writers registered, `!WRITER_WOKEN`, no grant | write release | `-WRITE_LOCKED +WRITER_WOKEN`; wake one on `writer_notify` | writer |
//! | `WRITE_LOCKED`, queued readers, no writer registered, `!READERS_WOKEN`, no grant | write release | `-WRITE_LOCKED +READERS_WOKEN` (reopen); wake all on `reader_notify` | writer |
//! | otherwise | write release | `-WRITE_LOCKED` (no wake: one is in flight, or nobody waits) | writer |
//! | writer-free after a reader leaves, writers registered, `!WRITER_WOKEN` | read release | `+WRITER_WOKEN`; wake one writer | last reader |
//! | `UPGRADING`, `READERS == 2` | read release | wake `upgrade_notify` | reader |
//! | readable with readers queued | a writer or upgrader gives up, or a registered upgradable reader enters | wake all on `reader_notify` (rare: no `READERS_WOKEN`) | that thread |
//! | any with `READERS_WOKEN` | a queued reader registers or looks | `-READERS_WOKEN` (with its own change) | reader |
//!
//! A grant happens only at a write release (or downgrade), and a reopen never flips
//! `PHASE`. A queued reader that sees `PHASE` differ from the value it queued under
//! therefore holds its read lock: `PHASE` cannot flip twice before such a reader looks,
//! because it is counted in `READERS` from the grant on, and the next grant needs a
//! write lock, which needs `READERS == 0`. (Granting at a reopen would break this: with
//! no write lock in between, `PHASE` could flip twice; the stress test once found it.)
//! `PHASE` is cleared by a writer that enters while no reader is queued (nobody can be
//! looking at it), so the uncontended fast paths compare with `0` and `WRITE_LOCKED`.
//!
//! # Why no wake-up is lost
//!
//! Each sleeper follows std's pattern: register in `state`, load the notify word's
//! sequence (Acquire), re-check `state`, then `futex::wait(notify, seq)`. Each waker
//! changes `state` first, then increments the notify word (Release) and wakes. If the
//! sleeper's sequence load saw the increment, the Acquire/Release pair makes the state
//! change visible to its re-check; if it did not, the futex compares the word with
//! `seq` atomically against the wake, so the wait returns at once or is woken.
//!
//! A wake skipped because a `*_WOKEN` bit is set is covered by the wake that set it.
//! For readers: while `READERS_WOKEN` stays set, no queued reader has made a
//! compare-and-swap since the reopen that set it (every one clears the bit,
//! invariant 2, and registering clears it too), so the readers now queued are exactly
//! those woken by that reopen's `wake_all`, and each of them still has to look at the
//! word; a look that read the word before the skipped change ends in a
//! compare-and-swap that fails, so it reads the new word. For writers the same
//! argument holds with "the woken writer" for "the woken readers": it looks, and only
//! goes back to sleep after clearing `WRITER_WOKEN`, after which releases wake again.
//! Clearing either bit early is always safe: it can only cause an extra wake.
//!
//! A wrongly skipped reader wake could not hang anyone either, only delay: a skip
//! needs `READERS_STARVING` clear, and while it is clear every queued reader sleeps
//! with its starvation timer running; once it is set, write releases grant, and a
//! grant always wakes. (A loom mutation that drops the clear-before-sleep rule
//! therefore still passes the models; the rule is what keeps readers from sleeping
//! out their threshold, which `perf` showed as the difference between ~142,000 and
//! ~440 futex calls per second at 8 threads.)
//!
//! # Why writers do not starve, and readers eventually get in
//!
//! A registered writer makes `WAITING_WRITERS > 0`, so no new reader and no new
//! upgradable reader enters. It stays registered until it enters or gives up, spinning
//! included. The readers inside leave in finite time; grants can add readers only at
//! a write release, that is, only when some other writer got in first. So against
//! readers a writer waits for at most the readers inside and one grant per write
//! phase of another writer; with no other writer, the last reader out wakes it and
//! nobody else may enter. Among writers the order is not fair (barging, futex wake
//! order), as with every barging lock.
//!
//! A queued reader's sleep is cut at `READER_STARVATION_THRESHOLD` after it first
//! queued; then it sets `READERS_STARVING` and from then on never leaves the queue
//! except at its own deadline. A write release that sees the bit grants every queued
//! reader before anything else can happen, and some write release does come: the
//! reader is queued only while a writer holds the lock (it will release), a writer is
//! registered (it enters once the readers inside leave, then releases, or gives up,
//! which reopens and wakes), or an upgrade drains (it becomes a write lock, or gives
//! up and wakes). So a reader waits about one threshold plus one write section.
//!
//! Under loom there is no time and a timed wait returns at once, so a reader starves
//! exactly when its timer has fired once; the models cover both the reopen (with
//! `READERS_WOKEN`) and the grant.
//!
//! # Memory orderings
//!
//! Every compare-and-swap that takes a lock (read, write, upgradable, upgrade, a
//! queued reader letting itself in) is Acquire, and every release (`fetch_sub` of a
//! reader, the write release, the grant) is Release: the next holder's Acquire reads
//! the released value or a later read-modify-write in its release sequence, so the
//! previous critical section happens-before the next. A granted reader takes no lock
//! itself: its Acquire load of the flipped `PHASE` pairs with the granting Release.
//! Registering, deregistering without entering, and setting or clearing the `*_WOKEN`
//! and `READERS_STARVING` bits publish no data and need only be Relaxed: every
//! decision based on them is re-validated by a compare-and-swap. (A queued reader's
//! compare-and-swaps are all Acquire anyway, success and failure, because the value a
//! failed one reads may be the grant.) The notify words are
//! incremented Release and loaded Acquire, as described under "no wake-up is lost".

use crate::deadlock::{self, Access, LockClass};
use crate::futex;
use crate::primitive::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::primitive::thread;
use std::time::{Duration, Instant};

const ONE_READER: u64 = 1;
const READERS: u64 = (1 << 27) - 1;
const WRITER_WOKEN: u64 = 1 << 27;
const WRITE_LOCKED: u64 = 1 << 28;
const UPGRADABLE: u64 = 1 << 29;
const UPGRADING: u64 = 1 << 30;
const PHASE: u64 = 1 << 31;
const ONE_WAITING_WRITER: u64 = 1 << 32;
const WAITING_WRITERS: u64 = 0x3FFF << 32;
const READERS_WOKEN: u64 = 1 << 46;
const READERS_STARVING: u64 = 1 << 47;
const ONE_QUEUED_READER: u64 = 1 << 48;
const QUEUED_READERS: u64 = 0xFFFF << 48;

/// How long a queued reader may wait behind writers before it asks for a grant
/// (`READERS_STARVING`). Go's `sync.Mutex` uses the same 1 ms for its starvation mode.
pub(crate) const READER_STARVATION_THRESHOLD: Duration = Duration::from_millis(1);

/// Rounds of spinning before registering to sleep, as in [`RawMutex`]: the first
/// `SPIN_ROUNDS_BUSY` spin `2^(k+1)` pause instructions (14 in all), the rest call
/// `yield_now`, which on an oversubscribed machine lets a preempted holder run and
/// release. Under loom there is no spinning (loom runs the others until they block on a
/// yield, which would hide the races between sleeping and waking).
///
/// [`RawMutex`]: crate::mutex
const SPIN_ROUNDS: u32 = if cfg!(loom) { 0 } else { 10 };
const SPIN_ROUNDS_BUSY: u32 = 3;

/// One round of the spin described at [`SPIN_ROUNDS`].
#[inline]
fn spin_round(round: u32) {
    if round < SPIN_ROUNDS_BUSY {
        for _ in 0..2u32 << round {
            thread::spin_loop();
        }
    } else {
        thread::yield_now();
    }
}

/// A reader may enter: no writer holds or waits, no upgrade drains, room for one more.
/// The blocking bits all lie above `READERS`, so one comparison checks all four.
#[inline]
fn is_readable(state: u64) -> bool {
    state & (READERS | WRITE_LOCKED | UPGRADING | WAITING_WRITERS) < READERS
}

/// A writer may enter: nobody holds the lock in any mode.
#[inline]
fn is_writer_free(state: u64) -> bool {
    state & (READERS | WRITE_LOCKED | UPGRADABLE) == 0
}

/// An upgradable reader may enter (`registered`: it already counts in
/// `WAITING_WRITERS`, so waiting writers do not hold it back).
#[inline]
fn is_upgradable_free(state: u64, registered: bool) -> bool {
    let mut blocking = WRITE_LOCKED | UPGRADABLE;
    if !registered {
        blocking |= WAITING_WRITERS;
    }
    state & blocking == 0 && state & READERS < READERS
}

#[inline]
fn readers(state: u64) -> u64 {
    state & READERS
}

#[inline]
fn queued_readers(state: u64) -> u64 {
    (state & QUEUED_READERS) >> QUEUED_READERS.trailing_zeros()
}

#[inline]
fn waiting_writers(state: u64) -> u64 {
    (state & WAITING_WRITERS) >> WAITING_WRITERS.trailing_zeros()
}

/// A registered writer (or upgradable reader) may enter and none has been woken yet.
#[inline]
fn needs_writer_wake(state: u64) -> bool {
    is_writer_free(state) && waiting_writers(state) > 0 && state & WRITER_WOKEN == 0
}

/// `state` with every queued reader admitted as a holder, `PHASE` flipped and
/// `READERS_STARVING` and `READERS_WOKEN` cleared (nobody is queued any more).
fn grant_queued_readers(state: u64) -> u64 {
    let queued = queued_readers(state);
    assert!(
        readers(state) + queued < READERS,
        "RwLock: too many read locks"
    );
    ((state & !(QUEUED_READERS | READERS_STARVING | READERS_WOKEN)) + queued * ONE_READER) ^ PHASE
}

/// `state` with one queued reader gone (it entered or left) and `READERS_WOKEN`
/// cleared (it looked), clearing `READERS_STARVING` too when it was the last: the bit
/// only means something while someone is queued.
#[inline]
fn leave_reader_queue(state: u64) -> u64 {
    let new = (state - ONE_QUEUED_READER) & !READERS_WOKEN;
    if queued_readers(new) == 0 {
        new & !READERS_STARVING
    } else {
        new
    }
}

/// Whether `state`, reached by a change that did not grant, leaves the lock readable
/// with readers queued, who must then be woken to let themselves in.
fn reopens_to_queued_readers(state: u64) -> bool {
    queued_readers(state) > 0 && is_readable(state)
}

/// `state` with the write lock taken (from a writer-free state). Clears `PHASE` when
/// no reader is queued: nobody is waiting to see it flip (see the module doc).
#[inline]
fn with_write_locked(state: u64) -> u64 {
    if queued_readers(state) == 0 {
        (state & !PHASE) | WRITE_LOCKED
    } else {
        state | WRITE_LOCKED
    }
}

/// Whether a reader that first queued at `since` has waited past the threshold. Also
/// true once its starvation timer has fired (see `wait_queued`), which is how time
/// passes under loom.
#[cfg(not(loom))]
#[inline]
fn waited_too_long(since: Instant) -> bool {
    since.elapsed() >= READER_STARVATION_THRESHOLD
}

/// Under loom there is no time, and a timed wait returns at once: a reader starves
/// exactly when its timer has fired, after one sleep. So the models see both a write
/// release that finds queued readers not yet starving (wake, or skip while
/// `READERS_WOKEN`) and one that finds them starving (grant).
#[cfg(loom)]
#[inline]
fn waited_too_long(_since: Instant) -> bool {
    false
}

/// How a queued reader's wait ([`RawRwLock::wait_queued`]) ended.
enum Queued {
    /// It holds a read lock (granted, or it let itself in).
    Entered,
    /// Its deadline passed; it left the queue.
    TimedOut,
    /// Woken but the lock was not readable: it left the queue to spin again.
    Left(u64),
}

/// The lock itself: state and the words its waiters sleep on.
pub(crate) struct RawRwLock {
    state: AtomicU64,
    /// Queued readers sleep here; bumped by every grant.
    reader_notify: AtomicU32,
    /// Registered writers and upgradable readers sleep here; bumped to wake one.
    writer_notify: AtomicU32,
    /// The upgradable holder sleeps here while `UPGRADING`.
    upgrade_notify: AtomicU32,
    class: LockClass,
}

impl RawRwLock {
    #[cfg(not(loom))]
    #[track_caller]
    #[inline]
    pub(crate) const fn new() -> Self {
        Self {
            state: AtomicU64::new(0),
            reader_notify: AtomicU32::new(0),
            writer_notify: AtomicU32::new(0),
            upgrade_notify: AtomicU32::new(0),
            class: LockClass::new(),
        }
    }

    #[cfg(loom)]
    #[track_caller]
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicU64::new(0),
            reader_notify: AtomicU32::new(0),
            writer_notify: AtomicU32::new(0),
            upgrade_notify: AtomicU32::new(0),
            class: LockClass::new(),
        }
    }

    /// The address the deadlock detector knows this lock by.
    #[inline]
    pub(crate) fn addr(&self) -> usize {
        self as *const Self as usize
    }

    pub(crate) fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & (READERS | WRITE_LOCKED) != 0
    }

    pub(crate) fn is_locked_exclusive(&self) -> bool {
        self.state.load(Ordering::Relaxed) & WRITE_LOCKED != 0
    }

    /// The raw state word, for tests that wait until a thread is provably waiting.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn waiters_for_tests(&self) -> (u64, u64, bool) {
        let state = self.state.load(Ordering::Relaxed);
        (
            waiting_writers(state),
            queued_readers(state),
            state & UPGRADING != 0,
        )
    }

    /// Whether a queued reader has asked for a grant (for tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn readers_starving_for_tests(&self) -> bool {
        self.state.load(Ordering::Relaxed) & READERS_STARVING != 0
    }

    // ---- shared ----

    #[inline]
    #[track_caller]
    pub(crate) fn lock_shared(&self) {
        if !self.try_lock_shared_fast() {
            self.lock_shared_slow(None);
        }
        deadlock::on_acquire(self.addr(), &self.class, Access::Shared);
    }

    #[inline]
    #[track_caller]
    pub(crate) fn try_lock_shared(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while is_readable(state) {
            // Acquire: pairs with the Release of the last write unlock, so the
            // writer's changes to the data are visible to this reader.
            match self.state.compare_exchange_weak(
                state,
                state + ONE_READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    deadlock::on_acquire(self.addr(), &self.class, Access::TryShared);
                    return true;
                }
                Err(actual) => state = actual,
            }
        }
        false
    }

    #[inline]
    #[track_caller]
    pub(crate) fn try_lock_shared_until(&self, deadline: Option<Instant>) -> bool {
        let locked = self.try_lock_shared_fast() || self.lock_shared_slow(deadline);
        if locked {
            deadlock::on_acquire(self.addr(), &self.class, Access::Shared);
        }
        locked
    }

    #[inline]
    fn try_lock_shared_fast(&self) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        // Acquire: as in `try_lock_shared`. A spurious failure only takes the slow path.
        is_readable(state)
            && self
                .state
                .compare_exchange_weak(
                    state,
                    state + ONE_READER,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// Spins, then queues and sleeps. Returns `false` only if `deadline` passed first.
    #[cold]
    #[inline(never)]
    fn lock_shared_slow(&self, deadline: Option<Instant>) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        // Set when we first queue: the start of our wait, for `READERS_STARVING`.
        let mut waiting_since: Option<Instant> = None;
        loop {
            // Phase 1: spin (bounded), even while others sleep (see `RawMutex`).
            let mut round = 0;
            loop {
                if is_readable(state) {
                    // Acquire: pairs with the last write unlock's Release (see
                    // `try_lock_shared`).
                    match self.state.compare_exchange_weak(
                        state,
                        state + ONE_READER,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return true,
                        Err(actual) => state = actual,
                    }
                    continue;
                }
                if round >= SPIN_ROUNDS {
                    break;
                }
                spin_round(round);
                round += 1;
                state = self.state.load(Ordering::Relaxed);
            }

            // Phase 2: queue up, unless the lock became readable meanwhile.
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
            let phase = loop {
                if is_readable(state) {
                    // Acquire: as above.
                    match self.state.compare_exchange_weak(
                        state,
                        state + ONE_READER,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return true,
                        Err(actual) => state = actual,
                    }
                    continue;
                }
                if state & (WRITE_LOCKED | UPGRADING | WAITING_WRITERS) == 0 {
                    panic!("RwLock: too many read locks");
                }
                if state & QUEUED_READERS == QUEUED_READERS {
                    // 65,535 sleeping readers: wait without a slot (never seen in
                    // practice).
                    thread::yield_now();
                    state = self.state.load(Ordering::Relaxed);
                    continue;
                }
                // Relaxed: queueing publishes nothing; the grant or the entering CAS
                // that follows is what this reader synchronizes with.
                // Clears READERS_WOKEN: a wake in flight may predate this reader.
                match self.state.compare_exchange_weak(
                    state,
                    (state + ONE_QUEUED_READER) & !READERS_WOKEN,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break state & PHASE,
                    Err(actual) => state = actual,
                }
            };

            // Phase 3: sleep until granted, let in, woken, or out of time.
            match self.wait_queued(phase, since, deadline) {
                Queued::Entered => return true,
                Queued::TimedOut => {
                    deadlock::on_wait_abort(self.addr());
                    return false;
                }
                Queued::Left(new) => state = new,
            }
        }
    }

    /// A queued reader (queued while `PHASE` was `phase`, since `since`) sleeps until
    /// `PHASE` differs from `phase` (it was granted: it holds a read lock), or the lock
    /// is readable and it lets itself in, or it is woken to find neither (it leaves the
    /// queue to spin again), or `deadline` passes (it leaves the queue). While it
    /// sleeps and nobody has set `READERS_STARVING`, its sleep is cut at
    /// `since + READER_STARVATION_THRESHOLD`, when it sets the bit.
    fn wait_queued(&self, phase: u64, since: Instant, deadline: Option<Instant>) -> Queued {
        let mut woken = false;
        let mut timed_out = false;
        let mut timer_fired = false;
        loop {
            // Acquire: pairs with the Release increment in `wake_readers`, so if this
            // load sees it, the state load below sees the change that preceded it.
            let seq = self.reader_notify.load(Ordering::Acquire);
            // Acquire: pairs with the granting compare-and-swap (Release), so the last
            // writer's changes to the data are visible once the phase is seen flipped.
            let mut state = self.state.load(Ordering::Acquire);
            loop {
                if state & PHASE != phase {
                    // Granted (perhaps while timing out or leaving): the lock is ours.
                    return Queued::Entered;
                }
                let starving = timer_fired || waited_too_long(since);
                let (new, outcome) = if is_readable(state) {
                    (
                        leave_reader_queue(state) + ONE_READER,
                        Some(Queued::Entered),
                    )
                } else if timed_out {
                    (leave_reader_queue(state), Some(Queued::TimedOut))
                } else if woken && !starving {
                    // Lost the reopened lock to a writer: spin again like a newcomer
                    // (the Mutex's policy) rather than sleep at once.
                    let new = leave_reader_queue(state);
                    (new, Some(Queued::Left(new)))
                } else if starving && state & READERS_STARVING == 0 {
                    // Ask the next write release for a grant; stay queued (`None`).
                    // A starving reader never leaves the queue unless its deadline
                    // passes, so that grant will include it.
                    ((state | READERS_STARVING) & !READERS_WOKEN, None)
                } else if state & READERS_WOKEN != 0 {
                    // Never sleep on a word with READERS_WOKEN set (module doc).
                    (state & !READERS_WOKEN, None)
                } else {
                    break;
                };
                // Acquire: when entering, pairs with the last write unlock's Release as
                // in `try_lock_shared`; on failure the value read may be the grant
                // (Release), which makes the lock ours.
                match self.state.compare_exchange_weak(
                    state,
                    new,
                    Ordering::Acquire,
                    Ordering::Acquire,
                ) {
                    Ok(_) => match outcome {
                        Some(outcome) => return outcome,
                        None => {
                            state = new;
                            break;
                        }
                    },
                    Err(actual) => state = actual,
                }
            }
            let starving_at = since + READER_STARVATION_THRESHOLD;
            let timer = state & READERS_STARVING == 0
                && deadline.is_none_or(|deadline| starving_at < deadline);
            let until = if timer { Some(starving_at) } else { deadline };
            if futex::wait(&self.reader_notify, seq, until) {
                woken = true;
            } else if timer {
                timer_fired = true;
            } else {
                timed_out = true;
            }
        }
    }

    /// # Safety
    ///
    /// The calling thread holds a read lock (not the upgradable one) on `self`.
    #[inline]
    pub(crate) unsafe fn unlock_shared(&self) {
        deadlock::on_release(self.addr());
        // Release: pairs with the Acquire of the next writer (or upgrader), so this
        // reader's reads of the data happen before that writer's writes.
        let previous = self.state.fetch_sub(ONE_READER, Ordering::Release);
        debug_assert!(readers(previous) > 0);
        if previous & (WAITING_WRITERS | UPGRADING) != 0 {
            self.wake_after_reader_left(previous - ONE_READER);
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_after_reader_left(&self, state: u64) {
        if state & UPGRADING != 0 {
            if readers(state) == 1 {
                self.wake_upgrader();
            }
        } else if needs_writer_wake(state) {
            let mut state = state;
            // Claim the wake with `WRITER_WOKEN`, unless the lock was taken meanwhile
            // (its holder will wake on release) or a wake is already in flight.
            // Relaxed: the claim publishes nothing; `wake_writer` does.
            while needs_writer_wake(state) {
                match self.state.compare_exchange_weak(
                    state,
                    state | WRITER_WOKEN,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        self.wake_writer();
                        return;
                    }
                    Err(actual) => state = actual,
                }
            }
        }
    }

    // ---- exclusive ----

    #[inline]
    #[track_caller]
    pub(crate) fn lock_exclusive(&self) {
        // Acquire: pairs with the Release of the previous holders' unlocks.
        if self
            .state
            .compare_exchange_weak(0, WRITE_LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_exclusive_slow(None);
        }
        deadlock::on_acquire(self.addr(), &self.class, Access::Exclusive);
    }

    #[inline]
    #[track_caller]
    pub(crate) fn try_lock_exclusive(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while is_writer_free(state) {
            // Acquire: pairs with the Release of the previous holders' unlocks.
            match self.state.compare_exchange_weak(
                state,
                with_write_locked(state),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    deadlock::on_acquire(self.addr(), &self.class, Access::TryExclusive);
                    return true;
                }
                Err(actual) => state = actual,
            }
        }
        false
    }

    #[inline]
    #[track_caller]
    pub(crate) fn try_lock_exclusive_until(&self, deadline: Option<Instant>) -> bool {
        // Acquire: as in `lock_exclusive`.
        let locked = self
            .state
            .compare_exchange_weak(0, WRITE_LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            || self.lock_exclusive_slow(deadline);
        if locked {
            deadlock::on_acquire(self.addr(), &self.class, Access::Exclusive);
        }
        locked
    }

    #[cold]
    #[inline(never)]
    fn lock_exclusive_slow(&self, deadline: Option<Instant>) -> bool {
        self.lock_writer_queue_slow(
            deadline,
            |state, _| is_writer_free(state),
            with_write_locked,
        )
    }

    /// The slow path shared by writers and upgradable readers: both spin, then
    /// register in `WAITING_WRITERS` and sleep on `writer_notify`; a woken one spins
    /// again, still registered, before it sleeps again. `can_enter(state, registered)`
    /// says whether the lock is available; `enter` is the state after taking it.
    #[inline(always)]
    fn lock_writer_queue_slow(
        &self,
        deadline: Option<Instant>,
        can_enter: impl Fn(u64, bool) -> bool,
        enter: impl Fn(u64) -> u64,
    ) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        let mut registered = false;
        let mut timed_out = false;
        let mut round = 0;
        loop {
            if can_enter(state, registered) {
                let mut new = enter(state);
                if registered {
                    new = (new - ONE_WAITING_WRITER) & !WRITER_WOKEN;
                }
                // Acquire: pairs with the Release of the previous holders' unlocks.
                match self.state.compare_exchange_weak(
                    state,
                    new,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // Deregistering may reopen the lock to readers (an upgradable
                        // reader lets them in).
                        if reopens_to_queued_readers(new) {
                            self.wake_readers();
                        }
                        return true;
                    }
                    Err(actual) => state = actual,
                }
                continue;
            }
            // Spin, even while others sleep, and again after every wake-up: a woken
            // writer that finds the lock retaken keeps its registration (so readers
            // stay held back) and its `WRITER_WOKEN` (so releases meanwhile do not
            // wake a second writer) while it spins.
            if !timed_out && round < SPIN_ROUNDS {
                spin_round(round);
                round += 1;
                state = self.state.load(Ordering::Relaxed);
                continue;
            }
            if !timed_out && deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                timed_out = true;
            }
            if timed_out {
                if !registered {
                    return false;
                }
                // Deregister, waking queued readers if this writer was the last
                // thing keeping them out. Relaxed: leaving publishes nothing.
                let new = (state - ONE_WAITING_WRITER) & !WRITER_WOKEN;
                match self.state.compare_exchange_weak(
                    state,
                    new,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        if reopens_to_queued_readers(new) {
                            self.wake_readers();
                        }
                        deadlock::on_wait_abort(self.addr());
                        return false;
                    }
                    Err(actual) => state = actual,
                }
                continue;
            }
            if !registered {
                if state & WAITING_WRITERS == WAITING_WRITERS {
                    thread::yield_now();
                    state = self.state.load(Ordering::Relaxed);
                    continue;
                }
                // Relaxed: registering publishes nothing; see the module doc for why
                // the wake cannot be lost.
                match self.state.compare_exchange_weak(
                    state,
                    state + ONE_WAITING_WRITER,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        deadlock::on_wait(self.addr(), &self.class);
                        registered = true;
                    }
                    Err(actual) => {
                        state = actual;
                        continue;
                    }
                }
            }
            if state & WRITER_WOKEN != 0 {
                // About to sleep: hand the wake back (see the module doc), then
                // re-check. Relaxed: publishes nothing.
                if let Err(actual) = self.state.compare_exchange_weak(
                    state,
                    state & !WRITER_WOKEN,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    state = actual;
                    continue;
                }
            }
            // Acquire: pairs with the Release increment in `wake_writer`; if this load
            // sees it, the state load below sees the release that preceded it.
            let seq = self.writer_notify.load(Ordering::Acquire);
            state = self.state.load(Ordering::Relaxed);
            if can_enter(state, true) || state & WRITER_WOKEN != 0 {
                continue;
            }
            if futex::wait(&self.writer_notify, seq, deadline) {
                round = 0;
            } else {
                timed_out = true;
            }
            state = self.state.load(Ordering::Relaxed);
        }
    }

    /// # Safety
    ///
    /// The calling thread holds the write lock on `self`.
    #[inline]
    pub(crate) unsafe fn unlock_exclusive(&self) {
        deadlock::on_release(self.addr());
        // Release: publishes the writer's changes to the next holder's Acquire.
        if self
            .state
            .compare_exchange(WRITE_LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_exclusive_slow(0);
        }
    }

    /// Releases the write lock, leaving `add` (a read lock, and maybe `UPGRADABLE`)
    /// in its place. Grants every queued reader if one of them is starving or this is
    /// a downgrade; otherwise wakes one writer, or, if no writer waits, the queued
    /// readers (who let themselves in).
    #[cold]
    #[inline(never)]
    fn unlock_exclusive_slow(&self, add: u64) {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(state & WRITE_LOCKED != 0);
            let mut new = state - WRITE_LOCKED + add;
            let grant = queued_readers(new) > 0 && (add != 0 || new & READERS_STARVING != 0);
            let wake_writer = !grant && needs_writer_wake(new);
            // A reopen wakes the queued readers only if no earlier wake is still in
            // flight (READERS_WOKEN, module doc); a grant always wakes them.
            let reopen = !grant && reopens_to_queued_readers(new) && new & READERS_WOKEN == 0;
            if grant {
                new = grant_queued_readers(new);
            } else if wake_writer {
                new |= WRITER_WOKEN;
            } else if reopen {
                new |= READERS_WOKEN;
            }
            let wake_readers = grant || reopen;
            // Release: publishes the writer's changes to the next holders, the granted
            // readers included (their Acquire load of the flipped phase).
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => {
                    if wake_readers {
                        self.wake_readers();
                    } else if wake_writer {
                        self.wake_writer();
                    }
                    return;
                }
                Err(actual) => state = actual,
            }
        }
    }

    /// Turns the write lock into a read lock, letting queued readers in with it.
    ///
    /// # Safety
    ///
    /// The calling thread holds the write lock on `self`.
    #[track_caller]
    pub(crate) unsafe fn downgrade(&self) {
        deadlock::on_release(self.addr());
        self.unlock_exclusive_slow(ONE_READER);
        // A downgrade never waits, so it must add no lock-order edge: the Try form.
        deadlock::on_acquire(self.addr(), &self.class, Access::TryShared);
    }

    /// Turns the write lock into the upgradable read lock.
    ///
    /// # Safety
    ///
    /// The calling thread holds the write lock on `self`.
    #[track_caller]
    pub(crate) unsafe fn downgrade_to_upgradable(&self) {
        deadlock::on_release(self.addr());
        self.unlock_exclusive_slow(ONE_READER | UPGRADABLE);
        // Never waits: no lock-order edge (there is no `TryUpgradable` access).
        deadlock::on_acquire(self.addr(), &self.class, Access::TryShared);
    }

    // ---- upgradable ----

    #[inline]
    #[track_caller]
    pub(crate) fn lock_upgradable(&self) {
        if !self.try_lock_upgradable_fast() {
            self.lock_upgradable_slow(None);
        }
        deadlock::on_acquire(self.addr(), &self.class, Access::Upgradable);
    }

    #[inline]
    #[track_caller]
    pub(crate) fn try_lock_upgradable(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while is_upgradable_free(state, false) {
            // Acquire: pairs with the last write unlock's Release.
            match self.state.compare_exchange_weak(
                state,
                state + ONE_READER + UPGRADABLE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    deadlock::on_acquire(self.addr(), &self.class, Access::Upgradable);
                    return true;
                }
                Err(actual) => state = actual,
            }
        }
        false
    }

    #[inline]
    #[track_caller]
    pub(crate) fn try_lock_upgradable_until(&self, deadline: Option<Instant>) -> bool {
        let locked = self.try_lock_upgradable_fast() || self.lock_upgradable_slow(deadline);
        if locked {
            deadlock::on_acquire(self.addr(), &self.class, Access::Upgradable);
        }
        locked
    }

    #[inline]
    fn try_lock_upgradable_fast(&self) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        // Acquire: pairs with the last write unlock's Release.
        is_upgradable_free(state, false)
            && self
                .state
                .compare_exchange_weak(
                    state,
                    state + ONE_READER + UPGRADABLE,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    #[cold]
    #[inline(never)]
    fn lock_upgradable_slow(&self, deadline: Option<Instant>) -> bool {
        self.lock_writer_queue_slow(deadline, is_upgradable_free, |s| {
            s + ONE_READER + UPGRADABLE
        })
    }

    /// # Safety
    ///
    /// The calling thread holds the upgradable read lock on `self`.
    #[inline]
    pub(crate) unsafe fn unlock_upgradable(&self) {
        deadlock::on_release(self.addr());
        // Release: as in `unlock_shared`.
        let previous = self
            .state
            .fetch_sub(ONE_READER + UPGRADABLE, Ordering::Release);
        debug_assert!(previous & UPGRADABLE != 0 && previous & UPGRADING == 0);
        if previous & WAITING_WRITERS != 0 {
            self.wake_after_reader_left(previous - ONE_READER - UPGRADABLE);
        }
    }

    /// Turns the upgradable read lock into a plain read lock.
    ///
    /// # Safety
    ///
    /// The calling thread holds the upgradable read lock on `self`.
    #[track_caller]
    pub(crate) unsafe fn downgrade_upgradable(&self) {
        deadlock::on_release(self.addr());
        // Relaxed: the read lock stays held, and its eventual unlock is the Release
        // that orders this thread's reads before the next writer. Registered
        // upgradable readers are not woken: they wait for a writer-free lock, and the
        // read lock kept here means it is not.
        self.state.fetch_sub(UPGRADABLE, Ordering::Relaxed);
        deadlock::on_acquire(self.addr(), &self.class, Access::TryShared);
    }

    /// # Safety
    ///
    /// The calling thread holds the upgradable read lock on `self`.
    #[inline]
    #[track_caller]
    pub(crate) unsafe fn try_upgrade(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while readers(state) == 1 {
            // Acquire: pairs with the Release of the readers that just left, so their
            // reads happen before this thread's writes.
            match self.state.compare_exchange_weak(
                state,
                state - ONE_READER - UPGRADABLE + WRITE_LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    deadlock::on_release(self.addr());
                    deadlock::on_acquire(self.addr(), &self.class, Access::TryExclusive);
                    return true;
                }
                Err(actual) => state = actual,
            }
        }
        false
    }

    /// Waits for the other readers to leave, then swaps the upgradable read lock for
    /// the write lock. On `false` (the deadline passed) the upgradable lock is still
    /// held.
    ///
    /// # Safety
    ///
    /// The calling thread holds the upgradable read lock on `self`.
    #[inline]
    #[track_caller]
    pub(crate) unsafe fn upgrade_until(&self, deadline: Option<Instant>) -> bool {
        // Acquire: as in `try_upgrade`.
        let upgraded = self
            .state
            .compare_exchange_weak(
                ONE_READER | UPGRADABLE,
                WRITE_LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
            || self.upgrade_slow(deadline);
        if upgraded {
            deadlock::on_release(self.addr());
            deadlock::on_acquire(self.addr(), &self.class, Access::Exclusive);
        }
        upgraded
    }

    #[cold]
    #[inline(never)]
    fn upgrade_slow(&self, deadline: Option<Instant>) -> bool {
        let mut state = self.spin_while(|s| readers(s) > 1);
        let mut timed_out = false;
        loop {
            debug_assert!(state & UPGRADABLE != 0);
            if readers(state) == 1 {
                let new = (state & !(UPGRADABLE | UPGRADING)) - ONE_READER + WRITE_LOCKED;
                // Acquire: as in `try_upgrade`.
                match self.state.compare_exchange_weak(
                    state,
                    new,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return true,
                    Err(actual) => state = actual,
                }
                continue;
            }
            if timed_out {
                // Stop holding new readers back, and wake those that queued behind the
                // upgrade alone. Relaxed: giving up publishes nothing.
                let new = state & !UPGRADING;
                match self.state.compare_exchange_weak(
                    state,
                    new,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        if reopens_to_queued_readers(new) {
                            self.wake_readers();
                        }
                        deadlock::on_wait_abort(self.addr());
                        return false;
                    }
                    Err(actual) => state = actual,
                }
                continue;
            }
            if state & UPGRADING == 0 {
                // Relaxed: announcing publishes nothing; readers leaving after this
                // see the bit in their fetch_sub and wake us.
                match self.state.compare_exchange_weak(
                    state,
                    state | UPGRADING,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => deadlock::on_wait(self.addr(), &self.class),
                    Err(actual) => {
                        state = actual;
                        continue;
                    }
                }
            }
            // Acquire: pairs with the Release increment in `wake_upgrader`.
            let seq = self.upgrade_notify.load(Ordering::Acquire);
            state = self.state.load(Ordering::Relaxed);
            if readers(state) == 1 {
                continue;
            }
            if !futex::wait(&self.upgrade_notify, seq, deadline) {
                timed_out = true;
                state = self.state.load(Ordering::Relaxed);
            }
        }
    }

    // ---- helpers ----

    /// Re-reads the state while `busy(state)`, spinning as described at
    /// [`SPIN_ROUNDS`]; returns the last state read.
    #[inline]
    fn spin_while(&self, busy: impl Fn(u64) -> bool) -> u64 {
        let mut state = self.state.load(Ordering::Relaxed);
        let mut round = 0;
        while round < SPIN_ROUNDS && busy(state) {
            spin_round(round);
            round += 1;
            state = self.state.load(Ordering::Relaxed);
        }
        state
    }

    fn wake_readers(&self) {
        // Release: pairs with the Acquire load in `wait_for_grant`.
        self.reader_notify.fetch_add(1, Ordering::Release);
        futex::wake_all(&self.reader_notify);
    }

    fn wake_writer(&self) {
        // Release: pairs with the Acquire load in `lock_writer_queue_slow`.
        self.writer_notify.fetch_add(1, Ordering::Release);
        futex::wake_one(&self.writer_notify);
    }

    fn wake_upgrader(&self) {
        // Release: pairs with the Acquire load in `upgrade_slow`.
        self.upgrade_notify.fetch_add(1, Ordering::Release);
        futex::wake_one(&self.upgrade_notify);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn readable_check_covers_every_blocking_bit_and_the_count() {
        assert!(is_readable(0));
        assert!(is_readable(5 | UPGRADABLE | PHASE));
        assert!(!is_readable(WRITE_LOCKED));
        assert!(!is_readable(3 | UPGRADABLE | UPGRADING));
        assert!(!is_readable(2 | ONE_WAITING_WRITER));
        assert!(!is_readable(READERS));
        assert!(is_readable(READERS - 1));
    }

    #[test]
    fn grant_moves_queued_readers_in_and_flips_phase() {
        let state = WRITE_LOCKED + 3 * ONE_QUEUED_READER + ONE_WAITING_WRITER;
        let granted = grant_queued_readers(state - WRITE_LOCKED);
        assert_eq!(readers(granted), 3);
        assert_eq!(queued_readers(granted), 0);
        assert_eq!(waiting_writers(granted), 1);
        assert_eq!(granted & PHASE, PHASE);
    }

    #[test]
    fn only_a_readable_state_reopens() {
        let state = 2 * ONE_QUEUED_READER;
        assert!(reopens_to_queued_readers(state));
        assert!(!reopens_to_queued_readers(state + ONE_WAITING_WRITER));
        assert!(!reopens_to_queued_readers(ONE_READER));
    }
}

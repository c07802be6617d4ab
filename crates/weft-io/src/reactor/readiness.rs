//! The per-direction readiness state of a registered source, and the handshake between
//! the reactor (which learns of edges) and tasks (which consume them).
//!
//! # State
//!
//! Each direction (read, write) of a source is one atomic word, `state`, plus a list
//! of wakers that the word's `LOCKED` bit guards:
//!
//! | `state` bits | set by | cleared by | meaning |
//! |--------------|--------|------------|---------|
//! | 0 `READY` | reactor | a task's `clear_ready` | an edge arrived that no I/O attempt has yet consumed |
//! | 1 `WAITERS` | a registering task (with `LOCKED`) | whoever takes the list (holding `LOCKED`) | the list may hold wakers: an edge must take and wake them |
//! | 2 `LOCKED` | a registering task, or the reactor when it takes the list | the same thread | the holder alone touches `wakers` and `last` |
//! | 3 `WAKE_PENDING` | reactor, when it finds the list `LOCKED` with `WAITERS` | the holder | an edge arrived during the holder's turn: the holder must take and wake the list before it unlocks |
//! | 4.. tick | reactor (each edge), a registrant (each unlock) | never (wraps after 2⁶⁰) | a generation: moves on every edge, so a task's clear can tell a new one came, and on every registration, so a lock-free reader of `last` can tell none ran |
//!
//! `wakers` holds the tasks to wake on the next edge, deduplicated by `will_wake`.
//! `last` is the identity (data and vtable pointers) of the waker most recently
//! registered; it is written only under `LOCKED` and read without it, by the fast path
//! of step 2. Its invariant: **whenever `WAITERS` is set and `LOCKED` clear, `last`
//! names a waker in the list.** `WAITERS` is set only by a registrant's lock, whose
//! turn then writes `last` to the waker it placed (or found) in the list; wakers leave
//! the list only in a take, which clears `WAITERS` as it releases `LOCKED`. (Outside
//! that state `last` may be stale; nothing reads it then.)
//!
//! Ticks are compared only for equality, and only a `READY` word hands one out, so
//! a registration moving the tick costs nothing: a clear holding an older tick fails
//! either way.
//!
//! Every change to `state` is one read-modify-write of the whole word, so the
//! reactor's edge, a task's lock and a task's clear are totally ordered: that order is
//! the whole correctness argument below. Nothing here blocks: the only waiting is a
//! task spinning for `LOCKED`, which a holder keeps for a `Vec` push or a move of the list.
//!
//! # Protocol
//!
//! 1. **The reactor, on an edge** ([`Readiness::set_ready`]): in one step, adds one to
//!    the tick, sets `READY`, and, if `WAITERS` is set, either takes `LOCKED` (the
//!    list was free) or, if a task holds it, sets `WAKE_PENDING`. With no waiters it
//!    is done: one atomic operation, no lock. If it took `LOCKED`, it moves the wakers
//!    out and releases `LOCKED` and `WAITERS` together. The caller wakes the wakers
//!    once no lock is held.
//! 2. **A task, before an I/O attempt** ([`Readiness::poll_ready`]): loads `state`.
//!    * `READY`: returns the tick and tries the syscall. One load, no lock.
//!    * `WAITERS` set, `LOCKED` clear, `last` is this task's waker, and a second load
//!      of `state` equals the first: by the invariant above the waker is in the list
//!      the next edge takes, so it returns `Pending` with no lock. (The second load
//!      makes the three reads one snapshot, a seqlock read: `last` is written only in
//!      a `LOCKED` turn, every turn ends with a word whose tick has moved (an edge's
//!      take, a registrant's unlock), and a turn in progress shows `LOCKED`; so an
//!      unchanged, unlocked word means no write to `last` overlapped the reads.)
//!    * Otherwise it takes `LOCKED` and sets `WAITERS` in one compare-and-swap that
//!      requires `READY` clear (if `READY` appears it returns the tick instead; if the
//!      list is locked it spins), stores its waker, and unlocks with the tick moved
//!      on. If `WAKE_PENDING`
//!      arrived meanwhile, the edge came after the task's check: the task takes the
//!      list itself, wakes the other waiters, and returns `Ready` instead of sleeping.
//!
//!    No edge is lost: the edge's step and the task's lock are ordered on `state`. If
//!    the edge came first, the task's compare-and-swap sees `READY`. If the lock came
//!    first, the edge sees `WAITERS` and either takes the list after the task's unlock
//!    (and finds the waker in it) or hands the wake to the task with `WAKE_PENDING`.
//! 3. **When the syscall says `WouldBlock`**, the task calls
//!    [`Readiness::clear_ready`] with the tick it saw, which clears `READY` only if the
//!    tick is unchanged. An edge that landed between the syscall and the clear keeps
//!    `READY` set, so the task retries instead of sleeping on data that is already
//!    there. This is what makes edge-triggered registration safe: the kernel reports
//!    each edge once, and this state remembers it until an I/O attempt proves it
//!    consumed.
//!
//! `READY` starts clear: epoll reports a descriptor that is already ready at
//! registration as an edge on the next wait.
//!
//! # Orderings
//!
//! All SeqCst. The lost-wake-up argument is about the modification order of `state`
//! alone (every write is an RMW, which always reads the latest value), and readiness
//! guards kernel state, not memory. Two things need more than that order: the list,
//! which `LOCKED` guards (taking it is an acquire and releasing it a release, both
//! implied by SeqCst), and the lock-free `last` check of step 2, a seqlock read
//! (state, `last`, state): with every access SeqCst, a `last` value that an
//! overlapping turn wrote is stored after that turn's `LOCKED` RMW in the single
//! total order, so the second load of `state` cannot read the word from before that
//! RMW, and sees `LOCKED` or a moved tick. On x86-64 SeqCst loads are plain loads, so
//! the fast paths pay nothing for it.
//!
//! The design follows the usual split of a readiness word and a waker slot (the
//! `AtomicWaker` idea of futures-rs, and tokio's tick-tagged `ScheduledIo` readiness),
//! extended here to several waiters per direction and a lock held in the word itself.
//!
//! # Examples
//!
//! ```
//! use std::task::{Context, Poll, Waker};
//! use weft_io::reactor::readiness::Readiness;
//!
//! let readiness = Readiness::new();
//! let mut cx = Context::from_waker(Waker::noop());
//! assert!(readiness.poll_ready(&mut cx).is_pending()); // waker stored
//! assert!(readiness.poll_ready(&mut cx).is_pending()); // already stored: no lock
//!
//! let mut to_wake = Vec::new();
//! readiness.set_ready(&mut to_wake); // the reactor saw an edge
//! assert_eq!(to_wake.len(), 1);
//! let Poll::Ready(tick) = readiness.poll_ready(&mut cx) else { unreachable!() };
//!
//! readiness.set_ready(&mut to_wake); // a second edge lands before the clear ...
//! readiness.clear_ready(tick); // ... so the stale clear keeps it ready
//! assert!(readiness.is_ready());
//! ```

use std::fmt;
use std::ptr;
use std::task::{Context, Poll, RawWakerVTable, Waker};
use weft_sync::Backoff;
use weft_sync::primitive::UnsafeCell;
use weft_sync::primitive::atomic::{AtomicPtr, AtomicU64, Ordering};

const READY: u64 = 1 << 0;
const WAITERS: u64 = 1 << 1;
const LOCKED: u64 = 1 << 2;
const WAKE_PENDING: u64 = 1 << 3;
/// The tick sits above the flag bits.
const TICK_SHIFT: u32 = 4;
const TICK: u64 = 1 << TICK_SHIFT;

/// Readiness of one direction of one source; see the [module docs](self).
pub struct Readiness {
    state: AtomicU64,
    /// Guarded by `LOCKED` in `state`.
    wakers: UnsafeCell<Vec<Waker>>,
    /// `Waker::data` of the last registered waker (null: none yet).
    last_data: AtomicPtr<()>,
    /// `Waker::vtable` of the last registered waker.
    last_vtable: AtomicPtr<RawWakerVTable>,
}

// SAFETY: `wakers` is only touched by the thread that holds `LOCKED` in `state`,
// which the compare-and-swap in `lock_to_register` or the RMW in `set_ready` grants to
// one thread at a time; everything else is atomic. `Waker` is `Send + Sync`.
unsafe impl Sync for Readiness {}
// SAFETY: as above; moving a `Readiness` moves `Waker`s, which are `Send`.
unsafe impl Send for Readiness {}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Ordering::SeqCst);
        f.debug_struct("Readiness")
            .field("ready", &(state & READY != 0))
            .field("waiters", &(state & WAITERS != 0))
            .field("tick", &(state >> TICK_SHIFT))
            .finish_non_exhaustive()
    }
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new()
    }
}

impl Readiness {
    /// Not ready, with no waiters.
    pub fn new() -> Self {
        Self {
            state: AtomicU64::new(0),
            wakers: UnsafeCell::new(Vec::new()),
            last_data: AtomicPtr::new(ptr::null_mut()),
            last_vtable: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Step 2: `Ready(tick)` if an unconsumed edge is there; else makes sure the task's
    /// waker is registered for the next edge and returns `Pending`.
    #[inline]
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<u64> {
        let state = self.state.load(Ordering::SeqCst);
        if state & READY != 0 {
            return Poll::Ready(state >> TICK_SHIFT);
        }
        if state & (WAITERS | LOCKED) == WAITERS
            && self.is_last(cx.waker())
            && self.state.load(Ordering::SeqCst) == state
        {
            // Seqlock read of `last`: see "Orderings" in the module docs.
            return Poll::Pending;
        }
        self.poll_ready_slow(cx.waker())
    }

    /// Whether `last` names `waker` (the `will_wake` test, without the list).
    #[inline]
    fn is_last(&self, waker: &Waker) -> bool {
        self.last_data.load(Ordering::SeqCst) == waker.data().cast_mut()
            && self.last_vtable.load(Ordering::SeqCst) == ptr::from_ref(waker.vtable()).cast_mut()
    }

    /// Registers; every wait of an I/O loop comes here once, so it is not `#[cold]`,
    /// only kept out of line to leave the ready path small.
    #[inline(never)]
    fn poll_ready_slow(&self, waker: &Waker) -> Poll<u64> {
        if let Err(tick) = self.lock_to_register() {
            return Poll::Ready(tick);
        }
        self.with_wakers(|wakers| {
            if !wakers.iter().any(|w| w.will_wake(waker)) {
                wakers.push(waker.clone());
            }
        });
        self.last_data
            .store(waker.data().cast_mut(), Ordering::SeqCst);
        self.last_vtable
            .store(ptr::from_ref(waker.vtable()).cast_mut(), Ordering::SeqCst);
        // Unlock with the tick moved on (the seqlock of `last`), unless an edge handed
        // us its wake-up meanwhile.
        let unlocked = self
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                (s & WAKE_PENDING == 0).then_some((s & !LOCKED).wrapping_add(TICK))
            });
        match unlocked {
            // `READY` cannot have appeared without `WAKE_PENDING` (we set `WAITERS`
            // with the lock), so this is the plain "registered, now sleep".
            Ok(before) if before & READY == 0 => Poll::Pending,
            Ok(before) => Poll::Ready(before >> TICK_SHIFT),
            Err(_) => self.take_pending_wake(waker),
        }
    }

    /// Takes `LOCKED` and sets `WAITERS`, unless the direction is (or becomes) ready:
    /// then `Err(tick)`.
    fn lock_to_register(&self) -> Result<(), u64> {
        let backoff = Backoff::new();
        let mut state = self.state.load(Ordering::SeqCst);
        loop {
            if state & READY != 0 {
                return Err(state >> TICK_SHIFT);
            }
            if state & LOCKED != 0 {
                // Held for a push or a move of the list: short, never across a blocking
                // call.
                backoff.snooze();
                state = self.state.load(Ordering::SeqCst);
                continue;
            }
            match self.state.compare_exchange_weak(
                state,
                state | LOCKED | WAITERS,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => state = now,
            }
        }
    }

    /// The registering task holds `LOCKED` and an edge set `WAKE_PENDING`: take the
    /// list, unlock, wake the other waiters, and report ready (`own` is this task's
    /// waker, dropped rather than woken: the task is running and will retry).
    #[cold]
    fn take_pending_wake(&self, own: &Waker) -> Poll<u64> {
        let mut taken = Vec::new();
        self.with_wakers(|wakers| taken.append(wakers));
        let before = self
            .state
            .fetch_and(!(LOCKED | WAITERS | WAKE_PENDING), Ordering::SeqCst);
        for waker in taken {
            if !waker.will_wake(own) {
                waker.wake();
            }
        }
        // Ready even if another task's clear took `READY` since: a spurious attempt
        // ends in `WouldBlock` and a fresh registration.
        Poll::Ready(before >> TICK_SHIFT)
    }

    /// Step 3: the I/O attempt after `poll_ready` returned `tick` would block.
    pub fn clear_ready(&self, tick: u64) {
        // Fails, leaving READY set, if the tick moved on (a new edge) or another task
        // already cleared it. The other bits are left as they are.
        let _ = self
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                (s & READY != 0 && s >> TICK_SHIFT == tick).then_some(s & !READY)
            });
    }

    /// Step 1: an edge arrived. Appends the wakers to wake to `out` (the caller wakes
    /// them once no lock is held). With no waiter registered this is one atomic
    /// operation.
    #[inline]
    pub fn set_ready(&self, out: &mut Vec<Waker>) {
        // One RMW for tick, bit and lock, so a clear with the old tick cannot slip
        // between, and a registration is either before (seen here) or after (sees
        // READY).
        let before = self
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                let next = s.wrapping_add(TICK) | READY;
                Some(match (s & WAITERS != 0, s & LOCKED != 0) {
                    (false, _) => next,
                    (true, false) => next | LOCKED,
                    (true, true) => next | WAKE_PENDING,
                })
            })
            .unwrap_or_else(|s| s);
        if before & (WAITERS | LOCKED) == WAITERS {
            self.take_wakers(out);
        }
    }

    /// The reactor holds `LOCKED` (taken in `set_ready`): moves the wakers to `out` and
    /// unlocks.
    fn take_wakers(&self, out: &mut Vec<Waker>) {
        // Moved one by one: there are usually one or two, and `append` calls `memcpy`
        // for them (visible in a profile of the echo benchmark).
        self.with_wakers(|wakers| {
            for waker in wakers.drain(..) {
                out.push(waker);
            }
        });
        // A second edge during our turn may have set WAKE_PENDING: the list it meant
        // is the one just taken (no task could add while we held the lock).
        self.state
            .fetch_and(!(LOCKED | WAITERS | WAKE_PENDING), Ordering::SeqCst);
    }

    /// Runs `f` on the waker list. The caller holds `LOCKED`.
    fn with_wakers<R>(&self, f: impl FnOnce(&mut Vec<Waker>) -> R) -> R {
        self.wakers.with_mut(|wakers| {
            // SAFETY: the caller holds `LOCKED`, which only one thread holds at a time
            // and which guards `wakers` (see the `Sync` impl).
            f(unsafe { &mut *wakers })
        })
    }

    /// Whether an unconsumed edge is recorded (for tests and debugging).
    pub fn is_ready(&self) -> bool {
        self.state.load(Ordering::SeqCst) & READY != 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    fn edge(readiness: &Readiness) -> usize {
        let mut wakers = Vec::new();
        readiness.set_ready(&mut wakers);
        let n = wakers.len();
        wakers.into_iter().for_each(Waker::wake);
        n
    }

    #[test]
    fn repolls_with_clones_register_once() {
        let readiness = Readiness::new();
        let (count, waker) = counting();
        for _ in 0..5 {
            let clone = waker.clone();
            assert!(
                readiness
                    .poll_ready(&mut Context::from_waker(&clone))
                    .is_pending()
            );
        }
        assert_eq!(edge(&readiness), 1);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn every_distinct_waiter_is_woken_once() {
        let readiness = Readiness::new();
        let (a, waker_a) = counting();
        let (b, waker_b) = counting();
        // a, b, a again (not the last: found in the list, not pushed twice).
        for waker in [&waker_a, &waker_b, &waker_a, &waker_b] {
            assert!(
                readiness
                    .poll_ready(&mut Context::from_waker(waker))
                    .is_pending()
            );
        }
        assert_eq!(edge(&readiness), 2);
        assert_eq!(a.0.load(Ordering::SeqCst), 1);
        assert_eq!(b.0.load(Ordering::SeqCst), 1);
        // The list was taken: a second edge wakes nobody.
        assert_eq!(edge(&readiness), 0);
    }

    #[test]
    fn registration_after_a_take_is_fresh() {
        let readiness = Readiness::new();
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        assert!(readiness.poll_ready(&mut cx).is_pending());
        assert_eq!(edge(&readiness), 1);
        let Poll::Ready(tick) = readiness.poll_ready(&mut cx) else {
            panic!("an edge is recorded");
        };
        readiness.clear_ready(tick);
        // `last` still names this waker, but the list is empty: it must register.
        assert!(readiness.poll_ready(&mut cx).is_pending());
        assert_eq!(edge(&readiness), 1);
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn no_waiter_edge_only_marks_ready() {
        let readiness = Readiness::new();
        assert_eq!(edge(&readiness), 0);
        assert!(readiness.is_ready());
        let state = readiness.state.load(Ordering::SeqCst);
        assert_eq!(state & (WAITERS | LOCKED | WAKE_PENDING), 0);
    }
}

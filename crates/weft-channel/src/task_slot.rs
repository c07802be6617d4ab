//! The single-task fast path of a channel side: one lock-free slot for the `Waker`
//! of one pending future, used instead of the waiter list while that future is the
//! only async waiter to claim it.
//!
//! An async ping-pong waits on every message. Through the waiter list each wait
//! costs a lock and an unlock on both the waiting and the notifying side, an `Arc`
//! clone and drop of the task context, a context CAS and two `SeqCst` flag stores;
//! through the slot it costs one CAS to own the slot, the waker clone, one `SeqCst`
//! store to arm it and one CAS for the notifier to claim it. The design is the
//! "atomic waker" idea (one state word guarding one waker cell, as in
//! futures-util's `AtomicWaker`), with a claim instead of a plain wake: a slot stays
//! owned by its future from acquisition until the future lets it go, so a notifier
//! never writes into a cell a new owner uses.
//!
//! # States
//!
//! | state | meaning | who may move it, to what |
//! |---|---|---|
//! | `FREE` | no owner; the cell is `None` | any future, by CAS, to `HELD` |
//! | `HELD` | owned; the owner has the cell to itself | the owner, to `ARMED` or `FREE` |
//! | `ARMED` | owned; the owner's waker is in the cell, unclaimed | a notifier by CAS to `NOTIFYING`; the owner by CAS to `HELD` |
//! | `NOTIFYING` | owned; a notifier is taking the waker out | that notifier, to `FIRED` |
//! | `FIRED` | owned; the waker was taken and woken; the cell is `None` | the owner, to `HELD` (it already has the cell to itself) |
//!
//! Invariants:
//!
//! 1. The cell is touched only by the owner in `HELD` (and while `FIRED`, which it
//!    reads as `HELD`) and by the one notifier whose CAS moved `ARMED` to
//!    `NOTIFYING`. Every hand-over of the cell is a Release store or RMW read by an
//!    Acquire load or RMW of the next holder, so the accesses never race.
//! 2. Only the owner leaves the owned states (to `FREE`), after taking its waker
//!    back, so a notifier that claimed the slot always finds its waker there and no
//!    other future can own the slot until that notifier is done with the cell.
//! 3. Wake-ups are not lost by the waiter list's argument (`waker.rs`): the owner
//!    stores `ARMED` with `SeqCst` and then re-checks the channel; a notifier changes
//!    the channel and then loads the state with `SeqCst`. If the load comes first in
//!    the single total order, the re-check sees the change; otherwise the notifier
//!    sees `ARMED` (or a later state of the same registration) and claims it. An
//!    owner that takes the slot back from `ARMED` (to re-poll) arms it again and
//!    re-checks before it waits, so a notifier that saw `HELD` meanwhile is covered
//!    the same way.
//! 4. A notify claims the slot *and* one waiter of the list: the slot's owner is one
//!    more woken waiter, never a substitute for a list waiter. An owner woken (`FIRED`)
//!    that gives up without completing its operation passes the wake-up on by
//!    notifying the side again, as a claimed list waiter does.

use crate::primitive::UnsafeCell;
use crate::primitive::atomic::{AtomicUsize, Ordering};
use crate::primitive::loom_fence;
use std::task::Waker;
use weft_sync::Backoff;

const FREE: usize = 0;
const HELD: usize = 1;
const ARMED: usize = 2;
const NOTIFYING: usize = 3;
const FIRED: usize = 4;

/// One lock-free waker slot; see the module doc for its states.
#[derive(Debug)]
pub(crate) struct TaskSlot {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the cell is only accessed by whoever the state word gives it to
// (invariant 1), and `Waker` is `Send + Sync`.
unsafe impl Send for TaskSlot {}
// SAFETY: as above.
unsafe impl Sync for TaskSlot {}

/// What the owner found when it took its slot back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reclaimed {
    /// Still armed: nobody claimed it.
    Unclaimed,
    /// A notifier claimed it and woke the task.
    Fired,
}

impl TaskSlot {
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicUsize::new(FREE),
            waker: UnsafeCell::new(None),
        }
    }

    /// Takes ownership of a free slot (`HELD`); `false` if another future owns it.
    #[inline]
    pub(crate) fn try_acquire(&self) -> bool {
        // Acquire: pairs with the previous owner's Release in `release`, so its
        // last access to the cell happens before ours.
        self.state
            .compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Puts the owner's waker in and arms the slot. The caller owns it (`HELD`, or
    /// `FIRED` seen by `reclaim`) and must re-check the channel afterwards.
    #[inline]
    pub(crate) fn arm(&self, waker: &Waker) {
        // SAFETY: the caller owns the slot in `HELD`: nobody else touches the cell.
        self.waker.with_mut(|cell| unsafe {
            match &mut *cell {
                Some(w) if w.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        });
        // SeqCst: the waiter's half of invariant 3 (also a Release for the cell,
        // to the notifier's Acquire CAS in `notify`).
        self.state.store(ARMED, Ordering::SeqCst);
        loom_fence();
    }

    /// Takes the slot back (the owner is polled again, or gives up); the owner then
    /// holds it (`HELD`) whatever the answer. The caller owns the slot.
    #[inline]
    pub(crate) fn reclaim(&self) -> Reclaimed {
        // Acquire (every load and the CAS): pairs with the notifier's Release in
        // `notify`, after which the cell is ours again.
        let mut state = self.state.load(Ordering::Acquire);
        match state {
            ARMED => {
                match self
                    .state
                    .compare_exchange(ARMED, HELD, Ordering::Acquire, Ordering::Acquire)
                {
                    Ok(_) => return Reclaimed::Unclaimed,
                    Err(s) => state = s,
                }
            }
            // Never armed: the waker's `clone` panicked in `arm`.
            HELD => return Reclaimed::Unclaimed,
            _ => {}
        }
        if state == NOTIFYING {
            // A notifier is between its claim and its `FIRED` store, a few
            // instructions: wait for it to be done with the cell.
            let backoff = Backoff::new();
            while self.state.load(Ordering::Acquire) == NOTIFYING {
                backoff.snooze();
            }
        }
        Reclaimed::Fired
    }

    /// Gives the slot up (`FREE`); the caller holds it (after `try_acquire` or
    /// `reclaim`). Drops the waker outside of the slot.
    #[inline]
    pub(crate) fn release(&self) {
        // SAFETY: the caller holds the slot: nobody else touches the cell.
        let waker = self.waker.with_mut(|cell| unsafe { (*cell).take() });
        // Release: pairs with the next owner's Acquire in `try_acquire`.
        self.state.store(FREE, Ordering::Release);
        drop(waker);
    }

    /// Whether an owner waits in the slot (the notifier's `SeqCst` load of
    /// invariant 3).
    #[inline]
    pub(crate) fn is_armed(&self) -> bool {
        self.state.load(Ordering::SeqCst) == ARMED
    }

    /// Claims an armed slot and wakes its owner; nothing if it is not armed (any
    /// more).
    #[inline]
    pub(crate) fn notify(&self) {
        // Acquire: pairs with the owner's store in `arm`, so its waker is in the cell.
        if self
            .state
            .compare_exchange(ARMED, NOTIFYING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        // SAFETY: our CAS out of `ARMED` gave us the cell (invariant 1), and the
        // owner cannot leave the owned states before our `FIRED` store (invariant 2).
        let waker = self.waker.with_mut(|cell| unsafe { (*cell).take() });
        // Release: hands the cell back to the owner's Acquire loads in `reclaim`.
        self.state.store(FIRED, Ordering::Release);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

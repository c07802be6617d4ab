//! The task's state word: flag bits, a reference count, and every transition as one
//! method (`transition_to_*`). The table in the [module doc](super) says who calls which.

use weft_sync::primitive::atomic::{AtomicUsize, Ordering};

/// A [`Runnable`](super::Runnable) exists (queued or about to be). Set only while the
/// task is idle (not running, not completed); cleared when a runner enters `RUNNING`.
pub(super) const SCHEDULED: usize = 1 << 0;
/// A runner owns the stage (it is polling the future or cancelling it).
pub(super) const RUNNING: usize = 1 << 1;
/// The stage holds the output (or the error) or nothing: never the future again.
pub(super) const COMPLETED: usize = 1 << 2;
/// Cancellation was requested (`abort`); the next runner drops the future.
pub(super) const CLOSED: usize = 1 << 3;
/// The `JoinHandle` is alive; it, and only it, takes the output.
pub(super) const JOIN_INTEREST: usize = 1 << 4;
/// The join-waker slot holds a waker the runner may read (after `COMPLETED`).
pub(super) const JOIN_WAKER: usize = 1 << 5;
/// Woken while `RUNNING`: the runner re-schedules the task once the poll returns.
pub(super) const NOTIFIED: usize = 1 << 6;

const REF_SHIFT: u32 = 8;
/// One reference (held by the Runnable, each Waker, the JoinHandle, each AbortHandle).
pub(super) const REF_ONE: usize = 1 << REF_SHIFT;
const FLAGS_MASK: usize = REF_ONE - 1;

/// A new task: queued once (the Runnable `spawn` returns) and joinable; two references,
/// the Runnable's and the JoinHandle's.
const INITIAL: usize = SCHEDULED | JOIN_INTEREST | (2 * REF_ONE);

/// A copy of the state word at one instant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Snapshot(usize);

impl Snapshot {
    #[inline]
    fn has(self, flag: usize) -> bool {
        self.0 & flag != 0
    }
    #[inline]
    pub(super) fn is_scheduled(self) -> bool {
        self.has(SCHEDULED)
    }
    #[inline]
    pub(super) fn is_running(self) -> bool {
        self.has(RUNNING)
    }
    #[inline]
    pub(super) fn is_completed(self) -> bool {
        self.has(COMPLETED)
    }
    #[inline]
    pub(super) fn is_closed(self) -> bool {
        self.has(CLOSED)
    }
    #[inline]
    pub(super) fn is_notified(self) -> bool {
        self.has(NOTIFIED)
    }
    #[inline]
    pub(super) fn has_join_interest(self) -> bool {
        self.has(JOIN_INTEREST)
    }
    #[inline]
    pub(super) fn has_join_waker(self) -> bool {
        self.has(JOIN_WAKER)
    }
    #[inline]
    pub(super) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
    /// Idle: nobody holds the scheduled right, nobody runs it, and it can still run.
    #[inline]
    fn is_idle(self) -> bool {
        self.0 & (SCHEDULED | RUNNING | COMPLETED) == 0
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = [
            (SCHEDULED, "SCHEDULED"),
            (RUNNING, "RUNNING"),
            (COMPLETED, "COMPLETED"),
            (CLOSED, "CLOSED"),
            (JOIN_INTEREST, "JOIN_INTEREST"),
            (JOIN_WAKER, "JOIN_WAKER"),
            (NOTIFIED, "NOTIFIED"),
        ];
        let mut list = f.debug_list();
        for (bit, name) in names {
            if self.0 & bit != 0 {
                list.entry(&format_args!("{name}"));
            }
        }
        list.entry(&format_args!("refs={}", self.ref_count()));
        list.finish()
    }
}

/// What a waker must do after its transition.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum WakeAction {
    /// Hand a new Runnable (one new reference, already counted) to the scheduler.
    Submit,
    /// Nothing more (already scheduled, notified while running, or completed).
    Nothing,
    /// The waker held the last reference: free the task.
    Dealloc,
}

/// What the runner must do after completing.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Completion {
    /// The Runnable's reference is gone; `last` says it was the last one.
    Released { last: bool },
    /// The runner still holds its reference; the state before completing.
    Held(Snapshot),
}

/// What the runner must do after a poll returned `Pending`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum IdleAction {
    /// The task is idle; `last` says the runner dropped the last reference.
    Idle { last: bool },
    /// Woken during the poll: the task is scheduled again, the Runnable's reference
    /// moved to the new Runnable and one extra reference is held for the `schedule` call.
    Reschedule,
    /// Aborted during the poll: the runner still owns the stage and must cancel.
    Cancel,
}

/// The atomic state word of one task.
pub(super) struct State(AtomicUsize);

impl State {
    pub(super) fn new() -> Self {
        Self(AtomicUsize::new(INITIAL))
    }

    /// Acquire: pairs with the Release of `transition_to_complete`, so a caller that
    /// sees `COMPLETED` also sees the output written before it.
    #[inline]
    pub(super) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Ordering::Acquire))
    }

    /// CAS loop: `f` returns the new value and a result, or `Err` to stop without a
    /// write. AcqRel: every transition both publishes what its caller did before (the
    /// stage, the join waker, the waker's event) and acquires what the previous holder
    /// published; each method's doc says which pairing matters.
    #[inline]
    fn update<R>(&self, mut f: impl FnMut(Snapshot) -> Result<(usize, R), R>) -> R {
        let mut current = self.0.load(Ordering::Acquire);
        loop {
            let (next, result) = match f(Snapshot(current)) {
                Ok(pair) => pair,
                Err(result) => return result,
            };
            match self
                .0
                .compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return result,
                Err(actual) => current = actual,
            }
        }
    }

    /// The Runnable enters: `SCHEDULED -> RUNNING`, one wait-free `fetch_add` (bit 0
    /// set and bit 1 clear, so adding 1 clears the one and sets the other without
    /// touching any other bit). Returns the state before.
    ///
    /// Acquire: pairs with the Release of whoever set `SCHEDULED` (a waker, `abort`)
    /// and of the previous runner's exit, so the poll sees the stage as it was left.
    #[inline]
    pub(super) fn transition_to_running(&self) -> Snapshot {
        const { assert!(RUNNING - SCHEDULED == 1 && SCHEDULED == 1) };
        let prev = Snapshot(self.0.fetch_add(RUNNING - SCHEDULED, Ordering::Acquire));
        debug_assert!(
            prev.is_scheduled() && !prev.is_running() && !prev.is_completed(),
            "a Runnable ran in state {prev:?}"
        );
        prev
    }

    /// The poll returned `Pending`. Release: publishes the future's new state to the
    /// next runner's Acquire in `transition_to_running`; Acquire: sees `NOTIFIED` and
    /// `CLOSED` set by wakers and aborters, and (last reference) everything the other
    /// holders did before they dropped theirs.
    #[inline]
    pub(super) fn transition_to_idle(&self) -> IdleAction {
        self.update(|s| {
            debug_assert!(s.is_running() && !s.is_scheduled(), "{s:?}");
            if s.is_closed() {
                return Err(IdleAction::Cancel);
            }
            if s.is_notified() {
                let next = (s.0 & !(RUNNING | NOTIFIED)) | SCHEDULED;
                return Ok((next + REF_ONE, IdleAction::Reschedule));
            }
            let next = (s.0 & !RUNNING) - REF_ONE;
            Ok((
                next,
                IdleAction::Idle {
                    last: Snapshot(next).ref_count() == 0,
                },
            ))
        })
    }

    /// The stage now holds the output (or, detached, nothing): `RUNNING -> COMPLETED`.
    ///
    /// When nothing is left for the runner to do afterwards (no join waker to wake,
    /// and either a JoinHandle that will take the output or a detached output the
    /// runner already dropped, `output_dropped`), the Runnable's reference is released
    /// in the same CAS (`Released`), so completing costs one atomic. Otherwise the
    /// runner keeps its reference (`Held`, with the state before) to wake the join
    /// waker or drop the output, then drops it.
    ///
    /// `NOTIFIED` may stay set: it means nothing once completed.
    ///
    /// Release: publishes the output to the JoinHandle's Acquire (`load`, or its failed
    /// CAS). Acquire: pairs with the JoinHandle's Release when it set `JOIN_WAKER` (the
    /// runner then reads the slot) or cleared `JOIN_INTEREST`.
    #[inline]
    pub(super) fn transition_to_complete(&self, output_dropped: bool) -> Completion {
        self.update(|s| {
            debug_assert!(s.is_running() && !s.is_completed(), "{s:?}");
            let next = s.0 ^ (RUNNING | COMPLETED);
            let nothing_left = !s.has_join_waker() && (s.has_join_interest() || output_dropped);
            if nothing_left {
                let next = next - REF_ONE;
                let last = Snapshot(next).ref_count() == 0;
                Ok((next, Completion::Released { last }))
            } else {
                Ok((next, Completion::Held(s)))
            }
        })
    }

    /// `wake_by_ref`. Idle: set `SCHEDULED` and count the new Runnable's reference.
    /// Running: set `NOTIFIED`. Scheduled, or running and notified: write the same
    /// value back (still an RMW, so this wake joins the release sequence the runner's
    /// next Acquire reads; a plain load could let the poll miss what the waker
    /// published before waking). Completed: nothing.
    #[inline]
    pub(super) fn transition_to_notified_by_ref(&self) -> WakeAction {
        self.update(|s| {
            if s.is_completed() {
                Err(WakeAction::Nothing)
            } else if s.is_running() {
                Ok((s.0 | NOTIFIED, WakeAction::Nothing))
            } else if s.is_scheduled() {
                Ok((s.0, WakeAction::Nothing))
            } else {
                Ok(((s.0 | SCHEDULED) + REF_ONE, WakeAction::Submit))
            }
        })
    }

    /// `wake` (by value): as [`transition_to_notified_by_ref`], and the waker's own
    /// reference is dropped in the same CAS, except on `Submit`, where the caller
    /// keeps it for the `schedule` call and drops it afterwards.
    #[inline]
    pub(super) fn transition_to_notified_by_val(&self) -> WakeAction {
        self.update(|s| {
            if s.is_idle() {
                return Ok(((s.0 | SCHEDULED) + REF_ONE, WakeAction::Submit));
            }
            let next = if s.is_running() && !s.is_completed() {
                (s.0 | NOTIFIED) - REF_ONE
            } else {
                s.0 - REF_ONE
            };
            let action = if Snapshot(next).ref_count() == 0 {
                WakeAction::Dealloc
            } else {
                WakeAction::Nothing
            };
            Ok((next, action))
        })
    }

    /// `abort`. Completed or already closed: nothing. Scheduled or running: set
    /// `CLOSED`, the runner cancels at entry or after the poll. Idle: set `CLOSED` and
    /// `SCHEDULED` and count a new Runnable (`Submit`), so the future is dropped by a
    /// runner, on the scheduler's thread.
    #[inline]
    pub(super) fn transition_to_closed(&self) -> WakeAction {
        self.update(|s| {
            if s.is_completed() || s.is_closed() {
                Err(WakeAction::Nothing)
            } else if s.is_idle() {
                Ok(((s.0 | CLOSED | SCHEDULED) + REF_ONE, WakeAction::Submit))
            } else {
                Ok((s.0 | CLOSED, WakeAction::Nothing))
            }
        })
    }

    /// The JoinHandle publishes the waker it wrote into the slot. Fails (returning the
    /// state) if the task completed first; the slot is then still the handle's.
    /// Release: pairs with the Acquire of `transition_to_complete`.
    #[inline]
    pub(super) fn set_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|s| {
            debug_assert!(s.has_join_interest() && !s.has_join_waker(), "{s:?}");
            if s.is_completed() {
                Err(Err(s))
            } else {
                Ok((s.0 | JOIN_WAKER, Ok(())))
            }
        })
    }

    /// The JoinHandle takes the slot back to replace the waker. Fails if the task
    /// completed first (the runner may be reading the slot; the handle leaves it be).
    #[inline]
    pub(super) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|s| {
            debug_assert!(s.has_join_interest() && s.has_join_waker(), "{s:?}");
            if s.is_completed() {
                Err(Err(s))
            } else {
                Ok((s.0 & !JOIN_WAKER, Ok(())))
            }
        })
    }

    /// The JoinHandle is dropped: clear `JOIN_INTEREST`, and, if not completed, also
    /// `JOIN_WAKER` (the handle takes the slot back and drops its waker). Returns the
    /// state before: completed means the handle must drop the output; otherwise the
    /// runner will. Acquire: pairs with `transition_to_complete`'s Release (the output
    /// is visible); Release: pairs with its Acquire (the runner sees no interest).
    #[inline]
    pub(super) fn unset_join_interest(&self) -> Snapshot {
        self.update(|s| {
            debug_assert!(s.has_join_interest(), "{s:?}");
            let next = if s.is_completed() {
                s.0 & !JOIN_INTEREST
            } else {
                s.0 & !(JOIN_INTEREST | JOIN_WAKER)
            };
            Ok((next, s))
        })
    }

    /// A new reference (waker clone, abort handle). Relaxed: the caller already holds
    /// a reference, so the task cannot be freed concurrently (the `Arc::clone`
    /// argument).
    #[inline]
    pub(super) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Ordering::Relaxed);
        if prev > usize::MAX / 2 {
            // Leaked wakers by the billion: unsound to go on (the count would wrap).
            std::process::abort();
        }
    }

    /// Drops one reference; `true` if it was the last. AcqRel: Release publishes this
    /// holder's accesses, Acquire (for the last one) sees everyone else's before the
    /// free (the `Arc::drop` argument).
    #[inline]
    pub(super) fn ref_dec(&self) -> bool {
        let prev = Snapshot(self.0.fetch_sub(REF_ONE, Ordering::AcqRel));
        debug_assert!(prev.ref_count() > 0);
        prev.ref_count() == 1
    }

    /// The flag bits alone, for dumps and tests.
    #[allow(dead_code)]
    pub(super) fn flags(&self) -> usize {
        self.0.load(Ordering::Relaxed) & FLAGS_MASK
    }
}

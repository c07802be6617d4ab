//! The LIFO slot: one job a worker runs next, which the blocking monitor can take
//! from a worker stuck in a long job.
//!
//! One state byte guards the job: `EMPTY`, `FULL`, or `BUSY` while someone moves a
//! job in or out. The owner puts (displacing the job already there) and takes; the
//! monitor only takes. Each move is a CAS into `BUSY`, the copy, and a release store
//! out of it; a `take` on an empty slot is one load, the common case of a worker
//! running fork-join jobs.

use crate::job::JobRef;
use crate::primitive::UnsafeCell;
use crate::primitive::atomic::{AtomicU8, Ordering};
use std::mem::MaybeUninit;

const EMPTY: u8 = 0;
const FULL: u8 = 1;
const BUSY: u8 = 2;

pub(crate) struct LifoSlot {
    state: AtomicU8,
    job: UnsafeCell<MaybeUninit<JobRef>>,
}

// SAFETY: the job is reached only by the thread that moved `state` to `BUSY`, and a
// `JobRef` is `Send`.
unsafe impl Sync for LifoSlot {}

impl LifoSlot {
    pub(crate) fn new() -> LifoSlot {
        LifoSlot {
            state: AtomicU8::new(EMPTY),
            job: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Claims the slot for a move: the state it had (`EMPTY` or `FULL`), or `None`
    /// if it is empty and `only_if_full`.
    #[inline]
    fn claim(&self, only_if_full: bool) -> Option<u8> {
        loop {
            let state = self.state.load(Ordering::Relaxed);
            match state {
                BUSY => crate::primitive::thread::spin_loop(),
                EMPTY if only_if_full => return None,
                _ => {
                    // Acquire: the job written by the last mover (its Release store).
                    if self
                        .state
                        .compare_exchange_weak(state, BUSY, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                    {
                        return Some(state);
                    }
                }
            }
        }
    }

    /// Puts `job` in the slot; returns the job it displaced.
    #[inline]
    pub(crate) fn put(&self, job: JobRef) -> Option<JobRef> {
        let was = self.claim(false).expect("claim(false) always claims");
        // SAFETY: we hold `BUSY`; a `FULL` slot holds an initialised job.
        let displaced = self.job.with_mut(|slot| unsafe {
            let displaced = (was == FULL).then(|| (*slot).assume_init_read());
            (*slot).write(job);
            displaced
        });
        // Release: publishes the job to the next claimer.
        self.state.store(FULL, Ordering::Release);
        displaced
    }

    /// Takes the job, if there is one.
    #[inline]
    pub(crate) fn take(&self) -> Option<JobRef> {
        if self.state.load(Ordering::Relaxed) == EMPTY {
            return None;
        }
        self.claim(true)?;
        // SAFETY: we hold `BUSY` and claimed it from `FULL`.
        let job = self
            .job
            .with_mut(|slot| unsafe { (*slot).assume_init_read() });
        self.state.store(EMPTY, Ordering::Release);
        Some(job)
    }

    /// `true` if the slot holds a job (a snapshot).
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.state.load(Ordering::Relaxed) != EMPTY
    }
}

//! `Barrier`: n threads or tasks wait until all n have arrived, then all go on;
//! reusable, one leader per generation.
//!
//! # State
//!
//! `arrivals` (under a small lock) counts who has arrived in the current generation.
//! The n-th arrival is the leader: it resets the count, bumps `generation` (a `Release`
//! store) and notifies every listener. Waiters listen, then check whether `generation`
//! moved on (an `Acquire` load that pairs with the leader's store), then wait. Because
//! each arrival takes the lock before the leader does, everything any participant did
//! before `wait` happens before every participant returns.

use crate::event::{Event, Lock};
use crate::primitive::atomic::{AtomicUsize, Ordering};
use core::fmt;

/// A reusable barrier for `n` participants, which may be threads ([`wait`](Self::wait))
/// or tasks ([`wait_async`](Self::wait_async)), mixed.
///
/// # Cost
///
/// Each arrival takes a short futex-lock critical section; the last one notifies all
/// waiters. The waiters sleep on an [`Event`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_sync::Barrier;
///
/// let barrier = Arc::new(Barrier::new(3));
/// let handles: Vec<_> = (0..3)
///     .map(|_| {
///         let barrier = Arc::clone(&barrier);
///         std::thread::spawn(move || barrier.wait().is_leader())
///     })
///     .collect();
/// let leaders = handles.into_iter().map(|h| h.join().unwrap());
/// assert_eq!(leaders.filter(|&l| l).count(), 1);
/// ```
pub struct Barrier {
    n: usize,
    arrivals: Lock<usize>,
    generation: AtomicUsize,
    event: Event,
}

/// What [`Barrier::wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult {
    leader: bool,
}

impl BarrierWaitResult {
    /// Whether this participant was the leader: exactly one per generation (the last
    /// to arrive).
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

impl Barrier {
    /// A barrier that releases its waiters once `n` have called `wait`. With `n` of 0
    /// or 1, `wait` never blocks and every caller is the leader (as with `std`).
    #[cfg(not(loom))]
    pub const fn new(n: usize) -> Self {
        Self {
            n,
            arrivals: Lock::new(0),
            generation: AtomicUsize::new(0),
            event: Event::new(),
        }
    }

    /// A barrier that releases its waiters once `n` have called `wait`.
    #[cfg(loom)]
    pub fn new(n: usize) -> Self {
        Self {
            n,
            arrivals: Lock::new(0),
            generation: AtomicUsize::new(0),
            event: Event::new(),
        }
    }

    /// Blocks the thread until `n` participants have arrived.
    pub fn wait(&self) -> BarrierWaitResult {
        let generation = match self.arrive() {
            Ok(leader) => return leader,
            Err(generation) => generation,
        };
        loop {
            let listener = self.event.listen();
            if self.passed(generation) {
                return BarrierWaitResult { leader: false };
            }
            listener.wait();
        }
    }

    /// Waits asynchronously until `n` participants have arrived.
    ///
    /// The arrival counts when the future is first polled. Dropping the future after
    /// that does not take the arrival back (the others may already have been released
    /// by it); it only stops this task from waiting.
    pub async fn wait_async(&self) -> BarrierWaitResult {
        let generation = match self.arrive() {
            Ok(leader) => return leader,
            Err(generation) => generation,
        };
        loop {
            let listener = self.event.listen();
            if self.passed(generation) {
                return BarrierWaitResult { leader: false };
            }
            listener.await;
        }
    }

    /// Counts an arrival: `Ok` for the leader, else `Err(the generation to wait out)`.
    fn arrive(&self) -> Result<BarrierWaitResult, usize> {
        let mut arrivals = self.arrivals.lock();
        // Relaxed: only the leader writes `generation`, under this lock.
        let generation = self.generation.load(Ordering::Relaxed);
        *arrivals += 1;
        if *arrivals < self.n {
            return Err(generation);
        }
        *arrivals = 0;
        // Release: pairs with the Acquire in `passed`; the lock made every arrival's
        // earlier writes visible to us.
        self.generation
            .store(generation.wrapping_add(1), Ordering::Release);
        drop(arrivals);
        self.event.notify_all();
        Ok(BarrierWaitResult { leader: true })
    }

    fn passed(&self, generation: usize) -> bool {
        // Acquire: pairs with the leader's Release store in `arrive`.
        self.generation.load(Ordering::Acquire) != generation
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .field("arrived", &*self.arrivals.lock())
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish()
    }
}

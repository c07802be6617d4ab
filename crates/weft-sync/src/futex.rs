//! The bottom of weft: wait on a 32-bit word until it changes, and wake its waiters.
//!
//! On Linux this is `futex(2)` (`FUTEX_WAIT_PRIVATE` / `FUTEX_WAKE_PRIVATE`) through
//! rustix. Elsewhere, and under loom, it is emulated by a small table of mutex +
//! condition-variable pairs hashed by address: the same contract, slower.
//!
//! # Contract
//!
//! - [`wait`] blocks only if `*atomic == expected` at the moment it goes to sleep (the
//!   check and the sleep are atomic with respect to [`wake_one`]/[`wake_all`] on the same
//!   word), and returns when woken, when the deadline passes, or spuriously. Callers
//!   always re-check their condition in a loop.
//! - A wake that happens after the waiter's value check is never lost.
//!
//! Under loom, time does not exist: a wait with a deadline returns at once as if the
//! deadline had passed, which makes the models exercise every timeout path.

use crate::primitive::atomic::AtomicU32;
use std::time::Instant;

/// Blocks while `*atomic == expected`, until woken or until `deadline`.
///
/// Returns `false` if it returned because the deadline passed, `true` otherwise
/// (woken, value already different, interrupted, or spurious).
#[inline]
pub(crate) fn wait(atomic: &AtomicU32, expected: u32, deadline: Option<Instant>) -> bool {
    sys::wait(atomic, expected, deadline)
}

/// Wakes at most one thread blocked in [`wait`] on `atomic`. Returns whether one was
/// woken (on the emulated backend: whether one might have been).
#[inline]
pub(crate) fn wake_one(atomic: &AtomicU32) -> bool {
    sys::wake(atomic, 1) > 0
}

/// Wakes every thread blocked in [`wait`] on `atomic`.
#[inline]
pub(crate) fn wake_all(atomic: &AtomicU32) {
    sys::wake(atomic, i32::MAX as u32);
}

/// Wakes every thread blocked in [`wait`] on `atomic`, returning how many were woken
/// (on the emulated backend: 1 if any might have been).
#[inline]
pub(crate) fn wake_all_counted(atomic: &AtomicU32) -> usize {
    sys::wake(atomic, i32::MAX as u32)
}

#[cfg(all(target_os = "linux", not(loom)))]
mod sys {
    use super::AtomicU32;
    use rustix::io::Errno;
    use rustix::thread::futex;
    use std::time::Instant;

    pub(super) fn wait(atomic: &AtomicU32, expected: u32, deadline: Option<Instant>) -> bool {
        let timeout = match deadline {
            None => None,
            Some(deadline) => {
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    return false;
                };
                // Saturate: a deadline centuries away behaves as no deadline.
                match i64::try_from(left.as_secs()) {
                    Ok(secs) => Some(futex::Timespec {
                        tv_sec: secs,
                        tv_nsec: i64::from(left.subsec_nanos()),
                    }),
                    Err(_) => None,
                }
            }
        };
        match futex::wait(atomic, futex::Flags::PRIVATE, expected, timeout.as_ref()) {
            Err(Errno::TIMEDOUT) => false,
            // Woken, value changed (EAGAIN) or interrupted (EINTR): the caller re-checks.
            _ => true,
        }
    }

    pub(super) fn wake(atomic: &AtomicU32, count: u32) -> usize {
        futex::wake(atomic, futex::Flags::PRIVATE, count).unwrap_or(0)
    }
}

#[cfg(any(not(target_os = "linux"), loom))]
mod sys {
    //! Emulated futex: a fixed table of (mutex, condvar) buckets hashed by address.
    //! A waiter checks the value under the bucket's mutex, and a waker takes the same
    //! mutex before notifying, so a wake cannot slip between check and sleep.

    use super::AtomicU32;
    use crate::primitive::atomic::Ordering;
    use crate::primitive::{StdCondvar, StdMutex};
    use std::time::Instant;

    #[cfg(not(loom))]
    const BUCKETS: usize = 64;

    struct Bucket {
        lock: StdMutex<()>,
        cond: StdCondvar,
    }

    #[cfg(not(loom))]
    fn bucket(addr: usize) -> &'static Bucket {
        static TABLE: std::sync::OnceLock<Vec<Bucket>> = std::sync::OnceLock::new();
        let table = TABLE.get_or_init(|| {
            (0..BUCKETS)
                .map(|_| Bucket {
                    lock: StdMutex::new(()),
                    cond: StdCondvar::new(),
                })
                .collect()
        });
        &table[(addr >> 2) % BUCKETS]
    }

    #[cfg(loom)]
    fn bucket(_addr: usize) -> &'static Bucket {
        // One bucket is enough for models of a handful of threads, and keeps the state
        // space small. `lazy_static` gives each model execution a fresh one.
        loom::lazy_static! {
            static ref ONE: Bucket = Bucket { lock: StdMutex::new(()), cond: StdCondvar::new() };
        }
        &ONE
    }

    pub(super) fn wait(atomic: &AtomicU32, expected: u32, deadline: Option<Instant>) -> bool {
        let bucket = bucket(atomic as *const AtomicU32 as usize);
        let guard = bucket.lock.lock().unwrap_or_else(|e| e.into_inner());
        if atomic.load(Ordering::Relaxed) != expected {
            return true;
        }
        match deadline {
            None => {
                drop(bucket.cond.wait(guard).unwrap_or_else(|e| e.into_inner()));
                true
            }
            #[cfg(loom)]
            Some(_) => {
                drop(guard);
                false
            }
            #[cfg(not(loom))]
            Some(deadline) => {
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    return false;
                };
                let (_guard, result) = bucket
                    .cond
                    .wait_timeout(guard, left)
                    .unwrap_or_else(|e| e.into_inner());
                !result.timed_out()
            }
        }
    }

    pub(super) fn wake(atomic: &AtomicU32, _count: u32) -> usize {
        let bucket = bucket(atomic as *const AtomicU32 as usize);
        drop(bucket.lock.lock().unwrap_or_else(|e| e.into_inner()));
        // Buckets are shared between addresses, so wake everyone; futex waiters
        // tolerate spurious wake-ups by contract.
        bucket.cond.notify_all();
        1
    }
}

#![cfg(feature = "deadlock-detection")]
//! Locks used while a thread's thread-locals are being destroyed: the detector's own
//! thread-local may already be gone (or never have existed), and the hooks must then
//! record nothing rather than panic.

use std::cell::RefCell;
use std::thread;
use weft_sync::{Mutex, MutexGuard, SpinLock, deadlock};

static SHARED: SpinLock<u32> = SpinLock::new(0);
static HELD_AT_EXIT: Mutex<u32> = Mutex::new(0);

/// Takes and releases a lock from its destructor.
struct LocksOnDrop;

impl Drop for LocksOnDrop {
    fn drop(&mut self) {
        *SHARED.lock() += 1;
    }
}

thread_local! {
    static LOCKS_ON_DROP: RefCell<Option<LocksOnDrop>> = const { RefCell::new(None) };
    /// A guard kept until the thread exits: released during teardown.
    static GUARD: RefCell<Option<MutexGuard<'static, u32>>> = const { RefCell::new(None) };
}

#[test]
fn locks_taken_and_released_during_thread_exit_do_not_panic() {
    // Thread-local destructors run in an unspecified order, so try both: the
    // detector's thread-local created before ours, and after.
    for detector_first in [true, false] {
        thread::spawn(move || {
            if detector_first {
                drop(SHARED.lock());
            }
            LOCKS_ON_DROP.with(|slot| *slot.borrow_mut() = Some(LocksOnDrop));
            GUARD.with(|slot| *slot.borrow_mut() = Some(HELD_AT_EXIT.lock()));
            if !detector_first {
                drop(SHARED.lock());
            }
        })
        .join()
        .expect("thread exit with locks in thread-local destructors");
    }
    assert_eq!(*SHARED.lock(), 2);
    // The guards were released at exit: the mutex is free, and no exited thread is
    // still counted as a holder.
    assert!(HELD_AT_EXIT.try_lock().is_some());
    assert!(deadlock::check().iter().all(|d| {
        d.threads
            .iter()
            .all(|t| t.waits_for.created_at.file() != file!())
    }));
}

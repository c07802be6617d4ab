//! loom model of `ReentrantMutex`: nested locking on one thread, exclusion across
//! threads, and the lock ends free.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use std::cell::Cell;
use weft_sync::ReentrantMutex;

#[test]
fn nested_locks_exclude_other_threads() {
    loom::model(|| {
        let mutex = Arc::new(ReentrantMutex::new(Cell::new(0usize)));
        let m = Arc::clone(&mutex);
        let t = thread::spawn(move || {
            let outer = m.lock();
            let inner = m.lock();
            inner.set(inner.get() + 1);
            drop(inner);
            assert!(m.is_owned_by_current_thread());
            outer.set(outer.get() + 1);
        });
        {
            let outer = mutex.lock();
            let inner = mutex.try_lock().expect("owner may re-lock");
            inner.set(inner.get() + 1);
            drop(outer);
            inner.set(inner.get() + 1);
        }
        t.join().unwrap();
        assert_eq!(mutex.lock().get(), 4);
        assert!(!mutex.is_locked());
    });
}

//! Loom model of the LIFO slot (`src/lifo.rs`): the owner puts two jobs (the second
//! displaces the first) and takes, while the blocking monitor takes from another
//! thread. Every job comes out exactly once, and the slot's copies never race.
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!  cargo test --release -p weft-pool --test loom_lifo`

#![cfg(loom)]

use loom::thread;
use std::sync::Arc;
use weft_pool::__loom::LifoSlot;
use weft_pool::raw::JobRef;

unsafe fn never(_: *const ()) {
    unreachable!("the model never runs a job");
}

fn job(id: usize) -> JobRef {
    // SAFETY: the model never runs these jobs; the pointer is only an identity.
    unsafe { JobRef::from_raw_parts(id as *const (), never) }
}

#[test]
fn owner_and_monitor_see_each_job_once() {
    loom::model(|| {
        let slot = Arc::new(LifoSlot::new());
        let monitor = {
            let slot = slot.clone();
            thread::spawn(move || slot.take().map(|job| job.data() as usize))
        };
        let mut seen = Vec::new();
        assert!(slot.put(job(1)).is_none());
        if let Some(displaced) = slot.put(job(2)) {
            seen.push(displaced.data() as usize);
        }
        if let Some(taken) = slot.take() {
            seen.push(taken.data() as usize);
        }
        if let Some(taken) = monitor.join().unwrap() {
            seen.push(taken);
        }
        seen.sort_unstable();
        assert_eq!(seen, [1, 2]);
    });
}

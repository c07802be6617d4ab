//! The blocking monitor: a worker stuck in one job does not stall the work queued
//! behind it.
//!
//! A pool's workers run jobs to completion; a job that blocks (a `std::thread::sleep`,
//! a blocking read, a long computation in an async task's poll) keeps its worker, and
//! whatever waits in that worker's queues waits with it. Go solves the same problem
//! for goroutines in system calls by handing the stuck thread's run queue to another
//! thread; weft-pool does the same with *spare workers*:
//!
//! - Each worker keeps an activity counter (`Activity` in `registry.rs`): odd while it
//!   runs a job, even while it is idle; every change bumps it (a plain store: one
//!   writer). A worker waiting inside a job for a stolen `join` half counts as idle.
//! - A monitor thread (started when a blocking threshold is set) looks at every
//!   counter each `threshold / 4` (between 1 and 10 ms). A counter that stayed odd and
//!   unchanged for `threshold` means the worker is stuck in one job.
//! - It then reports the job (its [`BlockedWorker`](crate::BlockedWorker): the worker,
//!   how long so far, and the job's spawn location when its kind recorded one, as
//!   weft-rt's tasks do), moves the worker's LIFO slot to the injector, and starts a
//!   spare worker: a thread with a slot of its own (deques, sleep state) that steals
//!   the stuck worker's queued jobs like any idle worker would. Other sleeping workers
//!   are woken too.
//! - When a stuck worker moves on, the monitor retires spares beyond one per worker
//!   still stuck: a retiring spare finishes its job, hands what it still holds to the
//!   injector, and exits; its slot can be used again.
//!
//! The number of spares is capped (`ThreadPoolBuilder::max_spare_threads`, default
//! one per worker), so a program that blocks everywhere degrades to waiting instead
//! of starting threads without end. The monitor's cost on the workers is two plain
//! stores per job; it sleeps between ticks and exits with the pool.

use crate::registry::{Registry, Seen};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Starts the monitor thread of `registry` (once).
pub(crate) fn start(registry: &Arc<Registry>, threshold: Duration) {
    if registry.monitor_started.swap(true, Ordering::AcqRel) {
        return;
    }
    let weak = Arc::downgrade(registry);
    let spawned = std::thread::Builder::new()
        .name("weft-pool-monitor".into())
        .spawn(move || run(&weak, threshold));
    if let Err(error) = spawned {
        registry.monitor_started.store(false, Ordering::Release);
        eprintln!("weft-pool: could not start the blocking monitor: {error}");
    }
}

fn run(weak: &Weak<Registry>, threshold: Duration) {
    let tick = (threshold / 4).clamp(Duration::from_millis(1), Duration::from_millis(10));
    let mut seen: Vec<Seen> = Vec::new();
    loop {
        std::thread::sleep(tick);
        let Some(registry) = weak.upgrade() else {
            return;
        };
        if registry.is_terminating() {
            return;
        }
        seen.resize(registry.slot_count(), Seen::default());
        registry.monitor_tick(&mut seen, threshold, Instant::now());
    }
}

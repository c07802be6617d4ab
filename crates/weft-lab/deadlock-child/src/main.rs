//! The `deadlock` experiment's child process: weft-sync's deadlock detector at work.
//!
//! Built with weft-sync's `deadlock-detection` feature (which the lab itself leaves
//! off, see `Cargo.toml`). Two demonstrations, then a report on stdout as
//! `key value` lines for the lab (`crates/weft-lab/src/experiments/deadlock.rs`):
//!
//! 1. **Lock order.** Thread `left` takes mutex A then B and finishes; only then does
//!    thread `right` take B then A. The two never overlap, so nothing can block, yet
//!    the second path closes the cycle A → B → A in the lock-order graph and the
//!    checker reports the inversion at that acquisition: the deadlock is caught
//!    before it ever happens.
//! 2. **Wait for.** `left` holds C and waits for D, `right` holds D and waits for C
//!    (timed waits, retried). The watchdog's wait-for check finds the knot; on its
//!    report, `right` backs off (drops D), `left` completes, then `right` takes C and
//!    D in order: recovered, both threads finish, nothing stays blocked. The
//!    lock-order checker cannot see this one coming: `right` never *completes* an
//!    acquisition of C while holding D, so the edge D → C is never recorded.
//!
//! Usage: `weft-lab-deadlock-child [REPEATS]` (default 5 repetitions of the second).

use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use weft_sync::deadlock::{self, Report};
use weft_sync::{Barrier, Mutex};

/// How long one timed wait lasts before it is retried (and the back-off flag looked at).
const RETRY: Duration = Duration::from_millis(20);
/// How often the watchdog runs the wait-for check.
const WATCH: Duration = Duration::from_millis(2);
/// Give up on a repetition the watchdog has not resolved after this long.
const GIVE_UP: Duration = Duration::from_secs(5);

/// What the hook saw. A `std` lock: the detector does not watch it.
#[derive(Default)]
struct Seen {
    inversions: Vec<(Instant, usize, String)>,
    deadlocks: Vec<(Instant, usize, String)>,
}

static SEEN: StdMutex<Seen> = StdMutex::new(Seen {
    inversions: Vec::new(),
    deadlocks: Vec::new(),
});
/// Set by the hook when the watchdog reports a deadlock: `right` backs off.
static BACK_OFF: AtomicBool = AtomicBool::new(false);

fn seen() -> std::sync::MutexGuard<'static, Seen> {
    SEEN.lock().unwrap_or_else(|p| p.into_inner())
}

fn hook(report: &Report) {
    let now = Instant::now();
    match report {
        Report::LockOrderInversion(_) => {
            // The hook runs outside the detector's locks, so it may ask who is blocked.
            let blocked = deadlock::check().len();
            seen().inversions.push((now, blocked, report.to_string()));
        }
        Report::Deadlock(found) => {
            seen()
                .deadlocks
                .push((now, found.threads.len(), report.to_string()));
            // Release, paired with `right`'s Acquire load: the report is recorded
            // (pushed above) before `right` backs off and the repetition ends.
            BACK_OFF.store(true, Ordering::Release);
        }
        _ => {}
    }
}

/// Demonstration 1: returns the time from the inverted acquisition to the report.
fn lock_order() -> Option<Duration> {
    let a = Mutex::new(0u32);
    let b = Mutex::new(0u32);
    thread::scope(|s| {
        thread::Builder::new()
            .name("left".into())
            .spawn_scoped(s, || {
                let mut a = a.lock();
                let mut b = b.lock();
                *a += 1;
                *b += 1;
            })
            .expect("spawn")
            .join()
            .expect("left finished");
    });
    let started = thread::scope(|s| {
        thread::Builder::new()
            .name("right".into())
            .spawn_scoped(s, || {
                let mut b = b.lock();
                let started = Instant::now();
                let mut a = a.lock(); // the inversion: reported here
                *a += 1;
                *b += 1;
                started
            })
            .expect("spawn")
            .join()
            .expect("right finished")
    });
    let seen = seen();
    let (at, _, _) = seen.inversions.first()?;
    Some(at.saturating_duration_since(started))
}

/// Demonstration 2, once: returns the time from both threads blocking to the report,
/// and whether both threads finished.
fn wait_for() -> (Option<Duration>, bool) {
    let c = Mutex::new(0u32);
    let d = Mutex::new(0u32);
    let barrier = Barrier::new(3);
    BACK_OFF.store(false, Ordering::Release);
    let reports_before = seen().deadlocks.len();
    let (blocked_at, finished) = thread::scope(|s| {
        let left = thread::Builder::new()
            .name("left".into())
            .spawn_scoped(s, || {
                let mut c = c.lock();
                barrier.wait();
                let deadline = Instant::now() + GIVE_UP;
                loop {
                    if let Some(mut d) = d.try_lock_for(RETRY) {
                        *c += 1;
                        *d += 1;
                        return true;
                    }
                    if Instant::now() > deadline {
                        return false;
                    }
                }
            })
            .expect("spawn");
        let right = thread::Builder::new()
            .name("right".into())
            .spawn_scoped(s, || {
                let held = d.lock();
                barrier.wait();
                let deadline = Instant::now() + GIVE_UP;
                loop {
                    if let Some(mut c) = c.try_lock_for(RETRY) {
                        *c += 1;
                        drop(held);
                        return true;
                    }
                    // Acquire: pairs with the hook's Release store.
                    if BACK_OFF.load(Ordering::Acquire) || Instant::now() > deadline {
                        // Back off: let go of D, then take both in the global order.
                        drop(held);
                        let mut c = c.lock();
                        let mut d = d.lock();
                        *c += 1;
                        *d += 1;
                        return true;
                    }
                }
            })
            .expect("spawn");
        barrier.wait();
        let blocked_at = Instant::now();
        let finished = left.join().unwrap_or(false) & right.join().unwrap_or(false);
        (blocked_at, finished)
    });
    let seen = seen();
    let latency = seen
        .deadlocks
        .get(reports_before)
        .map(|(at, _, _)| at.saturating_duration_since(blocked_at));
    (latency, finished)
}

fn main() {
    let repeats: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5)
        .max(1);
    deadlock::set_hook(hook);
    let watchdog = deadlock::spawn_watchdog(WATCH);

    println!("weft-lab-deadlock-child 1");
    let inversion = lock_order();
    {
        let seen = seen();
        println!("inversion_reports {}", seen.inversions.len());
        if let Some((_, blocked, text)) = seen.inversions.first() {
            println!("inversion_blocked {blocked}");
            for line in text.lines() {
                println!("inversion_text {line}");
            }
        }
    }
    if let Some(latency) = inversion {
        println!("inversion_ns {}", latency.as_nanos());
    }
    for _ in 0..repeats {
        let (latency, finished) = wait_for();
        match latency {
            Some(latency) => println!("deadlock_ns {}", latency.as_nanos()),
            None => println!("deadlock_missed 1"),
        }
        println!("finished {}", u8::from(finished));
    }
    watchdog.stop();
    let seen = seen();
    if let Some((_, threads, text)) = seen.deadlocks.first() {
        println!("deadlock_threads {threads}");
        for line in text.lines() {
            println!("deadlock_text {line}");
        }
    }
    println!(
        "order_violations {}",
        deadlock::lock_order_violations().len()
    );
    println!("blocked_after {}", deadlock::check().len());
}

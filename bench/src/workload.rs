//! Running one operation on N threads for a budget, and counting what got done.

use serde::{Deserialize, Serialize};
use std::hint;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How much work one throughput sample does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Budget {
    /// Run for (about) this long, counting operations.
    Duration(Duration),
    /// Run this many operations in total (split evenly across threads), timing them.
    Ops(u64),
}

impl Budget {
    /// A fixed-duration budget of `millis` milliseconds.
    pub fn millis(millis: u64) -> Self {
        Budget::Duration(Duration::from_millis(millis))
    }
}

/// What one throughput sample did: how many operations, in how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Operations completed (over all threads).
    pub ops: u64,
    /// Wall-clock time from the common start to the last thread's finish.
    pub elapsed: Duration,
}

impl Tally {
    /// Operations per second; 0.0 if no time elapsed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft_bench::Tally;
    ///
    /// let tally = Tally { ops: 500, elapsed: Duration::from_millis(250) };
    /// assert_eq!(tally.ops_per_sec(), 2000.0);
    /// ```
    pub fn ops_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs == 0.0 {
            0.0
        } else {
            self.ops as f64 / secs
        }
    }
}

/// How many operations a thread runs between two looks at the stop flag: enough to
/// make the look free next to the operation, few enough that even a slow operation
/// (a contended lock that sleeps) notices the stop within a millisecond or so.
const OPS_PER_CHECK: u64 = 16;

/// Keeps the stop flag on a cache line of its own, so that workers reading it never
/// share a line with the data they are measuring.
#[repr(align(128))]
struct StopFlag(AtomicBool);

/// Runs an operation on `threads` threads for `budget`, all starting together.
///
/// `make_op(thread_index)` is called once on each thread (indices `0..threads`) to
/// build that thread's operation, so per-thread state (its own counter, an operation
/// mix) lives in the returned closure; the operation is then called repeatedly. The
/// clock starts when every thread has built its operation and passed a common barrier,
/// and stops when the last thread finishes, so thread start-up is not counted.
///
/// With [`Budget::Duration`] every thread runs until the time is up; with
/// [`Budget::Ops`] thread `i` runs its share of the total (the remainder going to the
/// first threads).
///
/// # Panics
///
/// If `threads` is 0, or if an operation panics.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use weft_bench::{Budget, run_threads};
///
/// let counter = AtomicU64::new(0);
/// let tally = run_threads(2, Budget::Ops(1000), |_thread| {
///     || {
///         counter.fetch_add(1, Ordering::Relaxed);
///     }
/// });
/// assert_eq!(tally.ops, 1000);
/// assert_eq!(counter.load(Ordering::Relaxed), 1000);
/// ```
pub fn run_threads<M, F>(threads: usize, budget: Budget, make_op: M) -> Tally
where
    M: Fn(usize) -> F + Sync,
    F: FnMut(),
{
    assert!(threads > 0, "run_threads needs at least one thread");
    let stop = StopFlag(AtomicBool::new(false));
    // Workers plus this thread, which starts the clock and (for a duration) stops it.
    let start_line = Barrier::new(threads + 1);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|index| {
                let (make_op, stop, start_line) = (&make_op, &stop, &start_line);
                scope.spawn(move || {
                    pin_if_asked(index);
                    let mut op = make_op(index);
                    start_line.wait();
                    let ops = match budget {
                        Budget::Duration(_) => run_until_stopped(&mut op, &stop.0),
                        Budget::Ops(total) => run_count(&mut op, share(total, threads, index)),
                    };
                    (ops, Instant::now())
                })
            })
            .collect();
        start_line.wait();
        let start = Instant::now();
        if let Budget::Duration(duration) = budget {
            thread::sleep(duration);
            // Relaxed: the flag carries no data; workers only need to see it eventually.
            stop.0.store(true, Ordering::Relaxed);
        }
        let mut ops = 0;
        let mut finish = start;
        for worker in workers {
            let (worker_ops, worker_finish) = worker.join().expect("a benchmark thread panicked");
            ops += worker_ops;
            finish = finish.max(worker_finish);
        }
        Tally {
            ops,
            elapsed: finish - start,
        }
    })
}

/// Runs batches of `op` until `stop` is set, checking it after each batch, so every
/// worker does at least one batch even when the scheduler runs it only after the clock
/// has stopped (a loaded machine, a 1 ms sample): a sample never has a worker with no
/// operations, and the elapsed time, taken when the last worker finishes, covers them.
fn run_until_stopped(op: &mut impl FnMut(), stop: &AtomicBool) -> u64 {
    let mut ops = 0;
    loop {
        for _ in 0..OPS_PER_CHECK {
            op();
        }
        ops += OPS_PER_CHECK;
        if stop.load(Ordering::Relaxed) {
            return ops;
        }
    }
}

/// With `WEFT_BENCH_PIN=1` in the environment, pins benchmark thread `index` to CPU
/// `index % cpus` (of the CPUs this process may run on), so a contended benchmark does
/// not flip between "both threads on one core" and "one thread per core" from run to
/// run, which makes its samples bimodal on a 2-core machine. Off by default: unpinned
/// is what programs see. A failure to pin (a container without the right) is ignored.
fn pin_if_asked(index: usize) {
    use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
    if std::env::var_os("WEFT_BENCH_PIN").is_none_or(|v| v == "0") {
        return;
    }
    let Ok(allowed) = sched_getaffinity(None) else {
        return;
    };
    let cpus: Vec<usize> = (0..CpuSet::MAX_CPU)
        .filter(|&cpu| allowed.is_set(cpu))
        .collect();
    if cpus.is_empty() {
        return;
    }
    let mut only = CpuSet::new();
    only.set(cpus[index % cpus.len()]);
    let _ = sched_setaffinity(None, &only);
}

fn run_count(op: &mut impl FnMut(), count: u64) -> u64 {
    for _ in 0..count {
        op();
    }
    count
}

fn share(total: u64, threads: usize, index: usize) -> u64 {
    let threads = threads as u64;
    let index = index as u64;
    total / threads + u64::from(index < total % threads)
}

/// A few nanoseconds of arithmetic the compiler cannot skip: `steps` rounds of a
/// 64-bit linear congruential generator (Knuth's MMIX constants) from `seed`.
///
/// Benchmarks use it as the "little work" inside and between critical sections, so
/// that a lock is held, and released, for a realistic sliver of time. Each step depends
/// on the last, so `steps` steps take `steps` multiply-add latencies.
///
/// # Examples
///
/// ```
/// use weft_bench::busy_work;
///
/// assert_eq!(busy_work(7, 0), 7);
/// assert_ne!(busy_work(7, 3), busy_work(7, 2));
/// ```
#[inline]
pub fn busy_work(seed: u64, steps: u32) -> u64 {
    let mut x = seed;
    for _ in 0..hint::black_box(steps) {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
    }
    x
}

/// Times `iters` back-to-back calls of `op` on this thread.
pub(crate) fn time_batch(op: &mut dyn FnMut(), iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        op();
    }
    let elapsed = start.elapsed();
    hint::black_box(&op);
    elapsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn ops_budget_is_split_exactly() {
        let shares: Vec<u64> = (0..3).map(|i| share(10, 3, i)).collect();
        assert_eq!(shares, [4, 3, 3]);
        assert_eq!((0..4).map(|i| share(2, 4, i)).sum::<u64>(), 2);
    }

    #[test]
    fn every_thread_builds_its_own_operation() {
        let per_thread: Vec<AtomicU64> = (0..3).map(|_| AtomicU64::new(0)).collect();
        let tally = run_threads(3, Budget::Ops(30), |thread| {
            let mine = &per_thread[thread];
            move || {
                mine.fetch_add(1, Ordering::Relaxed);
            }
        });
        assert_eq!(tally.ops, 30);
        for counter in &per_thread {
            assert_eq!(counter.load(Ordering::Relaxed), 10);
        }
    }

    #[test]
    fn duration_budget_counts_every_operation_run() {
        let counter = AtomicU64::new(0);
        let tally = run_threads(2, Budget::millis(5), |_| {
            || {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        assert!(tally.ops > 0);
        assert_eq!(tally.ops % OPS_PER_CHECK, 0);
        assert_eq!(tally.ops, counter.load(Ordering::Relaxed));
    }
}

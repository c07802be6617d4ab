//! weft's `ArrayQueue` and `SegQueue` against `crossbeam_queue`'s: MPMC throughput
//! with 1, 2 and 4 producers and as many consumers.
//!
//! Every sample moves a fixed number of values through the queue (each producer pushes
//! its share, each consumer pops its share, retrying while full or empty), so an
//! unbounded queue never builds a backlog that skews the next round. Figures are
//! values transferred per second; the checksum of popped values must equal the pushed.
//!
//! `cargo bench -p weft-bench --bench queue` (about a minute), `-- --quick` (seconds),
//! `-- --json FILE` (every raw sample).

use std::hint;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use weft_bench::{BenchArgs, Budget, Comparison, Latency, Results, Tally, Throughput};
use weft_bench::{run_threads, summary_table};

/// `ArrayQueue` capacity: large enough that producers rarely find it full.
const CAPACITY: usize = 1024;

/// Retries a failed push or pop: a few spin hints, then a yield, so that on a
/// two-core machine a waiting thread hands the core to the one it waits for. The same
/// for every contender.
#[inline]
fn wait(attempt: &mut u32) {
    if *attempt < 6 {
        for _ in 0..1u32 << *attempt {
            hint::spin_loop();
        }
    } else {
        thread::yield_now();
    }
    *attempt += 1;
}

/// The two operations every contender offers.
trait Queue: Sync {
    /// Pushes, retrying while full.
    fn push_retry(&self, value: u64);
    /// Pops, retrying while empty.
    fn pop_retry(&self) -> u64;
    /// Pops without retrying (to check the queue ends empty).
    fn try_pop(&self) -> Option<u64>;
}

macro_rules! bounded_queue {
    ($queue:ty) => {
        impl Queue for $queue {
            #[inline]
            fn push_retry(&self, mut value: u64) {
                let mut attempt = 0;
                while let Err(back) = self.push(value) {
                    value = back;
                    wait(&mut attempt);
                }
            }
            #[inline]
            fn pop_retry(&self) -> u64 {
                let mut attempt = 0;
                loop {
                    match self.pop() {
                        Some(value) => return value,
                        None => wait(&mut attempt),
                    }
                }
            }
            fn try_pop(&self) -> Option<u64> {
                self.pop()
            }
        }
    };
}

macro_rules! unbounded_queue {
    ($queue:ty) => {
        impl Queue for $queue {
            #[inline]
            fn push_retry(&self, value: u64) {
                self.push(value);
            }
            #[inline]
            fn pop_retry(&self) -> u64 {
                let mut attempt = 0;
                loop {
                    match self.pop() {
                        Some(value) => return value,
                        None => wait(&mut attempt),
                    }
                }
            }
            fn try_pop(&self) -> Option<u64> {
                self.pop()
            }
        }
    };
}

bounded_queue!(weft_lockfree::ArrayQueue<u64>);
bounded_queue!(crossbeam_queue::ArrayQueue<u64>);
unbounded_queue!(weft_lockfree::SegQueue<u64>);
unbounded_queue!(crossbeam_queue::SegQueue<u64>);

/// Adds a contender moving values through `queue` with `pairs` producers and as many
/// consumers, checking nothing was lost or duplicated.
fn add<'a, Q: Queue>(
    comparison: Comparison<'a, Throughput>,
    name: &str,
    queue: &'a Q,
    pairs: usize,
) -> Comparison<'a, Throughput> {
    let label = name.to_string();
    comparison.contender(name, move |budget| {
        let pushed_sum = AtomicU64::new(0);
        let popped_sum = AtomicU64::new(0);
        // Threads `0..pairs` produce, `pairs..2 * pairs` consume. Rounding the budget
        // down to a multiple of the thread count (the warm-up asks for a quarter of a
        // sample) gives every thread the same share, so pushes equal pops.
        let threads = 2 * pairs as u64;
        let budget = match budget {
            Budget::Ops(ops) => Budget::Ops((ops / threads).max(1) * threads),
            Budget::Duration(_) => unreachable!("queue samples are sized in values"),
        };
        let tally = run_threads(2 * pairs, budget, |thread| {
            let (pushed_sum, popped_sum) = (&pushed_sum, &popped_sum);
            let mut next = (thread as u64) << 40;
            let producer = thread < pairs;
            let mut checksum = Checksum {
                sum: 0,
                into: if producer { pushed_sum } else { popped_sum },
            };
            move || {
                let value = if producer {
                    next += 1;
                    queue.push_retry(next);
                    next
                } else {
                    queue.pop_retry()
                };
                checksum.sum = checksum.sum.wrapping_add(value);
            }
        });
        assert_eq!(queue.try_pop(), None, "{label}: values left over");
        assert_eq!(
            pushed_sum.load(Ordering::Relaxed),
            popped_sum.load(Ordering::Relaxed),
            "{label}: popped values differ from pushed"
        );
        // Each value is one push and one pop: report values transferred.
        Tally {
            ops: tally.ops / 2,
            elapsed: tally.elapsed,
        }
    })
}

/// A thread's running checksum, added to the shared total when the thread's operation
/// is dropped (after its last call).
struct Checksum<'a> {
    sum: u64,
    into: &'a AtomicU64,
}

impl Drop for Checksum<'_> {
    fn drop(&mut self) {
        // Relaxed: read after `run_threads` joins this thread.
        self.into.fetch_add(self.sum, Ordering::Relaxed);
    }
}

/// Values each producer pushes per sample.
fn per_producer(args: &BenchArgs, pairs: usize) -> u64 {
    let total: u64 = match (args.smoke, args.quick) {
        (true, _) => 1_000,
        (false, true) => 200_000,
        (false, false) => 2_000_000,
    };
    total / pairs as u64
}

fn array_queue(args: &BenchArgs, pairs: usize) -> Results {
    let weft = weft_lockfree::ArrayQueue::new(CAPACITY);
    let crossbeam = crossbeam_queue::ArrayQueue::new(CAPACITY);
    // Two operations (a push and a pop) per value, over 2 * pairs threads.
    let budget = Budget::Ops(2 * pairs as u64 * per_producer(args, pairs));
    let name = format!("ArrayQueue({CAPACITY}) {pairs}p{pairs}c, values/s");
    let mut comparison = Comparison::throughput(name, budget).rounds(args.rounds());
    comparison = add(comparison, "weft", &weft, pairs);
    comparison = add(comparison, "crossbeam", &crossbeam, pairs);
    comparison.run()
}

fn seg_queue(args: &BenchArgs, pairs: usize) -> Results {
    let weft = weft_lockfree::SegQueue::new();
    let crossbeam = crossbeam_queue::SegQueue::new();
    let budget = Budget::Ops(2 * pairs as u64 * per_producer(args, pairs));
    let name = format!("SegQueue {pairs}p{pairs}c, values/s");
    let mut comparison = Comparison::throughput(name, budget).rounds(args.rounds());
    comparison = add(comparison, "weft", &weft, pairs);
    comparison = add(comparison, "crossbeam", &crossbeam, pairs);
    comparison.run()
}

/// Adds a contender timing one push and one pop on a single thread: the cost of the
/// fast path alone, with no contention (and the figure least moved by neighbours).
fn add_uncontended<'a, Q: Queue>(
    comparison: Comparison<'a, Latency>,
    name: &str,
    queue: &'a Q,
) -> Comparison<'a, Latency> {
    comparison.contender(name, move || {
        queue.push_retry(hint::black_box(7));
        hint::black_box(queue.pop_retry());
    })
}

fn uncontended(args: &BenchArgs) -> Vec<Results> {
    let weft_array = weft_lockfree::ArrayQueue::new(CAPACITY);
    let crossbeam_array = crossbeam_queue::ArrayQueue::new(CAPACITY);
    let weft_seg = weft_lockfree::SegQueue::new();
    let crossbeam_seg = crossbeam_queue::SegQueue::new();
    let array = Comparison::latency("ArrayQueue push + pop, 1 thread")
        .rounds(args.rounds())
        .min_sample(args.min_sample());
    let array = add_uncontended(array, "weft", &weft_array);
    let array = add_uncontended(array, "crossbeam", &crossbeam_array).run();
    println!("\n{array}");
    let seg = Comparison::latency("SegQueue push + pop, 1 thread")
        .rounds(args.rounds())
        .min_sample(args.min_sample());
    let seg = add_uncontended(seg, "weft", &weft_seg);
    let seg = add_uncontended(seg, "crossbeam", &crossbeam_seg).run();
    println!("\n{seg}");
    vec![array, seg]
}

/// The contender the summary compares with the others.
const CANDIDATE: &str = "weft";

fn main() {
    let args = BenchArgs::from_env();
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "queue benchmark: {cores} cores, {} rounds per comparison, interleaved",
        args.rounds()
    );
    let mut all = uncontended(&args);
    for pairs in [1, 2, 4] {
        all.push(array_queue(&args, pairs));
        println!("\n{}", all.last().unwrap());
        all.push(seg_queue(&args, pairs));
        println!("\n{}", all.last().unwrap());
    }
    println!(
        "\nsummary: ratios are speedups of medians; >= 1.00x means {CANDIDATE} is as fast \
         or faster than the other\n{}",
        summary_table(&all, CANDIDATE)
    );
    args.write_json(&all).expect("writing --json");
}

//! weft's `Mutex` against `parking_lot::Mutex` and `std::sync::Mutex`, with weft's
//! `SpinLock` for contrast: uncontended lock+unlock latency, and contended throughput
//! at 2, 4 and 8 threads with a short critical section.
//!
//! `cargo bench -p weft-bench --bench mutex` (about a minute), `-- --quick` (seconds),
//! `-- --json FILE` (every raw sample).

use std::hint::black_box;
use std::time::Duration;
use weft::sync::{CachePadded, SpinLock};
use weft_bench::{BenchArgs, Budget, Comparison, Latency, Results, Throughput};
use weft_bench::{busy_work, run_threads, summary_table};

/// Steps of [`busy_work`] inside the critical section and between two acquisitions:
/// a few nanoseconds each, so the lock itself dominates but is held for real.
const INSIDE_STEPS: u32 = 4;
const OUTSIDE_STEPS: u32 = 4;

/// The state every contender guards: a counter (checked against the harness's count of
/// operations) and a word the critical section stirs.
#[derive(Default)]
struct Shared {
    count: u64,
    stir: u64,
}

impl Shared {
    fn critical_section(&mut self) {
        self.count += 1;
        self.stir = busy_work(self.stir, INSIDE_STEPS);
    }
}

/// The one operation all contenders offer, so each scenario is written once.
trait Lock: Sync {
    fn with<R>(&self, f: impl FnOnce(&mut Shared) -> R) -> R;
}

impl Lock for weft::sync::Mutex<Shared> {
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut Shared) -> R) -> R {
        f(&mut self.lock())
    }
}

impl Lock for parking_lot::Mutex<Shared> {
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut Shared) -> R) -> R {
        f(&mut self.lock())
    }
}

impl Lock for std::sync::Mutex<Shared> {
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut Shared) -> R) -> R {
        f(&mut self.lock().unwrap())
    }
}

impl Lock for SpinLock<Shared> {
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut Shared) -> R) -> R {
        f(&mut self.lock())
    }
}

/// One instance of each contender's lock, each on its own cache lines. Unpadded, the
/// four locks sat side by side and where each fell depended on the stack: weft's
/// `Mutex<Shared>` started 48 bytes into a line, so its critical section touched two
/// lines while parking_lot's touched one, and that alone cost weft 5-15% at 2-8
/// threads. Padding gives every contender the same layout.
#[derive(Default)]
struct Locks {
    weft: CachePadded<weft::sync::Mutex<Shared>>,
    parking_lot: CachePadded<parking_lot::Mutex<Shared>>,
    std: CachePadded<std::sync::Mutex<Shared>>,
    spin: CachePadded<SpinLock<Shared>>,
}

fn add_latency<'a, L: Lock>(
    comparison: Comparison<'a, Latency>,
    name: &str,
    lock: &'a L,
) -> Comparison<'a, Latency> {
    comparison.contender(name, move || {
        lock.with(|shared| shared.count = black_box(shared.count) + 1)
    })
}

fn add_throughput<'a, L: Lock>(
    comparison: Comparison<'a, Throughput>,
    name: &str,
    lock: &'a L,
    threads: usize,
) -> Comparison<'a, Throughput> {
    let label = name.to_string();
    comparison.contender(name, move |budget| {
        let before = lock.with(|shared| shared.count);
        let tally = run_threads(threads, budget, |thread| {
            let mut local = thread as u64;
            move || {
                lock.with(Shared::critical_section);
                local = black_box(busy_work(local, OUTSIDE_STEPS));
            }
        });
        // Every operation counted by the harness went through the lock exactly once.
        let after = lock.with(|shared| shared.count);
        assert_eq!(
            after - before,
            tally.ops,
            "{label}: lost or extra increments"
        );
        tally
    })
}

fn uncontended(args: &BenchArgs) -> Results {
    let locks = Locks::default();
    let mut comparison = Comparison::latency("uncontended lock + unlock, 1 thread")
        .rounds(args.rounds())
        .min_sample(args.min_sample());
    comparison = add_latency(comparison, "weft", &*locks.weft);
    comparison = add_latency(comparison, "parking_lot", &*locks.parking_lot);
    comparison = add_latency(comparison, "std", &*locks.std);
    comparison = add_latency(comparison, "spin", &*locks.spin);
    comparison.run()
}

fn contended(args: &BenchArgs, threads: usize) -> Results {
    let locks = Locks::default();
    let budget = Budget::Duration(args.sample_duration(Duration::from_millis(200)));
    let name = format!("contended throughput, {threads} threads");
    let mut comparison = Comparison::throughput(name, budget).rounds(args.rounds());
    comparison = add_throughput(comparison, "weft", &*locks.weft, threads);
    comparison = add_throughput(comparison, "parking_lot", &*locks.parking_lot, threads);
    comparison = add_throughput(comparison, "std", &*locks.std, threads);
    comparison = add_throughput(comparison, "spin", &*locks.spin, threads);
    comparison.run()
}

/// The contender the summary compares with all the others.
const CANDIDATE: &str = "weft";

fn main() {
    let args = BenchArgs::from_env();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "mutex benchmark: {cores} cores, {} rounds per comparison, interleaved",
        args.rounds()
    );
    let mut all = vec![uncontended(&args)];
    println!("\n{}", all[0]);
    for threads in [2, 4, 8] {
        all.push(contended(&args, threads));
        println!("\n{}", all.last().unwrap());
    }
    println!(
        "\nsummary: ratios are speedups of medians; >= 1.00x means {CANDIDATE} is as fast \
         or faster than the other\n{}",
        summary_table(&all, CANDIDATE)
    );
    args.write_json(&all).expect("writing --json");
}

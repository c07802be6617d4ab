//! weft's `RwLock` against `parking_lot::RwLock` and `std::sync::RwLock`: uncontended
//! read latency, then throughput at 2, 4 and 8 threads for a read-heavy mix (90 % reads)
//! and a write-heavy one (90 % writes), with short sections.
//!
//! `cargo bench -p weft-bench --bench rwlock` (about a minute), `-- --quick` (seconds),
//! `-- --json FILE` (every raw sample).

use std::hint::black_box;
use std::time::Duration;
use weft::sync::CachePadded;
use weft_bench::{BenchArgs, Budget, Comparison, Latency, Results, Throughput};
use weft_bench::{busy_work, run_threads, summary_table};

/// Steps of [`busy_work`] inside a section and between two acquisitions.
const INSIDE_STEPS: u32 = 4;
const OUTSIDE_STEPS: u32 = 4;

/// Guarded state: a write counter (checked against the number of writes done) and a
/// few words a reader sums, so a read section touches more than the lock's own line.
#[derive(Default)]
struct Shared {
    writes: u64,
    words: [u64; 4],
}

impl Shared {
    fn read_section(&self) -> u64 {
        let sum = self.words.iter().fold(0u64, |sum, &w| sum.wrapping_add(w));
        busy_work(sum, INSIDE_STEPS)
    }

    fn write_section(&mut self) {
        self.writes += 1;
        self.words[(self.writes % 4) as usize] = busy_work(self.writes, INSIDE_STEPS);
    }
}

/// The two operations all contenders offer, so each scenario is written once.
trait ReadWrite: Sync {
    fn read<R>(&self, f: impl FnOnce(&Shared) -> R) -> R;
    fn write<R>(&self, f: impl FnOnce(&mut Shared) -> R) -> R;
}

impl ReadWrite for weft::sync::RwLock<Shared> {
    #[inline]
    fn read<R>(&self, f: impl FnOnce(&Shared) -> R) -> R {
        f(&self.read())
    }
    #[inline]
    fn write<R>(&self, f: impl FnOnce(&mut Shared) -> R) -> R {
        f(&mut self.write())
    }
}

impl ReadWrite for parking_lot::RwLock<Shared> {
    #[inline]
    fn read<R>(&self, f: impl FnOnce(&Shared) -> R) -> R {
        f(&self.read())
    }
    #[inline]
    fn write<R>(&self, f: impl FnOnce(&mut Shared) -> R) -> R {
        f(&mut self.write())
    }
}

impl ReadWrite for std::sync::RwLock<Shared> {
    #[inline]
    fn read<R>(&self, f: impl FnOnce(&Shared) -> R) -> R {
        f(&self.read().unwrap())
    }
    #[inline]
    fn write<R>(&self, f: impl FnOnce(&mut Shared) -> R) -> R {
        f(&mut self.write().unwrap())
    }
}

/// One instance of each contender's lock, each on its own cache lines, so that no
/// contender's lock and data straddle a line boundary by the luck of the stack layout
/// (the mutex benchmark's `Locks` says what that cost).
#[derive(Default)]
struct Locks {
    weft: CachePadded<weft::sync::RwLock<Shared>>,
    parking_lot: CachePadded<parking_lot::RwLock<Shared>>,
    std: CachePadded<std::sync::RwLock<Shared>>,
}

/// An operation mix: out of every 10 operations, this many are writes.
#[derive(Clone, Copy)]
struct Mix {
    name: &'static str,
    writes_in_ten: u64,
}

const READ_HEAVY: Mix = Mix {
    name: "read-heavy (90% reads)",
    writes_in_ten: 1,
};
const WRITE_HEAVY: Mix = Mix {
    name: "write-heavy (90% writes)",
    writes_in_ten: 9,
};

fn add_latency<'a, L: ReadWrite>(
    comparison: Comparison<'a, Latency>,
    name: &str,
    lock: &'a L,
) -> Comparison<'a, Latency> {
    comparison.contender(name, move || {
        black_box(lock.read(|shared| black_box(shared.words[0])));
    })
}

fn add_throughput<'a, L: ReadWrite>(
    comparison: Comparison<'a, Throughput>,
    name: &str,
    lock: &'a L,
    threads: usize,
    mix: Mix,
) -> Comparison<'a, Throughput> {
    let label = name.to_string();
    comparison.contender(name, move |budget| {
        let before = lock.read(|shared| shared.writes);
        let tally = run_threads(threads, budget, |thread| {
            // Threads start at different points of the 10-operation cycle, so writes
            // from different threads don't line up.
            let mut step = thread as u64 * 3;
            let mut local = 0u64;
            move || {
                if step % 10 < mix.writes_in_ten {
                    lock.write(Shared::write_section);
                } else {
                    local ^= lock.read(Shared::read_section);
                }
                step += 1;
                local = black_box(busy_work(local, OUTSIDE_STEPS));
            }
        });
        let writes = lock.read(|shared| shared.writes) - before;
        // Each thread cycles through 10 steps, so writes are within one cycle per
        // thread of the mix's share of the operations.
        let expected = tally.ops * mix.writes_in_ten / 10;
        let slack = threads as u64 * 10;
        assert!(
            writes.abs_diff(expected) <= slack,
            "{label}: {writes} writes for {} ops",
            tally.ops
        );
        tally
    })
}

fn uncontended(args: &BenchArgs) -> Results {
    let locks = Locks::default();
    let mut comparison = Comparison::latency("uncontended read lock + unlock, 1 thread")
        .rounds(args.rounds())
        .min_sample(args.min_sample());
    comparison = add_latency(comparison, "weft", &*locks.weft);
    comparison = add_latency(comparison, "parking_lot", &*locks.parking_lot);
    comparison = add_latency(comparison, "std", &*locks.std);
    comparison.run()
}

fn contended(args: &BenchArgs, threads: usize, mix: Mix) -> Results {
    let locks = Locks::default();
    let budget = Budget::Duration(args.sample_duration(Duration::from_millis(150)));
    let name = format!("{}, {threads} threads", mix.name);
    let mut comparison = Comparison::throughput(name, budget).rounds(args.rounds());
    comparison = add_throughput(comparison, "weft", &*locks.weft, threads, mix);
    comparison = add_throughput(comparison, "parking_lot", &*locks.parking_lot, threads, mix);
    comparison = add_throughput(comparison, "std", &*locks.std, threads, mix);
    comparison.run()
}

/// The contender the summary compares with all the others.
const CANDIDATE: &str = "weft";

fn main() {
    let args = BenchArgs::from_env();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "rwlock benchmark: {cores} cores, {} rounds per comparison, interleaved",
        args.rounds()
    );
    let mut all = vec![uncontended(&args)];
    println!("\n{}", all[0]);
    for mix in [READ_HEAVY, WRITE_HEAVY] {
        for threads in [2, 4, 8] {
            all.push(contended(&args, threads, mix));
            println!("\n{}", all.last().unwrap());
        }
    }
    println!(
        "\nsummary: ratios are speedups of medians; >= 1.00x means {CANDIDATE} is as fast \
         or faster than the other\n{}",
        summary_table(&all, CANDIDATE)
    );
    args.write_json(&all).expect("writing --json");
}

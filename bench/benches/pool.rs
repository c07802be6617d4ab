//! weft's thread pool against rayon's, on the same number of threads (one per core):
//!
//! - `fib(32)` by `join` with no sequential cut-off: nearly all the time is the cost of
//!   `join` itself (push, pop, the occasional steal);
//! - quicksort of 10,000,000 random `u64` by `join`, sequential below 2,048 items (the
//!   same partition code and cut-off for both; each run first copies the unsorted
//!   input into the buffer, the same copy for both);
//! - an unbalanced tree of tasks: each node splits its work 90/10 between its two
//!   children by `join`, so the pool must keep stealing the big halves to balance;
//! - `install(|| x)` from a thread outside the pool: the round trip of injecting a
//!   job, waking a worker and blocking the caller on a latch. This row follows the
//!   machine's load more than the code: on a quiet 2-core machine weft takes ~2 µs
//!   against rayon's ~5 µs (2.3-2.7x; a worker still in its idle search takes the
//!   job, and the fork check is a cached pid, no `getpid`), while with other builds
//!   running the same binaries gave 17-24 µs against 11-18 µs (0.5-0.75x). The
//!   profile of that case is the scheduler (`sched_yield`, task switches): the woken
//!   caller most likely waits for a CPU that an idle worker's spin holds (weft's
//!   search yields every eighth round, rayon's every round). A caller that spins on
//!   its latch before parking was tried and was slower (2 µs -> 3-8 µs on 2 cores).
//!
//! Each contender is one whole workload inside `pool.install`, interleaved round by
//! round; the figure is the ratio of medians (>= 1.00x: weft as fast or faster).
//!
//! `cargo bench -p weft-bench --bench pool` (a few minutes on 2 cores), `-- --quick`
//! (under a minute), `-- --only quicksort` (one comparison: `fib`, `quicksort`,
//! `tree`, `install`), `-- --json FILE` (every raw sample).

use std::hint::black_box;
use std::thread;
use weft_bench::{BenchArgs, Comparison, Results, busy_work, summary_table};

/// The contender the summary compares with all the others.
const CANDIDATE: &str = "weft";
const ANCHOR: &str = "rayon";

/// The two pools' `join`, so each workload is written once.
trait Join {
    fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send;
}

struct Weft;
struct Rayon;

impl Join for Weft {
    #[inline]
    fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        weft_pool::join(a, b)
    }
}

impl Join for Rayon {
    #[inline]
    fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        rayon::join(a, b)
    }
}

fn fib<J: Join>(n: u32) -> u64 {
    if n < 2 {
        return u64::from(n);
    }
    let (a, b) = J::join(|| fib::<J>(n - 1), || fib::<J>(n - 2));
    a + b
}

const SORT_CUTOFF: usize = 2048;

fn quicksort<J: Join>(values: &mut [u64]) {
    if values.len() <= SORT_CUTOFF {
        values.sort_unstable();
        return;
    }
    let mid = partition(values);
    let (left, right) = values.split_at_mut(mid);
    J::join(|| quicksort::<J>(left), || quicksort::<J>(&mut right[1..]));
}

/// Lomuto partition around the median of three; returns the pivot's final index.
fn partition(values: &mut [u64]) -> usize {
    let last = values.len() - 1;
    let mid = values.len() / 2;
    // Median of three into `last`.
    if values[mid] < values[0] {
        values.swap(mid, 0);
    }
    if values[last] < values[0] {
        values.swap(last, 0);
    }
    if values[mid] < values[last] {
        values.swap(mid, last);
    }
    let pivot = values[last];
    let mut store = 0;
    for i in 0..last {
        if values[i] < pivot {
            values.swap(i, store);
            store += 1;
        }
    }
    values.swap(store, last);
    store
}

/// Splits `work` units 90/10 between two children until a node holds under `leaf`.
fn skewed_tree<J: Join>(work: u64, leaf: u64) -> u64 {
    if work <= leaf {
        return busy_work(work, work as u32);
    }
    let big = work * 9 / 10;
    let (a, b) = J::join(
        || skewed_tree::<J>(big, leaf),
        || skewed_tree::<J>(work - big, leaf),
    );
    a ^ b
}

fn random_values(len: usize) -> Vec<u64> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
        .collect()
}

struct Pools {
    weft: weft_pool::ThreadPool,
    rayon: rayon::ThreadPool,
    threads: usize,
}

fn bench_fib(args: &BenchArgs, pools: &Pools) -> Results {
    let n = if args.smoke { 20 } else { 32 };
    let expected = {
        let (mut a, mut b) = (0u64, 1u64);
        for _ in 0..n {
            (a, b) = (b, a + b);
        }
        a
    };
    Comparison::latency(format!(
        "fib({n}) by join, no cut-off, {} threads",
        pools.threads
    ))
    .rounds(args.rounds())
    .min_sample(args.min_sample())
    .baseline(ANCHOR)
    .contender(ANCHOR, || {
        let result = pools.rayon.install(|| fib::<Rayon>(black_box(n)));
        assert_eq!(result, expected);
    })
    .contender(CANDIDATE, || {
        let result = pools.weft.install(|| fib::<Weft>(black_box(n)));
        assert_eq!(result, expected);
    })
    .run()
}

fn bench_quicksort(args: &BenchArgs, pools: &Pools) -> Results {
    let len = if args.smoke { 100_000 } else { 10_000_000 };
    let input = random_values(len);
    let mut sorted = input.clone();
    sorted.sort_unstable();
    let mut weft_buffer = input.clone();
    let mut rayon_buffer = input.clone();
    let results = Comparison::latency(format!(
        "quicksort of {len} u64 by join (cut-off {SORT_CUTOFF}), {} threads",
        pools.threads
    ))
    .rounds(args.rounds())
    .min_sample(args.min_sample())
    .baseline(ANCHOR)
    .contender(ANCHOR, || {
        rayon_buffer.copy_from_slice(&input);
        pools
            .rayon
            .install(|| quicksort::<Rayon>(&mut rayon_buffer));
        black_box(&rayon_buffer);
    })
    .contender(CANDIDATE, || {
        weft_buffer.copy_from_slice(&input);
        pools.weft.install(|| quicksort::<Weft>(&mut weft_buffer));
        black_box(&weft_buffer);
    })
    .run();
    assert_eq!(weft_buffer, sorted, "weft's quicksort is wrong");
    assert_eq!(rayon_buffer, sorted, "rayon's quicksort is wrong");
    results
}

fn bench_skewed_tree(args: &BenchArgs, pools: &Pools) -> Results {
    let (work, leaf) = if args.smoke {
        (200_000, 2_000)
    } else {
        (1_000_000_000, 20_000)
    };
    let expected = skewed_tree::<Weft>(work / 100, leaf / 100);
    assert_eq!(expected, skewed_tree::<Rayon>(work / 100, leaf / 100));
    Comparison::latency(format!(
        "unbalanced tree (90/10 splits), {work} units, leaves under {leaf}, {} threads",
        pools.threads
    ))
    .rounds(args.rounds())
    .min_sample(args.min_sample())
    .baseline(ANCHOR)
    .contender(ANCHOR, || {
        black_box(
            pools
                .rayon
                .install(|| skewed_tree::<Rayon>(black_box(work), leaf)),
        );
    })
    .contender(CANDIDATE, || {
        black_box(
            pools
                .weft
                .install(|| skewed_tree::<Weft>(black_box(work), leaf)),
        );
    })
    .run()
}

fn bench_install_round_trip(args: &BenchArgs, pools: &Pools) -> Results {
    Comparison::latency(format!(
        "install(|| x) from outside the pool (inject, wake, block), {} threads",
        pools.threads
    ))
    .rounds(args.rounds())
    .min_sample(args.min_sample())
    .baseline(ANCHOR)
    .contender(ANCHOR, || {
        black_box(pools.rayon.install(|| black_box(1u64)));
    })
    .contender(CANDIDATE, || {
        black_box(pools.weft.install(|| black_box(1u64)));
    })
    .run()
}

/// One comparison of this file.
type Bench = fn(&BenchArgs, &Pools) -> Results;

fn main() {
    let args = BenchArgs::from_env();
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "pool benchmark: {threads} threads in each pool, {} rounds per comparison, interleaved",
        args.rounds()
    );
    let pools = Pools {
        weft: weft_pool::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("building weft's pool"),
        rayon: rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("building rayon's pool"),
        threads,
    };
    // `--only NAME` runs the comparisons whose key contains NAME (fib, quicksort,
    // tree, install).
    let only: Option<String> = std::env::args().skip_while(|arg| arg != "--only").nth(1);
    let benches: [(&str, Bench); 4] = [
        ("fib", bench_fib),
        ("quicksort", bench_quicksort),
        ("tree", bench_skewed_tree),
        ("install", bench_install_round_trip),
    ];
    let mut all = Vec::new();
    for (key, bench) in benches {
        if only.as_deref().is_some_and(|only| !key.contains(only)) {
            continue;
        }
        all.push(bench(&args, &pools));
        println!("\n{}", all.last().unwrap());
    }
    println!(
        "\nsummary: ratios are speedups of medians; >= 1.00x means {CANDIDATE} is as fast \
         or faster than {ANCHOR}\n{}",
        summary_table(&all, CANDIDATE)
    );
    args.write_json(&all).expect("writing --json");
}

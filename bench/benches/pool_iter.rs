//! weft's parallel iterators and parallel sort against rayon's, on the same number of
//! threads (one per core), each workload inside its pool's `install`:
//!
//! - `par_sort_unstable` of 10,000,000 random `u64` (each run first copies the
//!   unsorted input into the buffer, the same copy for both), and `par_sort` (stable)
//!   of the same;
//! - `par_iter().map(..).sum()` over 100,000,000 `u64`;
//! - `par_iter().map(..).collect::<Vec<_>>()` of 10,000,000 items (the indexed,
//!   in-place collect);
//! - `par_iter().map(mix).reduce(..)` over 10,000,000 `u64` with a compute-bound
//!   `mix` (16 multiply-xorshift rounds): the embarrassingly parallel case that is not
//!   limited by memory bandwidth, where the parallel efficiency is measured.
//!
//! Every comparison also runs both libraries on a one-thread pool, so the summary's
//! `weft / weft, 1 thread` column is weft's parallel speedup (divide by the thread
//! count for the parallel efficiency).
//!
//! `cargo bench -p weft-bench --bench pool_iter` (a few minutes on 2 cores),
//! `-- --quick` (sizes divided by 10, 3 rounds), `-- --json FILE` (every raw sample),
//! `-- --only sort|stable|sum|collect|compute` (one workload).

use std::hint::black_box;
use std::sync::Mutex;
use std::thread;
use weft_bench::{BenchArgs, Comparison, Latency, Results, summary_table};

/// The contender the summary compares with all the others.
const CANDIDATE: &str = "weft";
const ANCHOR: &str = "rayon";
const WEFT_1: &str = "weft, 1 thread";
const RAYON_1: &str = "rayon, 1 thread";

struct Pools {
    weft: weft_pool::ThreadPool,
    rayon: rayon::ThreadPool,
    weft_1: weft_pool::ThreadPool,
    rayon_1: rayon::ThreadPool,
    threads: usize,
}

impl Pools {
    fn new(threads: usize) -> Self {
        let weft = |n| {
            weft_pool::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .expect("building weft's pool")
        };
        let rayon = |n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .expect("building rayon's pool")
        };
        Pools {
            weft: weft(threads),
            rayon: rayon(threads),
            weft_1: weft(1),
            rayon_1: rayon(1),
            threads,
        }
    }
}

/// Items per workload: full, a tenth with `--quick`, a thousandth under `cargo test`.
fn size(args: &BenchArgs, full: usize) -> usize {
    match (args.smoke, args.quick) {
        (true, _) => full / 1000,
        (false, true) => full / 10,
        (false, false) => full,
    }
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

/// Adds the four contenders (rayon and weft, on all threads and on one), each
/// running `weft_op` or `rayon_op` inside its pool.
fn four_ways<'a>(
    comparison: Comparison<'a, Latency>,
    pools: &'a Pools,
    weft_op: &'a (dyn Fn() + Sync),
    rayon_op: &'a (dyn Fn() + Sync),
) -> Comparison<'a, Latency> {
    comparison
        .baseline(ANCHOR)
        .contender(ANCHOR, move || pools.rayon.install(rayon_op))
        .contender(CANDIDATE, move || pools.weft.install(weft_op))
        .contender(RAYON_1, move || pools.rayon_1.install(rayon_op))
        .contender(WEFT_1, move || pools.weft_1.install(weft_op))
}

fn bench_sort(args: &BenchArgs, pools: &Pools) -> Results {
    sort_both(
        args,
        pools,
        "par_sort_unstable",
        weft_pool::slice::ParallelSliceMut::par_sort_unstable,
        rayon::slice::ParallelSliceMut::par_sort_unstable,
    )
}

fn bench_stable_sort(args: &BenchArgs, pools: &Pools) -> Results {
    sort_both(
        args,
        pools,
        "par_sort (stable)",
        weft_pool::slice::ParallelSliceMut::par_sort,
        rayon::slice::ParallelSliceMut::par_sort,
    )
}

/// Times `weft_sort` against `rayon_sort` on the same random input (each sorts a fresh
/// copy per sample) and checks both results against std's sort.
fn sort_both(
    args: &BenchArgs,
    pools: &Pools,
    name: &str,
    weft_sort: fn(&mut [u64]),
    rayon_sort: fn(&mut [u64]),
) -> Results {
    let len = size(args, 10_000_000);
    let input = random_values(len);
    let mut sorted = input.clone();
    sorted.sort_unstable();
    // Locked once per run, outside the timed sort's inner loop.
    let weft_buffer = Mutex::new(input.clone());
    let rayon_buffer = Mutex::new(input.clone());
    let sort_in = |buffer: &Mutex<Vec<u64>>, sort: fn(&mut [u64])| {
        let mut buffer = buffer.lock().unwrap();
        buffer.copy_from_slice(&input);
        sort(&mut buffer[..]);
        black_box(&*buffer);
    };
    let weft_op = || sort_in(&weft_buffer, weft_sort);
    let rayon_op = || sort_in(&rayon_buffer, rayon_sort);
    let comparison = Comparison::latency(format!("{name} of {len} u64, {} threads", pools.threads))
        .rounds(args.rounds())
        .min_sample(args.min_sample());
    let results = four_ways(comparison, pools, &weft_op, &rayon_op).run();
    assert_eq!(
        *weft_buffer.lock().unwrap(),
        sorted,
        "weft's {name} is wrong"
    );
    assert_eq!(
        *rayon_buffer.lock().unwrap(),
        sorted,
        "rayon's {name} is wrong"
    );
    results
}

fn bench_map_sum(args: &BenchArgs, pools: &Pools) -> Results {
    let len = size(args, 100_000_000);
    let values: Vec<u64> = (0..len as u64).collect();
    let expected: u64 = values.iter().map(|x| x.wrapping_mul(3) ^ 1).sum();
    let comparison = Comparison::latency(format!(
        "par_iter().map().sum() over {len} u64, {} threads",
        pools.threads
    ))
    .rounds(args.rounds())
    .min_sample(args.min_sample());
    let weft_op = || {
        use weft_pool::prelude::*;
        let sum: u64 = black_box(&values)
            .par_iter()
            .map(|x| x.wrapping_mul(3) ^ 1)
            .sum();
        assert_eq!(sum, expected);
    };
    let rayon_op = || {
        use rayon::prelude::*;
        let sum: u64 = black_box(&values)
            .par_iter()
            .map(|x| x.wrapping_mul(3) ^ 1)
            .sum();
        assert_eq!(sum, expected);
    };
    four_ways(comparison, pools, &weft_op, &rayon_op).run()
}

/// A compute-bound item: 16 rounds of a 64-bit mixer (no memory traffic), so the
/// workload can scale with the cores where `map_sum` and `collect` hit the memory
/// bandwidth first.
fn mix(mut x: u64) -> u64 {
    for _ in 0..16 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    }
    x
}

fn bench_compute_sum(args: &BenchArgs, pools: &Pools) -> Results {
    let len = size(args, 10_000_000);
    let values: Vec<u64> = (0..len as u64).collect();
    let expected: u64 = values.iter().map(|&x| mix(x)).fold(0, u64::wrapping_add);
    let comparison = Comparison::latency(format!(
        "par_iter().map(16-round mixer).reduce() over {len} u64 (compute-bound), {} threads",
        pools.threads
    ))
    .rounds(args.rounds())
    .min_sample(args.min_sample());
    let weft_op = || {
        use weft_pool::prelude::*;
        let sum = black_box(&values)
            .par_iter()
            .map(|&x| mix(x))
            .reduce(|| 0, u64::wrapping_add);
        assert_eq!(sum, expected);
    };
    let rayon_op = || {
        use rayon::prelude::*;
        let sum = black_box(&values)
            .par_iter()
            .map(|&x| mix(x))
            .reduce(|| 0, u64::wrapping_add);
        assert_eq!(sum, expected);
    };
    four_ways(comparison, pools, &weft_op, &rayon_op).run()
}

fn bench_collect(args: &BenchArgs, pools: &Pools) -> Results {
    let len = size(args, 10_000_000);
    let values: Vec<u64> = (0..len as u64).collect();
    let comparison = Comparison::latency(format!(
        "par_iter().map().collect::<Vec<_>>() of {len} u64, {} threads",
        pools.threads
    ))
    .rounds(args.rounds())
    .min_sample(args.min_sample());
    let weft_op = || {
        use weft_pool::prelude::*;
        let out: Vec<u64> = black_box(&values).par_iter().map(|x| x ^ 7).collect();
        assert_eq!(out.len(), len);
        assert_eq!(out.last().copied(), values.last().map(|x| x ^ 7));
        drop(black_box(out));
    };
    let rayon_op = || {
        use rayon::prelude::*;
        let out: Vec<u64> = black_box(&values).par_iter().map(|x| x ^ 7).collect();
        assert_eq!(out.len(), len);
        assert_eq!(out.last().copied(), values.last().map(|x| x ^ 7));
        drop(black_box(out));
    };
    four_ways(comparison, pools, &weft_op, &rayon_op).run()
}

type Bench = fn(&BenchArgs, &Pools) -> Results;

fn main() {
    let args = BenchArgs::from_env();
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "pool_iter benchmark: {threads} threads (and 1) in each pool, {} rounds per comparison, \
         interleaved",
        args.rounds()
    );
    let pools = Pools::new(threads);
    // `--only sort|stable|sum|collect|compute` runs one workload (for profiling).
    let argv: Vec<String> = std::env::args().collect();
    let only = argv
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| argv.get(i + 1).cloned());
    let benches: [(&str, Bench); 5] = [
        ("sort", bench_sort),
        ("stable", bench_stable_sort),
        ("sum", bench_map_sum),
        ("collect", bench_collect),
        ("compute", bench_compute_sum),
    ];
    let mut all = Vec::new();
    for (name, bench) in benches {
        if only.as_ref().is_some_and(|only| only != name) {
            continue;
        }
        all.push(bench(&args, &pools));
        println!("\n{}", all.last().unwrap());
    }
    println!(
        "\nsummary: ratios are speedups of medians; >= 1.00x means {CANDIDATE} is as fast \
         or faster than the other; `{CANDIDATE} / {WEFT_1}` is weft's parallel speedup \
         on {threads} threads\n{}",
        summary_table(&all, CANDIDATE)
    );
    args.write_json(&all).expect("writing --json");
}

//! weft's `HashMap`, `FlatMap` and `ShardedMap` against `dashmap::DashMap` and `papaya::HashMap`: a read-heavy
//! (90 % `get`, 10 % `insert`) and a write-heavy (50 / 50) mix on 1, 2 and 4 threads,
//! over a key space every map is pre-filled with.
//!
//! Every contender keeps its default hasher (std's `RandomState`, SipHash-1-3 in all
//! three) and is used the way its documentation suggests for one operation at a time:
//! `get` and `insert` on weft's maps and dashmap, `pin().get` / `pin().insert` on papaya
//! (`FlatMap::get` returns the value by copy, the others a guard the benchmark derefs;
//! `ShardedMap` and dashmap keep their default shard counts). The
//! inserts overwrite keys already present, so the maps neither grow nor shrink while
//! they are measured. Keys are drawn uniformly by a per-thread xorshift; each thread
//! draws the same sequence on every contender. Figures are operations per second over
//! all threads; every sample runs a fixed number of operations.
//!
//! `cargo bench -p weft-bench --bench map` (a few minutes), `-- --quick` (seconds),
//! `-- --json FILE` (every raw sample).

use std::hint::black_box;
use std::thread;
use weft_bench::{BenchArgs, Budget, Comparison, Results, run_threads, summary_table};

/// Keys every map holds: 64 Ki keys, a few MiB of table and entries, so lookups go
/// out to L2/L3 as a real map's would rather than all hitting L1.
const KEYS: u64 = 1 << 16;

/// The two operations each contender offers.
trait Map: Sync {
    fn get(&self, key: u64) -> Option<u64>;
    fn insert(&self, key: u64, value: u64);
}

impl Map for weft_lockfree::HashMap<u64, u64> {
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        weft_lockfree::HashMap::get(self, &key).map(|value| *value)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        drop(weft_lockfree::HashMap::insert(self, key, value));
    }
}

impl Map for weft_lockfree::FlatMap<u64, u64> {
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        weft_lockfree::FlatMap::get(self, &key)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        let _ = weft_lockfree::FlatMap::insert(self, key, value);
    }
}

impl Map for weft_lockfree::ShardedMap<u64, u64> {
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        weft_lockfree::ShardedMap::get(self, &key).map(|value| *value)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        let _ = weft_lockfree::ShardedMap::insert(self, key, value);
    }
}

impl Map for dashmap::DashMap<u64, u64> {
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        dashmap::DashMap::get(self, &key).map(|value| *value)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        let _ = dashmap::DashMap::insert(self, key, value);
    }
}

impl Map for papaya::HashMap<u64, u64> {
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        self.pin().get(&key).copied()
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        let _ = self.pin().insert(key, value);
    }
}

fn prefill(map: &impl Map) {
    for key in 0..KEYS {
        map.insert(key, key);
    }
}

/// A per-thread xorshift64 generator.
struct Rng(u64);

impl Rng {
    #[inline]
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Adds a contender running the mix with `write_percent` inserts on `threads` threads.
fn add<'a, M: Map>(
    comparison: Comparison<'a, weft_bench::Throughput>,
    name: &str,
    map: &'a M,
    threads: usize,
    write_percent: u64,
) -> Comparison<'a, weft_bench::Throughput> {
    comparison.contender(name, move |budget| {
        run_threads(threads, budget, |thread| {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((thread as u64 + 1) * 0x1234_5678_9ABC));
            move || {
                let r = rng.next();
                let key = (r >> 16) % KEYS;
                if r % 100 < write_percent {
                    map.insert(key, r);
                } else {
                    black_box(map.get(key));
                }
            }
        })
    })
}

fn mix(args: &BenchArgs, threads: usize, write_percent: u64) -> Results {
    let weft = weft_lockfree::HashMap::new();
    let flat = weft_lockfree::FlatMap::new();
    let sharded = weft_lockfree::ShardedMap::new();
    let dashmap = dashmap::DashMap::new();
    let papaya = papaya::HashMap::new();
    prefill(&weft);
    prefill(&flat);
    prefill(&sharded);
    prefill(&dashmap);
    prefill(&papaya);
    let ops: u64 = match (args.smoke, args.quick) {
        (true, _) => 2_000,
        (false, true) => 400_000,
        (false, false) => 2_000_000,
    };
    let read_percent = 100 - write_percent;
    let name = format!("{read_percent}/{write_percent} get/insert, {threads} thr, ops/s");
    let mut comparison = Comparison::throughput(name, Budget::Ops(ops)).rounds(args.rounds());
    comparison = add(comparison, "weft", &weft, threads, write_percent);
    comparison = add(comparison, "weft flat", &flat, threads, write_percent);
    comparison = add(comparison, "weft sharded", &sharded, threads, write_percent);
    comparison = add(comparison, "dashmap", &dashmap, threads, write_percent);
    comparison = add(comparison, "papaya", &papaya, threads, write_percent);
    let results = comparison.run();
    // Every map still holds exactly the key space.
    assert_eq!(weft.len() as u64, KEYS);
    assert_eq!(flat.len() as u64, KEYS);
    assert_eq!(sharded.len() as u64, KEYS);
    assert_eq!(dashmap.len() as u64, KEYS);
    assert_eq!(papaya.len() as u64, KEYS);
    results
}

/// The contenders the summaries compare with the others.
const CANDIDATES: [&str; 3] = ["weft", "weft flat", "weft sharded"];

fn main() {
    let args = BenchArgs::from_env();
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "map benchmark: {cores} cores, {KEYS} keys, {} rounds per comparison, interleaved",
        args.rounds()
    );
    let mut all = Vec::new();
    for write_percent in [10, 50] {
        for threads in [1, 2, 4] {
            all.push(mix(&args, threads, write_percent));
            println!("\n{}", all.last().unwrap());
        }
    }
    for candidate in CANDIDATES {
        println!(
            "\nsummary: ratios are speedups of medians; >= 1.00x means {candidate} is as fast \
             or faster than the other\n{}",
            summary_table(&all, candidate)
        );
    }
    args.write_json(&all).expect("writing --json");
}

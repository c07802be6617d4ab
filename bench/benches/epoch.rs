//! weft's epoch collector and its two lock-free structures against crossbeam: pin +
//! unpin latency against `crossbeam_epoch::pin()`, and push/pop throughput of
//! `TreiberStack` and `MsQueue` against `crossbeam_queue::SegQueue` with one producer
//! and one consumer, then two of each.
//!
//! `cargo bench -p weft-bench --bench epoch` (about a minute), `-- --quick` (seconds),
//! `-- --json FILE` (every raw sample).

use std::hint::black_box;
use std::time::Duration;
use weft_bench::{BenchArgs, Budget, Comparison, Results, Tally, run_threads, summary_table};
use weft_lockfree::{MsQueue, TreiberStack, epoch};

/// The contender the summary compares with all the others.
const CANDIDATE: &str = "weft";

fn pin_unpin(args: &BenchArgs) -> Results {
    Comparison::latency("pin + unpin (outermost), 1 thread")
        .rounds(args.rounds())
        .min_sample(args.min_sample())
        .contender("weft", || drop(black_box(epoch::pin())))
        .contender("crossbeam", || drop(black_box(crossbeam_epoch::pin())))
        .run()
}

fn nested_pin(args: &BenchArgs) -> Results {
    let _weft = epoch::pin();
    let _crossbeam = crossbeam_epoch::pin();
    Comparison::latency("pin + unpin, nested in an outer pin, 1 thread")
        .rounds(args.rounds())
        .min_sample(args.min_sample())
        .contender("weft", || drop(black_box(epoch::pin())))
        .contender("crossbeam", || drop(black_box(crossbeam_epoch::pin())))
        .run()
}

/// The operations every contender offers.
trait Queue: Sync {
    fn push(&self, value: u64);
    fn pop(&self) -> Option<u64>;
}

impl Queue for MsQueue<u64> {
    fn push(&self, value: u64) {
        MsQueue::push(self, value);
    }
    fn pop(&self) -> Option<u64> {
        MsQueue::pop(self)
    }
}

impl Queue for TreiberStack<u64> {
    fn push(&self, value: u64) {
        TreiberStack::push(self, value);
    }
    fn pop(&self) -> Option<u64> {
        TreiberStack::pop(self)
    }
}

impl Queue for crossbeam_queue::SegQueue<u64> {
    fn push(&self, value: u64) {
        crossbeam_queue::SegQueue::push(self, value);
    }
    fn pop(&self) -> Option<u64> {
        crossbeam_queue::SegQueue::pop(self)
    }
}

/// Half the threads push, half pop; an operation is one push or one successful or
/// empty pop. Empty pops count too (a polling consumer's reality), so a structure whose
/// empty pop is cheap scores higher when consumers outrun producers: read the figures
/// as "operations of a polling pipeline", not as transfers per second.
fn add_pairs<'a, Q: Queue>(
    comparison: Comparison<'a, weft_bench::Throughput>,
    name: &str,
    queue: &'a Q,
    pairs: usize,
) -> Comparison<'a, weft_bench::Throughput> {
    comparison.contender(name, move |budget| -> Tally {
        let tally = run_threads(2 * pairs, budget, |thread| {
            let mut next = thread as u64;
            move || {
                if thread < pairs {
                    queue.push(black_box(next));
                    next += 1;
                } else {
                    black_box(queue.pop());
                }
            }
        });
        // Empty between samples, so every sample starts alike.
        while queue.pop().is_some() {}
        tally
    })
}

fn throughput(args: &BenchArgs, pairs: usize) -> Results {
    let ms_queue = MsQueue::new();
    let stack = TreiberStack::new();
    let seg_queue = crossbeam_queue::SegQueue::new();
    let budget = Budget::Duration(args.sample_duration(Duration::from_millis(200)));
    let name = format!("push + pop throughput, {pairs}p{pairs}c");
    let mut comparison = Comparison::throughput(name, budget).rounds(args.rounds());
    comparison = add_pairs(comparison, "weft", &ms_queue, pairs);
    comparison = add_pairs(comparison, "weft TreiberStack", &stack, pairs);
    comparison = add_pairs(comparison, "crossbeam SegQueue", &seg_queue, pairs);
    comparison.run()
}

fn main() {
    let args = BenchArgs::from_env();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "epoch benchmark: {cores} cores, {} rounds per comparison, interleaved; \
         in the throughput tables `weft` is MsQueue",
        args.rounds()
    );
    let mut all = Vec::new();
    for results in [pin_unpin(&args), nested_pin(&args)] {
        println!("\n{results}");
        all.push(results);
    }
    for pairs in [1, 2] {
        all.push(throughput(&args, pairs));
        println!("\n{}", all.last().unwrap());
    }
    println!(
        "\nsummary: ratios are speedups of medians; >= 1.00x means {CANDIDATE} is as fast \
         or faster than the other\n{}",
        summary_table(&all, CANDIDATE)
    );
    args.write_json(&all).expect("writing --json");
}

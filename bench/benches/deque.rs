//! weft's work-stealing deque against `crossbeam_deque`: the owner's push + pop
//! latency (LIFO and FIFO), an uncontended push + steal, and steal throughput with one owner pushing and one or two
//! stealers taking items one at a time (`steal`) or in batches
//! (`steal_batch_and_pop`).
//!
//! On a machine shared with other work the threads of the throughput runs may not run
//! at the same time: a stealer then drains the deque while the owner is descheduled
//! and spins on `Empty` until it returns, and the figures count time slices, not the
//! deque. Check `uptime` before trusting them; the single-thread figures hold up.
//!
//! `cargo bench -p weft-bench --bench deque` (about a minute), `-- --quick` (seconds),
//! `-- --json FILE` (every raw sample).

use std::hint::black_box;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use weft_bench::{BenchArgs, Budget, Comparison, Results, Tally, summary_table};

/// The owner stops pushing (and pops one itself) above this many queued items, so a
/// slow stealer does not make the deque grow without end.
const HIGH_WATER: usize = 4096;

/// The operations both deques offer, so each scenario is written once.
trait Deque: Send + 'static {
    type Stealer: Send + Sync + Clone;
    fn new_lifo() -> Self;
    fn push(&self, value: u64);
    fn pop(&self) -> Option<u64>;
    fn len(&self) -> usize;
    fn stealer(&self) -> Self::Stealer;
    /// One `steal`: `Some` on success, `None` on empty or retry.
    fn steal(stealer: &Self::Stealer) -> Option<u64>;
    /// One `steal_batch_and_pop` into `dest`.
    fn steal_batch_and_pop(stealer: &Self::Stealer, dest: &Self) -> Option<u64>;
}

impl Deque for weft_lockfree::deque::Worker<u64> {
    type Stealer = weft_lockfree::deque::Stealer<u64>;
    fn new_lifo() -> Self {
        Self::new_lifo()
    }
    #[inline]
    fn push(&self, value: u64) {
        self.push(value)
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        self.pop()
    }
    #[inline]
    fn len(&self) -> usize {
        self.len()
    }
    fn stealer(&self) -> Self::Stealer {
        self.stealer()
    }
    #[inline]
    fn steal(stealer: &Self::Stealer) -> Option<u64> {
        stealer.steal().success()
    }
    #[inline]
    fn steal_batch_and_pop(stealer: &Self::Stealer, dest: &Self) -> Option<u64> {
        stealer.steal_batch_and_pop(dest).success()
    }
}

impl Deque for crossbeam_deque::Worker<u64> {
    type Stealer = crossbeam_deque::Stealer<u64>;
    fn new_lifo() -> Self {
        Self::new_lifo()
    }
    #[inline]
    fn push(&self, value: u64) {
        self.push(value)
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        self.pop()
    }
    #[inline]
    fn len(&self) -> usize {
        self.len()
    }
    fn stealer(&self) -> Self::Stealer {
        self.stealer()
    }
    #[inline]
    fn steal(stealer: &Self::Stealer) -> Option<u64> {
        stealer.steal().success()
    }
    #[inline]
    fn steal_batch_and_pop(stealer: &Self::Stealer, dest: &Self) -> Option<u64> {
        stealer.steal_batch_and_pop(dest).success()
    }
}

fn add_push_pop<'a, D: Deque>(
    comparison: Comparison<'a, weft_bench::Latency>,
    name: &str,
    deque: &'a D,
) -> Comparison<'a, weft_bench::Latency> {
    let mut next = 0u64;
    comparison.contender(name, move || {
        deque.push(black_box(next));
        next = next.wrapping_add(black_box(deque.pop()).unwrap_or(1));
    })
}

fn push_pop(args: &BenchArgs, fifo: bool) -> Results {
    let flavor = if fifo { "FIFO" } else { "LIFO" };
    let (weft, crossbeam) = if fifo {
        (
            weft_lockfree::deque::Worker::new_fifo(),
            crossbeam_deque::Worker::new_fifo(),
        )
    } else {
        (
            weft_lockfree::deque::Worker::new_lifo(),
            crossbeam_deque::Worker::new_lifo(),
        )
    };
    // Some items below the one pushed and popped, so `pop` takes its usual path.
    for i in 0..16 {
        weft.push(i);
        crossbeam.push(i);
    }
    let mut comparison = Comparison::latency(format!("owner push + pop, {flavor}, 1 thread"))
        .rounds(args.rounds())
        .min_sample(args.min_sample());
    comparison = add_push_pop(comparison, "weft", &weft);
    comparison = add_push_pop(comparison, "crossbeam", &crossbeam);
    comparison.run()
}

fn add_push_steal<'a, D: Deque>(
    comparison: Comparison<'a, weft_bench::Latency>,
    name: &str,
    deque: &'a D,
) -> Comparison<'a, weft_bench::Latency> {
    let stealer = deque.stealer();
    let mut next = 0u64;
    comparison.contender(name, move || {
        deque.push(black_box(next));
        next = next.wrapping_add(black_box(D::steal(&stealer)).unwrap_or(1));
    })
}

/// The steal path alone, uncontended: push then steal on one thread. On a loaded
/// machine this is the steady figure; the multi-threaded ones below also measure how
/// the OS shares the cores out.
fn push_steal(args: &BenchArgs) -> Results {
    let weft = weft_lockfree::deque::Worker::new_lifo();
    let crossbeam = crossbeam_deque::Worker::new_lifo();
    for i in 0..16 {
        weft.push(i);
        crossbeam.push(i);
    }
    let mut comparison = Comparison::latency("push + steal (uncontended), 1 thread")
        .rounds(args.rounds())
        .min_sample(args.min_sample());
    comparison = add_push_steal(comparison, "weft", &weft);
    comparison = add_push_steal(comparison, "crossbeam", &crossbeam);
    comparison.run()
}

/// One owner pushes as fast as it can (popping one itself when the deque is above
/// `HIGH_WATER`); `stealers` threads steal. Counts items the stealers took.
fn steal_run<D: Deque>(budget: Budget, stealers: usize, batch: bool) -> Tally {
    let Budget::Duration(duration) = budget else {
        panic!("steal throughput runs for a duration");
    };
    let worker = D::new_lifo();
    let stealer = worker.stealer();
    let stop = AtomicBool::new(false);
    let start_line = Barrier::new(stealers + 2);
    thread::scope(|scope| {
        let (stop, start_line) = (&stop, &start_line);
        let thieves: Vec<_> = (0..stealers)
            .map(|_| {
                let stealer = stealer.clone();
                scope.spawn(move || {
                    let mine = D::new_lifo();
                    let mut taken = 0u64;
                    let mut sum = 0u64;
                    start_line.wait();
                    while !stop.load(Ordering::Relaxed) {
                        let got = if batch {
                            D::steal_batch_and_pop(&stealer, &mine)
                        } else {
                            D::steal(&stealer)
                        };
                        if let Some(value) = got {
                            sum = sum.wrapping_add(value);
                            taken += 1;
                            while let Some(value) = mine.pop() {
                                sum = sum.wrapping_add(value);
                                taken += 1;
                            }
                        }
                    }
                    black_box(sum);
                    (taken, Instant::now())
                })
            })
            .collect();
        let owner = scope.spawn(move || {
            let mut next = 0u64;
            start_line.wait();
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..16 {
                    if worker.len() >= HIGH_WATER {
                        black_box(worker.pop());
                    }
                    worker.push(next);
                    next += 1;
                }
            }
        });
        start_line.wait();
        let start = Instant::now();
        thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        owner.join().expect("owner panicked");
        let mut ops = 0;
        let mut finish = start;
        for thief in thieves {
            let (taken, end) = thief.join().expect("stealer panicked");
            ops += taken;
            finish = finish.max(end);
        }
        Tally {
            ops,
            elapsed: finish - start,
        }
    })
}

fn steal_throughput(args: &BenchArgs, stealers: usize, batch: bool) -> Results {
    let budget = Budget::Duration(args.sample_duration(Duration::from_millis(200)));
    let how = if batch {
        "steal_batch_and_pop"
    } else {
        "steal"
    };
    let name = format!("items stolen, 1 owner pushing, {stealers} stealer(s), {how}");
    Comparison::throughput(name, budget)
        .rounds(args.rounds())
        .contender("weft", move |budget| {
            steal_run::<weft_lockfree::deque::Worker<u64>>(budget, stealers, batch)
        })
        .contender("crossbeam", move |budget| {
            steal_run::<crossbeam_deque::Worker<u64>>(budget, stealers, batch)
        })
        .run()
}

/// The contender the summary compares with all the others.
const CANDIDATE: &str = "weft";

fn main() {
    let args = BenchArgs::from_env();
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "deque benchmark: {cores} cores, {} rounds per comparison, interleaved",
        args.rounds()
    );
    let mut all = Vec::new();
    for fifo in [false, true] {
        all.push(push_pop(&args, fifo));
        println!("\n{}", all.last().unwrap());
    }
    all.push(push_steal(&args));
    println!("\n{}", all.last().unwrap());
    for stealers in [1, 2] {
        for batch in [false, true] {
            all.push(steal_throughput(&args, stealers, batch));
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

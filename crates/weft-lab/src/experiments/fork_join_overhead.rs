//! `fork-join-overhead`: what one [`weft_pool::join`] costs, against running a
//! closure on a new OS thread and waiting for it.
//!
//! Five operations, each "run something on another thread (or let it be stolen) and
//! wait for it", both sides trivial, in one comparison of interleaved rounds:
//!
//! - **join, in the pool**: `join(|| 1, || 2)` called again and again on one worker
//!   (inside `ThreadPool::install`): push the second closure on the worker's deque,
//!   run the first, pop the second back, unless an idle worker stole it first;
//! - **join, fib**: `fib(`[`FIB_N`]`)` by `join` with no sequential cut-off on every
//!   worker of the pool, counted as wall time per join (its inverse is joins per
//!   second, all workers together);
//! - **pool spawn + oneshot**: from outside the pool, `ThreadPool::spawn` a closure
//!   that sends on a weft oneshot channel, and wait on the receiver: handing work to an
//!   existing thread and waking the caller back;
//! - **scoped thread**: `std::thread::scope` spawning one thread;
//! - **thread spawn + join**: `std::thread::spawn(..).join()`: creating, starting and
//!   reaping an OS thread.
//!
//! Each sample repeats its operation for the sample time; the figures are nanoseconds
//! per operation, from the median rate of the rounds.

use crate::experiment::{
    Chart, Claim, Config, Experiment, Outcome, Point, Quote, Report, Scale, Series, Unit, Verdict,
    throughput_estimate,
};
use crate::probe::proc::OtherLoad;
use std::hint::black_box;
use std::time::{Duration, Instant};
use weft::channel::oneshot;
use weft_bench::format::{format_nanos, format_rate, format_ratio};
use weft_bench::{Budget, Comparison, Results, Table, Tally};
use weft_pool::{ThreadPool, ThreadPoolBuilder};

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct ForkJoinOverhead;

const CLAIM: Claim = Claim {
    gist: "a fork-join costs orders of magnitude less than creating a thread; pools amortise it",
    quotes: &[
        Quote {
            text: "Thread pools amortise creation cost, and work-stealing balances load by \
                   letting idle threads steal from busy threads’ queues.",
            source: "Multitasking, 1.3 Threading and Scheduling",
        },
        Quote {
            text: "The fork-join model recursively decomposes problems into independent \
                   sub-problems (fork), solves them in parallel, and combines results (join).",
            source: "Multitasking, 3.2 Parallel Patterns",
        },
    ],
};

/// The `fib` argument of the recursion of joins.
pub const FIB_N: u32 = 20;
/// A thread spawn at least this many times a join is "orders of magnitude" (two).
pub const ORDERS: f64 = 100.0;
/// A thread spawn at least this many times a join is one order of magnitude.
pub const ORDER: f64 = 10.0;
/// The pool's hand-off must be at least this many times cheaper than a new thread to
/// count as amortising the creation cost.
pub const AMORTISED: f64 = 1.5;
/// Other processes using more than this share of the CPUs make a miss inconclusive.
pub const BUSY: f64 = 0.15;

/// The operations timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// One `join` of two trivial closures on a worker.
    Join,
    /// `fib(FIB_N)` by `join` on every worker: wall time per join.
    FibJoin,
    /// `ThreadPool::spawn` plus a oneshot back, from outside the pool.
    PoolSpawn,
    /// `std::thread::scope` spawning one thread.
    ScopedThread,
    /// `std::thread::spawn` and `join`.
    ThreadSpawn,
}

impl Operation {
    /// Every operation, in table order.
    pub const ALL: [Operation; 5] = [
        Operation::Join,
        Operation::FibJoin,
        Operation::PoolSpawn,
        Operation::ScopedThread,
        Operation::ThreadSpawn,
    ];

    /// The contender's name in the comparison.
    fn label(self) -> &'static str {
        match self {
            Operation::Join => "join, in the pool",
            Operation::FibJoin => "join, fib recursion",
            Operation::PoolSpawn => "pool spawn + oneshot back",
            Operation::ScopedThread => "scoped thread",
            Operation::ThreadSpawn => "thread spawn + join",
        }
    }
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Workers in the pool.
    pub threads: usize,
    /// Median nanoseconds per operation, indexed like [`Operation::ALL`].
    pub nanos: [f64; 5],
    /// The share of all CPUs other processes used during the measurements, if known.
    pub others: Option<f64>,
}

impl Figures {
    fn of(&self, op: Operation) -> f64 {
        self.nanos[op as usize]
    }
}

/// Judges the claim: spawning and joining an OS thread must cost at least [`ORDERS`]
/// joins, and handing a closure to the pool at least [`AMORTISED`] times less than a
/// new thread. One order of magnitude, or a pool that does not amortise, is partly.
pub fn verdict(f: &Figures) -> Verdict {
    let join = f.of(Operation::Join);
    let thread = f.of(Operation::ThreadSpawn);
    let ratio = thread / join;
    let amortised = thread / f.of(Operation::PoolSpawn);
    let fib = f.of(Operation::FibJoin);
    let mut lines = vec![
        format!(
            "one join inside the pool (both sides trivial): {}; spawning and joining an OS \
             thread: {}, {:.0}x as much ({:.1} orders of magnitude)",
            format_nanos(join),
            format_nanos(thread),
            ratio,
            ratio.log10()
        ),
        format!(
            "fib({FIB_N}) by join with no cut-off on {} workers: {} of wall time per join \
             ({} joins/s)",
            f.threads,
            format_nanos(fib),
            format_rate(1e9 / fib)
        ),
        format!(
            "a thread from std::thread::scope: {} ({:.0}x a join)",
            format_nanos(f.of(Operation::ScopedThread)),
            f.of(Operation::ScopedThread) / join
        ),
        format!(
            "handing a closure to the pool and waiting for it (spawn + oneshot back): {}, {} \
             cheaper than a new thread{}",
            format_nanos(f.of(Operation::PoolSpawn)),
            format_ratio(amortised),
            if amortised >= AMORTISED {
                ": the pool amortises the creation cost"
            } else {
                ": not enough to say the pool amortises the creation cost"
            }
        ),
    ];
    let mut outcome = if !(ratio.is_finite() && amortised.is_finite()) {
        Outcome::Inconclusive
    } else if ratio >= ORDERS && amortised >= AMORTISED {
        Outcome::Reproduced
    } else if ratio >= ORDER {
        Outcome::Partly
    } else {
        Outcome::NotReproduced
    };
    match f.others {
        Some(share) if share > BUSY && outcome != Outcome::Reproduced => {
            outcome = Outcome::Inconclusive;
            lines.push(format!(
                "inconclusive: other processes used {:.0}% of the CPUs meanwhile, which \
                 slows hand-offs between threads most; rerun on a quiet machine",
                share * 100.0
            ));
        }
        Some(share) => lines.push(format!(
            "other processes used {:.0}% of the CPUs meanwhile",
            share * 100.0
        )),
        None => {}
    }
    Verdict {
        outcome,
        text: lines.join("\n"),
    }
}

/// `fib(n)` by `join`, no cut-off.
fn fib(n: u32) -> u64 {
    if n < 2 {
        return u64::from(n);
    }
    let (a, b) = weft_pool::join(|| fib(n - 1), || fib(n - 2));
    a + b
}

/// How many joins `fib(n)` makes: one per call with `n ≥ 2`.
fn joins(n: u32) -> u64 {
    let (mut a, mut b) = (0u64, 0u64); // joins(k - 2), joins(k - 1), from k = 2
    for _ in 2..=n {
        (a, b) = (b, a + b + 1);
    }
    if n < 2 { 0 } else { b }
}

/// Calls `batch`, which does `ops` operations, until `budget` is spent (at least once).
fn repeat(budget: Budget, ops: u64, mut batch: impl FnMut()) -> Tally {
    let started = Instant::now();
    let mut done = 0;
    loop {
        batch();
        done += ops;
        let spent = match budget {
            Budget::Duration(d) => started.elapsed() >= d,
            Budget::Ops(n) => done >= n,
        };
        if spent {
            return Tally {
                ops: done,
                elapsed: started.elapsed(),
            };
        }
    }
}

/// Joins per batch in the round-trip contender: enough to make the clock free.
const JOIN_BATCH: u64 = 64;

fn measure(pool: &ThreadPool, budget: Budget, rounds: usize) -> Results {
    let name = format!(
        "fork-join overhead, pool of {} workers",
        pool.current_num_threads()
    );
    Comparison::throughput(name, budget)
        .rounds(rounds)
        .contender(Operation::Join.label(), |budget| {
            pool.install(|| {
                repeat(budget, JOIN_BATCH, || {
                    for _ in 0..JOIN_BATCH {
                        black_box(weft_pool::join(|| black_box(1u64), || black_box(2u64)));
                    }
                })
            })
        })
        .contender(Operation::FibJoin.label(), |budget| {
            pool.install(|| {
                repeat(budget, joins(FIB_N), || {
                    black_box(fib(black_box(FIB_N)));
                })
            })
        })
        .contender(Operation::PoolSpawn.label(), |budget| {
            repeat(budget, 1, || {
                let (sender, receiver) = oneshot();
                pool.spawn(move || {
                    let _ = sender.send(black_box(1u64));
                });
                black_box(receiver.recv().expect("the spawned job sends"));
            })
        })
        .contender(Operation::ScopedThread.label(), |budget| {
            repeat(budget, 1, || {
                std::thread::scope(|s| {
                    s.spawn(|| black_box(1u64));
                });
            })
        })
        .contender(Operation::ThreadSpawn.label(), |budget| {
            repeat(budget, 1, || {
                let thread = std::thread::spawn(|| black_box(1u64));
                black_box(thread.join().expect("a trivial thread does not panic"));
            })
        })
        .run()
}

/// Nanoseconds per operation from a rate.
fn nanos(per_second: f64) -> f64 {
    1e9 / per_second
}

fn figures(threads: usize, results: &Results, others: Option<f64>) -> Figures {
    Figures {
        threads,
        nanos: Operation::ALL.map(|op| nanos(results.median(op.label()))),
        others,
    }
}

impl Experiment for ForkJoinOverhead {
    fn name(&self) -> &'static str {
        "fork-join-overhead"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads N`: a pool of N workers (default one per core).
    fn run(&self, config: &Config) -> Report {
        let threads = config.threads.unwrap_or(config.cores).max(1);
        let pool = ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("weft-lab-fork-join-{i}"))
            .build()
            .expect("a pool of a few threads");
        let load = OtherLoad::start();
        let results = measure(&pool, Budget::Duration(config.sample), config.rounds);
        let figures = figures(threads, &results, load.share(config.cores));
        Report::new(
            table(&figures, &results),
            verdict(&figures),
            vec![results.clone()],
        )
        .with_chart(chart(&results))
    }

    fn estimate(&self, config: &Config) -> Option<Duration> {
        Some(throughput_estimate(config, 1, Operation::ALL.len()) + Duration::from_millis(10))
    }
}

/// Bars of nanoseconds per operation on a log scale, whiskers q1–q3, dots the rounds.
fn chart(results: &Results) -> Chart {
    let points = Operation::ALL
        .iter()
        .enumerate()
        .filter_map(|(group, op)| {
            let c = results.get(op.label())?;
            let s = &c.summary;
            let mut point =
                Point::new(group as f64, nanos(s.median)).spread(nanos(s.q3), nanos(s.q1));
            point.samples = c.samples.iter().map(|s| nanos(s.value)).collect();
            Some(point)
        })
        .collect();
    Chart::bars(
        "Fork-join overhead: one join against handing work to a thread (log scale)",
        Operation::ALL.map(Operation::label),
        "time per operation",
    )
    .unit(Unit::Nanos)
    .scale(Scale::Log)
    .x_label("operation (both sides trivial)")
    .series(Series::new("median of interleaved rounds", points))
}

fn table(f: &Figures, results: &Results) -> Table {
    let mut table = Table::new([
        "operation",
        "time per operation (median)",
        "q1 – q3",
        "as many joins",
    ]);
    let join = f.of(Operation::Join);
    for op in Operation::ALL {
        let Some(c) = results.get(op.label()) else {
            continue;
        };
        let s = &c.summary;
        table.row([
            op.label().to_string(),
            format_nanos(f.of(op)),
            format!(
                "{} – {}",
                format_nanos(nanos(s.q3)),
                format_nanos(nanos(s.q1))
            ),
            format!("{:.1}", f.of(op) / join),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(join: f64, pool_spawn: f64, thread: f64, others: f64) -> Figures {
        Figures {
            threads: 2,
            nanos: [join, join * 1.5, pool_spawn, thread * 0.9, thread],
            others: Some(others),
        }
    }

    #[test]
    fn a_thread_costing_hundreds_of_joins_is_reproduced() {
        let v = verdict(&figures(25.0, 5_000.0, 30_000.0, 0.02));
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        assert!(
            v.text.starts_with(
                "one join inside the pool (both sides trivial): 25.0 ns; spawning and joining \
                 an OS thread: 30.0 µs, 1200x as much (3.1 orders of magnitude)"
            ),
            "{}",
            v.text
        );
        assert!(
            v.text
                .contains("37.5 ns of wall time per join (26.7 M joins/s)")
        );
        assert!(
            v.text
                .contains("6.00x cheaper than a new thread: the pool amortises")
        );
    }

    #[test]
    fn one_order_of_magnitude_or_no_amortising_is_partial() {
        let v = verdict(&figures(1_000.0, 5_000.0, 30_000.0, 0.02));
        assert_eq!(v.outcome, Outcome::Partly, "{}", v.text);
        let v = verdict(&figures(25.0, 28_000.0, 30_000.0, 0.02));
        assert_eq!(v.outcome, Outcome::Partly, "{}", v.text);
        assert!(v.text.contains("not enough to say the pool amortises"));
    }

    #[test]
    fn a_join_near_a_thread_spawn_is_not_reproduced_unless_the_machine_is_busy() {
        let v = verdict(&figures(10_000.0, 5_000.0, 30_000.0, 0.02));
        assert_eq!(v.outcome, Outcome::NotReproduced, "{}", v.text);
        let v = verdict(&figures(10_000.0, 5_000.0, 30_000.0, 0.7));
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.text);
        assert!(v.text.contains("other processes used 70% of the CPUs"));
        // A clear hit stands on a busy machine.
        let v = verdict(&figures(25.0, 5_000.0, 30_000.0, 0.7));
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
    }

    #[test]
    fn fib_counts_its_joins() {
        assert_eq!(joins(0), 0);
        assert_eq!(joins(2), 1);
        assert_eq!(joins(4), 4); // fib(4): calls at n = 4, 3, 2, 2
        assert_eq!(joins(FIB_N), 10_945);
        let pool = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        assert_eq!(pool.install(|| fib(FIB_N)), 6_765);
    }

    #[test]
    fn repeat_spends_an_ops_budget_in_whole_batches() {
        let mut calls = 0;
        let tally = repeat(Budget::Ops(10), 4, || calls += 1);
        assert_eq!((calls, tally.ops), (3, 12));
    }

    #[test]
    fn a_tiny_run_times_every_operation_and_charts_it() {
        let pool = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let results = measure(&pool, Budget::Duration(Duration::from_millis(2)), 2);
        for op in Operation::ALL {
            let c = results.get(op.label()).unwrap();
            assert_eq!(c.samples.len(), 2);
            assert!(
                c.samples.iter().all(|s| s.ops > 0 && s.value > 0.0),
                "{op:?}"
            );
        }
        let f = super::figures(2, &results, None);
        assert!(f.nanos.iter().all(|n| n.is_finite() && *n > 0.0));
        assert!(chart(&results).has_data());
        assert_eq!(table(&f, &results).rows().len(), Operation::ALL.len());
        assert!(
            verdict(&f)
                .text
                .contains("fib(20) by join with no cut-off on 2 workers")
        );
    }
}

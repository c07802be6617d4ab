//! `work-stealing`: one skewed workload split three ways over `p` threads.
//!
//! - **static**: `p` equal contiguous chunks of the items, one per plain `std`
//!   thread, as a hand-rolled `for` over `thread::scope` would do;
//! - **stealing**: recursive halving with [`weft_pool::join`] on a weft-pool of `p`
//!   workers, down to single items: whichever worker runs out of work steals the
//!   oldest half still queued on another's deque;
//! - **counter**: `p` plain threads taking the next item from a shared atomic
//!   counter, one at a time (dynamic self-scheduling, for contrast: it balances as
//!   well as stealing but every item costs a read-modify-write on one shared line).
//!
//! The workload is [`ITEMS`] items whose costs fall geometrically with the index,
//! halving [`HALVINGS`] times from the first item to the last, so the first of `p`
//! equal contiguous chunks holds most of the work (15/16 of it with two chunks). An
//! item is `busy_work` steps (dependent multiply-adds), calibrated once so that the
//! whole workload takes the base time on one thread.
//!
//! A thread's *busy time* is the wall time it spent working: from its start to the end
//! of its chunk (static) or to finding the counter exhausted (counter), and the sum
//! of its items' times (stealing, by [`weft_pool::current_thread_index`]). Load
//! imbalance is the largest busy time over the mean of the `p` threads' (1 is
//! perfect balance; a thread that did nothing counts as 0). Above the core count the
//! busy times also include time a thread was preempted mid-item.
//!
//! Speedup is the fastest one-thread run (the sequential loop, or any strategy at
//! `p = 1`) over the fastest run of a strategy, of interleaved rounds (each round runs
//! the sequential loop, then every strategy at every `p`, in an order that rotates
//! from round to round): other load on the machine only ever adds time to a
//! CPU-bound run, so the fastest is the least disturbed, and taking the best of the
//! one-thread runs keeps a disturbed sequential loop from inflating every speedup.

use crate::experiment::{
    Chart, Claim, Config, Experiment, Outcome, Point, Quote, Report, Series, Unit, Verdict,
};
use crate::probe::proc::OtherLoad;
use serde::Serialize;
use std::hint::black_box;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use weft::sync::CachePadded;
use weft_bench::stats::Summary;
use weft_bench::{Table, busy_work};
use weft_pool::{ThreadPool, ThreadPoolBuilder};

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct WorkStealing;

const CLAIM: Claim = Claim {
    gist: "idle threads stealing from busy ones balance a skewed load that static chunks cannot",
    quotes: &[
        Quote {
            text: "Thread pools amortise creation cost, and work-stealing balances load by \
                   letting idle threads steal from busy threads’ queues.",
            source: "Multitasking, 1.3 Threading and Scheduling",
        },
        Quote {
            text: "Java’s ForkJoinPool and Cilk’s spawn/sync implement this with work-stealing \
                   schedulers, where idle threads steal tasks from the tail of busy threads’ \
                   deques, achieving good load balancing while preserving cache locality.",
            source: "Multitasking, 3.2 Parallel Patterns",
        },
    ],
};

/// Items in the workload.
pub const ITEMS: usize = 1024;
/// How many times an item's cost halves from the first item to the last.
pub const HALVINGS: u32 = 8;
/// Stealing this many times faster than static chunks is a clear win.
pub const CLEAR: f64 = 1.2;
/// Other processes using more than this share of the CPUs make a miss inconclusive.
pub const BUSY: f64 = 0.15;

/// The three ways of splitting the items over threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Equal contiguous chunks on plain threads.
    Static,
    /// Recursive `join` on weft-pool.
    Stealing,
    /// A shared atomic counter handing out one item at a time.
    Counter,
}

impl Strategy {
    /// Every strategy, in table order.
    pub const ALL: [Strategy; 3] = [Strategy::Static, Strategy::Stealing, Strategy::Counter];

    fn label(self) -> &'static str {
        match self {
            Strategy::Static => "static chunks",
            Strategy::Stealing => "weft-pool join (stealing)",
            Strategy::Counter => "shared counter",
        }
    }
}

/// One thread count's figures, each array indexed like [`Strategy::ALL`].
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Threads (or pool workers).
    pub threads: usize,
    /// The fastest run, seconds.
    pub seconds: [f64; 3],
    /// The median over rounds of max/mean busy time per thread.
    pub imbalance: [f64; 3],
    /// The imbalance static chunks would have if time were proportional to cost.
    pub predicted_static: f64,
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Cores available.
    pub cores: usize,
    /// The fastest one-thread run (sequential loop or any strategy at `p = 1`),
    /// seconds.
    pub sequential: f64,
    /// One row per thread count, ascending.
    pub rows: Vec<Row>,
    /// The share of all CPUs other processes used during the measurements, if known.
    pub others: Option<f64>,
}

impl Row {
    fn speedup(&self, sequential: f64, s: Strategy) -> f64 {
        sequential / self.seconds[s as usize]
    }
}

/// Judges the claim: at every thread count above one, stealing must finish the
/// skewed workload at least [`CLEAR`] times sooner than static chunks. Balancing the
/// busy times that well without finishing sooner is partly; on a machine whose other
/// processes took the cores ([`BUSY`]), any miss is inconclusive.
pub fn verdict(f: &Figures) -> Verdict {
    let parallel: Vec<&Row> = f.rows.iter().filter(|r| r.threads > 1).collect();
    if f.cores < 2 || parallel.is_empty() {
        return Verdict {
            outcome: Outcome::Inconclusive,
            text: format!(
                "nothing to balance: the claim needs 2 or more threads on as many cores \
                 ({} core(s), threads up to {})",
                f.cores,
                f.rows.last().map_or(1, |r| r.threads)
            ),
        };
    }
    let mut lines = Vec::new();
    let mut clear = 0;
    let mut ahead = 0;
    for row in &parallel {
        let advantage =
            row.seconds[Strategy::Static as usize] / row.seconds[Strategy::Stealing as usize];
        clear += usize::from(advantage >= CLEAR);
        ahead += usize::from(advantage > 1.0);
        let [st, steal, counter] = Strategy::ALL.map(|s| row.speedup(f.sequential, s));
        let [ist, isteal, icounter] = row.imbalance;
        let against = if advantage >= 1.0 {
            format!("{advantage:.2}x faster")
        } else {
            format!("{:.2}x slower", 1.0 / advantage)
        };
        lines.push(format!(
            "p = {}: stealing {against} than static chunks (speedup {steal:.2}x \
             against {st:.2}x; busy max/mean {isteal:.2} against {ist:.2}, the costs predict \
             {:.2} for static chunks); shared counter {counter:.2}x, busy max/mean {icounter:.2}",
            row.threads, row.predicted_static
        ));
    }
    let n = parallel.len();
    let balanced = parallel
        .iter()
        .filter(|r| {
            r.imbalance[Strategy::Stealing as usize] * CLEAR
                <= r.imbalance[Strategy::Static as usize]
        })
        .count();
    let mut outcome = if clear == n {
        Outcome::Reproduced
    } else if clear > 0 || ahead == n || balanced == n {
        Outcome::Partly
    } else {
        Outcome::NotReproduced
    };
    lines.push(format!(
        "stealing at least {CLEAR}x faster than static chunks at {clear} of {n} thread counts \
         above one (fastest of interleaved rounds); its busy times at least {CLEAR}x better \
         balanced at {balanced} of {n}"
    ));
    match f.others {
        Some(share) if share > BUSY && outcome != Outcome::Reproduced => {
            outcome = Outcome::Inconclusive;
            lines.push(format!(
                "inconclusive: other processes used {:.0}% of the CPUs meanwhile, so the \
                 threads did not get their cores and finishing sooner could not show; \
                 rerun on a quiet machine",
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

/// The items' costs, in `busy_work` steps.
#[derive(Clone, Debug)]
struct Workload {
    steps: Vec<u32>,
}

impl Workload {
    /// `items` items falling geometrically in cost, `total` steps in all (about).
    fn new(items: usize, total: f64) -> Self {
        let last = items.saturating_sub(1).max(1) as f64;
        let weight = |i: usize| (-f64::from(HALVINGS) * i as f64 / last).exp2();
        let sum: f64 = (0..items).map(weight).sum();
        let steps = (0..items)
            .map(|i| {
                (total * weight(i) / sum)
                    .round()
                    .clamp(1.0, f64::from(u32::MAX)) as u32
            })
            .collect();
        Self { steps }
    }

    fn len(&self) -> usize {
        self.steps.len()
    }

    #[inline]
    fn item(&self, i: usize) -> u64 {
        busy_work(i as u64, self.steps[i])
    }

    /// Max over mean of the chunks' costs when split into `p` contiguous chunks.
    fn static_imbalance(&self, p: usize) -> f64 {
        let costs: Vec<f64> = (0..p)
            .map(|t| {
                chunk(self.len(), p, t)
                    .map(|i| f64::from(self.steps[i]))
                    .sum()
            })
            .collect();
        imbalance(&costs)
    }
}

/// Thread `t`'s contiguous chunk of `n` items split `p` ways (the first `n % p`
/// chunks one item longer).
fn chunk(n: usize, p: usize, t: usize) -> Range<usize> {
    let (size, extra) = (n / p, n % p);
    let start = t * size + t.min(extra);
    start..start + size + usize::from(t < extra)
}

/// Max over mean; 1 for no work at all.
fn imbalance(busy: &[f64]) -> f64 {
    let mean = busy.iter().sum::<f64>() / busy.len().max(1) as f64;
    let max = busy.iter().copied().fold(0.0, f64::max);
    if mean > 0.0 { max / mean } else { 1.0 }
}

/// One run of a strategy.
#[derive(Clone, Debug, Serialize)]
struct Run {
    seconds: f64,
    /// Each thread's busy time, seconds.
    busy: Vec<f64>,
    /// The wrapping sum of every item's result: equal for every strategy exactly when
    /// each ran every item once.
    #[serde(skip)]
    checksum: u64,
}

fn sequential(w: &Workload) -> Run {
    let started = Instant::now();
    let checksum = (0..w.len()).fold(0u64, |sum, i| sum.wrapping_add(w.item(i)));
    let seconds = started.elapsed().as_secs_f64();
    Run {
        seconds,
        busy: vec![seconds],
        checksum: black_box(checksum),
    }
}

fn run_static(w: &Workload, p: usize) -> Run {
    let started = Instant::now();
    let done: Vec<(f64, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..p)
            .map(|t| {
                let range = chunk(w.len(), p, t);
                s.spawn(move || {
                    let started = Instant::now();
                    let sum = range.fold(0u64, |sum, i| sum.wrapping_add(w.item(i)));
                    (started.elapsed().as_secs_f64(), sum)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("busy work does not panic"))
            .collect()
    });
    finish(started, done)
}

fn run_counter(w: &Workload, p: usize) -> Run {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let done: Vec<(f64, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..p)
            .map(|_| {
                let next = &next;
                s.spawn(move || {
                    let started = Instant::now();
                    let mut sum = 0u64;
                    loop {
                        // Relaxed: the counter only hands out indices; the items share
                        // no data, and the scope's join publishes the results.
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= w.len() {
                            break;
                        }
                        sum = sum.wrapping_add(w.item(i));
                    }
                    (started.elapsed().as_secs_f64(), sum)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("busy work does not panic"))
            .collect()
    });
    finish(started, done)
}

fn finish(started: Instant, done: Vec<(f64, u64)>) -> Run {
    let seconds = started.elapsed().as_secs_f64();
    Run {
        seconds,
        checksum: done.iter().fold(0, |sum, &(_, s)| sum.wrapping_add(s)),
        busy: done.into_iter().map(|(busy, _)| busy).collect(),
    }
}

/// Each worker's busy nanoseconds, on lines of their own.
struct Busy(Vec<CachePadded<AtomicU64>>);

fn run_stealing(w: &Workload, pool: &ThreadPool, busy: &Busy) -> Run {
    for slot in &busy.0 {
        slot.store(0, Ordering::Relaxed);
    }
    let started = Instant::now();
    let checksum = pool.install(|| split(w, 0..w.len(), busy));
    let seconds = started.elapsed().as_secs_f64();
    Run {
        seconds,
        // Relaxed: `install` returned, so every job's writes happened before.
        busy: busy
            .0
            .iter()
            .map(|slot| slot.load(Ordering::Relaxed) as f64 * 1e-9)
            .collect(),
        checksum,
    }
}

fn split(w: &Workload, range: Range<usize>, busy: &Busy) -> u64 {
    if range.len() <= 1 {
        let started = Instant::now();
        let sum = range.fold(0u64, |sum, i| sum.wrapping_add(w.item(i)));
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let worker = weft_pool::current_thread_index().unwrap_or(0);
        // Relaxed: each worker adds to its own slot; `install` publishes them.
        busy.0[worker.min(busy.0.len() - 1)].fetch_add(nanos, Ordering::Relaxed);
        return sum;
    }
    let mid = range.start + range.len() / 2;
    let (a, b) = weft_pool::join(
        || split(w, range.start..mid, busy),
        || split(w, mid..range.end, busy),
    );
    a.wrapping_add(b)
}

/// Every run of the experiment, for `--json`.
#[derive(Clone, Debug, Serialize)]
struct Measurements {
    threads: Vec<usize>,
    steps_per_item: Vec<u32>,
    sequential: Vec<Run>,
    /// `runs[thread index][strategy index]`: one run per round.
    runs: Vec<[Vec<Run>; 3]>,
    other_processes_cpu_share: Option<f64>,
}

/// Runs `rounds` interleaved rounds of the sequential loop and of every strategy at
/// every thread count, on a workload of `steps` busy-work steps in all.
///
/// # Panics
///
/// If a strategy did not run every item exactly once (its checksum differs), or a
/// pool cannot be built.
fn measure(
    cores: usize,
    threads: &[usize],
    items: usize,
    steps: f64,
    rounds: usize,
) -> (Figures, Measurements) {
    let w = Workload::new(items, steps);
    let pools: Vec<(ThreadPool, Busy)> = threads
        .iter()
        .map(|&p| {
            let pool = ThreadPoolBuilder::new()
                .num_threads(p)
                .thread_name(|i| format!("weft-lab-steal-{i}"))
                .build()
                .expect("a pool of a few threads");
            let busy = Busy(
                (0..p)
                    .map(|_| CachePadded::new(AtomicU64::new(0)))
                    .collect(),
            );
            (pool, busy)
        })
        .collect();
    let load = OtherLoad::start();
    let mut seq = Vec::new();
    let mut runs: Vec<[Vec<Run>; 3]> = threads.iter().map(|_| Default::default()).collect();
    for round in 0..rounds.max(1) {
        seq.push(sequential(&w));
        let expected = seq[0].checksum;
        for (j, &p) in threads.iter().enumerate() {
            for k in 0..Strategy::ALL.len() {
                let s = Strategy::ALL[(round + k) % Strategy::ALL.len()];
                let run = match s {
                    Strategy::Static => run_static(&w, p),
                    Strategy::Stealing => run_stealing(&w, &pools[j].0, &pools[j].1),
                    Strategy::Counter => run_counter(&w, p),
                };
                assert_eq!(
                    run.checksum, expected,
                    "{s:?} at {p} threads lost or repeated items"
                );
                runs[j][s as usize].push(run);
            }
        }
    }
    let others = load.share(cores);
    let fastest = |runs: &[Run]| {
        let seconds: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
        Summary::of(&seconds).map_or(f64::NAN, |s| s.min)
    };
    let rows: Vec<Row> = threads
        .iter()
        .zip(&runs)
        .map(|(&p, per)| Row {
            threads: p,
            seconds: Strategy::ALL.map(|s| fastest(&per[s as usize])),
            imbalance: Strategy::ALL.map(|s| {
                let values: Vec<f64> = per[s as usize].iter().map(|r| imbalance(&r.busy)).collect();
                Summary::of(&values).map_or(f64::NAN, |s| s.median)
            }),
            predicted_static: w.static_imbalance(p),
        })
        .collect();
    let one_thread = rows
        .iter()
        .filter(|r: &&Row| r.threads == 1)
        .flat_map(|r| r.seconds)
        .fold(fastest(&seq), f64::min);
    let figures = Figures {
        cores,
        sequential: one_thread,
        rows,
        others,
    };
    let measurements = Measurements {
        threads: threads.to_vec(),
        steps_per_item: w.steps,
        sequential: seq,
        runs,
        other_processes_cpu_share: others,
    };
    (figures, measurements)
}

/// Busy-work steps per second on one thread: the fastest of several timed runs of a
/// millisecond or so, since a run the scheduler preempted (the machine may be busy)
/// only ever looks slower.
fn calibrate() -> f64 {
    let time = |steps: u32| {
        let started = Instant::now();
        black_box(busy_work(1, steps));
        started.elapsed()
    };
    let mut steps = 1u32 << 12;
    while time(steps) < Duration::from_millis(1) && steps < 1 << 28 {
        steps *= 2;
    }
    let fastest = (0..5).map(|_| time(steps)).min().unwrap_or(Duration::ZERO);
    f64::from(steps) / fastest.as_secs_f64().max(1e-9)
}

/// How long the sequential loop over the workload takes.
fn base_time(config: &Config) -> Duration {
    if config.quick {
        Duration::from_millis(30)
    } else {
        // Half a sample: about 3 s for the default tour on a quiet 2-core machine.
        (config.sample / 2).clamp(Duration::from_millis(10), Duration::from_millis(500))
    }
}

/// `1, 2, cores, 2 × cores`, up to `--threads`.
fn thread_counts(config: &Config) -> Vec<usize> {
    let max = config.threads.unwrap_or(2 * config.cores).max(1);
    let mut counts: Vec<usize> = [1, 2, config.cores, 2 * config.cores, max]
        .into_iter()
        .filter(|&p| p <= max)
        .collect();
    counts.sort_unstable();
    counts.dedup();
    counts
}

impl Experiment for WorkStealing {
    fn name(&self) -> &'static str {
        "work-stealing"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads N`: thread counts 1, 2, cores and twice the cores, up to N (default
    /// twice the cores).
    fn run(&self, config: &Config) -> Report {
        let steps = calibrate() * base_time(config).as_secs_f64();
        let (figures, measurements) = measure(
            config.cores,
            &thread_counts(config),
            ITEMS,
            steps,
            config.rounds,
        );
        let [speedups, balance] = charts(&figures);
        Report::new(table(&figures), verdict(&figures), Vec::new())
            .with_chart(speedups)
            .with_chart(balance)
            .with_raw(measurements)
    }

    fn estimate(&self, config: &Config) -> Option<Duration> {
        let w = Workload::new(ITEMS, 1.0);
        let mut bases = 1.0;
        for p in thread_counts(config) {
            let parallel = 1.0 / p.min(config.cores) as f64;
            let heaviest = w.static_imbalance(p) / p as f64;
            bases += heaviest.max(parallel) + 2.0 * parallel;
        }
        Some(
            base_time(config).mul_f64(bases * config.rounds.max(1) as f64)
                + Duration::from_millis(20),
        )
    }
}

/// Speedup against threads per strategy, with the ideal `min(p, cores)` dashed; and
/// the busy-time imbalance per strategy and thread count.
fn charts(f: &Figures) -> [Chart; 2] {
    let mut speedups = Chart::line(
        format!(
            "Skewed workload ({ITEMS} items, cost halving {HALVINGS} times): speedup over one \
             thread"
        ),
        "threads",
        "speedup over the fastest one-thread run",
    )
    .unit(Unit::Ratio)
    .marker(f.cores as f64, format!("{} cores", f.cores));
    for (index, s) in Strategy::ALL.into_iter().enumerate() {
        let points = f
            .rows
            .iter()
            .map(|r| Point::new(r.threads as f64, r.speedup(f.sequential, s)))
            .collect();
        speedups = speedups.series(Series::new(s.label(), points).color(index));
    }
    let ideal = f
        .rows
        .iter()
        .map(|r| Point::new(r.threads as f64, r.threads.min(f.cores) as f64))
        .collect();
    speedups = speedups.series(
        Series::new("ideal: min(p, cores)", ideal)
            .color(Strategy::ALL.len())
            .dashed(),
    );
    let mut balance = Chart::bars(
        "Load imbalance: the busiest thread's busy time over the mean (1 is perfect)",
        f.rows.iter().map(|r| match r.threads {
            1 => "1 thread".to_string(),
            p => format!("{p} threads"),
        }),
        "busy time, max / mean",
    )
    .unit(Unit::Ratio)
    .x_label("threads");
    for s in Strategy::ALL {
        let points = f
            .rows
            .iter()
            .enumerate()
            .map(|(group, r)| Point::new(group as f64, r.imbalance[s as usize]))
            .collect();
        balance = balance.series(Series::new(s.label(), points));
    }
    [speedups, balance]
}

fn table(f: &Figures) -> Table {
    let mut table = Table::new([
        "threads",
        "static ms",
        "stealing ms",
        "counter ms",
        "speedup static / stealing / counter",
        "busy max/mean static / stealing / counter",
        "stealing vs static",
    ]);
    for r in &f.rows {
        let [st, steal, counter] = r.seconds.map(|s| format!("{:.1}", s * 1e3));
        let [s1, s2, s3] = Strategy::ALL.map(|s| r.speedup(f.sequential, s));
        let [i1, i2, i3] = r.imbalance;
        table.row([
            r.threads.to_string(),
            st,
            steal,
            counter,
            format!("{s1:.2}x / {s2:.2}x / {s3:.2}x"),
            format!("{i1:.2} / {i2:.2} / {i3:.2}"),
            format!(
                "{:.2}x",
                r.seconds[Strategy::Static as usize] / r.seconds[Strategy::Stealing as usize]
            ),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Figures where static chunks take `static_share` of the sequential time and the
    /// other strategies split it perfectly over `min(p, cores)`.
    fn figures(cores: usize, threads: &[usize], static_share: f64) -> Figures {
        let rows = threads
            .iter()
            .map(|&p| {
                let balanced = 1.0 / p.min(cores) as f64;
                let st = if p == 1 { 1.0 } else { static_share };
                Row {
                    threads: p,
                    seconds: [st, balanced, balanced * 1.05],
                    imbalance: [if p == 1 { 1.0 } else { 1.8 }, 1.02, 1.03],
                    predicted_static: if p == 1 { 1.0 } else { 1.875 },
                }
            })
            .collect();
        Figures {
            cores,
            sequential: 1.0,
            rows,
            others: Some(0.01),
        }
    }

    #[test]
    fn stealing_well_ahead_at_every_count_is_reproduced() {
        let v = verdict(&figures(2, &[1, 2, 4], 0.94));
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        assert!(
            v.text.starts_with(
                "p = 2: stealing 1.88x faster than static chunks (speedup 2.00x against 1.06x; \
                 busy max/mean 1.02 against 1.80, the costs predict 1.88 for static chunks); \
                 shared counter 1.90x, busy max/mean 1.03"
            ),
            "{}",
            v.text
        );
        assert!(v.text.contains("at 2 of 2 thread counts above one"));
        assert!(v.text.contains("better balanced at 2 of 2"));
        assert!(v.text.contains("other processes used 1% of the CPUs"));
    }

    #[test]
    fn a_small_lead_or_balance_alone_is_partial_and_neither_is_not_reproduced() {
        // Static at 0.55 of the sequential time against stealing's 0.5: 1.1x.
        let v = verdict(&figures(2, &[1, 2], 0.55));
        assert_eq!(v.outcome, Outcome::Partly, "{}", v.text);
        // Balanced but slower: partly; neither balanced nor faster: not reproduced.
        let v = verdict(&figures(2, &[1, 2], 0.45));
        assert_eq!(v.outcome, Outcome::Partly, "{}", v.text);
        assert!(
            v.text
                .starts_with("p = 2: stealing 1.11x slower than static chunks")
        );
        assert!(v.text.contains("at 0 of 1 thread counts"));
        let mut f = figures(2, &[1, 2], 0.45);
        f.rows[1].imbalance = [1.1, 1.05, 1.05];
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::NotReproduced, "{}", v.text);
        assert!(v.text.contains("better balanced at 0 of 1"));
    }

    #[test]
    fn a_miss_on_a_busy_machine_is_inconclusive_but_a_hit_stands() {
        let mut miss = figures(2, &[1, 2], 0.45);
        miss.others = Some(0.5);
        let v = verdict(&miss);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.text.contains("other processes used 50% of the CPUs"));
        let mut hit = figures(2, &[1, 2], 0.9);
        hit.others = Some(0.5);
        assert_eq!(verdict(&hit).outcome, Outcome::Reproduced);
    }

    #[test]
    fn one_thread_or_one_core_cannot_test_the_claim() {
        assert_eq!(
            verdict(&figures(2, &[1], 1.0)).outcome,
            Outcome::Inconclusive
        );
        let v = verdict(&figures(1, &[1, 2], 0.9));
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.text.contains("nothing to balance"));
    }

    #[test]
    fn the_workload_is_skewed_toward_the_first_chunk() {
        let w = Workload::new(ITEMS, 1e7);
        let total: f64 = w.steps.iter().map(|&s| f64::from(s)).sum();
        assert!((total / 1e7 - 1.0).abs() < 0.01, "{total}");
        let ratio = f64::from(w.steps[0]) / f64::from(w.steps[ITEMS - 1]);
        assert!(
            (ratio / f64::from(1 << HALVINGS) - 1.0).abs() < 0.01,
            "{ratio}"
        );
        // Two chunks: the first holds 15/16 of the work, so max/mean is 2 × 15/16.
        assert!((w.static_imbalance(2) - 1.875).abs() < 0.01);
        assert_eq!(w.static_imbalance(1), 1.0);
    }

    #[test]
    fn chunks_cover_every_item_once() {
        for (n, p) in [(10, 3), (1024, 4), (2, 5)] {
            let covered: Vec<usize> = (0..p).flat_map(|t| chunk(n, p, t)).collect();
            assert_eq!(covered, (0..n).collect::<Vec<_>>(), "n = {n}, p = {p}");
        }
        assert_eq!(imbalance(&[3.0, 1.0]), 1.5);
        assert_eq!(imbalance(&[0.0, 0.0]), 1.0);
    }

    #[test]
    fn a_tiny_run_runs_every_item_once_per_strategy_and_charts_it() {
        // `measure` asserts every strategy's checksum equals the sequential loop's.
        let (f, m) = measure(2, &[1, 2, 3], 64, 64.0 * 200.0, 2);
        assert_eq!(f.rows.len(), 3);
        for r in &f.rows {
            assert!(r.seconds.iter().all(|s| s.is_finite() && *s > 0.0));
            assert!(r.imbalance.iter().all(|i| *i >= 1.0), "{r:?}");
        }
        assert_eq!(m.runs[2][Strategy::Stealing as usize][0].busy.len(), 3);
        assert_eq!(m.sequential.len(), 2);
        for chart in charts(&f) {
            assert!(chart.has_data());
        }
        assert_eq!(table(&f).rows().len(), 3);
        assert!(calibrate() > 0.0);
    }

    #[test]
    fn thread_counts_are_one_two_cores_and_twice_the_cores() {
        let mut config = Config::new(true);
        config.cores = 4;
        assert_eq!(thread_counts(&config), [1, 2, 4, 8]);
        config.threads = Some(3);
        assert_eq!(thread_counts(&config), [1, 2, 3]);
        config.cores = 1;
        config.threads = None;
        assert_eq!(thread_counts(&config), [1, 2]);
    }
}

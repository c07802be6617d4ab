//! `memory-ordering`: the store-buffering litmus test, run millions of times.
//!
//! ```text
//! x = y = 0
//! thread 1: x = 1; r1 = y        thread 2: y = 1; r2 = x
//! ```
//!
//! Under sequential consistency one of the stores comes first in a global order, so
//! at least one load sees a 1: `r1 = r2 = 0` is impossible. x86-TSO lets each core's
//! store wait in its store buffer while its later load reads memory, so both loads can
//! read 0; ARM allows it too. Three variants:
//!
//! - `Relaxed`: relaxed store then relaxed load (the compiler may also swap them);
//! - `Release/Acquire`: release store, acquire load; still allowed, since
//!   release/acquire orders a store before *later* stores, not before later loads;
//! - `SeqCst fence`: relaxed store, `fence(SeqCst)` (an `mfence` on x86), relaxed load:
//!   the fence forbids the outcome, so it must never appear.
//!
//! # The race window
//!
//! The two threads meet at a spin barrier before every iteration (one `fetch_add` and
//! a spin on one cache line), so their stores and loads land within a few hundred
//! nanoseconds of each other; without it one thread would run far ahead and the
//! interesting interleavings would be rare. No reset is needed between iterations:
//! iteration `i` stores `i + 1`, and a load "sees the other store" if it reads at
//! least `i + 1` (the barrier has already made iteration `i − 1`'s stores visible).

use crate::experiment::{
    Chart, Claim, Config, Experiment, Outcome, Point, Quote, Report, Scale, Series, Unit, Verdict,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use std::time::{Duration, Instant};
use weft::sync::CachePadded;
use weft_bench::Table;
use weft_bench::format::format_rate;

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct MemoryOrdering;

const CLAIM: Claim = Claim {
    gist: "x86-TSO lets both loads miss both stores (r1 = r2 = 0); a SeqCst fence forbids it",
    quotes: &[
        Quote {
            text: "Sequential consistency ensures a global order, but most hardware provides \
                   relaxed consistency (e.g. x86-TSO, ARM weak ordering) that allows \
                   reordering for performance.",
            source: "Multitasking, 1.2 Synchronisation and Memory Ordering",
        },
        Quote {
            text: "Happens-before relationships and memory barriers (fences) provide the \
                   primitives for reasoning about ordering.",
            source: "Multitasking, 1.2 Synchronisation and Memory Ordering",
        },
    ],
};

/// How the store and the load of each thread are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Relaxed store, relaxed load.
    Relaxed,
    /// Release store, acquire load.
    ReleaseAcquire,
    /// Relaxed store, `fence(SeqCst)`, relaxed load.
    SeqCstFence,
}

impl Variant {
    const ALL: [Variant; 3] = [
        Variant::Relaxed,
        Variant::ReleaseAcquire,
        Variant::SeqCstFence,
    ];

    /// A short label for tables and charts.
    pub fn label(self) -> &'static str {
        match self {
            Variant::Relaxed => "Relaxed",
            Variant::ReleaseAcquire => "Release/Acquire",
            Variant::SeqCstFence => "SeqCst fence",
        }
    }

    /// Whether the memory model forbids `r1 = r2 = 0` under this variant.
    pub fn forbids_both_zero(self) -> bool {
        self == Variant::SeqCstFence
    }

    /// One thread's half of the test: store `value` to `mine`, read `theirs`.
    #[inline(always)]
    fn store_then_load(self, mine: &AtomicU64, theirs: &AtomicU64, value: u64) -> u64 {
        match self {
            Variant::Relaxed => {
                mine.store(value, Ordering::Relaxed);
                theirs.load(Ordering::Relaxed)
            }
            Variant::ReleaseAcquire => {
                mine.store(value, Ordering::Release);
                theirs.load(Ordering::Acquire)
            }
            Variant::SeqCstFence => {
                mine.store(value, Ordering::Relaxed);
                // The store-load fence: this is the whole point of the variant.
                fence(Ordering::SeqCst);
                theirs.load(Ordering::Relaxed)
            }
        }
    }
}

/// How often each outcome appeared for one variant. `both_zero` is `r1 = r2 = 0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// `r1 = 0, r2 = 0`: both loads missed both stores.
    pub both_zero: u64,
    /// `r1 = 0, r2 = 1`: thread 1 ran first.
    pub zero_one: u64,
    /// `r1 = 1, r2 = 0`: thread 2 ran first.
    pub one_zero: u64,
    /// `r1 = 1, r2 = 1`: the stores overlapped.
    pub both_one: u64,
}

impl Counts {
    /// Every iteration counted.
    pub fn total(&self) -> u64 {
        self.both_zero + self.zero_one + self.one_zero + self.both_one
    }

    fn add(&mut self, r1: bool, r2: bool) {
        match (r1, r2) {
            (false, false) => self.both_zero += 1,
            (false, true) => self.zero_one += 1,
            (true, false) => self.one_zero += 1,
            (true, true) => self.both_one += 1,
        }
    }

    fn as_array(&self) -> [u64; 4] {
        [self.both_zero, self.zero_one, self.one_zero, self.both_one]
    }
}

/// One variant's run.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The variant.
    pub variant: Variant,
    /// The outcomes.
    pub counts: Counts,
    /// Iterations per second (both threads together count one).
    pub rate: f64,
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Cores available: with one, the threads never run at the same instant.
    pub cores: usize,
    /// The CPU architecture (`x86_64`, `aarch64`, ...).
    pub arch: &'static str,
    /// One row per variant.
    pub rows: Vec<Row>,
}

/// Judges the claim: `r1 = r2 = 0` must appear where the model allows it (at least
/// under `Relaxed`), and never where a fence forbids it.
pub fn verdict(f: &Figures) -> Verdict {
    let mut lines = Vec::new();
    let forbidden_seen: Vec<&Row> = f
        .rows
        .iter()
        .filter(|r| r.variant.forbids_both_zero() && r.counts.both_zero > 0)
        .collect();
    let fenced: u64 = f
        .rows
        .iter()
        .filter(|r| r.variant.forbids_both_zero())
        .map(|r| r.counts.total())
        .sum();
    let relaxed = f.rows.iter().find(|r| r.variant == Variant::Relaxed);
    for row in &f.rows {
        let c = row.counts;
        lines.push(format!(
            "{}: r1 = r2 = 0 in {} of {} iterations ({})",
            row.variant.label(),
            c.both_zero,
            c.total(),
            per_million(c.both_zero, c.total())
        ));
    }
    if !forbidden_seen.is_empty() {
        lines.push(format!(
            "not reproduced: the forbidden outcome appeared under {}: the fence did not \
             order the store before the load",
            forbidden_seen
                .iter()
                .map(|r| r.variant.label())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Verdict {
            outcome: Outcome::NotReproduced,
            text: lines.join("\n"),
        };
    }
    let Some(relaxed) = relaxed.filter(|r| r.counts.total() > 0) else {
        return Verdict {
            outcome: Outcome::Inconclusive,
            text: "the Relaxed variant did not run".into(),
        };
    };
    if relaxed.counts.both_zero > 0 {
        lines.push(format!(
            "reproduced on {}: without a fence each store waited in its core's store \
             buffer while the load ran; with the SeqCst fence, 0 in {fenced} iterations",
            f.arch
        ));
        Verdict {
            outcome: Outcome::Reproduced,
            text: lines.join("\n"),
        }
    } else if f.cores < 2 || relaxed.counts.both_one == 0 {
        lines.push(if f.cores < 2 {
            "with one core the two threads never run at the same instant, so no store \
             can wait in a buffer while the other thread loads: run on two cores or more"
                .into()
        } else {
            format!(
                "inconclusive: r1 = r2 = 1 never appeared either, so the two threads never \
                 overlapped ({} iterations/s): other processes held the cores; rerun on a \
                 quiet machine",
                format_rate(relaxed.rate)
            )
        });
        Verdict {
            outcome: Outcome::Inconclusive,
            text: lines.join("\n"),
        }
    } else {
        lines.push(format!(
            "partly: the fence held (0 in {fenced}), but the reordering the model allows \
             never showed under Relaxed on this {} machine",
            f.arch
        ));
        Verdict {
            outcome: Outcome::Partly,
            text: lines.join("\n"),
        }
    }
}

fn per_million(count: u64, total: u64) -> String {
    if total == 0 {
        return "-".into();
    }
    format!("{:.0} per million", count as f64 * 1e6 / total as f64)
}

/// The shared state of one run: the two variables and the barrier's counter, each on
/// its own line so only the test itself shares lines.
#[derive(Default)]
struct Shared {
    x: CachePadded<AtomicU64>,
    y: CachePadded<AtomicU64>,
    arrived: CachePadded<AtomicU64>,
}

impl Shared {
    /// The spin barrier before iteration `i`: returns once both threads arrived.
    #[inline(always)]
    fn meet(&self, i: u64) {
        // AcqRel: publishes this thread's previous iteration (its store of `i`) and,
        // with the Acquire load below, sees the other's, so a load at iteration `i`
        // reads at least `i`.
        self.arrived.fetch_add(1, Ordering::AcqRel);
        let target = 2 * (i + 1);
        let mut spins = 0u32;
        while self.arrived.load(Ordering::Acquire) < target {
            spins += 1;
            if spins < 1 << 12 {
                std::hint::spin_loop();
            } else {
                // The other thread is not running (one core, or preempted).
                std::thread::yield_now();
            }
        }
    }
}

/// How often thread 1 looks at the clock, in iterations.
const CHECK_EVERY: u64 = 1024;

/// Runs `iterations` of the test under `variant` (fewer if `budget` runs out first:
/// on a machine where other processes hold the cores, every iteration can cost a
/// context switch) and counts the outcomes.
fn run_variant(variant: Variant, iterations: u64, budget: Duration) -> Row {
    let shared = Shared::default();
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let ((seen1, done), (seen2, _)) = std::thread::scope(|s| {
        let half = |first: bool| {
            let (shared, stop) = (&shared, &stop);
            move || {
                let (own, other) = if first {
                    (&shared.x, &shared.y)
                } else {
                    (&shared.y, &shared.x)
                };
                // One bit per iteration: whether this thread's load saw the other store.
                let mut seen: Vec<u64> = Vec::new();
                let mut done = iterations;
                for i in 0..iterations {
                    let check = i.is_multiple_of(CHECK_EVERY) && i > 0;
                    if check && first {
                        // Relaxed: the barrier's AcqRel publishes it to the other thread,
                        // which reads it after the same barrier: both stop at `i`.
                        stop.store(started.elapsed() > budget, Ordering::Relaxed);
                    }
                    shared.meet(i);
                    if check && stop.load(Ordering::Relaxed) {
                        done = i;
                        break;
                    }
                    let read = variant.store_then_load(own, other, i + 1);
                    if i.is_multiple_of(64) {
                        seen.push(0);
                    }
                    *seen.last_mut().expect("pushed") |= u64::from(read > i) << (i % 64);
                }
                (seen, done)
            }
        };
        let t1 = s.spawn(half(true));
        let t2 = s.spawn(half(false));
        (t1.join().expect("thread 1"), t2.join().expect("thread 2"))
    });
    let elapsed = started.elapsed();
    let iterations = done;
    let mut counts = Counts::default();
    for i in 0..iterations {
        let bit = |words: &[u64]| words[(i / 64) as usize] >> (i % 64) & 1 == 1;
        counts.add(bit(&seen1), bit(&seen2));
    }
    Row {
        variant,
        counts,
        rate: iterations as f64 / elapsed.as_secs_f64().max(1e-9),
    }
}

/// Iterations per variant: a few million by default.
fn iterations(config: &Config) -> u64 {
    if config.quick { 200_000 } else { 2_000_000 }
}

/// The most time a variant may take, whatever its iterations.
fn budget(config: &Config) -> Duration {
    Duration::from_millis(if config.quick { 300 } else { 1_500 })
}

impl Experiment for MemoryOrdering {
    fn name(&self) -> &'static str {
        "memory-ordering"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads` is not used: the litmus test has two threads.
    fn run(&self, config: &Config) -> Report {
        let n = iterations(config);
        let rows: Vec<Row> = Variant::ALL
            .iter()
            .map(|&v| run_variant(v, n, budget(config)))
            .collect();
        let figures = Figures {
            cores: config.cores,
            arch: std::env::consts::ARCH,
            rows,
        };
        let raw: Vec<serde_json::Value> = figures
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "ordering": r.variant.label(),
                    "r1=0 r2=0": r.counts.both_zero,
                    "r1=0 r2=1": r.counts.zero_one,
                    "r1=1 r2=0": r.counts.one_zero,
                    "r1=1 r2=1": r.counts.both_one,
                    "iterations_per_second": r.rate,
                })
            })
            .collect();
        let report = Report::new(table(&figures), verdict(&figures), Vec::new()).with_raw(raw);
        let [outcomes, forbidden] = charts(&figures);
        report.with_chart(forbidden).with_chart(outcomes)
    }

    fn estimate(&self, config: &Config) -> Option<Duration> {
        // About 150 ns per iteration on two quiet cores, for three variants.
        Some(Duration::from_nanos(iterations(config) * 3 * 150).min(budget(config) * 3))
    }
}

const OUTCOMES: [&str; 4] = ["r1=0 r2=0", "r1=0 r2=1", "r1=1 r2=0", "r1=1 r2=1"];

/// The share of each outcome per variant, and `r1 = r2 = 0` per million alone.
fn charts(f: &Figures) -> [Chart; 2] {
    let mut outcomes = Chart::bars(
        "Store buffering: how often each outcome appeared",
        OUTCOMES,
        "share of iterations, %",
    )
    .x_label("outcome (r1 = what thread 1 read of y, r2 = thread 2 of x)")
    .unit(Unit::Count)
    .scale(Scale::Linear);
    for row in &f.rows {
        let total = row.counts.total().max(1) as f64;
        let points = row
            .counts
            .as_array()
            .iter()
            .enumerate()
            .map(|(i, &c)| Point::new(i as f64, c as f64 * 100.0 / total))
            .collect();
        outcomes = outcomes.series(Series::new(row.variant.label(), points));
    }
    let forbidden = Chart::bars(
        "r1 = r2 = 0: allowed by x86-TSO, forbidden by a SeqCst fence",
        f.rows.iter().map(|r| r.variant.label()),
        "r1 = r2 = 0 per million iterations",
    )
    .x_label("ordering of each thread's store and load")
    .unit(Unit::Count)
    .scale(Scale::Linear)
    .series(Series::new(
        "r1 = r2 = 0 per million iterations",
        f.rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let total = r.counts.total().max(1) as f64;
                Point::new(i as f64, r.counts.both_zero as f64 * 1e6 / total)
            })
            .collect(),
    ));
    [outcomes, forbidden]
}

fn table(f: &Figures) -> Table {
    let mut header = vec!["ordering".to_string()];
    header.extend(OUTCOMES.iter().map(|o| o.to_string()));
    header.extend([
        "r1=r2=0 per million".to_string(),
        "iterations/s".to_string(),
    ]);
    let mut table = Table::new(header);
    for row in &f.rows {
        let mut cells = vec![row.variant.label().to_string()];
        cells.extend(row.counts.as_array().iter().map(|c| c.to_string()));
        cells.push(per_million(row.counts.both_zero, row.counts.total()));
        cells.push(format_rate(row.rate));
        table.row(cells);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(variant: Variant, both_zero: u64) -> Row {
        Row {
            variant,
            counts: Counts {
                both_zero,
                zero_one: 400_000,
                one_zero: 400_000,
                both_one: 200_000 - both_zero,
            },
            rate: 5e6,
        }
    }

    fn figures(relaxed: u64, acqrel: u64, fenced: u64) -> Figures {
        Figures {
            cores: 2,
            arch: "x86_64",
            rows: vec![
                row(Variant::Relaxed, relaxed),
                row(Variant::ReleaseAcquire, acqrel),
                row(Variant::SeqCstFence, fenced),
            ],
        }
    }

    #[test]
    fn both_zero_without_a_fence_and_never_with_one_is_reproduced() {
        let v = verdict(&figures(1_234, 987, 0));
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        assert!(
            v.text.starts_with(
                "Relaxed: r1 = r2 = 0 in 1234 of 1000000 iterations (1234 per million)"
            )
        );
        assert!(
            v.text
                .contains("with the SeqCst fence, 0 in 1000000 iterations")
        );
    }

    #[test]
    fn the_forbidden_outcome_under_a_fence_is_not_reproduced() {
        let v = verdict(&figures(1_234, 987, 1));
        assert_eq!(v.outcome, Outcome::NotReproduced);
        assert!(v.text.contains("appeared under SeqCst fence"));
    }

    #[test]
    fn no_reordering_seen_is_partial_on_two_cores_and_inconclusive_on_one() {
        let v = verdict(&figures(0, 0, 0));
        assert_eq!(v.outcome, Outcome::Partly);
        assert!(v.text.contains("never showed under Relaxed"));
        let mut one_core = figures(0, 0, 0);
        one_core.cores = 1;
        assert_eq!(verdict(&one_core).outcome, Outcome::Inconclusive);
    }

    #[test]
    fn threads_that_never_overlapped_are_inconclusive() {
        let mut f = figures(0, 0, 0);
        f.rows[0].counts.both_one = 0;
        f.rows[0].counts.zero_one += 200_000;
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.text.contains("never overlapped"), "{}", v.text);
    }

    #[test]
    fn release_acquire_alone_is_not_judged() {
        // Both-zero under Release/Acquire is allowed and decides nothing.
        let v = verdict(&figures(5, 0, 0));
        assert_eq!(v.outcome, Outcome::Reproduced);
    }

    #[test]
    fn every_iteration_is_counted_once_and_the_fence_holds() {
        for variant in Variant::ALL {
            let row = run_variant(variant, 5_000, Duration::from_secs(60));
            assert_eq!(row.counts.total(), 5_000);
            if variant.forbids_both_zero() {
                assert_eq!(row.counts.both_zero, 0, "{variant:?}");
            }
        }
    }

    #[test]
    fn an_exhausted_budget_stops_both_threads_at_the_same_iteration() {
        let row = run_variant(Variant::Relaxed, 1 << 40, Duration::from_millis(20));
        let total = row.counts.total();
        assert!(total > 0 && total.is_multiple_of(CHECK_EVERY), "{total}");
    }

    #[test]
    fn a_tiny_run_reports_and_charts_every_variant() {
        let config = Config {
            quick: true,
            threads: None,
            sample: Duration::from_millis(1),
            rounds: 1,
            cores: 2,
        };
        let n = 2_000;
        let rows: Vec<Row> = Variant::ALL
            .iter()
            .map(|&v| run_variant(v, n, Duration::from_secs(60)))
            .collect();
        let f = Figures {
            cores: config.cores,
            arch: "test",
            rows,
        };
        assert_eq!(table(&f).rows().len(), 3);
        for chart in charts(&f) {
            assert!(chart.has_data());
        }
        assert!(MemoryOrdering.estimate(&config).is_some());
    }
}

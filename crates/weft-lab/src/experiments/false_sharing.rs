//! `false-sharing`: per-thread counters packed into one cache line against the same
//! counters each in its own `CachePadded` slot.
//!
//! Every thread increments only its own counter, so the threads share no data, only
//! (in the packed layout) cache lines. Whatever the packed layout loses is the cost of
//! the line bouncing between cores.
//!
//! Two kinds of increment, since they bounce the line differently:
//!
//! - `fetch_add`: a relaxed atomic read-modify-write, the usual way to keep per-thread
//!   statistics in Rust. A locked instruction needs the line in this core's cache for
//!   every single increment.
//! - `load+store`: a relaxed load then a store, which is what unsynchronized code
//!   compiles to (exact here, since each counter has one writer). The store buffer can
//!   commit several increments per line transfer, which may hide part of the cost.

use crate::experiment::{
    Chart, Claim, Config, Experiment, Outcome, Point, Quote, Report, Series, Verdict,
    throughput_estimate,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use weft::sync::CachePadded;
use weft_bench::format::{format_rate, format_ratio};
use weft_bench::stats::Summary;
use weft_bench::{Budget, Comparison, Results, Table, run_threads};

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct FalseSharing;

const CLAIM: Claim = Claim {
    gist: "counters that share a cache line slow each other down; padding fixes it",
    quotes: &[
        Quote {
            text: "False sharing causes the MESI coherence protocol to bounce cache lines \
                   between cores even when threads access unrelated data, and padding \
                   structures to cache-line boundaries mitigates this.",
            source: "Multitasking, 3.3 Data Structures and Performance",
        },
        Quote {
            text: "false sharing (unrelated data on the same 64-byte cache line) causes lines \
                   to bounce between cores.",
            source: "Multitasking, 1.2 Synchronisation and Memory Ordering",
        },
    ],
};

/// How a thread increments its counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Increment {
    /// `fetch_add(1, Relaxed)`.
    FetchAdd,
    /// `store(load(Relaxed) + 1, Relaxed)`.
    LoadStore,
}

impl Increment {
    fn label(self) -> &'static str {
        match self {
            Increment::FetchAdd => "fetch_add",
            Increment::LoadStore => "load+store",
        }
    }

    #[inline]
    fn apply(self, counter: &AtomicU64) {
        match self {
            Increment::FetchAdd => {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Increment::LoadStore => {
                counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            }
        }
    }
}

/// The two layouts compared for one kind of increment.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    /// How the counters were incremented.
    pub increment: Increment,
    /// Increments per second over all threads, counters packed into shared lines.
    pub packed: Summary,
    /// The same, each counter in its own `CachePadded`.
    pub padded: Summary,
    /// The padded median over the packed median: how many times faster padding made it.
    pub speedup: f64,
    /// The smallest and largest padded/packed ratio within one round.
    pub round_range: (f64, f64),
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Threads, each with its own counter.
    pub threads: usize,
    /// One comparison per kind of increment.
    pub pairs: Vec<Pair>,
}

/// A speedup at least this large is the effect the notes describe.
const CLEAR: f64 = 1.5;
/// Below this, packed and padded are within run-to-run noise.
const NOISE: f64 = 1.1;

/// Judges one kind of increment.
fn judge(pair: &Pair) -> (Outcome, String) {
    let (low, high) = pair.round_range;
    let kind = pair.increment.label();
    let rounds = format!("per round {}–{}", format_ratio(low), format_ratio(high));
    let speedup = format_ratio(pair.speedup);
    if pair.speedup >= CLEAR && low > 1.0 {
        (
            Outcome::Reproduced,
            format!(
                "{kind}: padding made the counters {speedup} faster, in every round ({rounds})"
            ),
        )
    } else if pair.speedup >= CLEAR {
        (
            Outcome::Partly,
            format!(
                "{kind}: padding made the counters {speedup} faster, though not in every round \
                 ({rounds})"
            ),
        )
    } else if pair.speedup >= NOISE {
        (
            Outcome::Partly,
            format!("{kind}: padding helped, but only {speedup} ({rounds})"),
        )
    } else if pair.speedup > 1.0 / NOISE {
        let percent = (pair.speedup - 1.0).abs() * 100.0;
        (
            Outcome::NotReproduced,
            format!(
                "{kind}: not reproduced here: packed and padded counters ran within \
                 {percent:.0}% of each other ({rounds})"
            ),
        )
    } else {
        (
            Outcome::NotReproduced,
            format!(
                "{kind}: not reproduced here: packed counters were {} faster than padded ones \
                 ({rounds})",
                format_ratio(1.0 / pair.speedup)
            ),
        )
    }
}

/// Judges the claim from the figures. The claim holds as far as the kind of increment
/// that shows it best: the notes say lines bounce, not that every access pattern
/// suffers equally, and each kind's figures are reported either way.
pub fn verdict(f: &Figures) -> Verdict {
    if f.threads < 2 {
        return Verdict {
            outcome: Outcome::Inconclusive,
            text: format!(
                "with {} thread no two counters are written at once: run with --threads 2 \
                 or more",
                f.threads
            ),
        };
    }
    let judged: Vec<(Outcome, String)> = f.pairs.iter().map(judge).collect();
    let rank = |o: Outcome| match o {
        Outcome::Reproduced => 3,
        Outcome::Partly => 2,
        Outcome::NotReproduced => 1,
        Outcome::Inconclusive => 0,
    };
    let outcome = judged
        .iter()
        .map(|(o, _)| *o)
        .max_by_key(|&o| rank(o))
        .unwrap_or(Outcome::Inconclusive);
    let mut lines = vec![format!(
        "{} threads, each incrementing its own counter; medians of interleaved rounds",
        f.threads
    )];
    lines.extend(judged.into_iter().map(|(_, line)| line));
    Verdict {
        outcome,
        text: lines.join("\n"),
    }
}

/// Eight counters on one 64-byte line: the packed layout.
#[repr(C, align(64))]
#[derive(Default)]
struct Line([AtomicU64; 8]);

/// Each thread's counter in both layouts.
struct Counters {
    packed: Vec<Line>,
    padded: Vec<CachePadded<AtomicU64>>,
}

impl Counters {
    fn new(threads: usize) -> Self {
        Self {
            packed: (0..threads.div_ceil(8)).map(|_| Line::default()).collect(),
            padded: (0..threads)
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
        }
    }

    fn packed(&self, thread: usize) -> &AtomicU64 {
        &self.packed[thread / 8].0[thread % 8]
    }
}

fn measure(config: &Config, threads: usize, increment: Increment, counters: &Counters) -> Results {
    let name = format!("false sharing, {}, {threads} threads", increment.label());
    Comparison::throughput(name, Budget::Duration(config.sample))
        .rounds(config.rounds)
        .contender("packed", |budget| {
            run_threads(threads, budget, |thread| {
                let counter = counters.packed(thread);
                move || increment.apply(counter)
            })
        })
        .contender("padded", |budget| {
            run_threads(threads, budget, |thread| {
                let counter: &AtomicU64 = &counters.padded[thread];
                move || increment.apply(counter)
            })
        })
        .run()
}

fn pair(increment: Increment, results: &Results) -> Pair {
    let ratios = results.round_ratios("packed", "padded");
    let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let high = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Pair {
        increment,
        packed: results.get("packed").expect("contender").summary,
        padded: results.get("padded").expect("contender").summary,
        speedup: results.ratio("packed", "padded"),
        round_range: (low, high),
    }
}

impl Experiment for FalseSharing {
    fn name(&self) -> &'static str {
        "false-sharing"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads N`: N threads, one counter each (default: one per core).
    fn run(&self, config: &Config) -> Report {
        let threads = config.threads.unwrap_or(config.cores).max(1);
        let mut comparisons = Vec::new();
        let mut pairs = Vec::new();
        for increment in [Increment::FetchAdd, Increment::LoadStore] {
            let results = measure(config, threads, increment, &Counters::new(threads));
            pairs.push(pair(increment, &results));
            comparisons.push(results);
        }
        let figures = Figures { threads, pairs };
        let chart = chart(threads, &comparisons);
        Report::new(table(&figures), verdict(&figures), comparisons).with_chart(chart)
    }

    fn estimate(&self, config: &Config) -> Option<Duration> {
        Some(throughput_estimate(config, 2, 2))
    }
}

/// Grouped bars: for each kind of increment, packed against padded.
fn chart(threads: usize, comparisons: &[Results]) -> Chart {
    let kinds = [Increment::FetchAdd, Increment::LoadStore];
    let mut chart = Chart::bars(
        format!("False sharing: {threads} threads, each incrementing its own counter"),
        kinds.map(|k| k.label()),
        "increments per second, all threads",
    )
    .x_label("how each thread increments its counter");
    for (contender, label) in [
        ("packed", "packed: 8 counters per 64-byte line"),
        ("padded", "padded: a line per counter"),
    ] {
        let points = comparisons
            .iter()
            .enumerate()
            .filter_map(|(group, results)| {
                Some(Point::of_contender(group as f64, results.get(contender)?))
            })
            .collect();
        chart = chart.series(Series::new(label, points));
    }
    chart
}

fn table(f: &Figures) -> Table {
    let mut table = Table::new([
        "increment",
        "layout",
        "increments/s (median)",
        "q1 – q3",
        "padded / packed",
    ]);
    for pair in &f.pairs {
        for (layout, s, ratio) in [
            ("packed (8 per 64-byte line)", &pair.packed, String::new()),
            (
                "padded (CachePadded)",
                &pair.padded,
                format_ratio(pair.speedup),
            ),
        ] {
            table.row([
                pair.increment.label().to_string(),
                layout.to_string(),
                format_rate(s.median),
                format!("{} – {}", format_rate(s.q1), format_rate(s.q3)),
                ratio,
            ]);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(increment: Increment, speedup: f64, round_range: (f64, f64)) -> Pair {
        let summary = |median: f64| Summary::of(&[median]).unwrap();
        Pair {
            increment,
            packed: summary(1e8),
            padded: summary(1e8 * speedup),
            speedup,
            round_range,
        }
    }

    fn figures(threads: usize, speedup: f64, round_range: (f64, f64)) -> Figures {
        Figures {
            threads,
            pairs: vec![pair(Increment::FetchAdd, speedup, round_range)],
        }
    }

    #[test]
    fn a_large_consistent_speedup_is_reproduced() {
        let v = verdict(&figures(2, 6.1, (5.2, 6.8)));
        assert_eq!(v.outcome, Outcome::Reproduced);
        assert_eq!(
            v.text.lines().nth(1).unwrap(),
            "fetch_add: padding made the counters 6.10x faster, in every round \
             (per round 5.20x–6.80x)"
        );
        assert!(v.text.starts_with("2 threads"));
    }

    #[test]
    fn a_large_speedup_that_some_round_contradicts_is_partial() {
        let v = verdict(&figures(2, 2.0, (0.9, 3.0)));
        assert_eq!(v.outcome, Outcome::Partly);
        assert!(v.text.contains("though not in every round"));
    }

    #[test]
    fn a_small_speedup_is_partial() {
        let v = verdict(&figures(4, 1.3, (1.1, 1.4)));
        assert_eq!(v.outcome, Outcome::Partly);
        assert!(v.text.contains("fetch_add: padding helped, but only 1.30x"));
    }

    #[test]
    fn no_difference_is_not_reproduced() {
        let v = verdict(&figures(2, 1.03, (0.95, 1.08)));
        assert_eq!(v.outcome, Outcome::NotReproduced);
        assert!(v.text.contains("within 3% of each other"), "{}", v.text);
    }

    #[test]
    fn packed_winning_is_not_reproduced_and_says_so() {
        let v = verdict(&figures(2, 0.5, (0.4, 0.6)));
        assert_eq!(v.outcome, Outcome::NotReproduced);
        assert!(v.text.contains("packed counters were 2.00x faster"));
    }

    #[test]
    fn the_clearest_kind_decides_and_both_are_reported() {
        let f = Figures {
            threads: 2,
            pairs: vec![
                pair(Increment::FetchAdd, 1.02, (0.9, 1.1)),
                pair(Increment::LoadStore, 3.0, (2.5, 3.5)),
            ],
        };
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Reproduced);
        assert!(v.text.contains("fetch_add: not reproduced here"));
        assert!(
            v.text
                .contains("load+store: padding made the counters 3.00x faster")
        );
    }

    #[test]
    fn one_thread_cannot_test_the_claim() {
        let v = verdict(&figures(1, 1.0, (1.0, 1.0)));
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.text.contains("--threads 2"));
    }

    #[test]
    fn packed_counters_share_a_line_and_padded_ones_do_not() {
        let counters = Counters::new(9);
        let line_of = |c: &AtomicU64| c as *const AtomicU64 as usize / 64;
        assert_eq!(line_of(counters.packed(0)), line_of(counters.packed(7)));
        assert_ne!(line_of(counters.packed(7)), line_of(counters.packed(8)));
        let padded: Vec<usize> = counters.padded.iter().map(|c| line_of(c)).collect();
        assert!(padded.windows(2).all(|w| w[0] != w[1]));
    }

    #[test]
    fn every_counted_increment_lands_in_a_counter() {
        let config = Config {
            quick: true,
            threads: Some(3),
            sample: std::time::Duration::from_millis(1),
            rounds: 2,
            cores: 2,
        };
        for increment in [Increment::FetchAdd, Increment::LoadStore] {
            let counters = Counters::new(3);
            let results = measure(&config, 3, increment, &counters);
            let counted = |name: &str| -> u64 {
                let samples = &results.get(name).unwrap().samples;
                samples.iter().map(|s| s.ops).sum()
            };
            let packed: u64 = (0..3)
                .map(|t| counters.packed(t).load(Ordering::Relaxed))
                .sum();
            let padded: u64 = counters
                .padded
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .sum();
            // The counters also hold the warm-up run's increments, which no sample counts.
            assert!(counted("packed") > 0 && packed >= counted("packed"));
            assert!(counted("padded") > 0 && padded >= counted("padded"));
        }
    }
}

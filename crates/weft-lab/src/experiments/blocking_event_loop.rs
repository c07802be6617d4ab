//! `blocking-the-event-loop`: a task that blocks its worker thread stalls the timers
//! of every other task on it, unless the runtime notices and moves them away.
//!
//! # The workload
//!
//! A weft-rt multi-thread runtime with one worker (`--threads N` for N) runs two
//! tasks:
//!
//! - a **ticker**: a 10 ms [`weft::rt::time::interval`] (missed ticks skipped, so a
//!   stall shows as missing ticks and one late tick), recording each tick's
//!   *lateness*: the instant the task saw the tick minus the tick's scheduled instant
//!   (which `Interval::tick` returns);
//! - a **blocker**: every [`Shape::cycle`] it holds its worker for [`Shape::block`],
//!   either with `std::thread::sleep` (a blocking call) or a busy loop (a long
//!   computation), then awaits a timer for the rest of the cycle.
//!
//! Each block kind runs twice: with weft's blocking monitor on
//! (`Builder::blocking_threshold(Some(10 ms))`, the default), which hands the tasks
//! queued behind a worker stuck in one poll, and the timers, to a spare worker; and
//! with it off (`blocking_threshold(None)`), where the one worker is the whole event
//! loop. The monitor's reports go to an `on_blocked` hook that counts and keeps them.
//!
//! A tokio runtime is not compared: tokio is not a dependency of this crate.
//!
//! # The verdict
//!
//! "Blocking the event loop stalls timers" is reproduced when, with the monitor off,
//! the worst lateness is about the blocking duration (at least [`STALL_SHARE`] of it),
//! and with the monitor on the 99th percentile stays near the threshold (within
//! [`NEAR_THRESHOLD`] thresholds).

use crate::experiment::{
    Chart, Claim, Config, Experiment, Outcome, Point, Quote, Report, Scale, Series, Unit, Verdict,
};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use weft_bench::Table;
use weft_bench::format::format_nanos;

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct BlockingEventLoop;

const CLAIM: Claim = Claim {
    gist: "a task that blocks its thread stalls the event loop's timers",
    quotes: &[
        Quote {
            text: "Functions or tasks that run and do not yield control back before they \
                   have completed are called blocking",
            source: "concurrency, The Asyncio Event Loop",
        },
        Quote {
            text: "(2) For blocking operations that can’t be made async (e.g., CPU-bound \
                   work, synchronous database drivers like boto3, the ‘requests’ library), \
                   applications can run them in a thread pool to avoid blocking the event \
                   loop.",
            source: "Multitasking (outline), 2.2 Language-Specific Implementations",
        },
        Quote {
            text: "When I/O becomes ready or a timer expires, the associated callback is \
                   invoked.",
            source: "Multitasking (outline), 2.1 Asynchronous Programming and Event Loops",
        },
    ],
};

/// The ticker's period.
pub const PERIOD: Duration = Duration::from_millis(10);
/// The monitor's threshold when on (weft-rt's default).
pub const THRESHOLD: Duration = Duration::from_millis(10);
/// Monitor off: a worst lateness of at least this share of the blocking duration is
/// "the timers stalled for the block".
pub const STALL_SHARE: f64 = 0.5;
/// Monitor on: a 99th percentile within this many thresholds is "near the threshold".
pub const NEAR_THRESHOLD: f64 = 3.0;
/// Monitor on: a 99th percentile at most this share of the monitor-off one is at
/// least a clear improvement.
pub const IMPROVED_SHARE: f64 = 0.5;

/// How the blocker holds its worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// `std::thread::sleep`: a blocking call.
    Sleep,
    /// A busy loop reading the clock: a long computation.
    Spin,
}

impl Block {
    /// The label used in tables.
    pub fn label(self) -> &'static str {
        match self {
            Block::Sleep => "thread::sleep",
            Block::Spin => "busy loop",
        }
    }

    fn hold(self, duration: Duration) {
        match self {
            Block::Sleep => std::thread::sleep(duration),
            Block::Spin => {
                let until = Instant::now() + duration;
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
            }
        }
    }
}

/// The timing of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// How long each block holds the worker.
    pub block: Duration,
    /// One block starts every `cycle`.
    pub cycle: Duration,
    /// How long the ticker runs.
    pub run: Duration,
}

impl Shape {
    /// 200 ms blocks every 300 ms for 3 s; with `quick`, 100 ms every 200 ms for 0.4 s.
    pub fn for_config(config: &Config) -> Self {
        if config.quick {
            Shape {
                block: Duration::from_millis(100),
                cycle: Duration::from_millis(200),
                run: Duration::from_millis(400),
            }
        } else {
            Shape {
                block: Duration::from_millis(200),
                cycle: Duration::from_millis(300),
                run: Duration::from_millis(3000),
            }
        }
    }

    /// The ticks a ticker that never misses would see: one at the start, then one per
    /// period while the run lasts.
    pub fn expected_ticks(&self) -> usize {
        let periods = self.run.as_nanos() / PERIOD.as_nanos();
        usize::try_from(periods).unwrap_or(usize::MAX)
    }
}

/// One tick the ticker saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tick {
    /// The tick's scheduled instant, in nanoseconds since the run started.
    pub scheduled_ns: f64,
    /// When the ticker saw it, minus when it was scheduled, in nanoseconds.
    pub lateness_ns: f64,
}

/// One report of the blocking monitor, as the `on_blocked` hook got it.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorReport {
    /// The blocked worker.
    pub worker: usize,
    /// How long the task had been in one poll when the monitor acted, nanoseconds.
    pub blocked_for_ns: f64,
    /// The report's text.
    pub text: String,
}

/// One configuration's run.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The monitor's threshold; `None` is off.
    pub monitor: Option<Duration>,
    /// How the blocker blocked.
    pub block: Block,
    /// Worker threads.
    pub workers: usize,
    /// How many blocks the blocker did.
    pub blocks: usize,
    /// Every tick seen, in order.
    pub ticks: Vec<Tick>,
    /// The ticks expected (see [`Shape::expected_ticks`]).
    pub expected: usize,
    /// The monitor's reports.
    pub reports: Vec<MonitorReport>,
}

impl Run {
    /// The configuration's name.
    pub fn label(&self) -> String {
        let monitor = match self.monitor {
            Some(t) => format!("monitor on ({} ms)", t.as_millis()),
            None => "monitor off".to_string(),
        };
        format!("{monitor}, {}", self.block.label())
    }

    /// The lateness of every tick, sorted.
    pub fn sorted_lateness(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.ticks.iter().map(|t| t.lateness_ns).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The median, 99th percentile and maximum lateness, if any tick was seen.
    pub fn summary(&self) -> Option<Lateness> {
        let sorted = self.sorted_lateness();
        Some(Lateness {
            median: percentile(&sorted, 0.5)?,
            p99: percentile(&sorted, 0.99)?,
            max: *sorted.last()?,
        })
    }
}

/// A lateness summary, nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lateness {
    /// The median.
    pub median: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The worst.
    pub max: f64,
}

/// The `q` quantile (0 to 1) of `sorted` by the nearest-rank method: the smallest
/// value with at least `q` of the values at or below it. `None` if `sorted` is empty
/// or `q` is outside 0..=1.
///
/// # Examples
///
/// ```
/// use weft_lab::experiments::blocking_event_loop::percentile;
/// let v = [1.0, 2.0, 3.0, 4.0];
/// assert_eq!(percentile(&v, 0.5), Some(2.0));
/// assert_eq!(percentile(&v, 0.99), Some(4.0));
/// assert_eq!(percentile(&[], 0.5), None);
/// ```
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// The timing used.
    pub shape: Shape,
    /// Every configuration, in table order.
    pub runs: Vec<Run>,
    /// Why a runtime could not be built, if one could not.
    pub error: Option<String>,
}

/// How one block kind fared, for the verdict.
fn judge(block: Block, f: &Figures, lines: &mut Vec<String>) -> Outcome {
    let find = |on: bool| {
        f.runs
            .iter()
            .find(|r| r.block == block && r.monitor.is_some() == on)
    };
    let (Some(on), Some(off)) = (find(true), find(false)) else {
        lines.push(format!("{}: a configuration is missing", block.label()));
        return Outcome::Inconclusive;
    };
    let (Some(s_on), Some(s_off)) = (on.summary(), off.summary()) else {
        lines.push(format!("{}: a ticker saw no tick", block.label()));
        return Outcome::Inconclusive;
    };
    if off.blocks == 0 {
        lines.push(format!("{}: the blocker never blocked", block.label()));
        return Outcome::Inconclusive;
    }
    let block_ns = f.shape.block.as_nanos() as f64;
    let threshold_ns = on.monitor.unwrap_or(THRESHOLD).as_nanos() as f64;
    let stalled = s_off.max >= STALL_SHARE * block_ns;
    let near = s_on.p99 <= NEAR_THRESHOLD * threshold_ns;
    let improved = s_on.p99 <= IMPROVED_SHARE * s_off.p99;
    lines.push(format!(
        "{}, {} blocks: monitor off, worst lateness {} (p99 {}, {} of {} ticks) against \
         {} blocks: {}; monitor on, p99 {} (worst {}, {} of {} ticks, {} reports): {}",
        block.label(),
        format_nanos(block_ns),
        format_nanos(s_off.max),
        format_nanos(s_off.p99),
        off.ticks.len(),
        off.expected,
        format_nanos(block_ns),
        if stalled {
            "timers stalled"
        } else {
            "no stall"
        },
        format_nanos(s_on.p99),
        format_nanos(s_on.max),
        on.ticks.len(),
        on.expected,
        on.reports.len(),
        if near {
            format!("within {NEAR_THRESHOLD}x the threshold")
        } else if improved {
            "above the threshold, but better than off".to_string()
        } else {
            "no better than off".to_string()
        },
    ));
    if !stalled && off.workers > 1 {
        lines.push(format!(
            "{}: with {} workers and the monitor off, another worker kept the timers going: \
             the blocked thread was not the whole event loop (run with --threads 1)",
            block.label(),
            off.workers
        ));
    }
    match (stalled, near, improved) {
        (false, _, _) => Outcome::NotReproduced,
        (true, true, true) => Outcome::Reproduced,
        // The stall is there; the monitor only helped somewhat, or not at all.
        (true, _, _) => Outcome::Partly,
    }
}

/// Judges the claim per block kind (see the module docs); the weakest kind decides.
pub fn verdict(f: &Figures) -> Verdict {
    if let Some(error) = &f.error {
        return Verdict {
            outcome: Outcome::Inconclusive,
            text: format!("the runtime could not be built: {error}"),
        };
    }
    let mut lines = Vec::new();
    let outcomes: Vec<Outcome> = [Block::Sleep, Block::Spin]
        .into_iter()
        .filter(|b| f.runs.iter().any(|r| r.block == *b))
        .map(|b| judge(b, f, &mut lines))
        .collect();
    let rank = |o: &Outcome| match o {
        Outcome::Inconclusive => 0,
        Outcome::NotReproduced => 1,
        Outcome::Partly => 2,
        Outcome::Reproduced => 3,
    };
    let outcome = outcomes
        .iter()
        .copied()
        .min_by_key(rank)
        .unwrap_or(Outcome::Inconclusive);
    if outcomes.is_empty() {
        lines.push("nothing was run".into());
    }
    if let Some(first) = f.runs.iter().flat_map(|r| &r.reports).next() {
        lines.push(format!("first monitor report: {}", first.text));
    }
    Verdict {
        outcome,
        text: lines.join("\n"),
    }
}

/// Runs one configuration.
fn run_one(
    shape: Shape,
    workers: usize,
    monitor: Option<Duration>,
    block: Block,
) -> std::io::Result<Run> {
    let reports: Arc<Mutex<Vec<MonitorReport>>> = Arc::default();
    let hook_reports = Arc::clone(&reports);
    let rt = weft::rt::Builder::new_multi_thread()
        .worker_threads(workers)
        .blocking_threshold(monitor)
        .on_blocked(move |report| {
            let mut reports = hook_reports.lock().unwrap_or_else(PoisonError::into_inner);
            // Keep the first few: the count is what matters after that.
            if reports.len() < 1024 {
                reports.push(MonitorReport {
                    worker: report.worker,
                    blocked_for_ns: report.blocked_for.as_nanos() as f64,
                    text: report.to_string(),
                });
            }
        })
        .build()?;
    let (ticks, blocks) = rt.block_on(async move {
        let start = Instant::now();
        let end = start + shape.run;
        let ticker = weft::rt::spawn(async move {
            let mut interval = weft::rt::time::interval(PERIOD);
            interval.set_missed_tick_behavior(weft::rt::time::MissedTickBehavior::Skip);
            let mut ticks = Vec::with_capacity(shape.expected_ticks() + 1);
            loop {
                let scheduled = interval.tick().await;
                let seen = Instant::now();
                if scheduled >= end {
                    break ticks;
                }
                ticks.push(Tick {
                    scheduled_ns: scheduled.duration_since(start).as_nanos() as f64,
                    lateness_ns: seen.saturating_duration_since(scheduled).as_nanos() as f64,
                });
            }
        });
        let blocker = weft::rt::spawn(async move {
            let mut blocks = 0;
            let mut next = start + PERIOD * 2;
            // The last block ends a few periods before the ticker stops.
            while next + shape.block + PERIOD * 2 <= end {
                weft::rt::time::sleep_until(next).await;
                block.hold(shape.block);
                blocks += 1;
                next += shape.cycle;
            }
            blocks
        });
        // Neither task panics.
        let ticks = ticker.await.unwrap_or_default();
        let blocks = blocker.await.unwrap_or_default();
        (ticks, blocks)
    });
    drop(rt);
    let reports = std::mem::take(&mut *reports.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(Run {
        monitor,
        block,
        workers,
        blocks,
        ticks,
        expected: shape.expected_ticks(),
        reports,
    })
}

fn measure(config: &Config) -> Figures {
    let shape = Shape::for_config(config);
    let workers = config.threads.unwrap_or(1).max(1);
    let mut runs = Vec::new();
    for block in [Block::Sleep, Block::Spin] {
        for monitor in [Some(THRESHOLD), None] {
            match run_one(shape, workers, monitor, block) {
                Ok(run) => runs.push(run),
                Err(e) => {
                    return Figures {
                        shape,
                        runs,
                        error: Some(e.to_string()),
                    };
                }
            }
        }
    }
    Figures {
        shape,
        runs,
        error: None,
    }
}

impl Experiment for BlockingEventLoop {
    fn name(&self) -> &'static str {
        "blocking-the-event-loop"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads` is the number of workers (default 1: the worker is the event loop).
    fn run(&self, config: &Config) -> Report {
        let figures = measure(config);
        Report::new(table(&figures), verdict(&figures), Vec::new())
            .with_chart(summary_chart(&figures))
            .with_chart(timeline_chart(&figures))
            .with_raw(raw(&figures))
    }

    fn estimate(&self, config: &Config) -> Option<Duration> {
        Some(Shape::for_config(config).run * 4)
    }
}

fn raw(f: &Figures) -> serde_json::Value {
    serde_json::json!({
        "period_ms": PERIOD.as_secs_f64() * 1e3,
        "block_ms": f.shape.block.as_secs_f64() * 1e3,
        "cycle_ms": f.shape.cycle.as_secs_f64() * 1e3,
        "run_ms": f.shape.run.as_secs_f64() * 1e3,
        "error": f.error,
        "runs": f.runs.iter().map(|r| {
            let s = r.summary();
            serde_json::json!({
                "configuration": r.label(),
                "monitor_threshold_ms": r.monitor.map(|t| t.as_secs_f64() * 1e3),
                "block": r.block.label(),
                "workers": r.workers,
                "blocks": r.blocks,
                "ticks_expected": r.expected,
                "ticks_observed": r.ticks.len(),
                "lateness_median_ns": s.map(|s| s.median),
                "lateness_p99_ns": s.map(|s| s.p99),
                "lateness_max_ns": s.map(|s| s.max),
                "ticks": r.ticks.iter().map(|t| [t.scheduled_ns, t.lateness_ns]).collect::<Vec<_>>(),
                "monitor_reports": r.reports.iter().map(|m| serde_json::json!({
                    "worker": m.worker,
                    "blocked_for_ns": m.blocked_for_ns,
                    "text": m.text,
                })).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
    })
}

fn table(f: &Figures) -> Table {
    let mut table = Table::new([
        "configuration",
        "blocks",
        "ticks seen / expected",
        "median lateness",
        "p99 lateness",
        "max lateness",
        "monitor reports",
    ]);
    for r in &f.runs {
        let s = r.summary();
        let cell = |v: Option<f64>| v.map_or_else(|| "-".to_string(), format_nanos);
        table.row([
            r.label(),
            r.blocks.to_string(),
            format!("{} / {}", r.ticks.len(), r.expected),
            cell(s.map(|s| s.median)),
            cell(s.map(|s| s.p99)),
            cell(s.map(|s| s.max)),
            if r.monitor.is_some() {
                r.reports.len().to_string()
            } else {
                "(off)".to_string()
            },
        ]);
    }
    table
}

/// Median, p99 and worst lateness per configuration, log scale.
fn summary_chart(f: &Figures) -> Chart {
    let groups: Vec<String> = f.runs.iter().map(Run::label).collect();
    let mut chart = Chart::bars(
        format!(
            "Lateness of a {} ms timer beside a task blocking {} ms",
            PERIOD.as_millis(),
            f.shape.block.as_millis()
        ),
        groups,
        "lateness",
    )
    .unit(Unit::Nanos)
    .scale(Scale::Log);
    type Stat = fn(&Lateness) -> f64;
    let stats: [(&str, Stat); 3] = [
        ("median", |s| s.median),
        ("p99", |s| s.p99),
        ("max", |s| s.max),
    ];
    for (name, stat) in stats {
        let points = f
            .runs
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.summary().map(|s| Point::new(i as f64, stat(&s).max(1.0))))
            .collect();
        chart = chart.series(Series::new(name, points));
    }
    chart
}

/// Each tick's lateness against its scheduled time, one line per configuration.
fn timeline_chart(f: &Figures) -> Chart {
    let mut chart = Chart::line(
        "Timer lateness over the run",
        "scheduled time since the first tick (ms)",
        "lateness",
    )
    .unit(Unit::Nanos)
    .scale(Scale::Log);
    for r in &f.runs {
        // From the first tick, so the axis starts at 0 (and stays linear).
        let first = r.ticks.first().map_or(0.0, |t| t.scheduled_ns);
        let points = r
            .ticks
            .iter()
            .map(|t| Point::new((t.scheduled_ns - first) / 1e6, t.lateness_ns.max(1.0)))
            .collect();
        chart = chart.series(Series::new(r.label(), points));
    }
    chart
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: f64 = 1e6;

    fn run(monitor: Option<Duration>, block: Block, lateness_ms: &[f64]) -> Run {
        Run {
            monitor,
            block,
            workers: 1,
            blocks: 2,
            ticks: lateness_ms
                .iter()
                .enumerate()
                .map(|(i, &l)| Tick {
                    scheduled_ns: i as f64 * 10.0 * MS,
                    lateness_ns: l * MS,
                })
                .collect(),
            expected: 40,
            reports: Vec::new(),
        }
    }

    fn figures(on: &[f64], off: &[f64]) -> Figures {
        let shape = Shape::for_config(&Config::new(true));
        Figures {
            shape,
            runs: vec![
                run(Some(THRESHOLD), Block::Sleep, on),
                run(None, Block::Sleep, off),
            ],
            error: None,
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        assert_eq!(percentile(&v, 0.99), Some(99.0));
        assert_eq!(percentile(&v, 1.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
        assert_eq!(percentile(&v, 1.5), None);
        assert_eq!(percentile(&v, f64::NAN), None);
        let r = run(None, Block::Sleep, &[3.0, 1.0, 2.0]);
        assert_eq!(
            r.summary(),
            Some(Lateness {
                median: 2.0 * MS,
                p99: 3.0 * MS,
                max: 3.0 * MS
            })
        );
    }

    #[test]
    fn a_stall_off_and_a_short_one_on_reproduce_the_claim() {
        // Quick shape: 100 ms blocks.
        let v = verdict(&figures(&[0.1, 0.2, 15.0], &[0.1, 0.2, 95.0]));
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        assert!(v.text.contains("timers stalled"), "{}", v.text);
    }

    #[test]
    fn a_monitor_that_helps_only_somewhat_is_partly() {
        let v = verdict(&figures(&[0.1, 40.0], &[0.1, 95.0]));
        assert_eq!(v.outcome, Outcome::Partly, "{}", v.text);
        let v = verdict(&figures(&[0.1, 90.0], &[0.1, 95.0]));
        assert_eq!(v.outcome, Outcome::Partly, "{}", v.text);
        assert!(v.text.contains("no better than off"), "{}", v.text);
    }

    #[test]
    fn no_stall_with_the_monitor_off_is_not_reproduced() {
        let v = verdict(&figures(&[0.1, 0.2], &[0.1, 5.0]));
        assert_eq!(v.outcome, Outcome::NotReproduced, "{}", v.text);
        let mut f = figures(&[0.1, 0.2], &[0.1, 5.0]);
        f.runs[1].workers = 2;
        assert!(
            verdict(&f)
                .text
                .contains("another worker kept the timers going"),
            "{}",
            verdict(&f).text
        );
    }

    #[test]
    fn missing_figures_are_inconclusive() {
        let v = verdict(&figures(&[], &[0.1, 95.0]));
        assert_eq!(v.outcome, Outcome::Inconclusive);
        let mut f = figures(&[1.0], &[95.0]);
        f.runs.pop();
        assert_eq!(verdict(&f).outcome, Outcome::Inconclusive);
        f.error = Some("no threads".into());
        assert!(verdict(&f).text.contains("no threads"));
        f.runs.clear();
        f.error = None;
        assert_eq!(verdict(&f).outcome, Outcome::Inconclusive);
    }

    #[test]
    fn a_tiny_real_run_sees_ticks_and_counts_blocks() {
        let shape = Shape {
            block: Duration::from_millis(30),
            cycle: Duration::from_millis(50),
            run: Duration::from_millis(100),
        };
        for monitor in [Some(THRESHOLD), None] {
            let r = run_one(shape, 1, monitor, Block::Sleep).expect("a runtime builds");
            assert!(!r.ticks.is_empty());
            assert!(r.ticks.len() <= r.expected + 1, "{r:?}");
            assert!(r.blocks >= 1, "{r:?}");
            assert!(
                r.ticks
                    .windows(2)
                    .all(|w| w[0].scheduled_ns < w[1].scheduled_ns)
            );
            if monitor.is_none() {
                assert!(r.reports.is_empty());
            }
        }
        let f = Figures {
            shape,
            runs: vec![run(None, Block::Spin, &[1.0])],
            error: None,
        };
        assert!(summary_chart(&f).has_data());
        assert!(timeline_chart(&f).has_data());
        assert_eq!(table(&f).rows().len(), 1);
    }
}

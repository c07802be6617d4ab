//! `context-switches`: what the OS counts while the false-sharing and lock workloads
//! run: voluntary and involuntary context switches (`getrusage(RUSAGE_THREAD)` in each
//! worker) and, where `perf_event_open` is permitted and the CPU exposes counters,
//! last-level cache misses.
//!
//! Four workloads, each for a fixed time, in interleaved rounds:
//!
//! - `packed` / `padded`: one counter per thread (one thread per core), `fetch_add` in
//!   a loop, the counters sharing one cache line or each on its own (as in
//!   `false-sharing`). Nothing blocks, so neither should switch voluntarily; the
//!   packed line's bouncing shows up as cache misses.
//! - `spinning` / `parking`: twice as many threads as cores on one counter behind
//!   weft's `SpinLock` or weft's `Mutex`. A parked waiter gives up its core: voluntary
//!   switches. A spinner keeps its core until the scheduler preempts it: involuntary
//!   switches, and CPU time burnt while the holder is descheduled.

use crate::experiment::{
    Chart, Claim, Config, Experiment, Outcome, Point, Quote, Report, Series, Unit, Verdict,
};
use crate::probe::Unavailable;
use crate::probe::perf::CacheMisses;
use crate::probe::rusage::{self, Usage};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use weft::sync::{CachePadded, Mutex, SpinLock};
use weft_bench::format::format_rate;
use weft_bench::{Table, busy_work};

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct ContextSwitches;

const CLAIM: Claim = Claim {
    gist: "blocking locks switch voluntarily, spinners get preempted; false sharing misses",
    quotes: &[
        Quote {
            text: "Performance counters: context switches, cache misses",
            source: "Multitasking (outline), 2.3 I/O-Bound vs CPU-Bound Workloads",
        },
        Quote {
            text: "Context switching costs 1–10 microseconds per switch and degrades cache \
                   locality.",
            source: "Multitasking, 3.3 Data Structures and Performance",
        },
        Quote {
            text: "spinning wastes CPU cycles but avoids scheduling latency, while blocking \
                   frees the CPU but incurs wake-up overhead.",
            source: "Multitasking, 3.3 Data Structures and Performance",
        },
    ],
};

/// The four workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Per-thread counters packed into one cache line.
    Packed,
    /// Per-thread counters, one cache line each.
    Padded,
    /// One counter behind a `SpinLock`, oversubscribed.
    Spinning,
    /// One counter behind a parking `Mutex`, oversubscribed.
    Parking,
}

impl Workload {
    const ALL: [Workload; 4] = [
        Workload::Packed,
        Workload::Padded,
        Workload::Spinning,
        Workload::Parking,
    ];

    /// A label for tables and charts.
    pub fn label(self) -> &'static str {
        match self {
            Workload::Packed => "false sharing: packed",
            Workload::Padded => "false sharing: padded",
            Workload::Spinning => "lock: spinning (SpinLock)",
            Workload::Parking => "lock: parking (Mutex)",
        }
    }
}

/// One workload's totals over its rounds.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The workload.
    pub workload: Workload,
    /// Threads it ran.
    pub threads: usize,
    /// Operations (increments or critical sections), all threads.
    pub ops: u64,
    /// Wall time, summed over rounds.
    pub wall: Duration,
    /// The workers' usage, summed.
    pub usage: Usage,
    /// Last-level cache misses, if counted.
    pub cache_misses: Option<u64>,
}

impl Row {
    /// Context switches per second of wall time.
    pub fn per_second(&self, switches: u64) -> f64 {
        switches as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Cache misses per thousand operations.
    pub fn misses_per_k_ops(&self) -> Option<f64> {
        Some(self.cache_misses? as f64 * 1e3 / self.ops.max(1) as f64)
    }
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Cores available.
    pub cores: usize,
    /// One row per workload.
    pub rows: Vec<Row>,
    /// Why the cache-miss counter is missing, if it is.
    pub counters: Result<(), Unavailable>,
    /// Why per-thread usage is missing, if it is.
    pub rusage: Result<(), Unavailable>,
}

/// The parking lock must switch voluntarily this many times more than the spin lock.
const VOLUNTARY_FACTOR: f64 = 5.0;
/// Packed counters must miss this many times more often than padded ones.
const MISS_FACTOR: f64 = 2.0;

/// Judges the claim: the parking lock's waiters switch voluntarily, far more than the
/// spinners, and (where counted) packed counters miss in cache more than padded ones.
pub fn verdict(f: &Figures) -> Verdict {
    let row = |w: Workload| f.rows.iter().find(|r| r.workload == w);
    let mut lines = Vec::new();
    let mut shown = 0;
    let mut tested = 0;
    if let Err(why) = &f.rusage {
        lines.push(format!("context switches could not be counted: {why}"));
    } else if let (Some(spin), Some(park)) = (row(Workload::Spinning), row(Workload::Parking)) {
        if f.cores < 2 && spin.threads < 2 {
            lines.push("one thread: nothing contended".into());
        } else {
            tested += 1;
            let (sv, pv) = (
                spin.per_second(spin.usage.voluntary),
                park.per_second(park.usage.voluntary),
            );
            let figures = format!(
                "{} threads on {} cores: the parking Mutex's threads switched voluntarily \
                 {}/s, the SpinLock's {}/s (involuntarily: {}/s against {}/s)",
                park.threads,
                f.cores,
                format_rate(pv),
                format_rate(sv),
                format_rate(park.per_second(park.usage.involuntary)),
                format_rate(spin.per_second(spin.usage.involuntary)),
            );
            if pv >= VOLUNTARY_FACTOR * sv.max(1.0) {
                shown += 1;
                lines.push(format!("blocking frees the CPU: {figures}"));
            } else {
                lines.push(format!(
                    "not reproduced: parking did not switch voluntarily much more than \
                     spinning: {figures}"
                ));
            }
        }
    }
    match (&f.counters, row(Workload::Packed), row(Workload::Padded)) {
        (Err(why), _, _) => lines.push(format!(
            "cache misses: hardware counters unavailable here ({why}); context switches \
             only"
        )),
        (Ok(()), Some(packed), Some(padded)) => {
            if let (Some(p), Some(q)) = (packed.misses_per_k_ops(), padded.misses_per_k_ops()) {
                tested += 1;
                let figures =
                    format!("{p:.2} cache misses per 1000 increments packed, {q:.2} padded");
                if p >= MISS_FACTOR * q.max(1e-3) {
                    shown += 1;
                    lines.push(format!("false sharing shows in the counters: {figures}"));
                } else {
                    lines.push(format!("not reproduced: {figures}"));
                }
            }
        }
        _ => {}
    }
    let counters_missing = f.counters.is_err();
    let outcome = match (shown, tested) {
        (_, 0) => Outcome::Inconclusive,
        (s, t) if s == t && !counters_missing => Outcome::Reproduced,
        (0, _) => Outcome::NotReproduced,
        _ => Outcome::Partly,
    };
    Verdict {
        outcome,
        text: lines.join("\n"),
    }
}

/// Runs `op` on `threads` threads for `duration`; returns the operations done and the
/// workers' summed usage (or why there is none).
fn run_workers<F, Op>(
    threads: usize,
    duration: Duration,
    make: F,
) -> (u64, Duration, Result<Usage, Unavailable>)
where
    F: Fn(usize) -> Op + Sync,
    Op: FnMut(),
{
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let results: Vec<(u64, Result<Usage, Unavailable>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (stop, make) = (&stop, &make);
                s.spawn(move || {
                    let mut op = make(t);
                    let before = rusage::thread();
                    let mut ops = 0u64;
                    // Relaxed: the flag carries no data; the join publishes the counts.
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..64 {
                            op();
                        }
                        ops += 64;
                    }
                    let usage = match (before, rusage::thread()) {
                        (Ok(before), Ok(after)) => Ok(after.since(&before)),
                        (Err(e), _) | (_, Err(e)) => Err(e),
                    };
                    (ops, usage)
                })
            })
            .collect();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect()
    });
    let wall = started.elapsed();
    let ops = results.iter().map(|(n, _)| n).sum();
    let mut total = Ok(Usage::default());
    for (_, usage) in results {
        total = match (total, usage) {
            (Ok(t), Ok(u)) => Ok(t.plus(&u)),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
    }
    (ops, wall, total)
}

/// Eight counters on one 64-byte line.
#[repr(C, align(64))]
#[derive(Default)]
struct Line([AtomicU64; 8]);

/// Runs one workload once.
fn run_once(
    workload: Workload,
    cores: usize,
    duration: Duration,
) -> (usize, u64, Duration, Result<Usage, Unavailable>) {
    match workload {
        Workload::Packed | Workload::Padded => {
            let threads = cores.clamp(2, 8);
            let packed = Line::default();
            let padded: Vec<CachePadded<AtomicU64>> =
                (0..threads).map(|_| CachePadded::default()).collect();
            let (ops, wall, usage) = run_workers(threads, duration, |t| {
                let counter: &AtomicU64 = if workload == Workload::Packed {
                    &packed.0[t]
                } else {
                    &padded[t]
                };
                move || {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
            (threads, ops, wall, usage)
        }
        Workload::Spinning | Workload::Parking => {
            let threads = 2 * cores.max(1);
            let spin = SpinLock::new(0u64);
            let mutex = Mutex::new(0u64);
            let (ops, wall, usage) = run_workers(threads, duration, |t| {
                let (spin, mutex) = (&spin, &mutex);
                let mut local = t as u64;
                move || {
                    if workload == Workload::Spinning {
                        let mut c = spin.lock();
                        *c = busy_work(*c, 4);
                    } else {
                        let mut c = mutex.lock();
                        *c = busy_work(*c, 4);
                    }
                    local = black_box(busy_work(local, 4));
                }
            });
            (threads, ops, wall, usage)
        }
    }
}

fn duration(config: &Config) -> Duration {
    if config.quick {
        Duration::from_millis(30)
    } else {
        (config.sample * 2).clamp(Duration::from_millis(50), Duration::from_millis(500))
    }
}

fn rounds(config: &Config) -> usize {
    config.rounds.clamp(1, 3)
}

/// Measures every workload in `rounds` interleaved rounds of `duration` each.
fn measure(cores: usize, duration: Duration, rounds: usize) -> Figures {
    let counter = CacheMisses::open_inherited();
    let mut rows: Vec<Row> = Workload::ALL
        .iter()
        .map(|&workload| Row {
            workload,
            threads: 0,
            ops: 0,
            wall: Duration::ZERO,
            usage: Usage::default(),
            cache_misses: counter.as_ref().ok().map(|_| 0),
        })
        .collect();
    let mut rusage_status = Ok(());
    let mut counter_status = counter.as_ref().map(|_| ()).map_err(Clone::clone);
    for _ in 0..rounds {
        for row in &mut rows {
            let before = counter.as_ref().ok().map(CacheMisses::read);
            let (threads, ops, wall, usage) = run_once(row.workload, cores, duration);
            let after = counter.as_ref().ok().map(CacheMisses::read);
            row.threads = threads;
            row.ops += ops;
            row.wall += wall;
            match usage {
                Ok(u) => row.usage = row.usage.plus(&u),
                Err(e) => rusage_status = Err(e),
            }
            match (before, after) {
                (Some(Ok(b)), Some(Ok(a))) => {
                    row.cache_misses = row.cache_misses.map(|m| m + a.saturating_sub(b));
                }
                (Some(Err(e)), _) | (_, Some(Err(e))) => {
                    counter_status = Err(e);
                    row.cache_misses = None;
                }
                _ => {}
            }
        }
    }
    if counter_status.is_err() {
        rows.iter_mut().for_each(|r| r.cache_misses = None);
    }
    Figures {
        cores,
        rows,
        counters: counter_status,
        rusage: rusage_status,
    }
}

impl Experiment for ContextSwitches {
    fn name(&self) -> &'static str {
        "context-switches"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads` is not used: the counters run one thread per core, the locks two.
    fn run(&self, config: &Config) -> Report {
        let figures = measure(config.cores, duration(config), rounds(config));
        let rows: Vec<serde_json::Value> = figures
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "workload": r.workload.label(),
                    "threads": r.threads,
                    "ops": r.ops,
                    "wall_s": r.wall.as_secs_f64(),
                    "user_s": r.usage.user.as_secs_f64(),
                    "system_s": r.usage.system.as_secs_f64(),
                    "voluntary": r.usage.voluntary,
                    "involuntary": r.usage.involuntary,
                    "cache_misses": r.cache_misses,
                })
            })
            .collect();
        let raw = serde_json::json!({
            "rows": rows,
            "cache_counter": figures.counters.as_ref().map_or_else(|e| e.0.clone(), |()| "ok".into()),
            "rusage": figures.rusage.as_ref().map_or_else(|e| e.0.clone(), |()| "ok".into()),
        });
        let mut report = Report::new(table(&figures), verdict(&figures), Vec::new())
            .with_chart(switch_chart(&figures))
            .with_raw(raw);
        if let Some(chart) = miss_chart(&figures) {
            report = report.with_chart(chart);
        }
        report
    }

    fn estimate(&self, config: &Config) -> Option<Duration> {
        Some(duration(config) * (4 * rounds(config)) as u32)
    }
}

fn switch_chart(f: &Figures) -> Chart {
    let mut chart = Chart::bars(
        "Context switches per second, by workload",
        f.rows.iter().map(|r| r.workload.label()),
        "context switches per second, all threads",
    )
    .unit(Unit::PerSecond);
    for (name, pick) in [
        (
            "voluntary (blocked)",
            (|u: &Usage| u.voluntary) as fn(&Usage) -> u64,
        ),
        ("involuntary (preempted)", |u: &Usage| u.involuntary),
    ] {
        let points = f
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| Point::new(i as f64, r.per_second(pick(&r.usage))))
            .collect();
        chart = chart.series(Series::new(name, points));
    }
    chart
}

fn miss_chart(f: &Figures) -> Option<Chart> {
    let points: Vec<Point> = f
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some(Point::new(i as f64, r.misses_per_k_ops()?)))
        .collect();
    if points.is_empty() {
        return None;
    }
    Some(
        Chart::bars(
            "Last-level cache misses per 1000 operations",
            f.rows.iter().map(|r| r.workload.label()),
            "cache misses per 1000 operations",
        )
        .unit(Unit::Count)
        .series(Series::new("cache misses", points)),
    )
}

fn table(f: &Figures) -> Table {
    let mut table = Table::new([
        "workload",
        "threads",
        "ops/s",
        "voluntary/s",
        "involuntary/s",
        "CPU / wall",
        "cache misses / 1k ops",
    ]);
    for r in &f.rows {
        let wall = r.wall.as_secs_f64().max(1e-9);
        table.row([
            r.workload.label().to_string(),
            r.threads.to_string(),
            format_rate(r.ops as f64 / wall),
            format_rate(r.per_second(r.usage.voluntary)),
            format_rate(r.per_second(r.usage.involuntary)),
            format!("{:.2}", r.usage.cpu().as_secs_f64() / wall),
            r.misses_per_k_ops()
                .map_or("unavailable".into(), |m| format!("{m:.2}")),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(workload: Workload, voluntary: u64, involuntary: u64, misses: Option<u64>) -> Row {
        Row {
            workload,
            threads: 4,
            ops: 1_000_000,
            wall: Duration::from_secs(1),
            usage: Usage {
                voluntary,
                involuntary,
                ..Usage::default()
            },
            cache_misses: misses,
        }
    }

    fn figures(park_voluntary: u64, packed_misses: Option<u64>) -> Figures {
        let counters = match packed_misses {
            Some(_) => Ok(()),
            None => Err(Unavailable(
                "perf_event_open(cache misses) failed: ENOENT".into(),
            )),
        };
        Figures {
            cores: 2,
            rows: vec![
                row(Workload::Packed, 2, 5, packed_misses),
                row(Workload::Padded, 2, 5, packed_misses.map(|_| 100)),
                row(Workload::Spinning, 10, 400, packed_misses.map(|_| 100)),
                row(
                    Workload::Parking,
                    park_voluntary,
                    50,
                    packed_misses.map(|_| 100),
                ),
            ],
            counters,
            rusage: Ok(()),
        }
    }

    #[test]
    fn parking_switches_and_packed_misses_reproduce_the_claim() {
        let v = verdict(&figures(20_000, Some(50_000)));
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        assert!(
            v.text
                .contains("blocking frees the CPU: 4 threads on 2 cores")
        );
        assert!(
            v.text
                .contains("50.00 cache misses per 1000 increments packed, 0.10 padded")
        );
    }

    #[test]
    fn without_counters_it_says_so_and_is_partial_at_best() {
        let v = verdict(&figures(20_000, None));
        assert_eq!(v.outcome, Outcome::Partly);
        assert!(
            v.text
                .contains("hardware counters unavailable here (perf_event_open")
        );
    }

    #[test]
    fn parking_that_never_blocks_is_not_reproduced() {
        let v = verdict(&figures(12, Some(100)));
        assert_eq!(v.outcome, Outcome::NotReproduced);
        assert!(v.text.contains("not reproduced: parking did not switch"));
    }

    #[test]
    fn no_usage_is_inconclusive() {
        let mut f = figures(20_000, None);
        f.rusage = Err(Unavailable("getrusage(RUSAGE_THREAD) failed".into()));
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.text.contains("could not be counted"));
    }

    #[test]
    fn a_tiny_run_measures_every_workload() {
        let f = measure(2, Duration::from_millis(5), 1);
        assert_eq!(f.rows.len(), 4);
        for r in &f.rows {
            assert!(r.ops > 0, "{r:?}");
            assert!(r.threads >= 2);
        }
        // Counters are either counted for every row or for none.
        let counted = f.rows.iter().filter(|r| r.cache_misses.is_some()).count();
        assert!(counted == 0 || counted == 4);
        assert_eq!(counted == 4, f.counters.is_ok());
        assert!(switch_chart(&f).has_data());
        assert_eq!(table(&f).rows().len(), 4);
    }
}

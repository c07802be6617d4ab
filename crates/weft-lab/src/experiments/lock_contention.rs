//! `lock-contention`: one shared counter behind each kind of lock (and as a plain
//! atomic), as the number of threads grows from 1 to twice the cores.
//!
//! Every thread loops: take the lock, increment the counter and stir a word (a few
//! nanoseconds of work), release, do a few nanoseconds of work of its own. The atomic
//! contender does the increment with one `fetch_add` and no section at all: that is
//! what the notes mean by bypassing locks. Past the number of cores, threads get
//! preempted, sometimes while holding the lock: a spinning waiter then burns its time
//! slice, a blocking one sleeps and lets the holder run.
//!
//! weft's `RwLock` runs two mixes: 90 % reads (a read section reads the shared state)
//! and 10 % reads; its writes are the same section as the mutexes'.

use crate::experiment::{
    Chart, Claim, Config, Experiment, Outcome, Point, Quote, Report, Series, Verdict,
    throughput_estimate,
};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use weft::sync::{Mutex, RwLock, SpinLock};
use weft_bench::format::{format_rate, format_ratio};
use weft_bench::{Budget, Comparison, Results, Table, Throughput, busy_work, run_threads};

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct LockContention;

const CLAIM: Claim = Claim {
    gist: "spinning collapses when oversubscribed, blocking holds up; atomics beat locks",
    quotes: &[
        Quote {
            text: "Lock contention arises when threads compete for the same lock: spinning \
                   wastes CPU cycles but avoids scheduling latency, while blocking frees the \
                   CPU but incurs wake-up overhead.",
            source: "Multitasking, 3.3 Data Structures and Performance",
        },
        Quote {
            text: "Atomic operations such as compare-and-swap (CAS) provide the building \
                   blocks for lock-free data structures, bypassing locks entirely for higher \
                   throughput under contention.",
            source: "Multitasking, 1.2 Synchronisation and Memory Ordering",
        },
        Quote {
            text: "Reader-writer locks for read-heavy workloads",
            source: "Multitasking (outline), 2.4 Concurrent Data Structures",
        },
    ],
};

/// [`busy_work`] steps inside each critical section and between two of them.
const INSIDE_STEPS: u32 = 4;
const OUTSIDE_STEPS: u32 = 4;

/// How a primitive waits when it cannot proceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waits {
    /// Burns CPU until the lock is free (then yields, in weft's `SpinLock`).
    Spins,
    /// Spins briefly, then sleeps in the kernel until woken.
    Blocks,
    /// Never waits: a single atomic instruction.
    NotAtAll,
}

/// What a contender is, which decides which claim its row speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A spin lock.
    SpinLock,
    /// A blocking mutex.
    Mutex,
    /// A reader-writer lock, mostly reads.
    ReadHeavyRwLock,
    /// A reader-writer lock, mostly writes.
    WriteHeavyRwLock,
    /// A plain atomic counter.
    Atomic,
}

impl Kind {
    /// How this kind waits.
    pub fn waits(self) -> Waits {
        match self {
            Kind::SpinLock => Waits::Spins,
            Kind::Mutex | Kind::ReadHeavyRwLock | Kind::WriteHeavyRwLock => Waits::Blocks,
            Kind::Atomic => Waits::NotAtAll,
        }
    }
}

impl Waits {
    fn label(self) -> &'static str {
        match self {
            Waits::Spins => "spins",
            Waits::Blocks => "blocks",
            Waits::NotAtAll => "no lock",
        }
    }
}

/// One primitive's medians, one per thread count of [`Figures::threads`].
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The contender's name.
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// Median operations per second at each thread count.
    pub rates: Vec<f64>,
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Cores available.
    pub cores: usize,
    /// The thread counts measured, ascending.
    pub threads: Vec<usize>,
    /// One row per primitive.
    pub rows: Vec<Row>,
}

impl Figures {
    /// The index of the largest thread count that fits on the cores.
    fn at_cores(&self) -> usize {
        self.threads
            .iter()
            .rposition(|&t| t <= self.cores)
            .unwrap_or(0)
    }

    /// The index of the largest thread count beyond the cores, if any was measured.
    fn oversubscribed(&self) -> Option<usize> {
        let last = self.threads.len().checked_sub(1)?;
        (self.threads[last] > self.cores).then_some(last)
    }
}

/// The atomic must beat the fastest lock by this much for the claim to hold.
const ATOMIC_WINS: f64 = 1.2;
/// A read-heavy reader-writer lock must beat the fastest mutex by this much.
const RWLOCK_WINS: f64 = 1.1;
/// A primitive keeping less than this share of its throughput when oversubscribed has
/// collapsed.
const COLLAPSE: f64 = 0.5;
/// Spinning must keep this much less of its throughput than blocking for the claim
/// about spinning wasting CPU to count as shown.
const MARGIN: f64 = 0.15;

/// Judges the claims from the figures.
pub fn verdict(f: &Figures) -> Verdict {
    let c = f.at_cores();
    if f.threads.len() < 2 || f.threads[c] < 2 {
        return Verdict {
            outcome: Outcome::Inconclusive,
            text: "no two threads ran at once on separate cores (one core, or --threads 1): \
                   nothing contended"
                .into(),
        };
    }
    let (cores_threads, mut lines, mut shown, mut tested) = (f.threads[c], vec![], 0, 0);
    let best = |kind: &dyn Fn(Kind) -> bool, value: &dyn Fn(&Row) -> f64| {
        f.rows
            .iter()
            .filter(|r| kind(r.kind))
            .max_by(|a, b| value(a).total_cmp(&value(b)))
    };

    // Atomic against the fastest lock, with as many threads as cores.
    let atomic = best(&|k| k == Kind::Atomic, &|r| r.rates[c]);
    let fastest_lock = best(&|k| k != Kind::Atomic, &|r| r.rates[c]);
    if let (Some(atomic), Some(lock)) = (atomic, fastest_lock) {
        tested += 1;
        let factor = atomic.rates[c] / lock.rates[c];
        if factor >= ATOMIC_WINS {
            shown += 1;
            lines.push(format!(
                "the atomic counter did {} the throughput of the fastest lock ({}) at \
                 {cores_threads} threads",
                format_ratio(factor),
                lock.name
            ));
        } else {
            lines.push(format!(
                "not reproduced: the atomic counter did only {} the throughput of the fastest \
                 lock ({}) at {cores_threads} threads",
                format_ratio(factor),
                lock.name
            ));
        }
    }

    // Spinning against blocking once there are more threads than cores.
    let kept = |r: &Row, o: usize| r.rates[o] / r.rates[c];
    match f.oversubscribed() {
        None => lines.push(format!(
            "oversubscription not measured: no thread count above the {} cores \
             (--threads {} or more)",
            f.cores,
            f.cores + 1
        )),
        Some(o) => {
            let spin = best(&|k| k.waits() == Waits::Spins, &|r| kept(r, o));
            let blocking = best(&|k| k.waits() == Waits::Blocks, &|r| kept(r, o));
            if let (Some(spin), Some(blocking)) = (spin, blocking) {
                tested += 1;
                let (s, b) = (kept(spin, o), kept(blocking, o));
                let shape = if s < COLLAPSE {
                    "collapsed"
                } else if s < 1.0 - MARGIN {
                    "degraded"
                } else {
                    "held up"
                };
                let figures = format!(
                    "at {} threads on {} cores {} kept {:.0}% of its {cores_threads}-thread \
                     throughput, {} kept {:.0}%",
                    f.threads[o],
                    f.cores,
                    spin.name,
                    s * 100.0,
                    blocking.name,
                    b * 100.0
                );
                if s + MARGIN <= b {
                    shown += 1;
                    lines.push(format!(
                        "spinning {shape} under oversubscription while blocking held better: \
                         {figures}"
                    ));
                } else {
                    lines.push(format!(
                        "not reproduced: spinning {shape} no worse than blocking under \
                         oversubscription: {figures}"
                    ));
                }
            }
        }
    }

    // A reader-writer lock against the fastest mutex, for a read-heavy mix.
    let rwlock = best(&|k| k == Kind::ReadHeavyRwLock, &|r| r.rates[c]);
    let mutex = best(&|k| k == Kind::Mutex, &|r| r.rates[c]);
    if let (Some(rwlock), Some(mutex)) = (rwlock, mutex) {
        tested += 1;
        let factor = rwlock.rates[c] / mutex.rates[c];
        let figures = format!(
            "{} did {} the throughput of the fastest mutex ({}) at {cores_threads} threads",
            rwlock.name,
            format_ratio(factor),
            mutex.name
        );
        if factor >= RWLOCK_WINS {
            shown += 1;
            lines.push(format!("reads in parallel paid off: {figures}"));
        } else {
            lines.push(format!(
                "not reproduced: {figures}; with sections this short, every read lock still \
                 writes the lock word, so readers contend much as writers do"
            ));
        }
    }

    // Scaling: does adding threads add throughput to one shared counter?
    let scaling: Vec<String> = f
        .rows
        .iter()
        .map(|r| format!("{} {}", r.name, format_ratio(r.rates[c] / r.rates[0])))
        .collect();
    let scaled: Vec<&str> = f
        .rows
        .iter()
        .filter(|r| r.rates[c] >= r.rates[0] * 1.2)
        .map(|r| r.name.as_str())
        .collect();
    let scaled = if scaled.is_empty() {
        "none scaled: one contended word serializes every thread".to_string()
    } else {
        format!("scaled: {}", scaled.join(", "))
    };
    lines.push(format!(
        "from 1 to {cores_threads} threads: {} ({scaled})",
        scaling.join(", ")
    ));

    let outcome = match (shown, tested) {
        (_, 0) => Outcome::Inconclusive,
        (s, t) if s == t => Outcome::Reproduced,
        (0, _) => Outcome::NotReproduced,
        _ => Outcome::Partly,
    };
    Verdict {
        outcome,
        text: lines.join("\n"),
    }
}

/// The state behind every lock.
#[derive(Default)]
struct Shared {
    count: u64,
    stir: u64,
}

impl Shared {
    fn critical_section(&mut self) {
        self.count += 1;
        self.stir = busy_work(self.stir, INSIDE_STEPS);
    }
}

/// What the experiment needs of a lock, so each contender is added by one line.
trait Lock: Sync {
    fn with(&self, f: impl FnOnce(&mut Shared));
}

impl Lock for SpinLock<Shared> {
    fn with(&self, f: impl FnOnce(&mut Shared)) {
        f(&mut self.lock());
    }
}

impl Lock for Mutex<Shared> {
    fn with(&self, f: impl FnOnce(&mut Shared)) {
        f(&mut self.lock());
    }
}

impl Lock for std::sync::Mutex<Shared> {
    fn with(&self, f: impl FnOnce(&mut Shared)) {
        f(&mut self.lock().unwrap_or_else(|poison| poison.into_inner()));
    }
}

fn add_lock<'a, L: Lock>(
    comparison: Comparison<'a, Throughput>,
    name: &str,
    lock: &'a L,
    threads: usize,
) -> Comparison<'a, Throughput> {
    comparison.contender(name, move |budget| {
        run_threads(threads, budget, |thread| {
            let mut local = thread as u64;
            move || {
                lock.with(Shared::critical_section);
                local = black_box(busy_work(local, OUTSIDE_STEPS));
            }
        })
    })
}

/// Adds `lock` as a reader-writer lock where `reads_in_ten` of every ten operations
/// are reads. Threads start at different points of the ten-step cycle so that their
/// writes don't line up.
fn add_rwlock<'a>(
    comparison: Comparison<'a, Throughput>,
    name: &str,
    lock: &'a RwLock<Shared>,
    threads: usize,
    reads_in_ten: u64,
) -> Comparison<'a, Throughput> {
    comparison.contender(name, move |budget| {
        run_threads(threads, budget, |thread| {
            let (mut step, mut local) = (thread as u64 * 3, thread as u64);
            move || {
                if step % 10 < reads_in_ten {
                    let shared = lock.read();
                    local ^= busy_work(shared.stir ^ shared.count, INSIDE_STEPS);
                } else {
                    lock.write().critical_section();
                }
                step += 1;
                local = black_box(busy_work(local, OUTSIDE_STEPS));
            }
        })
    })
}

/// The contenders and what each is, in table order.
const CONTENDERS: &[(&str, Kind)] = &[
    ("SpinLock", Kind::SpinLock),
    ("weft Mutex", Kind::Mutex),
    ("std Mutex", Kind::Mutex),
    (RW_READ_HEAVY, Kind::ReadHeavyRwLock),
    (RW_WRITE_HEAVY, Kind::WriteHeavyRwLock),
    ("atomic", Kind::Atomic),
];
const RW_READ_HEAVY: &str = "weft RwLock 90% read";
const RW_WRITE_HEAVY: &str = "weft RwLock 10% read";

fn measure(config: &Config, threads: usize) -> Results {
    let spin = SpinLock::new(Shared::default());
    let weft_mutex = Mutex::new(Shared::default());
    let std_mutex = std::sync::Mutex::new(Shared::default());
    let read_heavy = RwLock::new(Shared::default());
    let write_heavy = RwLock::new(Shared::default());
    let atomic = AtomicU64::new(0);
    let name = format!("lock contention, {threads} threads");
    let mut comparison =
        Comparison::throughput(name, Budget::Duration(config.sample)).rounds(config.rounds);
    comparison = add_lock(comparison, CONTENDERS[0].0, &spin, threads);
    comparison = add_lock(comparison, CONTENDERS[1].0, &weft_mutex, threads);
    comparison = add_lock(comparison, CONTENDERS[2].0, &std_mutex, threads);
    comparison = add_rwlock(comparison, RW_READ_HEAVY, &read_heavy, threads, 9);
    comparison = add_rwlock(comparison, RW_WRITE_HEAVY, &write_heavy, threads, 1);
    comparison = comparison.contender(CONTENDERS[5].0, |budget| {
        run_threads(threads, budget, |thread| {
            let (atomic, mut local) = (&atomic, thread as u64);
            move || {
                atomic.fetch_add(1, Ordering::Relaxed);
                local = black_box(busy_work(local, OUTSIDE_STEPS));
            }
        })
    });
    comparison.run()
}

/// Powers of two below `max`, the core count if below `max`, and `max` itself.
fn thread_counts(cores: usize, max: usize) -> Vec<usize> {
    let max = max.max(1);
    let mut counts: Vec<usize> = std::iter::successors(Some(1), |n| Some(n * 2))
        .take_while(|&n| n < max)
        .chain([cores.min(max), max])
        .collect();
    counts.sort_unstable();
    counts.dedup();
    counts
}

impl Experiment for LockContention {
    fn name(&self) -> &'static str {
        "lock-contention"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads N`: the largest thread count tried (default: twice the cores).
    fn run(&self, config: &Config) -> Report {
        let threads = thread_counts(config.cores, config.threads.unwrap_or(2 * config.cores));
        let comparisons: Vec<Results> = threads.iter().map(|&t| measure(config, t)).collect();
        let rows = CONTENDERS
            .iter()
            .map(|&(name, kind)| Row {
                name: name.to_string(),
                kind,
                rates: comparisons.iter().map(|r| r.median(name)).collect(),
            })
            .collect();
        let figures = Figures {
            cores: config.cores,
            threads,
            rows,
        };
        let chart = chart(&figures, &comparisons);
        Report::new(table(&figures), verdict(&figures), comparisons).with_chart(chart)
    }

    fn estimate(&self, config: &Config) -> Option<Duration> {
        let threads = thread_counts(config.cores, config.threads.unwrap_or(2 * config.cores));
        Some(throughput_estimate(config, threads.len(), CONTENDERS.len()))
    }
}

/// Throughput against threads, a line per primitive, with the core count marked:
/// past it, the spinning and blocking lines part ways.
fn chart(f: &Figures, comparisons: &[Results]) -> Chart {
    let mut chart = Chart::line(
        "One shared counter: throughput against threads",
        "threads",
        "operations per second, all threads",
    )
    .marker(f.cores as f64, format!("{} cores", f.cores));
    for &(name, _) in CONTENDERS {
        let points = f
            .threads
            .iter()
            .zip(comparisons)
            .filter_map(|(&threads, results)| {
                Some(Point::of_contender(threads as f64, results.get(name)?))
            })
            .collect();
        chart = chart.series(Series::new(name, points));
    }
    chart
}

fn table(f: &Figures) -> Table {
    let c = f.at_cores();
    let mut header = vec!["primitive".to_string(), "waits".to_string()];
    header.extend(f.threads.iter().map(|t| format!("{t} thr ops/s")));
    header.push(format!("{} thr / 1 thr", f.threads[c]));
    if let Some(o) = f.oversubscribed() {
        header.push(format!("{} thr / {} thr", f.threads[o], f.threads[c]));
    }
    let mut table = Table::new(header);
    for row in &f.rows {
        let mut cells = vec![row.name.clone(), row.kind.waits().label().to_string()];
        cells.extend(row.rates.iter().map(|&r| format_rate(r)));
        cells.push(format_ratio(row.rates[c] / row.rates[0]));
        if let Some(o) = f.oversubscribed() {
            cells.push(format_ratio(row.rates[o] / row.rates[c]));
        }
        table.row(cells);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, kind: Kind, rates: &[f64]) -> Row {
        Row {
            name: name.into(),
            kind,
            rates: rates.to_vec(),
        }
    }

    fn two_cores(rows: Vec<Row>) -> Figures {
        Figures {
            cores: 2,
            threads: vec![1, 2, 4],
            rows,
        }
    }

    #[test]
    fn thread_counts_double_and_include_cores_and_the_maximum() {
        assert_eq!(thread_counts(2, 4), [1, 2, 4]);
        assert_eq!(thread_counts(6, 12), [1, 2, 4, 6, 8, 12]);
        assert_eq!(thread_counts(8, 3), [1, 2, 3]);
        assert_eq!(thread_counts(4, 1), [1]);
    }

    #[test]
    fn collapsing_spin_and_a_fast_atomic_reproduce_both_claims() {
        let f = two_cores(vec![
            row("SpinLock", Kind::SpinLock, &[100.0, 60.0, 12.0]),
            row("std Mutex", Kind::Mutex, &[80.0, 30.0, 27.0]),
            row("atomic", Kind::Atomic, &[300.0, 150.0, 150.0]),
        ]);
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Reproduced);
        let lines: Vec<&str> = v.text.lines().collect();
        assert_eq!(
            lines[0],
            "the atomic counter did 2.50x the throughput of the fastest lock (SpinLock) at \
             2 threads"
        );
        assert!(lines[1].starts_with("spinning collapsed under oversubscription"));
        assert!(lines[1].contains("SpinLock kept 20% of its 2-thread throughput"));
        assert!(lines[1].contains("std Mutex kept 90%"));
        assert!(lines[2].starts_with("from 1 to 2 threads: SpinLock 0.60x"));
        assert!(lines[2].contains("none scaled"));
    }

    #[test]
    fn a_read_heavy_rwlock_is_judged_against_the_fastest_mutex() {
        let rows = |rw: f64| {
            two_cores(vec![
                row("weft Mutex", Kind::Mutex, &[80.0, 40.0, 36.0]),
                row("std Mutex", Kind::Mutex, &[80.0, 50.0, 45.0]),
                row("rw", Kind::ReadHeavyRwLock, &[70.0, rw, rw]),
            ])
        };
        let v = verdict(&rows(100.0));
        assert_eq!(v.outcome, Outcome::Reproduced);
        assert!(v.text.contains(
            "reads in parallel paid off: rw did 2.00x the throughput of the fastest mutex \
             (std Mutex) at 2 threads"
        ));
        let v = verdict(&rows(25.0));
        assert_eq!(v.outcome, Outcome::NotReproduced);
        assert!(
            v.text
                .contains("not reproduced: rw did 0.50x the throughput")
        );
    }

    #[test]
    fn spin_holding_up_is_not_reproduced() {
        let f = two_cores(vec![
            row("SpinLock", Kind::SpinLock, &[100.0, 50.0, 50.0]),
            row("std Mutex", Kind::Mutex, &[80.0, 30.0, 27.0]),
            row("atomic", Kind::Atomic, &[300.0, 150.0, 150.0]),
        ]);
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Partly);
        assert!(
            v.text
                .contains("not reproduced: spinning held up no worse than blocking")
        );
    }

    #[test]
    fn a_slow_atomic_and_steady_spinning_reproduce_nothing() {
        let f = two_cores(vec![
            row("SpinLock", Kind::SpinLock, &[100.0, 50.0, 50.0]),
            row("std Mutex", Kind::Mutex, &[80.0, 30.0, 27.0]),
            row("atomic", Kind::Atomic, &[100.0, 55.0, 55.0]),
        ]);
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::NotReproduced);
        assert!(
            v.text
                .starts_with("not reproduced: the atomic counter did only 1.10x")
        );
    }

    #[test]
    fn without_oversubscription_only_the_atomic_claim_is_judged() {
        let f = Figures {
            cores: 2,
            threads: vec![1, 2],
            rows: vec![
                row("SpinLock", Kind::SpinLock, &[100.0, 150.0]),
                row("atomic", Kind::Atomic, &[300.0, 450.0]),
            ],
        };
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Reproduced);
        assert!(v.text.contains("oversubscription not measured"));
        assert!(v.text.contains("scaled: SpinLock, atomic"));
    }

    #[test]
    fn one_thread_is_inconclusive() {
        let f = Figures {
            cores: 1,
            threads: vec![1, 2],
            rows: vec![row("atomic", Kind::Atomic, &[1.0, 1.0])],
        };
        assert_eq!(verdict(&f).outcome, Outcome::Inconclusive);
    }

    #[test]
    fn every_contender_runs_at_every_thread_count() {
        let config = Config {
            quick: true,
            threads: Some(3),
            sample: std::time::Duration::from_millis(1),
            rounds: 1,
            cores: 2,
        };
        let report = LockContention.run(&config);
        assert_eq!(report.comparisons.len(), 3);
        for results in &report.comparisons {
            assert_eq!(results.contenders.len(), CONTENDERS.len());
            assert!(results.contenders.iter().all(|c| c.samples[0].ops > 0));
        }
        assert_eq!(report.table.rows().len(), CONTENDERS.len());
    }
}

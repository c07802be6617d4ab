//! `coroutine-vs-thread-switch`: what handing the CPU from one thread of control to
//! another costs, between two OS threads and between two async tasks.
//!
//! # The thread half
//!
//! Two OS threads ping-pong through weft's futex parker ([`weft::sync::Parker`]): the
//! first unparks the second and parks itself, the second wakes, unparks the first and
//! parks again. A round trip is two switches; the figure is nanoseconds per switch
//! (half a round trip), from the median round-trip rate of the rounds.
//!
//! - **one core**: both threads pinned to the same CPU (`sched_setaffinity`). Each
//!   park is a `FUTEX_WAIT` that puts the thread to sleep, so the kernel switches to
//!   the other, which the `FUTEX_WAKE` just made runnable: the classic measure of a
//!   context switch (with the two futex calls it takes to ask for one).
//! - **two cores**: each pinned to its own CPU. Nothing is switched out on a busy core;
//!   a wake crosses cores (an inter-processor interrupt) and an idle core wakes up.
//!   This is the latency of handing work to a sleeping thread elsewhere.
//!
//! Where pinning is refused, one unpinned pair is run instead and labelled so.
//!
//! # The task half
//!
//! The task half: two weft-rt tasks on a one-worker runtime taking turns through
//! `yield_now` (`task_switch_ns`). If the runtime cannot be built, the row says "not
//! measured" and the verdict is inconclusive rather than judged on half the figures.

use crate::experiment::{
    Chart, Claim, Config, Experiment, Outcome, Point, Quote, Report, Scale, Series, Unit, Verdict,
    throughput_estimate,
};
use crate::probe::proc::OtherLoad;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use weft::sync::Parker;
use weft_bench::format::{format_nanos, format_rate};
use weft_bench::{Budget, Comparison, Results, Table, Tally};

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct CoroutineSwitch;

const CLAIM: Claim = Claim {
    gist: "a coroutine switch takes nanoseconds, an OS thread context switch microseconds",
    quotes: &[
        Quote {
            text: "Coroutine switching is lightweight, typically taking nanoseconds compared \
                   to microseconds for OS thread context switches, because it does not require \
                   kernel mode transitions, full CPU register saves, TLB flushes, or memory \
                   protection changes.",
            source: "Multitasking, 2.1 Asynchronous Programming and Event Loops",
        },
        Quote {
            text: "Context switching costs 1–10 microseconds per switch and degrades cache \
                   locality.",
            source: "Multitasking, 3.3 Data Structures and Performance",
        },
    ],
};

/// A thread switch at least this many times a task switch is "nanoseconds against
/// microseconds": an order of magnitude.
pub const ORDER: f64 = 10.0;
/// Below this ratio a task switch is not clearly cheaper at all.
pub const CHEAPER: f64 = 2.0;

/// The label of the task row while it is not measured.
pub const TASK_NOT_MEASURED: &str = "not measured (the runtime could not be built)";

/// Where the two ping-pong threads run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Both pinned to one CPU: every hand-off is a context switch.
    OneCore,
    /// Pinned to two different CPUs: every hand-off is a cross-core wake-up.
    TwoCores,
    /// Wherever the scheduler puts them (pinning was refused).
    Unpinned,
}

impl Placement {
    /// The contender's name and the table's label.
    pub fn label(self) -> &'static str {
        match self {
            Placement::OneCore => "OS threads, one core (futex ping-pong)",
            Placement::TwoCores => "OS threads, two cores (futex ping-pong)",
            Placement::Unpinned => "OS threads, unpinned (futex ping-pong)",
        }
    }
}

/// One measured thread placement.
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadSwitch {
    /// Where the threads ran.
    pub placement: Placement,
    /// Median nanoseconds per switch (half a round trip).
    pub nanos: f64,
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// The thread placements measured, in table order.
    pub threads: Vec<ThreadSwitch>,
    /// Nanoseconds per task switch, once weft-rt exists (see `task_switch_ns`).
    pub task: Option<f64>,
    /// Why the threads could not be pinned, if they could not.
    pub pinning: Result<(), String>,
    /// The share of all CPUs other processes used meanwhile, if known: a pinned
    /// thread woken on a CPU another process is using waits for its turn there, which
    /// shows most in the two-core figure.
    pub others: Option<f64>,
}

impl Figures {
    /// The figure that stands for "an OS thread context switch": one core if measured,
    /// else whatever was.
    pub fn thread_switch(&self) -> Option<&ThreadSwitch> {
        self.threads
            .iter()
            .find(|t| t.placement == Placement::OneCore)
            .or_else(|| self.threads.first())
    }
}

/// Judges the claim: a thread switch at least [`ORDER`] times a task switch
/// reproduces it, at least [`CHEAPER`] times is partly, less is not reproduced. Until
/// the task switch is measured, inconclusive, with the thread figure against the
/// notes' "1–10 microseconds".
pub fn verdict(f: &Figures) -> Verdict {
    let mut lines = Vec::new();
    let Some(thread) = f.thread_switch() else {
        return Verdict {
            outcome: Outcome::Inconclusive,
            text: "no thread switch was measured".into(),
        };
    };
    let band = if thread.nanos < 1_000.0 {
        "below the notes' 1–10 µs"
    } else if thread.nanos <= 10_000.0 {
        "within the notes' 1–10 µs"
    } else {
        "above the notes' 1–10 µs"
    };
    lines.push(format!(
        "OS thread switch ({}): {} per switch, {band}",
        thread.placement.label(),
        format_nanos(thread.nanos)
    ));
    for other in f.threads.iter().filter(|t| t.placement != thread.placement) {
        lines.push(format!(
            "{}: {} per hand-off",
            other.placement.label(),
            format_nanos(other.nanos)
        ));
    }
    if let Err(why) = &f.pinning {
        lines.push(format!("threads not pinned: {why}"));
    }
    if let Some(share) = f.others {
        lines.push(format!(
            "other processes used {:.0}% of the CPUs meanwhile",
            share * 100.0
        ));
    }
    let outcome = match f.task {
        None => {
            lines.push(format!(
                "task switch (weft-rt yield_now): {TASK_NOT_MEASURED}; the comparison waits \
                 for it"
            ));
            Outcome::Inconclusive
        }
        Some(task) if !(task > 0.0 && task.is_finite()) => {
            lines.push(format!("task switch: unusable figure {task}"));
            Outcome::Inconclusive
        }
        Some(task) => {
            let ratio = thread.nanos / task;
            lines.push(format!(
                "task switch (weft-rt yield_now): {} per switch; a thread switch costs {ratio:.0}x \
                 as much",
                format_nanos(task)
            ));
            if ratio >= ORDER {
                Outcome::Reproduced
            } else if ratio >= CHEAPER {
                Outcome::Partly
            } else {
                Outcome::NotReproduced
            }
        }
    };
    Verdict {
        outcome,
        text: lines.join("\n"),
    }
}

/// Nanoseconds per switch between two weft-rt tasks taking turns with `yield_now` on
/// a one-worker runtime: each `yield_now` puts the task behind the other, so every
/// yield is one switch from a task to the other (a poll returning, the worker taking
/// the next task from its queue, a poll starting). The median over `config.rounds`
/// rounds, each about `config.sample` long.
fn task_switch_ns(config: &Config) -> Option<f64> {
    let rt = weft::rt::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .ok()?;
    // Calibrate: how many yields per task fill one sample.
    let mut yields: u64 = 1_000;
    loop {
        let spent = yield_race(&rt, yields);
        if spent >= config.sample || yields >= 1 << 26 {
            break;
        }
        yields *= 4;
    }
    let mut samples: Vec<f64> = (0..config.rounds.max(1))
        .map(|_| yield_race(&rt, yields).as_nanos() as f64 / (2 * yields) as f64)
        .collect();
    samples.sort_by(f64::total_cmp);
    Some(samples[samples.len() / 2])
}

/// Two tasks each yielding `yields` times; the time from their spawn to both ends.
fn yield_race(rt: &weft::rt::Runtime, yields: u64) -> Duration {
    rt.block_on(async move {
        let started = Instant::now();
        let turn = || {
            weft::rt::spawn(async move {
                for _ in 0..yields {
                    weft::rt::yield_now().await;
                }
            })
        };
        let (a, b) = (turn(), turn());
        // Neither can panic: they only yield.
        let _ = a.await;
        let _ = b.await;
        started.elapsed()
    })
}

/// The CPUs this process may run on, in order.
fn allowed_cpus() -> Result<Vec<usize>, String> {
    sys::allowed_cpus().map_err(|e| format!("sched_getaffinity failed: {e}"))
}

/// Runs the ping-pong for `budget`: the counting thread unparks its partner and
/// parks, the partner mirrors it. Each thread first pins itself to its CPU, if given.
/// The tally counts switches (two per round trip).
fn ping_pong(budget: Budget, cpus: Option<(usize, usize)>) -> Tally {
    let (ping, pong) = (Parker::new(), Parker::new());
    let stop = AtomicBool::new(false);
    let start = Barrier::new(2);
    std::thread::scope(|s| {
        s.spawn(|| {
            if let Some((_, cpu)) = cpus {
                let _ = sys::pin_current_thread(cpu);
            }
            start.wait();
            loop {
                pong.park();
                // Acquire: pairs with the Release store below, though the parker's
                // token already orders it; the flag is read once per wake.
                if stop.load(Ordering::Acquire) {
                    break;
                }
                ping.unpark();
            }
        });
        let counter = s.spawn(|| {
            if let Some((cpu, _)) = cpus {
                let _ = sys::pin_current_thread(cpu);
            }
            start.wait();
            let started = Instant::now();
            let mut trips = 0u64;
            loop {
                for _ in 0..64 {
                    pong.unpark();
                    ping.park();
                }
                trips += 64;
                let spent = match budget {
                    Budget::Duration(d) => started.elapsed() >= d,
                    Budget::Ops(n) => 2 * trips >= n,
                };
                if spent {
                    break;
                }
            }
            let elapsed = started.elapsed();
            // Release: the partner's Acquire load after its last park sees it; the
            // unpark is the token that last park consumes.
            stop.store(true, Ordering::Release);
            pong.unpark();
            Tally {
                ops: 2 * trips,
                elapsed,
            }
        });
        counter.join().expect("the ping-pong thread does not panic")
    })
}

/// The placements to measure on `cpus`, each with the CPUs to pin to.
fn placements(cpus: &[usize]) -> Vec<(Placement, Option<(usize, usize)>)> {
    match cpus {
        [] => vec![(Placement::Unpinned, None)],
        [only] => vec![(Placement::OneCore, Some((*only, *only)))],
        [first, second, ..] => vec![
            (Placement::OneCore, Some((*first, *first))),
            (Placement::TwoCores, Some((*first, *second))),
        ],
    }
}

/// Whether this thread may be pinned to `cpu` (checked on a scratch thread, so the
/// caller's own affinity is untouched).
fn can_pin(cpu: usize) -> Result<(), String> {
    std::thread::scope(|s| {
        s.spawn(|| sys::pin_current_thread(cpu))
            .join()
            .expect("the probe thread does not panic")
    })
    .map_err(|e| format!("sched_setaffinity({cpu}) failed: {e}"))
}

fn measure(config: &Config) -> (Figures, Results) {
    let load = OtherLoad::start();
    let cpus = allowed_cpus();
    let pinning = cpus
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|cpus| cpus.first().map_or(Ok(()), |&cpu| can_pin(cpu)));
    let chosen = match (&cpus, &pinning) {
        (Ok(cpus), Ok(())) => placements(cpus),
        _ => placements(&[]),
    };
    let mut comparison = Comparison::throughput(
        "thread switch, futex ping-pong",
        Budget::Duration(config.sample),
    )
    .rounds(config.rounds);
    for &(placement, pins) in &chosen {
        comparison = comparison.contender(placement.label(), move |budget| ping_pong(budget, pins));
    }
    let results = comparison.run();
    let threads = chosen
        .iter()
        .map(|&(placement, _)| ThreadSwitch {
            placement,
            nanos: 1e9 / results.median(placement.label()),
        })
        .collect();
    (
        Figures {
            threads,
            task: task_switch_ns(config),
            pinning,
            others: load.share(config.cores),
        },
        results,
    )
}

impl Experiment for CoroutineSwitch {
    fn name(&self) -> &'static str {
        "coroutine-vs-thread-switch"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads` is not used: the ping-pong is two threads by definition.
    fn run(&self, config: &Config) -> Report {
        let (figures, results) = measure(config);
        let raw = serde_json::json!({
            "threads": figures.threads.iter().map(|t| serde_json::json!({
                "placement": t.placement.label(),
                "ns_per_switch": t.nanos,
            })).collect::<Vec<_>>(),
            "task_ns_per_switch": figures.task,
            "task_status": if figures.task.is_some() { "measured" } else { TASK_NOT_MEASURED },
            "pinning": figures.pinning.as_ref().map_or_else(Clone::clone, |()| "ok".into()),
            "other_processes_cpu_share": figures.others,
        });
        Report::new(table(&figures), verdict(&figures), vec![results])
            .with_chart(chart(&figures))
            .with_raw(raw)
    }

    fn estimate(&self, config: &Config) -> Option<Duration> {
        Some(throughput_estimate(config, 1, 2))
    }
}

fn table(f: &Figures) -> Table {
    let mut table = Table::new(["switch", "per switch", "switches/s"]);
    for t in &f.threads {
        table.row([
            t.placement.label().to_string(),
            format_nanos(t.nanos),
            format_rate(1e9 / t.nanos),
        ]);
    }
    match f.task {
        Some(task) => table.row([
            "task switch (weft-rt yield_now)".to_string(),
            format_nanos(task),
            format_rate(1e9 / task),
        ]),
        None => table.row([
            "task switch (weft-rt yield_now)".to_string(),
            TASK_NOT_MEASURED.to_string(),
            "-".to_string(),
        ]),
    };
    table
}

/// Bars of nanoseconds per switch, log scale; the task bar appears once measured.
fn chart(f: &Figures) -> Chart {
    let mut groups: Vec<&str> = f.threads.iter().map(|t| t.placement.label()).collect();
    let mut points: Vec<Point> = f
        .threads
        .iter()
        .enumerate()
        .map(|(i, t)| Point::new(i as f64, t.nanos))
        .collect();
    if let Some(task) = f.task {
        points.push(Point::new(groups.len() as f64, task));
        groups.push("task switch (weft-rt yield_now)");
    }
    Chart::bars(
        "Cost of one switch: OS threads against tasks",
        groups,
        "nanoseconds per switch",
    )
    .unit(Unit::Nanos)
    .scale(Scale::Log)
    .series(Series::new("per switch", points))
}

/// CPU affinity, which std does not offer.
#[cfg(target_os = "linux")]
mod sys {
    use std::io;

    /// The CPUs in this thread's affinity mask.
    pub(super) fn allowed_cpus() -> io::Result<Vec<usize>> {
        // SAFETY: cpu_set_t is plain bits; all zeroes is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid, writable cpu_set_t of the size passed.
        if unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            // SAFETY: `cpu` is below CPU_SETSIZE, inside `set`.
            .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
            .collect())
    }

    /// Pins the calling thread to `cpu`.
    pub(super) fn pin_current_thread(cpu: usize) -> io::Result<()> {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // SAFETY: as above.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` was checked to be below CPU_SETSIZE.
        unsafe { libc::CPU_SET(cpu, &mut set) };
        // SAFETY: `set` is a valid cpu_set_t of the size passed; 0 is this thread.
        if unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Elsewhere threads are not pinned.
#[cfg(not(target_os = "linux"))]
mod sys {
    use std::io;

    pub(super) fn allowed_cpus() -> io::Result<Vec<usize>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "CPU affinity is read only on Linux",
        ))
    }

    pub(super) fn pin_current_thread(_: usize) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "CPU affinity is set only on Linux",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(one_core: f64, task: Option<f64>) -> Figures {
        Figures {
            threads: vec![
                ThreadSwitch {
                    placement: Placement::OneCore,
                    nanos: one_core,
                },
                ThreadSwitch {
                    placement: Placement::TwoCores,
                    nanos: 9_000.0,
                },
            ],
            task,
            pinning: Ok(()),
            others: Some(0.25),
        }
    }

    #[test]
    fn without_the_task_half_it_is_inconclusive_and_says_why() {
        let v = verdict(&figures(2_500.0, None));
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(
            v.text
                .contains("2.50 µs per switch, within the notes' 1–10 µs"),
            "{}",
            v.text
        );
        assert!(v.text.contains(TASK_NOT_MEASURED));
        assert!(
            v.text.contains("two cores (futex ping-pong): 9.00 µs"),
            "{}",
            v.text
        );
        assert!(
            v.text.contains("other processes used 25% of the CPUs"),
            "{}",
            v.text
        );
    }

    #[test]
    fn an_order_of_magnitude_reproduces_the_claim() {
        assert_eq!(
            verdict(&figures(2_500.0, Some(50.0))).outcome,
            Outcome::Reproduced
        );
        assert_eq!(
            verdict(&figures(2_500.0, Some(500.0))).outcome,
            Outcome::Partly
        );
        assert_eq!(
            verdict(&figures(2_500.0, Some(2_000.0))).outcome,
            Outcome::NotReproduced
        );
        assert_eq!(
            verdict(&figures(2_500.0, Some(0.0))).outcome,
            Outcome::Inconclusive
        );
    }

    #[test]
    fn the_one_core_figure_stands_for_the_thread_switch() {
        let mut f = figures(700.0, None);
        assert_eq!(f.thread_switch().unwrap().placement, Placement::OneCore);
        assert!(verdict(&f).text.contains("below the notes' 1–10 µs"));
        f.threads.remove(0);
        assert_eq!(f.thread_switch().unwrap().placement, Placement::TwoCores);
        f.threads.clear();
        assert_eq!(verdict(&f).outcome, Outcome::Inconclusive);
    }

    #[test]
    fn placements_follow_the_allowed_cpus() {
        assert_eq!(placements(&[]), vec![(Placement::Unpinned, None)]);
        assert_eq!(placements(&[3]), vec![(Placement::OneCore, Some((3, 3)))]);
        assert_eq!(
            placements(&[0, 1, 2]),
            vec![
                (Placement::OneCore, Some((0, 0))),
                (Placement::TwoCores, Some((0, 1)))
            ]
        );
    }

    #[test]
    fn the_task_row_says_when_it_is_not_measured() {
        let t = table(&figures(2_500.0, None));
        let last = t.rows().last().unwrap();
        assert_eq!(last[0], "task switch (weft-rt yield_now)");
        assert_eq!(last[1], TASK_NOT_MEASURED);
    }

    #[test]
    fn a_short_task_switch_measurement_is_positive() {
        let mut config = Config::new(true);
        config.sample = Duration::from_millis(1);
        config.rounds = 1;
        let nanos = task_switch_ns(&config).expect("a one-worker runtime builds");
        assert!(nanos.is_finite() && nanos > 0.0, "{nanos}");
    }

    #[test]
    fn a_short_ping_pong_counts_round_trips() {
        for pins in [None, Some((0, 0))] {
            let tally = ping_pong(Budget::Ops(256), pins);
            assert!(tally.ops >= 256, "{tally:?}");
            assert_eq!(
                tally.ops % 128,
                0,
                "two switches per trip, 64 trips per batch"
            );
        }
        assert!(chart(&figures(2_500.0, None)).has_data());
    }
}

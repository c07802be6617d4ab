//! `io-multiplexing`: what one wait costs with `select(2)`, `poll(2)` and
//! `epoll_wait(2)` when N descriptors are idle and one is ready.
//!
//! # The set-up
//!
//! For each size N, N + 1 pipes: the read ends of the first N are idle (nothing is ever
//! written), the last one holds a byte that is never read, so it stays readable. The
//! ready descriptor is the highest-numbered one and the last in every array, which is
//! the case that makes the kernel do all its work: `select` and `poll` register the
//! waiter on each idle descriptor's wait queue before they reach the ready one (after
//! a ready descriptor they stop registering), then unregister them all on the way out.
//! Every call has a one-second timeout, so the kernel treats it as a real wait, but it
//! never sleeps: one descriptor is always ready.
//!
//! Each timed call does what a caller of that interface does per wait:
//!
//! - `select`: clears an `fd_set` and sets N + 1 bits (the kernel overwrites the set,
//!   so it is rebuilt every call), then `select(max + 1, ..)`;
//! - `poll`: fills an array of N + 1 `pollfd` from the descriptor list (a loop that
//!   keeps its array could skip this; it is a few nanoseconds per entry next to the
//!   kernel's copy-in and scan), then `poll`;
//! - `epoll_wait`: one call on an epoll instance where all N + 1 are registered
//!   (level-triggered, `EPOLLIN`); the registration is paid once, and timed apart as
//!   `epoll_ctl(EPOLL_CTL_ADD)` per descriptor.
//!
//! The pipes' write ends are moved above `FD_SETSIZE` (with `F_DUPFD_CLOEXEC`) when the
//! descriptor limit allows, so the watched read ends are numbered densely from the
//! lowest free descriptor and `select` can be measured up to about 1,000 of them.
//! `select` is "n/a" once a watched descriptor is `FD_SETSIZE` (1024) or more: an
//! `fd_set` is a fixed 1024-bit bitmap, and `FD_SET` on a larger descriptor writes
//! past it.
//!
//! At start the soft `RLIMIT_NOFILE` is raised to the hard limit; sizes that would not
//! fit under it are dropped (and the largest size that fits is tried instead), and the
//! output says so.
//!
//! Per size the three mechanisms form one latency comparison of interleaved rounds
//! (rotating order); the figures are medians of nanoseconds per wait call.

use crate::experiment::{
    Chart, Claim, Config, Experiment, Outcome, Point, Quote, Report, Scale, Series, Unit, Verdict,
};
use std::cell::Cell;
use std::io;
use std::time::{Duration, Instant};
use weft_bench::format::{format_nanos, format_ratio};
use weft_bench::{Comparison, Results, Table};

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct IoMultiplexing;

const CLAIM: Claim = Claim {
    gist: "select and poll scan every descriptor on each wait (O(n)); epoll delivers events in O(1)",
    quotes: &[
        Quote {
            text: "The API evolved from select() (fixed fd limit) to poll() (dynamic but O(n) \
                   scanning) to epoll() (Linux, O(1) event delivery)",
            source: "Multitasking, 2.1 Asynchronous Programming and Event Loops",
        },
        Quote {
            text: "the kernel maintains a list of monitored descriptors and notifies the \
                   application only when events occur, eliminating the need to check every \
                   descriptor.",
            source: "Multitasking (outline), 2.1 Asynchronous Programming and Event Loops",
        },
    ],
};

/// Sizes tried (idle descriptors), full runs.
pub const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
/// Sizes tried with `--quick`.
pub const QUICK_SIZES: [usize; 3] = [10, 100, 1_000];
/// `FD_SETSIZE` on Linux: the number of bits in an `fd_set`.
pub const FD_SETSIZE: usize = 1024;
/// Descriptors kept free for everything else the process has open or opens meanwhile.
const SPARE_DESCRIPTORS: u64 = 64;

/// poll's cost must grow at least as (N_max / N_min) to this power between the smallest
/// and the largest size: 0.5 is "half-linear" on a log-log plot, far above anything
/// constant and below the slope of 1 a pure scan would have (the fixed cost of the
/// syscall flattens the small sizes).
pub const GROWTH_EXPONENT: f64 = 0.5;
/// epoll_wait's cost at the largest size may be at most this many times its cost at
/// the smallest for "stays O(1)": room for cache effects of a larger process, not for
/// growth with N.
pub const FLAT_FACTOR: f64 = 3.0;
/// The sizes must span at least this factor for the verdict to say anything.
pub const MIN_SPAN: f64 = 10.0;

/// The three interfaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// `select(2)` with an `fd_set` rebuilt per call.
    Select,
    /// `poll(2)` with an array of `pollfd`.
    Poll,
    /// `epoll_wait(2)` on an instance with every descriptor registered.
    Epoll,
}

impl Mechanism {
    /// Every mechanism, in table order.
    pub const ALL: [Mechanism; 3] = [Mechanism::Select, Mechanism::Poll, Mechanism::Epoll];

    /// The contender's name and the table's column.
    pub fn label(self) -> &'static str {
        match self {
            Mechanism::Select => "select",
            Mechanism::Poll => "poll",
            Mechanism::Epoll => "epoll_wait",
        }
    }
}

/// One size's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Idle descriptors (one more, ready, is watched too).
    pub idle: usize,
    /// Median nanoseconds per wait, indexed like [`Mechanism::ALL`]; `None` where the
    /// mechanism cannot watch this many (select past `FD_SETSIZE`).
    pub nanos: [Option<f64>; 3],
    /// Median nanoseconds per `epoll_ctl(EPOLL_CTL_ADD)`, if measured.
    pub register_nanos: Option<f64>,
}

impl Row {
    /// The median for `mechanism`, if measured.
    pub fn of(&self, mechanism: Mechanism) -> Option<f64> {
        self.nanos[mechanism as usize]
    }
}

/// The descriptor limit, as found and as raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// The soft `RLIMIT_NOFILE` at start.
    pub soft_before: u64,
    /// The soft limit after raising it to the hard limit (equal if raising failed).
    pub soft_after: u64,
    /// The hard limit.
    pub hard: u64,
    /// The largest size the limit allows, if it is below the largest planned size.
    pub capped_at: Option<usize>,
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// One row per size, smallest first.
    pub rows: Vec<Row>,
    /// The descriptor limit.
    pub limit: Limit,
    /// Wait calls that did not report exactly one ready descriptor (should be none).
    pub anomalies: u64,
}

/// The slope of the least-squares line through `(ln x, ln y)`: how the cost grows with
/// N on a log-log plot (1 for linear growth, 0 for constant). `None` with fewer than
/// two distinct positive `x`, or a non-positive `y`.
///
/// # Examples
///
/// ```
/// use weft_lab::experiments::io_multiplexing::log_log_slope;
///
/// let linear = [(10.0, 5.0), (100.0, 50.0), (1000.0, 500.0)];
/// assert!((log_log_slope(&linear).unwrap() - 1.0).abs() < 1e-9);
/// assert_eq!(log_log_slope(&[(10.0, 1.0)]), None);
/// ```
pub fn log_log_slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.iter().any(|&(x, y)| !(x > 0.0 && y > 0.0)) {
        return None;
    }
    let logs: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x.ln(), y.ln())).collect();
    let n = logs.len() as f64;
    let mean_x = logs.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = logs.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = logs.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = logs.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    if logs.len() < 2 || sxx <= 1e-12 {
        return None;
    }
    Some(sxy / sxx)
}

impl Figures {
    /// `(N, median)` for every size where `mechanism` was measured.
    pub fn points(&self, mechanism: Mechanism) -> Vec<(f64, f64)> {
        self.rows
            .iter()
            .filter_map(|r| Some((r.idle as f64, r.of(mechanism)?)))
            .collect()
    }

    /// The mechanism's fitted log-log slope over the sizes it was measured at.
    pub fn slope(&self, mechanism: Mechanism) -> Option<f64> {
        log_log_slope(&self.points(mechanism))
    }

    /// Cost at the largest size it was measured at over cost at the smallest, with the
    /// two sizes.
    pub fn growth(&self, mechanism: Mechanism) -> Option<(f64, usize, usize)> {
        let points = self.points(mechanism);
        let (first, last) = (points.first()?, points.last()?);
        if last.0 <= first.0 {
            return None;
        }
        Some((last.1 / first.1, first.0 as usize, last.0 as usize))
    }
}

/// A line on the descriptor limit: raised or not, and whether sizes were capped.
pub fn limit_line(limit: &Limit) -> String {
    let raised = if limit.soft_after > limit.soft_before {
        format!(
            "RLIMIT_NOFILE: soft limit raised from {} to the hard limit, {}",
            limit.soft_before, limit.soft_after
        )
    } else {
        format!(
            "RLIMIT_NOFILE: soft limit {} (hard {})",
            limit.soft_after, limit.hard
        )
    };
    match limit.capped_at {
        Some(cap) => format!(
            "{raised}; each size needs two descriptors per pipe, so N is capped at {cap} \
             here"
        ),
        None => format!("{raised}; every planned size fits"),
    }
}

/// Judges the claim: poll's cost at the largest size is at least
/// `(N_max / N_min)^`[`GROWTH_EXPONENT`] times its cost at the smallest (it scans), and
/// epoll_wait's stays within [`FLAT_FACTOR`] (it does not). One without the other is
/// partly; sizes spanning less than [`MIN_SPAN`], or anomalous waits, are
/// inconclusive.
pub fn verdict(f: &Figures) -> Verdict {
    let mut lines = vec![limit_line(&f.limit)];
    let (poll, epoll) = match (f.growth(Mechanism::Poll), f.growth(Mechanism::Epoll)) {
        (Some(poll), Some(epoll)) => (poll, epoll),
        _ => {
            lines.push("fewer than two sizes measured: nothing to compare".into());
            return Verdict {
                outcome: Outcome::Inconclusive,
                text: lines.join("\n"),
            };
        }
    };
    let (poll_ratio, low, high) = poll;
    let span = high as f64 / low as f64;
    let needed = span.powf(GROWTH_EXPONENT);
    let slope = |m: Mechanism| {
        f.slope(m)
            .map_or_else(|| "n/a".to_string(), |s| format!("{s:.2}"))
    };
    let at = |m: Mechanism, n: usize| {
        f.rows
            .iter()
            .find(|r| r.idle == n)
            .and_then(|r| r.of(m))
            .map_or_else(|| "n/a".to_string(), format_nanos)
    };
    let grows = poll_ratio >= needed;
    lines.push(format!(
        "poll: {} per wait with {low} idle descriptors, {} with {high}: {} as much for {}x \
         the descriptors (log-log slope {}){}",
        at(Mechanism::Poll, low),
        at(Mechanism::Poll, high),
        format_ratio(poll_ratio),
        span as u64,
        slope(Mechanism::Poll),
        if grows {
            ": it scans every descriptor"
        } else {
            ""
        },
    ));
    if let Some((select_ratio, s_low, s_high)) = f.growth(Mechanism::Select) {
        lines.push(format!(
            "select: {} with {s_low}, {} with {s_high}: {} (slope {}); n/a beyond {} \
             descriptors, the fixed size of an fd_set",
            at(Mechanism::Select, s_low),
            at(Mechanism::Select, s_high),
            format_ratio(select_ratio),
            slope(Mechanism::Select),
            FD_SETSIZE
        ));
    }
    let (epoll_ratio, _, _) = epoll;
    let flat = epoll_ratio <= FLAT_FACTOR;
    lines.push(format!(
        "epoll_wait: {} with {low}, {} with {high}: {} (slope {}){}",
        at(Mechanism::Epoll, low),
        at(Mechanism::Epoll, high),
        format_ratio(epoll_ratio),
        slope(Mechanism::Epoll),
        if flat {
            ": the cost does not follow N"
        } else {
            ": it grew with N"
        },
    ));
    if let Some(register) = f.rows.last().and_then(|r| r.register_nanos) {
        lines.push(format!(
            "epoll pays at registration instead: {} per epoll_ctl(ADD), once per \
             descriptor",
            format_nanos(register)
        ));
    }
    let mut outcome = if span < MIN_SPAN {
        lines.push(format!(
            "inconclusive: the sizes span only {span:.0}x (at least {MIN_SPAN:.0}x needed)"
        ));
        Outcome::Inconclusive
    } else {
        match (grows, flat) {
            (true, true) => Outcome::Reproduced,
            (false, false) => Outcome::NotReproduced,
            _ => Outcome::Partly,
        }
    };
    if !grows && span >= MIN_SPAN {
        lines.push(format!(
            "poll grew less than the {needed:.0}x counted as scanning over these sizes"
        ));
    }
    if f.anomalies > 0 {
        outcome = Outcome::Inconclusive;
        lines.push(format!(
            "inconclusive: {} waits did not report exactly the one ready descriptor",
            f.anomalies
        ));
    }
    Verdict {
        outcome,
        text: lines.join("\n"),
    }
}

/// The sizes to try under a limit of `limit` descriptors with `open` already open:
/// the planned ones that fit, and the largest that fits if that drops any. Returns the
/// sizes and the cap if there was one.
pub fn sizes_within(planned: &[usize], limit: u64, open: u64) -> (Vec<usize>, Option<usize>) {
    // Two descriptors per pipe, N + 1 pipes, one epoll instance.
    let free = limit.saturating_sub(open + SPARE_DESCRIPTORS + 1);
    let most = usize::try_from(free / 2)
        .unwrap_or(usize::MAX)
        .saturating_sub(1);
    let mut sizes: Vec<usize> = planned.iter().copied().filter(|&n| n <= most).collect();
    let largest = planned.iter().copied().max().unwrap_or(0);
    if largest <= most {
        return (sizes, None);
    }
    if most > 0 && sizes.last() != Some(&most) {
        sizes.push(most);
    }
    (sizes, Some(most))
}

/// Whether the descriptor limit leaves room to move every write end above
/// `FD_SETSIZE` for `idle` idle pipes.
fn can_move_write_ends(limit: u64, idle: usize) -> bool {
    limit >= (FD_SETSIZE + idle + 1) as u64 + SPARE_DESCRIPTORS
}

/// The latency batch length: a fifth of the sample time, at least 200 µs.
fn min_sample(config: &Config) -> Duration {
    (config.sample / 5).max(Duration::from_micros(200))
}

/// `epoll_ctl(ADD)` calls timed per sample of the registration figure, at least.
const REGISTER_BATCH: usize = 4_096;

/// Median nanoseconds per `epoll_ctl(ADD)` of the descriptors in `fds`, over `rounds`
/// samples; each sample registers them into fresh instances until it has made at least
/// [`REGISTER_BATCH`] calls.
fn registration_nanos(fds: &[i32], rounds: usize) -> io::Result<f64> {
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds.max(1) {
        let mut calls = 0usize;
        let mut spent = Duration::ZERO;
        while calls < REGISTER_BATCH {
            let epoll = sys::Epoll::new()?;
            let started = Instant::now();
            for (key, &fd) in fds.iter().enumerate() {
                epoll.add(fd, key as u64)?;
            }
            spent += started.elapsed();
            calls += fds.len();
        }
        samples.push(spent.as_nanos() as f64 / calls as f64);
    }
    Ok(weft_bench::stats::median(&samples).unwrap_or(f64::NAN))
}

/// Measures one size: the comparison of the mechanisms that can watch this many, and
/// the registration cost.
fn measure_size(
    idle: usize,
    move_write_ends: bool,
    config: &Config,
    anomalies: &Cell<u64>,
) -> io::Result<(Row, Results)> {
    let pipes = sys::Pipes::new(idle, move_write_ends)?;
    let fds = pipes.watched();
    let epoll = sys::Epoll::new()?;
    for (key, &fd) in fds.iter().enumerate() {
        epoll.add(fd, key as u64)?;
    }
    let mut poll = sys::PollSet::new(&fds);
    let mut events = sys::Events::new(64);
    let check = |ready: io::Result<usize>| {
        if !matches!(ready, Ok(1)) {
            anomalies.set(anomalies.get() + 1);
        }
    };
    let mut comparison =
        Comparison::latency(format!("one wait, {idle} idle descriptors + 1 ready"))
            .min_sample(min_sample(config))
            .rounds(config.rounds);
    // Left out, not faked, where a descriptor does not fit in an fd_set.
    if let Some(mut select) = sys::SelectSet::new(&fds) {
        comparison = comparison.contender(Mechanism::Select.label(), move || check(select.wait()));
    }
    let results = comparison
        .contender(Mechanism::Poll.label(), || check(poll.wait()))
        .contender(Mechanism::Epoll.label(), || check(epoll.wait(&mut events)))
        .baseline(Mechanism::Poll.label())
        .run();
    drop(epoll);

    let register = registration_nanos(&fds, config.rounds)?;
    let nanos = Mechanism::ALL.map(|m| results.get(m.label()).map(|c| c.summary.median));
    Ok((
        Row {
            idle,
            nanos,
            register_nanos: Some(register),
        },
        results,
    ))
}

/// Raises the limit, picks the sizes, and measures each.
fn measure(config: &Config) -> io::Result<(Figures, Vec<Results>)> {
    let (soft_before, hard) = super::fd_limit::nofile_limit()?;
    let soft_after = match super::fd_limit::raise_nofile_limit(hard) {
        Ok(()) => hard,
        Err(_) => soft_before,
    };
    let planned: &[usize] = if config.quick { &QUICK_SIZES } else { &SIZES };
    let (sizes, capped_at) = sizes_within(planned, soft_after, sys::open_descriptors());
    let limit = Limit {
        soft_before,
        soft_after,
        hard,
        capped_at,
    };
    let anomalies = Cell::new(0);
    let mut rows = Vec::new();
    let mut comparisons = Vec::new();
    for idle in sizes {
        let (row, results) = measure_size(
            idle,
            can_move_write_ends(soft_after, idle),
            config,
            &anomalies,
        )?;
        rows.push(row);
        comparisons.push(results);
    }
    Ok((
        Figures {
            rows,
            limit,
            anomalies: anomalies.get(),
        },
        comparisons,
    ))
}

impl Experiment for IoMultiplexing {
    fn name(&self) -> &'static str {
        "io-multiplexing"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads` is not used: one thread waits. `--duration-ms` sets the timed batch
    /// (a fifth of it), `--rounds` the rounds per size.
    fn run(&self, config: &Config) -> Report {
        match measure(config) {
            Ok((figures, comparisons)) => {
                let waits = wait_chart(&figures, &comparisons);
                Report::new(table(&figures), verdict(&figures), comparisons)
                    .with_raw(raw(&figures))
                    .with_chart(waits)
                    .with_chart(register_chart(&figures))
            }
            Err(error) => Report::new(
                Table::new(["descriptors"]),
                Verdict {
                    outcome: Outcome::Inconclusive,
                    text: format!("could not set up the descriptors: {error}"),
                },
                Vec::new(),
            ),
        }
    }

    fn estimate(&self, config: &Config) -> Option<Duration> {
        let sizes = if config.quick {
            QUICK_SIZES.len()
        } else {
            SIZES.len()
        };
        // Three contenders, a calibration of about two batches and one batch per round.
        let per_size = min_sample(config) * (3 * (config.rounds as u32 + 2));
        Some(per_size * sizes as u32 + Duration::from_millis(50))
    }
}

fn raw(f: &Figures) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = f
        .rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "idle": r.idle,
                "select_ns": r.of(Mechanism::Select),
                "poll_ns": r.of(Mechanism::Poll),
                "epoll_wait_ns": r.of(Mechanism::Epoll),
                "epoll_ctl_add_ns": r.register_nanos,
            })
        })
        .collect();
    serde_json::json!({
        "rows": rows,
        "slopes": {
            "select": f.slope(Mechanism::Select),
            "poll": f.slope(Mechanism::Poll),
            "epoll_wait": f.slope(Mechanism::Epoll),
        },
        "rlimit_nofile": {
            "soft_before": f.limit.soft_before,
            "soft_after": f.limit.soft_after,
            "hard": f.limit.hard,
            "capped_at": f.limit.capped_at,
        },
        "fd_setsize": FD_SETSIZE,
        "anomalies": f.anomalies,
    })
}

fn table(f: &Figures) -> Table {
    let mut table = Table::new([
        "idle descriptors (+1 ready)",
        "select / wait",
        "poll / wait",
        "epoll_wait / wait",
        "epoll_ctl ADD / fd",
    ]);
    let cell = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), format_nanos);
    for r in &f.rows {
        let select = match r.of(Mechanism::Select) {
            Some(v) => format_nanos(v),
            None => format!("n/a (> FD_SETSIZE {FD_SETSIZE})"),
        };
        table.row([
            r.idle.to_string(),
            select,
            cell(r.of(Mechanism::Poll)),
            cell(r.of(Mechanism::Epoll)),
            cell(r.register_nanos),
        ]);
    }
    let slope = |m: Mechanism| {
        f.slope(m)
            .map_or_else(|| "n/a".to_string(), |s| format!("{s:.2}"))
    };
    let register_slope = log_log_slope(
        &f.rows
            .iter()
            .filter_map(|r| Some((r.idle as f64, r.register_nanos?)))
            .collect::<Vec<_>>(),
    )
    .map_or_else(|| "n/a".to_string(), |s| format!("{s:.2}"));
    table.row([
        "log-log slope (1 = O(n), 0 = O(1))".to_string(),
        slope(Mechanism::Select),
        slope(Mechanism::Poll),
        slope(Mechanism::Epoll),
        register_slope,
    ]);
    table
}

/// Time per wait against N, log-log, one line per mechanism.
fn wait_chart(f: &Figures, comparisons: &[Results]) -> Chart {
    let mut chart = Chart::line(
        "Time per wait call against idle descriptors (one more is ready)",
        "idle descriptors",
        "nanoseconds per wait call",
    )
    .unit(Unit::Nanos)
    .scale(Scale::Log);
    for mechanism in Mechanism::ALL {
        let points: Vec<Point> = f
            .rows
            .iter()
            .zip(comparisons)
            .filter_map(|(row, results)| {
                Some(Point::of_contender(
                    row.idle as f64,
                    results.get(mechanism.label())?,
                ))
            })
            .collect();
        if !points.is_empty() {
            chart = chart.series(Series::new(mechanism.label(), points));
        }
    }
    if f.rows.iter().any(|r| r.idle >= FD_SETSIZE) {
        chart = chart.marker(FD_SETSIZE as f64, "FD_SETSIZE: select stops");
    }
    chart
}

/// The registration cost epoll pays instead, per descriptor, against N.
fn register_chart(f: &Figures) -> Chart {
    let points = f
        .rows
        .iter()
        .filter_map(|r| Some(Point::new(r.idle as f64, r.register_nanos?)))
        .collect();
    Chart::line(
        "epoll registration: epoll_ctl(EPOLL_CTL_ADD) per descriptor",
        "descriptors registered",
        "nanoseconds per epoll_ctl(ADD)",
    )
    .unit(Unit::Nanos)
    .scale(Scale::Log)
    .series(Series::new("epoll_ctl ADD", points).color(2))
}

/// The raw descriptors and syscalls; the timed calls are the bare syscalls, so they
/// go through `libc` directly.
#[cfg(target_os = "linux")]
mod sys {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

    /// Descriptors open now (an estimate is enough: it only sizes a margin).
    pub(super) fn open_descriptors() -> u64 {
        std::fs::read_dir("/proc/self/fd").map_or(16, |d| d.count() as u64)
    }

    fn owned(fd: RawFd) -> io::Result<OwnedFd> {
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by the kernel, open, and owned by no one else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// A pipe: the watched read end and the write end that keeps it open.
    struct Pipe {
        read: OwnedFd,
        _write: OwnedFd,
    }

    /// `idle` idle pipes, then one with a byte in it.
    pub(super) struct Pipes {
        pipes: Vec<Pipe>,
    }

    impl Pipes {
        /// With `move_write_ends`, each write end is moved to a descriptor at or above
        /// `FD_SETSIZE`, so the read ends take consecutive low numbers.
        pub(super) fn new(idle: usize, move_write_ends: bool) -> io::Result<Pipes> {
            let mut pipes = Vec::with_capacity(idle + 1);
            for _ in 0..=idle {
                let mut ends = [-1; 2];
                // SAFETY: `ends` has room for the two descriptors pipe2 writes.
                if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) }
                    != 0
                {
                    return Err(io::Error::last_os_error());
                }
                let read = owned(ends[0])?;
                let mut write = owned(ends[1])?;
                if move_write_ends {
                    // SAFETY: F_DUPFD_CLOEXEC duplicates an open descriptor we own to
                    // the lowest free number at or above the argument.
                    let high = unsafe {
                        libc::fcntl(
                            write.as_raw_fd(),
                            libc::F_DUPFD_CLOEXEC,
                            super::FD_SETSIZE as libc::c_int,
                        )
                    };
                    write = owned(high)?; // the old number closes here
                }
                pipes.push(Pipe {
                    read,
                    _write: write,
                });
            }
            let ready = pipes.last().expect("at least one pipe");
            let byte = 1u8;
            // SAFETY: writes one byte from a live local to a pipe we own.
            let written =
                unsafe { libc::write(ready._write.as_raw_fd(), (&raw const byte).cast(), 1) };
            if written != 1 {
                return Err(io::Error::last_os_error());
            }
            Ok(Pipes { pipes })
        }

        /// The read ends, the ready one last.
        pub(super) fn watched(&self) -> Vec<RawFd> {
            self.pipes.iter().map(|p| p.read.as_raw_fd()).collect()
        }
    }

    /// An epoll instance.
    pub(super) struct Epoll {
        fd: OwnedFd,
    }

    impl Epoll {
        pub(super) fn new() -> io::Result<Epoll> {
            // SAFETY: no pointers; returns a new descriptor or -1.
            let fd = owned(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
            Ok(Epoll { fd })
        }

        /// Registers `fd` for readability, level-triggered, with `key`.
        pub(super) fn add(&self, fd: RawFd, key: u64) -> io::Result<()> {
            let mut event = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: key,
            };
            // SAFETY: both descriptors are open; `event` is a valid epoll_event.
            if unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) }
                != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        /// One `epoll_wait` with a one-second timeout; the number of events.
        pub(super) fn wait(&self, events: &mut Events) -> io::Result<usize> {
            // SAFETY: the buffer holds `len` epoll_events the kernel may write.
            let n = unsafe {
                libc::epoll_wait(
                    self.fd.as_raw_fd(),
                    events.buffer.as_mut_ptr(),
                    events.buffer.len() as libc::c_int,
                    1_000,
                )
            };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        }
    }

    /// Room for the events one `epoll_wait` returns.
    pub(super) struct Events {
        buffer: Vec<libc::epoll_event>,
    }

    impl Events {
        pub(super) fn new(capacity: usize) -> Events {
            Events {
                buffer: vec![libc::epoll_event { events: 0, u64: 0 }; capacity],
            }
        }
    }

    /// The descriptors a `poll` watches, and the array rebuilt from them per call.
    pub(super) struct PollSet {
        fds: Vec<RawFd>,
        array: Vec<libc::pollfd>,
    }

    impl PollSet {
        pub(super) fn new(fds: &[RawFd]) -> PollSet {
            PollSet {
                fds: fds.to_vec(),
                array: Vec::with_capacity(fds.len()),
            }
        }

        /// Fills the array and polls once with a one-second timeout; the number of
        /// ready descriptors.
        pub(super) fn wait(&mut self) -> io::Result<usize> {
            self.array.clear();
            self.array.extend(self.fds.iter().map(|&fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            }));
            // SAFETY: the array holds `len` initialised pollfd entries.
            let n = unsafe {
                libc::poll(
                    self.array.as_mut_ptr(),
                    self.array.len() as libc::nfds_t,
                    1_000,
                )
            };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        }
    }

    /// The descriptors a `select` watches, all below `FD_SETSIZE`.
    pub(super) struct SelectSet {
        fds: Vec<RawFd>,
        nfds: libc::c_int,
    }

    impl SelectSet {
        /// `None` if a descriptor is negative or at least `FD_SETSIZE`.
        pub(super) fn new(fds: &[RawFd]) -> Option<SelectSet> {
            if fds
                .iter()
                .any(|&fd| fd < 0 || fd as usize >= super::FD_SETSIZE)
            {
                return None;
            }
            let nfds = fds.iter().copied().max().map_or(0, |m| m + 1);
            Some(SelectSet {
                fds: fds.to_vec(),
                nfds,
            })
        }

        /// Builds the fd_set and selects once with a one-second timeout; the number of
        /// ready descriptors.
        pub(super) fn wait(&mut self) -> io::Result<usize> {
            // SAFETY: fd_set is plain bits; all zeroes is the empty set.
            let mut set: libc::fd_set = unsafe { std::mem::zeroed() };
            for &fd in &self.fds {
                // SAFETY: `new` checked 0 <= fd < FD_SETSIZE, so the bit is inside
                // `set`.
                unsafe { libc::FD_SET(fd, &mut set) };
            }
            let mut timeout = libc::timeval {
                tv_sec: 1,
                tv_usec: 0,
            };
            // SAFETY: `set` and `timeout` are valid for the call; the null sets are
            // allowed.
            let n = unsafe {
                libc::select(
                    self.nfds,
                    &mut set,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    &mut timeout,
                )
            };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        }
    }
}

/// Elsewhere there is no epoll: every set-up fails with `Unsupported`.
#[cfg(not(target_os = "linux"))]
mod sys {
    use std::io;

    fn unsupported() -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, "epoll needs Linux")
    }

    pub(super) fn open_descriptors() -> u64 {
        0
    }
    pub(super) struct Pipes;
    impl Pipes {
        pub(super) fn new(_: usize, _: bool) -> io::Result<Pipes> {
            Err(unsupported())
        }
        pub(super) fn watched(&self) -> Vec<i32> {
            Vec::new()
        }
    }
    pub(super) struct Epoll;
    impl Epoll {
        pub(super) fn new() -> io::Result<Epoll> {
            Err(unsupported())
        }
        pub(super) fn add(&self, _: i32, _: u64) -> io::Result<()> {
            Err(unsupported())
        }
        pub(super) fn wait(&self, _: &mut Events) -> io::Result<usize> {
            Err(unsupported())
        }
    }
    pub(super) struct Events;
    impl Events {
        pub(super) fn new(_: usize) -> Events {
            Events
        }
    }
    pub(super) struct PollSet;
    impl PollSet {
        pub(super) fn new(_: &[i32]) -> PollSet {
            PollSet
        }
        pub(super) fn wait(&mut self) -> io::Result<usize> {
            Err(unsupported())
        }
    }
    pub(super) struct SelectSet;
    impl SelectSet {
        pub(super) fn new(_: &[i32]) -> Option<SelectSet> {
            None
        }
        pub(super) fn wait(&mut self) -> io::Result<usize> {
            Err(unsupported())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(capped_at: Option<usize>) -> Limit {
        Limit {
            soft_before: 1024,
            soft_after: 524_288,
            hard: 524_288,
            capped_at,
        }
    }

    /// Rows with costs `fixed + per_fd * N` (select only up to FD_SETSIZE).
    fn figures(poll_per_fd: f64, epoll_per_fd: f64) -> Figures {
        let rows = SIZES
            .iter()
            .map(|&n| {
                let x = n as f64;
                Row {
                    idle: n,
                    nanos: [
                        (n < FD_SETSIZE).then_some(300.0 + 40.0 * x),
                        Some(300.0 + poll_per_fd * x),
                        Some(250.0 + epoll_per_fd * x),
                    ],
                    register_nanos: Some(150.0),
                }
            })
            .collect();
        Figures {
            rows,
            limit: limit(None),
            anomalies: 0,
        }
    }

    #[test]
    fn slope_of_power_laws() {
        let cubic: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0]
            .iter()
            .map(|&x| (x, x * x * x))
            .collect();
        assert!((log_log_slope(&cubic).unwrap() - 3.0).abs() < 1e-9);
        let flat = [(10.0, 7.0), (100.0, 7.0), (1000.0, 7.0)];
        assert!(log_log_slope(&flat).unwrap().abs() < 1e-9);
    }

    #[test]
    fn slope_needs_two_distinct_positive_points() {
        assert_eq!(log_log_slope(&[]), None);
        assert_eq!(log_log_slope(&[(10.0, 1.0), (10.0, 2.0)]), None);
        assert_eq!(log_log_slope(&[(10.0, 1.0), (100.0, 0.0)]), None);
        assert_eq!(log_log_slope(&[(0.0, 1.0), (100.0, 2.0)]), None);
    }

    #[test]
    fn scanning_poll_and_flat_epoll_reproduce_the_claim() {
        let f = figures(40.0, 0.0);
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        assert!(v.text.contains("it scans every descriptor"), "{}", v.text);
        assert!(v.text.contains("the cost does not follow N"), "{}", v.text);
        assert!(v.text.contains("n/a beyond 1024"), "{}", v.text);
        assert!(v.text.contains("raised from 1024"), "{}", v.text);
        // poll's slope approaches 1 from below (its fixed cost), epoll's is 0.
        let poll = f.slope(Mechanism::Poll).unwrap();
        assert!(poll > 0.6 && poll < 1.0, "{poll}");
        assert!(f.slope(Mechanism::Epoll).unwrap().abs() < 1e-9);
        // select is fitted over the sizes it could watch only.
        assert_eq!(f.points(Mechanism::Select).len(), 3);
    }

    #[test]
    fn growing_epoll_is_partly() {
        let v = verdict(&figures(40.0, 5.0));
        assert_eq!(v.outcome, Outcome::Partly, "{}", v.text);
        assert!(v.text.contains("it grew with N"));
    }

    #[test]
    fn flat_poll_and_growing_epoll_is_not_reproduced() {
        let v = verdict(&figures(0.001, 5.0));
        assert_eq!(v.outcome, Outcome::NotReproduced, "{}", v.text);
        assert!(v.text.contains("poll grew less than"), "{}", v.text);
    }

    #[test]
    fn narrow_sizes_and_anomalies_are_inconclusive() {
        let mut f = figures(40.0, 0.0);
        f.rows.truncate(1);
        assert_eq!(verdict(&f).outcome, Outcome::Inconclusive);

        let mut f = figures(40.0, 0.0);
        f.rows = vec![
            f.rows[0].clone(),
            Row {
                idle: 50,
                ..f.rows[0].clone()
            },
        ];
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.text);
        assert!(v.text.contains("span only 5x"), "{}", v.text);

        let mut f = figures(40.0, 0.0);
        f.anomalies = 3;
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.text.contains("3 waits did not report"));
    }

    #[test]
    fn sizes_are_capped_by_the_descriptor_limit() {
        assert_eq!(sizes_within(&SIZES, 1_048_576, 10), (SIZES.to_vec(), None));
        // 4096 descriptors, 10 open: (4096 - 10 - 64 - 1) / 2 - 1 = 2009 idle pipes.
        assert_eq!(
            sizes_within(&SIZES, 4096, 10),
            (vec![10, 100, 1000, 2009], Some(2009))
        );
        assert_eq!(sizes_within(&SIZES, 64, 10), (vec![], Some(0)));
        let line = limit_line(&limit(Some(2009)));
        assert!(line.contains("capped at 2009"), "{line}");
        assert!(limit_line(&limit(None)).contains("every planned size fits"));
    }

    #[test]
    fn the_table_marks_select_beyond_fd_setsize() {
        let t = table(&figures(40.0, 0.0));
        assert_eq!(t.rows().len(), SIZES.len() + 1);
        assert!(t.rows()[3][1].starts_with("n/a"));
        assert_eq!(t.rows()[0][1], "700 ns");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_tiny_run_measures_every_mechanism() {
        let mut config = Config::new(true);
        config.sample = Duration::from_millis(1);
        config.rounds = 1;
        let anomalies = Cell::new(0);
        let (row, results) = measure_size(50, true, &config, &anomalies).unwrap();
        assert_eq!(anomalies.get(), 0);
        assert_eq!(row.idle, 50);
        for m in Mechanism::ALL {
            assert!(row.of(m).is_some_and(|v| v > 0.0), "{m:?}: {row:?}");
            assert!(results.get(m.label()).is_some());
        }
        assert!(row.register_nanos.is_some_and(|v| v > 0.0));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn select_is_left_out_past_fd_setsize() {
        let pipes = sys::Pipes::new(3, false).unwrap();
        let mut fds = pipes.watched();
        assert!(sys::SelectSet::new(&fds).is_some());
        fds.push(FD_SETSIZE as i32);
        assert!(sys::SelectSet::new(&fds).is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_ready_pipe_is_the_only_ready_one() {
        let pipes = sys::Pipes::new(20, false).unwrap();
        let fds = pipes.watched();
        let mut poll = sys::PollSet::new(&fds);
        assert_eq!(poll.wait().unwrap(), 1);
        let mut select = sys::SelectSet::new(&fds).unwrap();
        assert_eq!(select.wait().unwrap(), 1);
        let epoll = sys::Epoll::new().unwrap();
        for (key, &fd) in fds.iter().enumerate() {
            epoll.add(fd, key as u64).unwrap();
        }
        assert_eq!(epoll.wait(&mut sys::Events::new(8)).unwrap(), 1);
    }
}

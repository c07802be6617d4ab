//! `deadlock`: weft-sync's deadlock detector catching a lock-order inversion before
//! anything blocks, then finding a real deadlock with its wait-for check, from which
//! the program recovers.
//!
//! # Why a child process
//!
//! The detector is weft-sync's `deadlock-detection` cargo feature, a compile-time
//! switch: with it on, every lock operation of every experiment updates the
//! detector's per-thread record. Measured on a 2-core VM (`run lock-contention
//! --quick`), it made the uncontended weft `Mutex` 3.4x slower and the `SpinLock` 8x
//! slower, which would falsify the lock-contention, lock-free and false-sharing
//! figures. Features are per package, and cargo unifies them across a workspace
//! build, so the lab cannot turn it on for one experiment alone. The demonstration is
//! therefore a separate little program, `crates/weft-lab/deadlock-child` (its own
//! workspace, so the feature never leaks into the main build), which this experiment
//! builds with cargo on first use (about 15 s, into `target/lab-deadlock-child`),
//! runs with a time limit (a hung child is killed: the lab always recovers), and
//! reads. `WEFT_LAB_DEADLOCK_CHILD` names a prebuilt child instead. See the child's
//! module docs for the two demonstrations.

use crate::experiment::{
    Chart, Claim, Config, Experiment, Outcome, Point, Quote, Report, Scale, Series, Unit, Verdict,
};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use weft_bench::Table;

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct Deadlock;

const CLAIM: Claim = Claim {
    gist: "opposite lock orders are caught before they deadlock; a real deadlock is found",
    quotes: &[
        Quote {
            text: "Deadlock occurs when threads are permanently blocked in a circular \
                   dependency.",
            source: "Multitasking, 1.2 Synchronisation and Memory Ordering",
        },
        Quote {
            text: "Prevention strategies include consistent lock ordering, timeout \
                   mechanisms, and deadlock detection algorithms.",
            source: "Multitasking, 1.2 Synchronisation and Memory Ordering",
        },
    ],
};

/// The child's time limit: far above its run time (well under a second), low enough
/// that a hung child cannot stall the tour for long.
const CHILD_LIMIT: Duration = Duration::from_secs(30);

/// What the child reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChildRun {
    /// Lock-order inversions reported during the first demonstration.
    pub inversion_reports: usize,
    /// Deadlocked knots at the moment the inversion was reported (0: nothing blocked).
    pub inversion_blocked: Option<usize>,
    /// From the inverted acquisition to the report, in nanoseconds.
    pub inversion_ns: Option<u64>,
    /// The inversion report, as printed.
    pub inversion_text: Vec<String>,
    /// For each repetition of the second demonstration whose deadlock was found: from
    /// both threads blocking to the watchdog's report, in nanoseconds.
    pub deadlock_ns: Vec<u64>,
    /// Repetitions whose deadlock the watchdog did not report.
    pub missed: usize,
    /// Repetitions in which both threads finished.
    pub finished: usize,
    /// Repetitions run.
    pub repeats: usize,
    /// Threads in the first deadlock reported.
    pub deadlock_threads: Option<usize>,
    /// The first deadlock report, as printed.
    pub deadlock_text: Vec<String>,
    /// Deadlocked knots left once everything finished.
    pub blocked_after: Option<usize>,
}

impl ChildRun {
    /// Parses the child's `key value` lines.
    ///
    /// # Errors
    ///
    /// If the output does not start with the child's header or a number is malformed.
    pub fn parse(output: &str) -> Result<Self, String> {
        let mut lines = output.lines();
        if lines.next() != Some("weft-lab-deadlock-child 1") {
            return Err("the child's output does not start with its header".into());
        }
        let mut run = ChildRun::default();
        for line in lines {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("malformed line from the child: {line}"))
            };
            match key {
                "inversion_reports" => run.inversion_reports = number()? as usize,
                "inversion_blocked" => run.inversion_blocked = Some(number()? as usize),
                "inversion_ns" => run.inversion_ns = Some(number()?),
                "inversion_text" => run.inversion_text.push(value.to_string()),
                "deadlock_ns" => run.deadlock_ns.push(number()?),
                "deadlock_missed" => run.missed += 1,
                "finished" => {
                    run.repeats += 1;
                    run.finished += usize::from(number()? == 1);
                }
                "deadlock_threads" => run.deadlock_threads = Some(number()? as usize),
                "deadlock_text" => run.deadlock_text.push(value.to_string()),
                "blocked_after" => run.blocked_after = Some(number()? as usize),
                _ => {}
            }
        }
        Ok(run)
    }
}

/// The figures the verdict is computed from: the child's report, or why there is none.
pub type Figures = Result<ChildRun, String>;

/// Judges the claim from the figures: both checks must have worked, and the program
/// must have recovered (every repetition finished, nothing left blocked).
pub fn verdict(f: &Figures) -> Verdict {
    let run = match f {
        Err(why) => {
            return Verdict {
                outcome: Outcome::Inconclusive,
                text: format!("the deadlock demonstration could not run: {why}"),
            };
        }
        Ok(run) => run,
    };
    let mut lines = Vec::new();
    let caught = run.inversion_reports >= 1 && run.inversion_blocked == Some(0);
    if caught {
        lines.push(format!(
            "lock order: the inversion A → B, B → A was reported {} after the inverted \
             acquisition, while no thread was blocked: caught before it could deadlock",
            micros(run.inversion_ns.unwrap_or(0))
        ));
    } else if run.inversion_reports == 0 {
        lines.push("not reproduced: the opposite lock orders were not reported".into());
    } else {
        lines.push(format!(
            "partly: the inversion was reported, but {} deadlock(s) existed already",
            run.inversion_blocked
                .map_or("an unknown number of".into(), |n| n.to_string())
        ));
    }
    let found = run.repeats > 0 && run.missed == 0 && run.deadlock_ns.len() == run.repeats;
    let recovered = run.repeats > 0 && run.finished == run.repeats && run.blocked_after == Some(0);
    if found {
        let [_, median, _] = quartiles(&run.deadlock_ns).unwrap_or_default();
        lines.push(format!(
            "wait for: the watchdog found the {}-thread deadlock in all {} repetitions, \
             median {} after both threads blocked",
            run.deadlock_threads.unwrap_or(0),
            run.repeats,
            micros(median)
        ));
    } else {
        lines.push(format!(
            "not reproduced: the wait-for check found {} of {} deadlocks",
            run.deadlock_ns.len(),
            run.repeats
        ));
    }
    if recovered {
        lines.push(
            "recovered every time: one thread backed off on the report, both finished, \
             nothing stayed blocked"
                .into(),
        );
    } else {
        lines.push(format!(
            "did not recover cleanly: {} of {} repetitions finished, {} knot(s) left blocked",
            run.finished,
            run.repeats,
            run.blocked_after
                .map_or("unknown".into(), |n| n.to_string())
        ));
    }
    let outcome = match (caught, found && recovered) {
        (true, true) => Outcome::Reproduced,
        (false, false) => Outcome::NotReproduced,
        _ => Outcome::Partly,
    };
    Verdict {
        outcome,
        text: lines.join("\n"),
    }
}

/// The first quartile, median and third quartile of `ns` (each the sample at that
/// rank, upper one for an even count); `None` for no samples.
fn quartiles(ns: &[u64]) -> Option<[u64; 3]> {
    let mut sorted = ns.to_vec();
    sorted.sort_unstable();
    let at = |q: usize| sorted.get(sorted.len() * q / 4).copied();
    Some([at(1)?, at(2)?, at(3)?])
}

fn micros(ns: u64) -> String {
    if ns < 1_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}

/// The child program's manifest, in this crate's directory.
fn child_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deadlock-child/Cargo.toml")
}

/// Where the child is built: beside the workspace's own target directory.
fn child_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("lab-deadlock-child")
}

/// The child binary: `WEFT_LAB_DEADLOCK_CHILD`, or built (or found up to date) with
/// cargo.
fn child_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("WEFT_LAB_DEADLOCK_CHILD") {
        return Ok(PathBuf::from(path));
    }
    let manifest = child_manifest();
    if !manifest.exists() {
        return Err(format!(
            "{} is missing (set WEFT_LAB_DEADLOCK_CHILD to a built child)",
            manifest.display()
        ));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = child_target_dir();
    let build = |offline: bool| {
        let mut command = Command::new(&cargo);
        command.args(["build", "--release", "--quiet", "--manifest-path"]);
        command.arg(&manifest).arg("--target-dir").arg(&target);
        if offline {
            command.arg("--offline");
        }
        // The child is a plain release build whatever flags the lab was built or tested
        // with (`--cfg loom` would switch the detector off, a sanitizer needs nightly).
        for flags in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
            command.env_remove(flags);
        }
        command.stdin(Stdio::null()).stdout(Stdio::null()).output()
    };
    // Offline first: everything it needs is already in cargo's cache wherever the
    // lab itself was built.
    let output = match build(true) {
        Ok(output) if output.status.success() => output,
        _ => build(false).map_err(|e| format!("cannot run cargo to build the child: {e}"))?,
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "building {} failed: {}",
            manifest.display(),
            stderr.lines().find(|l| l.contains("error")).unwrap_or("")
        ));
    }
    Ok(target.join("release/weft-lab-deadlock-child"))
}

/// Runs the child for `repeats` repetitions, killing it after [`CHILD_LIMIT`].
fn run_child(repeats: usize) -> Figures {
    let binary = child_binary()?;
    let mut child = Command::new(&binary)
        .arg(repeats.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    // The output is a few kilobytes, far below a pipe's buffer: reading after the
    // child exits cannot block it.
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > CHILD_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the child did not finish within {} s and was killed",
                    CHILD_LIMIT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for the child: {e}")),
        }
    };
    let mut output = String::new();
    stdout
        .read_to_string(&mut output)
        .map_err(|e| format!("reading the child's output: {e}"))?;
    if !status.success() {
        return Err(format!("the child exited with {status}"));
    }
    ChildRun::parse(&output)
}

impl Experiment for Deadlock {
    fn name(&self) -> &'static str {
        "deadlock"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads` is not used: a deadlock needs two threads, and has two.
    fn run(&self, config: &Config) -> Report {
        let figures = run_child(if config.quick { 3 } else { 10 });
        let raw = match &figures {
            Ok(run) => serde_json::json!({
                "inversion_reports": run.inversion_reports,
                "inversion_blocked": run.inversion_blocked,
                "inversion_ns": run.inversion_ns,
                "inversion_report": run.inversion_text,
                "deadlock_ns": run.deadlock_ns,
                "missed": run.missed,
                "finished": run.finished,
                "repeats": run.repeats,
                "deadlock_threads": run.deadlock_threads,
                "deadlock_report": run.deadlock_text,
                "blocked_after": run.blocked_after,
            }),
            Err(why) => serde_json::json!({ "unavailable": why }),
        };
        Report::new(table(&figures), verdict(&figures), Vec::new())
            .with_chart(chart(&figures))
            .with_raw(raw)
    }

    fn estimate(&self, _config: &Config) -> Option<Duration> {
        // Building the child the first time dominates; once built, well under a second.
        let built = child_target_dir().join("release/weft-lab-deadlock-child");
        Some(Duration::from_secs(if built.exists() { 1 } else { 20 }))
    }
}

/// Detection latency of each check, in microseconds: bars with every repetition as a
/// dot. Without figures, a single zero bar labelled as such keeps the section whole.
fn chart(f: &Figures) -> Chart {
    let mut chart = Chart::bars(
        "Deadlock detection: how long after the fault each check reported it",
        [
            "lock-order inversion (nothing blocked)",
            "wait-for deadlock (2 threads blocked)",
        ],
        "microseconds from the fault to the report",
    )
    .unit(Unit::Count)
    .scale(Scale::Log);
    let mut points = Vec::new();
    if let Ok(run) = f {
        if let Some(ns) = run.inversion_ns {
            points.push(Point::new(0.0, ns as f64 / 1e3));
        }
        if let Some([q1, median, q3]) = quartiles(&run.deadlock_ns) {
            let us = |ns: u64| ns as f64 / 1e3;
            let mut point = Point::new(1.0, us(median)).spread(us(q1), us(q3));
            point.samples = run.deadlock_ns.iter().map(|&ns| us(ns)).collect();
            points.push(point);
        }
    }
    if points.is_empty() {
        chart = chart.scale(Scale::Linear);
        points.push(Point::new(0.0, 0.0));
    }
    chart.series(Series::new("report latency (median, q1–q3)", points))
}

fn table(f: &Figures) -> Table {
    let mut table = Table::new(["check", "fault", "reported", "latency", "recovered"]);
    let Ok(run) = f else {
        table.row(["(not run)", "", "", "", ""]);
        return table;
    };
    table.row([
        "lock order".to_string(),
        "A → B, then B → A (no overlap)".to_string(),
        format!("{} report(s)", run.inversion_reports),
        run.inversion_ns.map_or("-".into(), micros),
        "nothing blocked".to_string(),
    ]);
    table.row([
        "wait for".to_string(),
        "2 threads hold C / D, wait D / C".to_string(),
        format!("{} of {}", run.deadlock_ns.len(), run.repeats),
        quartiles(&run.deadlock_ns)
            .map_or("-".into(), |[_, ns, _]| format!("{} (median)", micros(ns))),
        format!("{} of {} finished", run.finished, run.repeats),
    ]);
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "weft-lab-deadlock-child 1
inversion_reports 1
inversion_blocked 0
inversion_text weft deadlock detection: potential deadlock
inversion_ns 3896
deadlock_ns 1687598
finished 1
deadlock_ns 112428
finished 1
deadlock_threads 2
deadlock_text weft deadlock detection: deadlock: 2 threads are blocked on each other
order_violations 1
blocked_after 0
";

    fn good() -> ChildRun {
        ChildRun::parse(OUTPUT).unwrap()
    }

    #[test]
    fn the_childs_output_parses() {
        let run = good();
        assert_eq!(run.inversion_reports, 1);
        assert_eq!(run.inversion_blocked, Some(0));
        assert_eq!(run.inversion_ns, Some(3896));
        assert_eq!(run.deadlock_ns, [1687598, 112428]);
        assert_eq!((run.repeats, run.finished, run.missed), (2, 2, 0));
        assert_eq!(run.deadlock_threads, Some(2));
        assert_eq!(run.blocked_after, Some(0));
        assert_eq!(run.deadlock_text.len(), 1);
        assert!(ChildRun::parse("something else").is_err());
        assert!(ChildRun::parse("weft-lab-deadlock-child 1\ndeadlock_ns x").is_err());
    }

    #[test]
    fn both_checks_and_a_recovery_reproduce_the_claim() {
        let v = verdict(&Ok(good()));
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        assert!(
            v.text
                .contains("reported 3.9 µs after the inverted acquisition")
        );
        assert!(v.text.contains("in all 2 repetitions, median 1.7 ms"));
        assert!(v.text.contains("recovered every time"));
    }

    #[test]
    fn a_missed_deadlock_or_a_stuck_thread_is_partial() {
        let mut run = good();
        run.missed = 1;
        run.deadlock_ns.pop();
        let v = verdict(&Ok(run));
        assert_eq!(v.outcome, Outcome::Partly);
        assert!(v.text.contains("found 1 of 2 deadlocks"));
        let mut run = good();
        run.finished = 1;
        let v = verdict(&Ok(run));
        assert_eq!(v.outcome, Outcome::Partly);
        assert!(v.text.contains("did not recover cleanly: 1 of 2"));
    }

    #[test]
    fn an_inversion_found_only_once_blocked_is_not_caught_in_time() {
        let mut run = good();
        run.inversion_blocked = Some(1);
        assert_eq!(verdict(&Ok(run.clone())).outcome, Outcome::Partly);
        run.inversion_reports = 0;
        run.deadlock_ns.clear();
        run.missed = 2;
        let v = verdict(&Ok(run));
        assert_eq!(v.outcome, Outcome::NotReproduced);
        assert!(v.text.contains("were not reported"));
    }

    #[test]
    fn no_child_is_inconclusive_and_still_charts() {
        let f: Figures = Err("cargo is missing".into());
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.text.contains("cargo is missing"));
        assert!(chart(&f).has_data());
        assert_eq!(table(&f).rows().len(), 1);
    }

    #[test]
    fn the_child_runs_and_both_checks_fire() {
        let report = Deadlock.run(&Config::new(true));
        assert_eq!(
            report.verdict.outcome,
            Outcome::Reproduced,
            "{}",
            report.verdict.text
        );
        assert!(report.charts[0].has_data());
        assert_eq!(report.table.rows().len(), 2);
    }
}

//! `weft-lab profile -- COMMAND ARGS...`: is this program CPU-bound or I/O-bound?
//!
//! Runs the command and, every `--interval-ms` (10 ms), reads `/proc/PID/stat` (CPU
//! ticks, block I/O delay), `/proc/PID/status` (context switches), `/proc/PID/io`
//! (bytes read and written) and each `/proc/PID/task/*/stat` (how many threads, and
//! whether each is running, sleeping or in uninterruptible disk wait). When it exits,
//! `wait4` gives the exact totals: user and system CPU time and context switches of
//! the command and every descendant it waited for. (The samples see the command's own
//! process only: for a shell that forks its workers, the totals are exact but the
//! thread samples describe the shell.)
//!
//! # Classification
//!
//! The command could keep `usable = min(threads runnable at once, cores)` cores busy
//! (the 90th percentile of the samples); it kept
//! `CPU time / wall time` of them busy on average: `busy = CPU / (wall · usable)`.
//! Its demand is the larger of `busy` and the share of thread samples found running
//! or runnable (so a busy loop starved by other processes still counts as CPU-bound).
//! Demand at least [`CPU_BOUND`] is CPU-bound, at most [`IO_BOUND`] I/O-bound
//! (waiting: for the disk, the network, a timer, a child), in between mixed. Each class comes with the concurrency model the notes recommend
//! for it, quoted.
//!
//! # Scaling
//!
//! `--scale 1,2,4` reruns the command with parallelism `p`: every `{}` in the
//! arguments becomes `p`, or, without a placeholder, the environment variable
//! `--var NAME` (default `WEFT_THREADS`) is set to `p`. Amdahl's law is fitted to the
//! wall times ([`fit_amdahl_times`]): the serial fraction, and the speedup it allows.

use crate::cli::Error;
use crate::fit::{Fit, fit_amdahl_times};
use crate::probe::proc::ProcessSample;
use crate::probe::rusage::{self, Exit};
use serde::Serialize;
use std::io::{self, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `busy` at least this is CPU-bound.
pub const CPU_BOUND: f64 = 0.7;
/// `busy` at most this is I/O-bound.
pub const IO_BOUND: f64 = 0.3;

/// The default environment variable `--scale` sets.
pub const DEFAULT_VAR: &str = "WEFT_THREADS";

/// What kind of workload a run was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Kept its cores busy.
    CpuBound,
    /// Mostly waited.
    IoBound,
    /// Some of each.
    Mixed,
}

impl Class {
    /// A label for the terminal.
    pub fn label(self) -> &'static str {
        match self {
            Class::CpuBound => "CPU-bound",
            Class::IoBound => "I/O-bound (mostly waiting)",
            Class::Mixed => "mixed (computes and waits)",
        }
    }

    /// The concurrency model to use, in weft's terms.
    pub fn advice(self) -> &'static str {
        match self {
            Class::CpuBound => {
                "parallelism, one thread per core: weft::pool (join, scope, par_iter), or \
                 processes (weft-process) where a runtime has a GIL; more threads than \
                 cores only add context switches"
            }
            Class::IoBound => {
                "concurrency without threads: many tasks on one event loop (weft's async \
                 runtime), or a small bounded thread pool; a thread per waiting operation \
                 spends its time in context switches and stacks"
            }
            Class::Mixed => {
                "a pipeline: an I/O stage on the event loop feeding a CPU stage on \
                 weft::pool through a bounded weft::channel, so each side gets the model \
                 it needs and backpressure keeps memory bounded"
            }
        }
    }

    /// What the notes say about this class, word for word.
    pub fn quotes(self) -> &'static [&'static str] {
        match self {
            Class::CpuBound => &[
                "CPU-bound workloads (numerical computation, image processing, encryption) \
                 require true parallelism via multiprocessing or multithreading in GIL-free \
                 runtimes, where NUMA-aware memory allocation becomes important for \
                 memory-bandwidth-limited computation.",
            ],
            Class::IoBound => &[
                "I/O-bound workloads (network requests, disk I/O, database queries) spend \
                 most of their time waiting for external resources. Async I/O with event \
                 loops is the most efficient approach, as thousands of concurrent \
                 operations can be multiplexed onto a single thread.",
                "Thread pools limit the number of threads to avoid context-switching \
                 overhead, and connection pooling reuses established connections (e.g. \
                 HTTP keep-alive, database connection pools) to amortise setup costs.",
            ],
            Class::Mixed => &[
                "Hybrid workloads combine both patterns. Pipeline architectures (I/O → CPU \
                 → I/O) decompose processing into stages, and producer-consumer patterns \
                 with bounded queues decouple components with different throughput \
                 characteristics.",
            ],
        }
    }
}

/// Where the quotes come from.
pub const SOURCE: &str = "Multitasking, 2.3 I/O-Bound vs CPU-Bound Workloads";
/// The notes' reason for profiling at all.
pub const WHY: &str = "Identifying whether a bottleneck is I/O-bound or CPU-bound is the \
                       first step toward choosing the right concurrency strategy.";

/// What the classification is computed from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Facts {
    /// Wall time, seconds.
    pub wall: f64,
    /// User plus system CPU time, seconds.
    pub cpu: f64,
    /// Cores this machine offers.
    pub cores: usize,
    /// The most threads seen at once.
    pub max_threads: usize,
    /// Threads running or runnable at once, the 90th percentile over the samples (a
    /// single sample catching a waiting thread awake does not count; `None` without
    /// samples).
    pub peak_runnable: Option<usize>,
    /// Share of thread samples found running or runnable.
    pub running_share: Option<f64>,
    /// Threads found running or runnable per sample, at most `cores`, on average.
    pub runnable_cores: Option<f64>,
    /// Share of thread samples found sleeping or in disk wait.
    pub blocked_share: Option<f64>,
    /// Share of thread samples in uninterruptible (disk) wait.
    pub disk_share: Option<f64>,
}

impl Facts {
    /// Cores the command could have kept busy: as many as it ever had threads
    /// wanting to run at once (threads that only wait, like a `main` joining its
    /// workers, do not count), at most the cores.
    pub fn usable(&self) -> usize {
        self.peak_runnable
            .unwrap_or(self.max_threads)
            .clamp(1, self.cores.max(1))
    }

    /// Cores it kept busy on average.
    pub fn cores_busy(&self) -> f64 {
        self.cpu / self.wall.max(1e-9)
    }

    /// `cores_busy / usable`, from 0 to 1.
    pub fn busy(&self) -> f64 {
        (self.cores_busy() / self.usable() as f64).clamp(0.0, 1.0)
    }

    /// How much CPU it asked for, from 0 to 1: the larger of [`busy`](Self::busy) and
    /// the threads found running *or runnable* per sample over the usable cores. A
    /// CPU-bound program on a machine where other processes take the cores gets
    /// little CPU time, but its threads are still runnable, never blocked; a thread
    /// that only waits for the workers (a `main` joining them) does not dilute it.
    pub fn demand(&self) -> f64 {
        let runnable = self.runnable_cores.unwrap_or(0.0) / self.usable() as f64;
        self.busy().max(runnable.clamp(0.0, 1.0))
    }
}

/// Classifies a run, with the reason in a sentence.
///
/// # Examples
///
/// ```
/// use weft_lab::profile::{Class, Facts, classify};
///
/// let sleep = Facts { wall: 1.0, cpu: 0.001, cores: 2, max_threads: 1, peak_runnable: Some(1),
///                     running_share: Some(0.0), runnable_cores: Some(0.0),
///                     blocked_share: Some(1.0), disk_share: Some(0.0) };
/// assert_eq!(classify(&sleep).0, Class::IoBound);
/// ```
pub fn classify(f: &Facts) -> (Class, String) {
    let busy = f.busy();
    let demand = f.demand();
    let class = if demand >= CPU_BOUND {
        Class::CpuBound
    } else if demand <= IO_BOUND {
        Class::IoBound
    } else {
        Class::Mixed
    };
    let mut reason = format!(
        "it kept {:.2} cores busy on average of the {} it could use ({} thread(s) at most, \
         {} runnable at once, {} cores): {:.0}% busy",
        f.cores_busy(),
        f.usable(),
        f.max_threads,
        f.peak_runnable.map_or("?".into(), |n| n.to_string()),
        f.cores,
        busy * 100.0
    );
    if let Some(blocked) = f.blocked_share {
        reason.push_str(&format!(
            "; its threads were blocked in {:.0}% of the samples",
            blocked * 100.0
        ));
        if let Some(disk) = f.disk_share.filter(|&d| d > 0.0) {
            reason.push_str(&format!(" ({:.0}% in disk wait)", disk * 100.0));
        }
    }
    if demand >= busy + 0.2 {
        reason.push_str(&format!(
            "; it was runnable in {:.0}% of the samples but got only {:.0}% of its cores: \
             other processes were competing for them",
            demand * 100.0,
            busy * 100.0
        ));
    }
    if class == Class::CpuBound && f.usable() < f.cores {
        reason.push_str(&format!(
            "; it could use {} of {} cores: there is parallelism left",
            f.usable(),
            f.cores
        ));
    }
    (class, reason)
}

/// One run of the command.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    /// The command line run.
    pub argv: Vec<String>,
    /// The `--scale` parallelism, if any.
    pub parallelism: Option<usize>,
    /// Wall time, user and system CPU time, seconds.
    pub wall: f64,
    /// User CPU time (with waited-for descendants), seconds.
    pub user: f64,
    /// System CPU time, seconds.
    pub system: f64,
    /// Voluntary context switches (with waited-for descendants).
    pub voluntary: u64,
    /// Involuntary context switches.
    pub involuntary: u64,
    /// The exit code, if it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// Whether `--timeout` ended it.
    pub timed_out: bool,
    /// The average thread count over the samples.
    pub mean_threads: f64,
    /// The classification's inputs.
    pub facts: Facts,
    /// The class.
    pub class: Class,
    /// Why.
    pub reason: String,
    /// Every sample.
    pub samples: Vec<ProcessSample>,
}

/// How to profile.
#[derive(Clone, Debug)]
pub struct Options {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// `--scale`, parsed.
    pub scale: Option<Vec<usize>>,
    /// The environment variable for `p` when no argument holds `{}`.
    pub var: String,
    /// Kill the command after this long.
    pub timeout: Option<Duration>,
    /// Time between two samples.
    pub interval: Duration,
}

/// Parses a `--scale` list: positive whole numbers, comma-separated, no repeats.
///
/// # Errors
///
/// A message naming the offending entry.
///
/// # Examples
///
/// ```
/// use weft_lab::profile::parse_scale;
///
/// assert_eq!(parse_scale("1,2,4"), Ok(vec![1, 2, 4]));
/// assert!(parse_scale("1,two").unwrap_err().contains("\"two\""));
/// ```
pub fn parse_scale(text: &str) -> Result<Vec<usize>, String> {
    let mut list = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        match item.parse::<usize>() {
            Ok(p) if p >= 1 => {
                if list.contains(&p) {
                    return Err(format!("--scale: {p} appears twice in {text:?}"));
                }
                list.push(p);
            }
            _ => {
                return Err(format!(
                    "--scale: {item:?} is not a positive whole number (expected a list like \
                     1,2,4)"
                ));
            }
        }
    }
    if list.len() < 2 {
        return Err(format!(
            "--scale: {text:?} needs two parallelisms or more to fit a law"
        ));
    }
    Ok(list)
}

/// Runs `argv` once, sampling it, with `env` set.
fn run_once(
    argv: &[String],
    env: Option<(&str, String)>,
    options: &Options,
    parallelism: Option<usize>,
) -> Result<Run, Error> {
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]).stdin(Stdio::inherit());
    if options.timeout.is_some() {
        // Its own process group, so the timeout ends whatever it started too (a shell's
        // children); without a timeout it stays in ours, where Ctrl-C reaches it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
    }
    if let Some((key, value)) = env {
        command.env(key, value);
    }
    let started = Instant::now();
    let child = command.spawn().map_err(|e| {
        Error::Usage(format!(
            "profile: cannot run {:?}: {}",
            argv[0],
            match e.kind() {
                io::ErrorKind::NotFound => "no such command".to_string(),
                io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            }
        ))
    })?;
    let pid = child.id();
    let mut samples = Vec::new();
    let mut timed_out = false;
    let exit: Exit = loop {
        match rusage::wait4(pid, false) {
            Ok(Some(exit)) => break exit,
            Ok(None) => {}
            Err(e) => return Err(Error::Io(io::Error::other(e.0))),
        }
        if let Ok(sample) = ProcessSample::read(pid, started.elapsed())
            && sample.threads > 0
        {
            samples.push(sample);
        }
        if let Some(limit) = options.timeout
            && !timed_out
            && started.elapsed() >= limit
        {
            rusage::kill_group(pid);
            timed_out = true;
        }
        std::thread::sleep(options.interval);
    };
    // `wait4` reaped it: the `Child` handle must not wait again (dropping it does not).
    drop(child);
    let wall = started.elapsed().as_secs_f64();
    let thread_samples: usize = samples.iter().map(|s| s.threads).sum();
    let share = |pick: fn(&ProcessSample) -> usize| {
        (thread_samples > 0)
            .then(|| samples.iter().map(pick).sum::<usize>() as f64 / thread_samples as f64)
    };
    let facts = Facts {
        wall,
        cpu: exit.usage.cpu().as_secs_f64(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        max_threads: samples.iter().map(|s| s.threads).max().unwrap_or(1),
        peak_runnable: typical_peak(samples.iter().map(|s| s.running).collect()),
        running_share: share(|s| s.running),
        runnable_cores: (!samples.is_empty()).then(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            samples
                .iter()
                .map(|s| s.running.min(cores) as f64)
                .sum::<f64>()
                / samples.len() as f64
        }),
        blocked_share: share(|s| s.sleeping + s.disk_wait),
        disk_share: share(|s| s.disk_wait),
    };
    let (class, reason) = classify(&facts);
    Ok(Run {
        argv: argv.to_vec(),
        parallelism,
        wall,
        user: exit.usage.user.as_secs_f64(),
        system: exit.usage.system.as_secs_f64(),
        voluntary: exit.usage.voluntary,
        involuntary: exit.usage.involuntary,
        exit_code: exit.code,
        signal: exit.signal,
        timed_out,
        mean_threads: if samples.is_empty() {
            1.0
        } else {
            thread_samples as f64 / samples.len() as f64
        },
        facts,
        class,
        reason,
        samples,
    })
}

/// The 90th percentile of `counts`: what the command reached regularly, not once.
fn typical_peak(mut counts: Vec<usize>) -> Option<usize> {
    if counts.is_empty() {
        return None;
    }
    counts.sort_unstable();
    Some(counts[(counts.len() - 1) * 9 / 10])
}

/// Everything `profile` found, as `--json` writes it.
#[derive(Clone, Debug, Serialize)]
pub struct Profile {
    /// The command as given.
    pub command: Vec<String>,
    /// One run, or one per `--scale` parallelism.
    pub runs: Vec<Run>,
    /// With `--scale`: Amdahl's law fitted to the wall times.
    pub amdahl: Option<FitRecord>,
}

/// A fitted serial fraction, for JSON.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct FitRecord {
    /// The serial fraction.
    pub serial_fraction: f64,
    /// RMS difference between measured and fitted speedups.
    pub rms_error: f64,
    /// The speedup limit `1 / f`, if `f > 0`.
    pub max_speedup: Option<f64>,
}

impl From<Fit> for FitRecord {
    fn from(fit: Fit) -> Self {
        FitRecord {
            serial_fraction: fit.serial_fraction,
            rms_error: fit.rms_error,
            max_speedup: (fit.serial_fraction > 1e-9).then(|| 1.0 / fit.serial_fraction),
        }
    }
}

/// Runs the profile and prints it to `out`.
///
/// # Errors
///
/// [`Error::Usage`] if the command cannot be started; [`Error::Io`] if `out` fails.
pub fn profile(options: &Options, out: &mut dyn Write) -> Result<Profile, Error> {
    let mut runs = Vec::new();
    match &options.scale {
        None => runs.push(run_once(&options.command, None, options, None)?),
        Some(scale) => {
            let placeholder = options.command[1..].iter().any(|a| a.contains("{}"));
            for &p in scale {
                let argv: Vec<String> = if placeholder {
                    let mut argv = vec![options.command[0].clone()];
                    argv.extend(
                        options.command[1..]
                            .iter()
                            .map(|a| a.replace("{}", &p.to_string())),
                    );
                    argv
                } else {
                    options.command.clone()
                };
                let env = (!placeholder).then(|| (options.var.as_str(), p.to_string()));
                runs.push(run_once(&argv, env, options, Some(p))?);
            }
        }
    }
    let amdahl = options.scale.as_ref().and_then(|_| {
        let points: Vec<(f64, f64)> = runs
            .iter()
            .filter_map(|r| Some((r.parallelism? as f64, r.wall)))
            .collect();
        fit_amdahl_times(&points).map(FitRecord::from)
    });
    let profile = Profile {
        command: options.command.clone(),
        runs,
        amdahl,
    };
    print(&profile, options, out)?;
    Ok(profile)
}

fn print(profile: &Profile, options: &Options, out: &mut dyn Write) -> io::Result<()> {
    for run in &profile.runs {
        writeln!(out, "\n== profile: {} ==", run.argv.join(" "))?;
        if let Some(p) = run.parallelism {
            match options.command[1..].iter().any(|a| a.contains("{}")) {
                true => writeln!(out, "parallelism p = {p} (in place of {{}})")?,
                false => writeln!(out, "parallelism p = {p} ({}={p})", options.var)?,
            }
        }
        let f = &run.facts;
        writeln!(
            out,
            "wall {:.2} s; CPU {:.2} s (user {:.2} s, system {:.2} s): {:.2} cores busy on \
             average, of {}",
            run.wall,
            f.cpu,
            run.user,
            run.system,
            f.cores_busy(),
            f.cores
        )?;
        writeln!(
            out,
            "context switches: {} voluntary (blocked), {} involuntary (preempted)",
            run.voluntary, run.involuntary
        )?;
        let percent =
            |share: Option<f64>| share.map_or("-".into(), |s| format!("{:.0}%", s * 100.0));
        writeln!(
            out,
            "threads: {:.1} on average, {} at most; {} samples every {} ms: running {}, \
             blocked {} (disk wait {})",
            run.mean_threads,
            f.max_threads,
            run.samples.len(),
            options.interval.as_millis(),
            percent(f.running_share),
            percent(f.blocked_share),
            percent(f.disk_share)
        )?;
        if let Some(last) = run.samples.last() {
            writeln!(
                out,
                "I/O: {} read and {} written through read/write calls, {} from and {} to \
                 storage; block I/O delay {:.0} ms",
                bytes(last.rchar),
                bytes(last.wchar),
                bytes(last.read_bytes),
                bytes(last.write_bytes),
                last.blkio_ms
            )?;
        }
        match (run.exit_code, run.signal, run.timed_out) {
            (_, _, true) => writeln!(out, "ended: killed after the --timeout")?,
            (Some(code), _, _) => writeln!(out, "ended: exit code {code}")?,
            (_, Some(signal), _) => writeln!(out, "ended: killed by signal {signal}")?,
            _ => writeln!(out, "ended: unknown")?,
        }
        writeln!(out, "class: {}", run.class.label())?;
        writeln!(out, "  why: {}", run.reason)?;
    }
    if let Some(run) = profile.runs.last() {
        writeln!(out, "\nrecommended: {}", run.class.advice())?;
        writeln!(out, "the notes ({SOURCE}):")?;
        for quote in run.class.quotes() {
            writeln!(out, "  \"{quote}\"")?;
        }
        writeln!(out, "  \"{WHY}\"")?;
    }
    if profile.runs.len() > 1 {
        let base = &profile.runs[0];
        writeln!(out, "\nscaling:")?;
        let mut table = weft_bench::Table::new(["p", "wall", "CPU", "speedup", "class"]);
        for run in &profile.runs {
            table.row([
                run.parallelism.map_or("-".into(), |p| p.to_string()),
                format!("{:.3} s", run.wall),
                format!("{:.3} s", run.facts.cpu),
                format!("{:.2}x", base.wall / run.wall.max(1e-9)),
                run.class.label().to_string(),
            ]);
        }
        write!(out, "{table}")?;
        match profile.amdahl {
            Some(fit) => writeln!(
                out,
                "Amdahl fit: serial fraction f = {:.3} (rms error {:.3} in speedup); {}",
                fit.serial_fraction,
                fit.rms_error,
                fit.max_speedup.map_or(
                    "no serial part: the speedup is not capped".to_string(),
                    |s| format!("speedup capped at 1/f = {s:.1}x however many cores")
                )
            )?,
            None => writeln!(out, "Amdahl fit: not possible from these runs")?,
        }
    }
    Ok(())
}

fn bytes(n: u64) -> String {
    crate::machine::format_bytes(n)
}

/// The hidden `busy` subcommand: CPU-bound work for tests of `profile`: `threads`
/// threads spin for `seconds` each, or share `units` units of busy work.
pub fn busy(threads: usize, seconds: Option<Duration>, units: Option<u64>) {
    let threads = threads.max(1);
    std::thread::scope(|s| {
        for t in 0..threads as u64 {
            s.spawn(move || match units {
                Some(units) => {
                    let share = units / threads as u64 + u64::from(t < units % threads as u64);
                    let mut x = t;
                    for _ in 0..share {
                        x = weft_bench::busy_work(x, 2_000);
                    }
                    std::hint::black_box(x);
                }
                None => {
                    let until = Instant::now() + seconds.unwrap_or(Duration::from_secs(1));
                    let mut x = t;
                    while Instant::now() < until {
                        x = std::hint::black_box(weft_bench::busy_work(x, 1_000));
                    }
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(wall: f64, cpu: f64, threads: usize, blocked: f64) -> Facts {
        Facts {
            wall,
            cpu,
            cores: 2,
            max_threads: threads,
            peak_runnable: Some(threads),
            running_share: Some(1.0 - blocked),
            runnable_cores: Some((1.0 - blocked) * threads.min(2) as f64),
            blocked_share: Some(blocked),
            disk_share: Some(0.0),
        }
    }

    #[test]
    fn waiting_is_io_bound_and_spinning_is_cpu_bound() {
        let (class, why) = classify(&facts(1.0, 0.002, 1, 1.0));
        assert_eq!(class, Class::IoBound);
        assert!(why.contains("blocked in 100% of the samples"), "{why}");
        let (class, why) = classify(&facts(1.0, 0.98, 1, 0.0));
        assert_eq!(class, Class::CpuBound);
        assert!(
            why.contains("could use 1 of 2 cores: there is parallelism left"),
            "{why}"
        );
        let (class, _) = classify(&facts(1.0, 1.96, 4, 0.0));
        assert_eq!(class, Class::CpuBound);
    }

    #[test]
    fn a_main_thread_waiting_for_its_workers_does_not_dilute_them() {
        // Three threads, two always runnable on two cores, the third joining them.
        let mut f = facts(1.0, 1.0, 3, 1.0 / 3.0);
        f.runnable_cores = Some(2.0);
        f.peak_runnable = Some(2);
        assert_eq!(classify(&f).0, Class::CpuBound);
    }

    #[test]
    fn a_thread_caught_awake_once_is_not_a_peak() {
        let mut counts = vec![1; 99];
        counts.push(2);
        assert_eq!(typical_peak(counts), Some(1));
        assert_eq!(typical_peak(vec![0, 1, 2, 2, 1, 0, 2, 1, 2, 2]), Some(2));
        assert_eq!(typical_peak(Vec::new()), None);
    }

    #[test]
    fn a_starved_busy_loop_is_still_cpu_bound() {
        // Half a core of CPU time, but runnable in every sample.
        let (class, why) = classify(&facts(1.0, 0.5, 1, 0.0));
        assert_eq!(class, Class::CpuBound);
        assert!(why.contains("other processes were competing"), "{why}");
    }

    #[test]
    fn half_busy_is_mixed_and_idle_threads_do_not_count_as_cores() {
        assert_eq!(classify(&facts(2.0, 1.0, 1, 0.5)).0, Class::Mixed);
        // Two threads on two cores, one of them idle: half busy.
        assert_eq!(classify(&facts(1.0, 1.0, 2, 0.5)).0, Class::Mixed);
        // Without thread samples, CPU time alone decides.
        let mut unsampled = facts(1.0, 0.5, 1, 0.0);
        unsampled.runnable_cores = None;
        assert_eq!(classify(&unsampled).0, Class::Mixed);
        let f = facts(1.0, 1.0, 8, 0.5);
        assert_eq!(f.usable(), 2);
        assert_eq!(f.busy(), 0.5);
    }

    #[test]
    fn every_class_has_advice_and_quotes() {
        for class in [Class::CpuBound, Class::IoBound, Class::Mixed] {
            assert!(!class.advice().is_empty());
            assert!(!class.quotes().is_empty());
        }
    }

    #[test]
    fn quotes_are_word_for_word_from_the_notes() {
        let Some(entries) = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .find_map(|dir| std::fs::read_dir(dir.join("shared/seeds")).ok())
        else {
            return;
        };
        let notes: String = entries
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .collect();
        for class in [Class::CpuBound, Class::IoBound, Class::Mixed] {
            for quote in class.quotes() {
                assert!(notes.contains(quote), "not in the notes: {quote}");
            }
        }
        assert!(notes.contains(WHY));
    }

    #[test]
    fn bad_scale_lists_are_refused() {
        assert!(parse_scale("").is_err());
        assert!(parse_scale("0,1").unwrap_err().contains("\"0\""));
        assert!(parse_scale("1,1").unwrap_err().contains("appears twice"));
        assert!(parse_scale("4").unwrap_err().contains("two parallelisms"));
        assert_eq!(parse_scale(" 1, 3 ").unwrap(), [1, 3]);
    }
}

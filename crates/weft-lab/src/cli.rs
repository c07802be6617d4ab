//! The command line: `list`, `tour`, `run NAME`, and the options they share.
//!
//! Bad input (an unknown experiment, an output path that cannot be written) is found
//! before any experiment runs, reported on stderr, and exits with code 2, as clap does
//! for malformed arguments; a failure while writing output exits with code 1.

use crate::experiment::{Claim, Config, Experiment, Report, Verdict};
use crate::experiments;
use crate::machine::{Machine, Noise};
use crate::report;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::fs::{self, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use std::{fmt, thread};
use weft_bench::{Results, Table};

/// Measures the claims of the notes on multitasking on this machine, with weft.
#[derive(Debug, Parser)]
#[command(name = "weft-lab", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Smaller sizes (10 ms samples, 3 rounds), same code paths: the tour in seconds.
    #[arg(long, global = true, conflicts_with = "full")]
    pub quick: bool,
    /// Longer runs for figures to publish (250 ms samples, 15 rounds).
    #[arg(long, global = true)]
    pub full: bool,
    /// Also write every raw sample, with the machine, claims and verdicts, to FILE as
    /// JSON.
    #[arg(long, global = true, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write DIR/report.html: a self-contained page with a chart per experiment
    /// (and each chart beside it as an SVG file).
    #[arg(long, global = true, value_name = "DIR")]
    pub html: Option<PathBuf>,
    /// Threads (each experiment says how it reads this; default from the core count).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Length of one throughput sample, in milliseconds (default 100; 10 with --quick,
    /// 250 with --full).
    #[arg(long = "duration-ms", global = true, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub duration_ms: Option<u64>,
    /// Interleaved rounds per comparison (default 7; 3 with --quick, 15 with --full).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub rounds: Option<u16>,
}

/// The subcommands.
#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run every experiment in order, then print a summary of the verdicts.
    Tour {
        /// Run only these experiments (comma-separated names, as `list` shows them).
        #[arg(long, value_name = "NAMES", value_delimiter = ',')]
        only: Vec<String>,
        /// Leave out these experiments (comma-separated names).
        #[arg(long, value_name = "NAMES", value_delimiter = ',')]
        skip: Vec<String>,
    },
    /// List the experiments and the claims they test.
    List,
    /// Run one experiment.
    Run {
        /// The experiment's name, as `list` shows it.
        name: String,
    },
    /// Run a command and say whether it is CPU-bound, I/O-bound or mixed, and which
    /// concurrency model suits it (`--json FILE` also writes every sample).
    Profile {
        /// Rerun it at these parallelisms (comma-separated, such as 1,2,4) and fit
        /// Amdahl's law: each `{}` in the arguments becomes the parallelism, or
        /// without one the --var environment variable is set to it.
        #[arg(long, value_name = "LIST")]
        scale: Option<String>,
        /// The environment variable --scale sets when no argument holds `{}`.
        #[arg(long, value_name = "NAME", default_value = crate::profile::DEFAULT_VAR)]
        var: String,
        /// Kill the command after this many seconds (its figures still count).
        #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
        timeout: Option<Duration>,
        /// Milliseconds between two samples of /proc.
        #[arg(long = "interval-ms", value_name = "MS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
        interval_ms: u64,
        /// The command to profile and its arguments, after `--`.
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMMAND"
        )]
        command: Vec<String>,
    },
    /// CPU-bound busy work, for testing `profile` (hidden).
    #[command(hide = true)]
    Busy {
        /// Threads (not `--threads`, which every command shares).
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Spin this many seconds on each thread (default 1).
        #[arg(long, conflicts_with = "units", value_parser = positive_seconds)]
        seconds: Option<Duration>,
        /// Share this many units of busy work (about 2 µs each) over the threads.
        #[arg(long)]
        units: Option<u64>,
    },
}

fn positive_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}

impl Cli {
    /// The experiments' configuration: the defaults for `--quick`, `--full` or
    /// neither, overridden by the options given.
    pub fn config(&self) -> Config {
        let mut config = if self.full {
            Config::full()
        } else {
            Config::new(self.quick)
        };
        config.threads = self.threads.map(usize::from);
        if let Some(ms) = self.duration_ms {
            config.sample = Duration::from_millis(ms);
        }
        if let Some(rounds) = self.rounds {
            config.rounds = usize::from(rounds);
        }
        config
    }

    /// The options that shape the measurements, as they are typed: the preset, then
    /// the overrides.
    fn measurement_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.quick {
            args.push("--quick".to_string());
        }
        if self.full {
            args.push("--full".to_string());
        }
        if let Some(threads) = self.threads {
            args.extend(["--threads".to_string(), threads.to_string()]);
        }
        if let Some(ms) = self.duration_ms {
            args.extend(["--duration-ms".to_string(), ms.to_string()]);
        }
        if let Some(rounds) = self.rounds {
            args.extend(["--rounds".to_string(), rounds.to_string()]);
        }
        args
    }

    /// The command that runs `name` alone with the same settings.
    pub fn reproduce(&self, name: &str) -> String {
        let mut args = vec!["run".to_string(), name.to_string()];
        args.extend(self.measurement_args());
        command_line(&args)
    }

    /// This invocation, written out in full.
    pub fn invocation(&self) -> String {
        let mut args = Vec::new();
        match &self.command {
            Command::Tour { only, skip } => {
                args.push("tour".to_string());
                if !only.is_empty() {
                    args.extend(["--only".to_string(), only.join(",")]);
                }
                if !skip.is_empty() {
                    args.extend(["--skip".to_string(), skip.join(",")]);
                }
            }
            Command::List => args.push("list".to_string()),
            Command::Run { name } => args.extend(["run".to_string(), name.clone()]),
            Command::Profile { command, .. } => {
                args.push("profile".to_string());
                args.push("--".to_string());
                args.extend(command.iter().cloned());
            }
            Command::Busy { .. } => args.push("busy".to_string()),
        }
        args.extend(self.measurement_args());
        for (option, path) in [("--json", &self.json), ("--html", &self.html)] {
            if let Some(path) = path {
                args.extend([option.to_string(), path.display().to_string()]);
            }
        }
        command_line(&args)
    }
}

/// `cargo run --release -p weft-lab -- ARGS`, each argument quoted for a POSIX shell
/// where it needs it.
fn command_line(args: &[String]) -> String {
    let quoted: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
    format!("cargo run --release -p weft-lab -- {}", quoted.join(" "))
}

fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Why a command failed.
#[derive(Debug)]
pub enum Error {
    /// Bad input, found before anything ran: an unknown experiment, an output path
    /// that cannot be written. Exit code 2.
    Usage(String),
    /// Writing the output failed. Exit code 1.
    Io(io::Error),
}

impl Error {
    /// The process's exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Io(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) => f.write_str(message),
            Error::Io(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Usage(_) => None,
            Error::Io(error) => Some(error),
        }
    }
}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Self {
        Error::Io(error)
    }
}

/// Parses the process's arguments and runs the command, with progress bars when
/// stdout is a terminal. Exit code 2 for bad input (as clap's for bad usage), 1 for a
/// failure to write output.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let progress = stdout.is_terminal();
    match execute_with_progress(&cli, &mut stdout.lock(), progress) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("weft-lab: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// Runs `cli`'s command, writing the human-readable output to `out`, without progress
/// bars.
///
/// # Errors
///
/// [`Error::Usage`] for an unknown experiment name or an output path that cannot be
/// written (found before any experiment runs); [`Error::Io`] if writing `out` or an
/// output file fails later.
pub fn execute(cli: &Cli, out: &mut dyn Write) -> Result<(), Error> {
    execute_with_progress(cli, out, false)
}

/// [`execute`], drawing a progress bar on stderr for each experiment if `progress`.
///
/// # Errors
///
/// As [`execute`].
pub fn execute_with_progress(cli: &Cli, out: &mut dyn Write, progress: bool) -> Result<(), Error> {
    let chosen = match &cli.command {
        Command::List => return Ok(list(out)?),
        Command::Profile {
            scale,
            var,
            timeout,
            interval_ms,
            command,
        } => return profile(cli, scale, var, *timeout, *interval_ms, command, out),
        Command::Busy {
            workers,
            seconds,
            units,
        } => {
            crate::profile::busy(*workers, *seconds, *units);
            return Ok(());
        }
        Command::Tour { only, skip } => select(only, skip)?,
        Command::Run { name } => vec![find(name)?],
    };
    let outputs = Outputs::check(cli)?;
    let config = cli.config();
    let machine = Machine::detect();
    writeln!(out, "{machine}")?;
    writeln!(
        out,
        "weft-lab: {} cores; {} ms samples, {} interleaved rounds{}",
        config.cores,
        config.sample.as_millis(),
        config.rounds,
        if cli.full {
            " (--full)"
        } else if config.quick {
            " (--quick)"
        } else {
            ""
        }
    )?;
    let mut runs = Vec::new();
    for (index, experiment) in chosen.iter().enumerate() {
        let started = Instant::now();
        let label = format!("[{}/{}] {}", index + 1, chosen.len(), experiment.name());
        let report = run_with_progress(*experiment, &config, &label, progress);
        let took = started.elapsed();
        print_report(out, *experiment, &report, took)?;
        runs.push(Run {
            experiment: *experiment,
            report,
            took,
        });
    }
    let all: Vec<&Results> = runs.iter().flat_map(|r| &r.report.comparisons).collect();
    let noise = Noise::of(&all);
    if chosen.len() > 1 {
        let mut summary = Table::new(["experiment", "verdict", "time"]);
        for run in &runs {
            summary.row([
                run.experiment.name().to_string(),
                run.report.verdict.outcome.label().to_string(),
                format!("{:.1} s", run.took.as_secs_f64()),
            ]);
        }
        writeln!(out, "\n== summary ==\n{summary}")?;
    } else {
        writeln!(out)?;
    }
    writeln!(out, "measurements: {noise}")?;

    if let Some(path) = &outputs.json {
        let record = LabRun {
            weft_lab: env!("CARGO_PKG_VERSION"),
            command: cli.invocation(),
            machine: &machine,
            noise: &noise,
            config,
            experiments: runs
                .iter()
                .map(|run| Record {
                    name: run.experiment.name(),
                    claim: run.experiment.claim(),
                    verdict: &run.report.verdict,
                    seconds: run.took.as_secs_f64(),
                    reproduce: cli.reproduce(run.experiment.name()),
                    comparisons: &run.report.comparisons,
                    raw: run.report.raw.as_ref(),
                })
                .collect(),
        };
        let json = serde_json::to_string_pretty(&record).map_err(io::Error::other)?;
        fs::write(path, json).map_err(|e| context(e, "write", path))?;
        writeln!(out, "raw samples written to {}", path.display())?;
    }
    if let Some(dir) = &outputs.html {
        let page = report::Page {
            machine: &machine,
            noise: &noise,
            config: &config,
            command: cli.invocation(),
            generated: report::now_utc(),
            entries: runs
                .iter()
                .map(|run| report::Entry {
                    name: run.experiment.name(),
                    claim: run.experiment.claim(),
                    report: &run.report,
                    took: run.took,
                    reproduce: cli.reproduce(run.experiment.name()),
                })
                .collect(),
        };
        let path = report::write(&page, dir).map_err(|e| context(e, "write the report in", dir))?;
        writeln!(out, "report written to {}", path.display())?;
    }
    Ok(())
}

/// One experiment's outcome in this invocation.
struct Run {
    experiment: &'static dyn Experiment,
    report: Report,
    took: Duration,
}

fn context(error: io::Error, doing: &str, path: &Path) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("cannot {doing} {}: {error}", path.display()),
    )
}

fn known_names() -> String {
    let known: Vec<&str> = experiments::all().iter().map(|e| e.name()).collect();
    known.join(", ")
}

fn find(name: &str) -> Result<&'static dyn Experiment, Error> {
    experiments::find(name).ok_or_else(|| {
        Error::Usage(format!(
            "no experiment {name:?}; try one of: {}",
            known_names()
        ))
    })
}

/// The experiments `tour --only ONLY --skip SKIP` runs, in tour order.
fn select(only: &[String], skip: &[String]) -> Result<Vec<&'static dyn Experiment>, Error> {
    for (option, names) in [("--only", only), ("--skip", skip)] {
        let unknown: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| experiments::find(n).is_none())
            .collect();
        if !unknown.is_empty() {
            return Err(Error::Usage(format!(
                "{option}: no experiment {}; try: {}",
                unknown
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                known_names()
            )));
        }
    }
    let chosen: Vec<&'static dyn Experiment> = experiments::all()
        .iter()
        .copied()
        .filter(|e| only.is_empty() || only.iter().any(|n| n == e.name()))
        .filter(|e| !skip.iter().any(|n| n == e.name()))
        .collect();
    if chosen.is_empty() {
        return Err(Error::Usage(
            "--only and --skip leave no experiment to run".to_string(),
        ));
    }
    Ok(chosen)
}

/// The output paths, checked writable before the experiments run so that a long
/// tour is not lost to a typo.
struct Outputs {
    json: Option<PathBuf>,
    html: Option<PathBuf>,
}

impl Outputs {
    fn check(cli: &Cli) -> Result<Self, Error> {
        // The directory first: `--html out --json out/lab.json` is fine.
        if let Some(dir) = &cli.html {
            fs::create_dir_all(dir)
                .and_then(|()| check_writable(&report::report_path(dir)))
                .map_err(|e| {
                    Error::Usage(format!(
                        "--html: cannot write a report in {}: {e}",
                        dir.display()
                    ))
                })?;
        }
        if let Some(path) = &cli.json {
            check_writable(path).map_err(|e| {
                Error::Usage(format!("--json: cannot write {}: {e}", path.display()))
            })?;
        }
        Ok(Outputs {
            json: cli.json.clone(),
            html: cli.html.clone(),
        })
    }
}

/// Whether `path` can be written, without truncating it if it exists: opens it for
/// writing, or creates it and removes it again.
fn check_writable(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory",
        ));
    }
    if path.exists() {
        OpenOptions::new().write(true).open(path).map(drop)
    } else {
        OpenOptions::new().write(true).create_new(true).open(path)?;
        fs::remove_file(path)
    }
}

/// `weft-lab profile`: checks the options (exit code 2 for bad ones), profiles, and
/// writes `--json`.
fn profile(
    cli: &Cli,
    scale: &Option<String>,
    var: &str,
    timeout: Option<Duration>,
    interval_ms: u64,
    command: &[String],
    out: &mut dyn Write,
) -> Result<(), Error> {
    if cli.html.is_some() {
        return Err(Error::Usage(
            "--html is for tour and run; profile writes --json".into(),
        ));
    }
    let scale = scale
        .as_deref()
        .map(crate::profile::parse_scale)
        .transpose()
        .map_err(Error::Usage)?;
    if var.is_empty() || var.contains('=') || var.contains('\0') {
        return Err(Error::Usage(format!(
            "--var: {var:?} is not an environment variable name"
        )));
    }
    let outputs = Outputs::check(cli)?;
    let options = crate::profile::Options {
        command: command.to_vec(),
        scale,
        var: var.to_string(),
        timeout,
        interval: Duration::from_millis(interval_ms),
    };
    let found = crate::profile::profile(&options, out)?;
    if let Some(path) = &outputs.json {
        let text = serde_json::to_string_pretty(&found).map_err(io::Error::other)?;
        fs::write(path, text)?;
        writeln!(out, "\nprofile written to {}", path.display())?;
    }
    Ok(())
}

/// Runs `experiment`, with a progress bar on stderr if `show`: it fills against the
/// experiment's own estimate of its duration (never quite reaching the end before the
/// run does), or spins where there is no estimate.
fn run_with_progress(
    experiment: &dyn Experiment,
    config: &Config,
    label: &str,
    show: bool,
) -> Report {
    if !show {
        return experiment.run(config);
    }
    let estimate = experiment.estimate(config);
    let bar = match estimate {
        Some(estimate) => {
            let bar = ProgressBar::new(estimate.as_millis().max(1) as u64);
            bar.set_style(
                ProgressStyle::with_template("{prefix:.bold} [{bar:32.cyan/blue}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{prefix:.bold} {spinner} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        }
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.set_prefix(label.to_string());
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let report = thread::scope(|scope| {
        // A ticker a few times a second: cheap next to the measurements it shares the
        // cores with, and the bar needs no cooperation from the experiment.
        let ticker = scope.spawn(|| {
            // Relaxed: the flag carries no data, the ticker only needs to see it
            // eventually (the unpark below makes that prompt).
            while !done.load(Ordering::Relaxed) {
                let elapsed = started.elapsed();
                if let Some(estimate) = estimate {
                    let cap = bar.length().unwrap_or(1) * 99 / 100;
                    bar.set_position((elapsed.as_millis() as u64).min(cap));
                    bar.set_message(format!(
                        "{:.1} s of about {:.0} s",
                        elapsed.as_secs_f64(),
                        estimate.as_secs_f64().ceil()
                    ));
                } else {
                    bar.tick();
                }
                thread::park_timeout(Duration::from_millis(200));
            }
        });
        let report = experiment.run(config);
        done.store(true, Ordering::Relaxed);
        ticker.thread().unpark();
        report
    });
    bar.finish_and_clear();
    report
}

fn list(out: &mut dyn Write) -> io::Result<()> {
    let mut table = Table::new(["experiment", "claim"]);
    for experiment in experiments::all() {
        table.row([experiment.name(), experiment.claim().gist]);
    }
    write!(out, "{table}")
}

fn print_report(
    out: &mut dyn Write,
    experiment: &dyn Experiment,
    report: &Report,
    took: Duration,
) -> io::Result<()> {
    writeln!(out, "\n== {} ==", experiment.name())?;
    for quote in experiment.claim().quotes {
        writeln!(out, "claim ({}):\n  \"{}\"", quote.source, quote.text)?;
    }
    writeln!(out, "\n{}", report.table)?;
    writeln!(out, "verdict: {}", report.verdict.outcome.label())?;
    for line in report.verdict.text.lines() {
        writeln!(out, "  {line}")?;
    }
    writeln!(out, "({:.1} s)", took.as_secs_f64())
}

/// Everything one invocation measured, as written by `--json`.
#[derive(Debug, Serialize)]
struct LabRun<'a> {
    weft_lab: &'static str,
    command: String,
    machine: &'a Machine,
    noise: &'a Noise,
    config: Config,
    experiments: Vec<Record<'a>>,
}

#[derive(Debug, Serialize)]
struct Record<'a> {
    name: &'static str,
    claim: Claim,
    verdict: &'a Verdict,
    seconds: f64,
    reproduce: String,
    comparisons: &'a [Results],
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("weft-lab").chain(args.iter().copied()))
    }

    #[test]
    fn list_parses() {
        assert_eq!(parse(&["list"]).unwrap().command, Command::List);
    }

    #[test]
    fn run_with_global_options_after_the_name_parses() {
        let cli = parse(&["run", "false-sharing", "--quick", "--threads", "3"]).unwrap();
        assert_eq!(
            cli.command,
            Command::Run {
                name: "false-sharing".into()
            }
        );
        assert!(cli.quick);
        assert_eq!(cli.config().threads, Some(3));
    }

    #[test]
    fn options_override_the_quick_defaults() {
        let cli = parse(&["--quick", "tour", "--duration-ms", "2", "--rounds", "5"]).unwrap();
        let config = cli.config();
        assert!(config.quick);
        assert_eq!(config.sample, Duration::from_millis(2));
        assert_eq!(config.rounds, 5);
        let defaults = parse(&["tour", "--quick"]).unwrap().config();
        assert_eq!(
            (defaults.sample, defaults.rounds),
            (Duration::from_millis(10), 3)
        );
    }

    #[test]
    fn zero_threads_and_unknown_commands_are_rejected() {
        assert!(parse(&["run", "false-sharing", "--threads", "0"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
        assert!(parse(&["run"]).is_err());
    }

    #[test]
    fn list_prints_every_experiment_with_its_claim() {
        let mut out = Vec::new();
        execute(&parse(&["list"]).unwrap(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for experiment in experiments::all() {
            assert!(text.contains(experiment.name()));
            assert!(text.contains(experiment.claim().gist));
        }
    }

    /// Runs `args`, expecting bad input: returns the message, after checking that the
    /// exit code is 2 and that nothing ran (nothing was printed).
    fn usage_error(args: &[&str]) -> String {
        let mut out = Vec::new();
        let error = execute(&parse(args).unwrap(), &mut out).unwrap_err();
        assert!(matches!(error, Error::Usage(_)), "{error:?}");
        assert_eq!(error.exit_code(), 2);
        assert!(
            out.is_empty(),
            "ran before failing: {}",
            String::from_utf8_lossy(&out)
        );
        error.to_string()
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("weft-lab-cli-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn an_unknown_experiment_is_an_error_naming_the_known_ones() {
        let message = usage_error(&["run", "nope"]);
        assert!(message.contains("no experiment \"nope\""), "{message}");
        assert!(message.contains("false-sharing"));
    }

    #[test]
    fn unknown_names_in_only_and_skip_are_errors() {
        let message = usage_error(&["tour", "--only", "false-sharing,nope,nada"]);
        assert!(
            message.starts_with("--only: no experiment \"nope\", \"nada\""),
            "{message}"
        );
        assert!(message.contains("lock-contention"));
        let message = usage_error(&["tour", "--skip", "nope"]);
        assert!(
            message.starts_with("--skip: no experiment \"nope\""),
            "{message}"
        );
        let all: Vec<&str> = experiments::all().iter().map(|e| e.name()).collect();
        let message = usage_error(&["tour", "--skip", &all.join(",")]);
        assert!(message.contains("no experiment to run"));
    }

    #[test]
    fn only_and_skip_keep_the_tour_order() {
        let names = |only: &[&str], skip: &[&str]| -> Vec<&str> {
            let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            select(&own(only), &own(skip))
                .unwrap()
                .iter()
                .map(|e| e.name())
                .collect()
        };
        assert_eq!(
            names(&["lock-contention", "false-sharing"], &[]),
            ["false-sharing", "lock-contention"]
        );
        assert_eq!(names(&[], &["false-sharing"])[0], "lock-contention");
        assert!(!names(&[], &["false-sharing"]).contains(&"false-sharing"));
        assert_eq!(names(&[], &[]).len(), experiments::all().len());
        let cli = parse(&["tour", "--only", "a,b", "--skip", "c"]).unwrap();
        assert_eq!(
            cli.command,
            Command::Tour {
                only: vec!["a".into(), "b".into()],
                skip: vec!["c".into()]
            }
        );
    }

    #[test]
    fn unwritable_outputs_are_errors_before_anything_runs() {
        let message = usage_error(&["tour", "--html", "/proc/nope"]);
        assert!(
            message.starts_with("--html: cannot write a report in /proc/nope: "),
            "{message}"
        );
        let message = usage_error(&["run", "false-sharing", "--json", "/nonexistent/dir/x.json"]);
        assert!(
            message.starts_with("--json: cannot write /nonexistent/dir/x.json: "),
            "{message}"
        );
        let dir = scratch("json-dir");
        fs::create_dir_all(&dir).unwrap();
        let message = usage_error(&["tour", "--json", dir.to_str().unwrap()]);
        assert!(message.ends_with("it is a directory"), "{message}");
        // An --html path that is a file, not a directory.
        let file = dir.join("file");
        fs::write(&file, "keep me").unwrap();
        usage_error(&["tour", "--html", file.to_str().unwrap()]);
        // Checking an existing file leaves it as it was.
        check_writable(&file).unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "keep me");
        // Checking a new file leaves nothing behind.
        check_writable(&dir.join("new.json")).unwrap();
        assert!(!dir.join("new.json").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn quick_and_full_are_presets_that_exclude_each_other() {
        assert!(parse(&["tour", "--quick", "--full"]).is_err());
        let full = parse(&["tour", "--full"]).unwrap().config();
        assert_eq!(
            (full.sample, full.rounds, full.quick),
            (Duration::from_millis(250), 15, false)
        );
        let overridden = parse(&["tour", "--full", "--rounds", "3"])
            .unwrap()
            .config();
        assert_eq!(overridden.rounds, 3);
    }

    #[test]
    fn the_reproducing_command_carries_the_settings() {
        let cli = parse(&["tour", "--quick", "--threads", "2", "--html", "out dir"]).unwrap();
        assert_eq!(
            cli.reproduce("false-sharing"),
            "cargo run --release -p weft-lab -- run false-sharing --quick --threads 2"
        );
        assert_eq!(
            cli.invocation(),
            "cargo run --release -p weft-lab -- tour --quick --threads 2 --html 'out dir'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(
            parse(&["run", "lock-contention"])
                .unwrap()
                .reproduce("lock-contention"),
            "cargo run --release -p weft-lab -- run lock-contention"
        );
    }

    #[test]
    fn a_tiny_tour_writes_a_well_formed_html_report_and_json() {
        let dir = scratch("tiny-tour");
        fs::create_dir_all(&dir).unwrap();
        let html = dir.join("html");
        // The JSON goes inside the report's directory, which does not exist yet.
        let json = html.join("lab.json");
        let cli = parse(&[
            "tour",
            "--quick",
            "--duration-ms",
            "1",
            "--rounds",
            "1",
            "--threads",
            "2",
            "--html",
            html.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ])
        .unwrap();
        let mut out = Vec::new();
        execute(&cli, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("machine: "), "{text}");
        assert!(text.contains("\ncaches:  "));
        assert!(
            text.contains("measurements: unknown: too few repeats"),
            "{text}"
        );
        assert!(text.contains("report written to "));
        let names: Vec<&str> = experiments::all().iter().map(|e| e.name()).collect();
        let page = fs::read_to_string(html.join("report.html")).unwrap();
        assert_eq!(
            crate::report::tests::check_report(&page, &names),
            names.len()
        );
        assert!(
            page.contains(
                "cargo run --release -p weft-lab -- run false-sharing --quick --threads 2"
            )
        );
        assert!(html.join("false-sharing.svg").exists());

        let run: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
        assert!(run["machine"]["arch"].is_string());
        assert!(run["machine"]["caches"].is_array());
        assert_eq!(run["noise"]["level"], "unknown");
        assert_eq!(run["experiments"].as_array().unwrap().len(), names.len());
        assert!(
            run["experiments"][0]["reproduce"]
                .as_str()
                .unwrap()
                .contains("run false-sharing")
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_claim_is_quoted_word_for_word_from_the_notes() {
        // The notes live in a `shared/seeds` beside the workspace (or a level further
        // up) when it is built in weft's tree; skip the check where they are absent.
        let Some(entries) = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .find_map(|dir| std::fs::read_dir(dir.join("shared/seeds")).ok())
        else {
            return;
        };
        let notes: String = entries
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .collect();
        assert!(notes.contains(crate::report::TOPOLOGY_QUOTE.0));
        for experiment in experiments::all() {
            for quote in experiment.claim().quotes {
                assert!(
                    notes.contains(quote.text),
                    "not in the notes: {}",
                    quote.text
                );
            }
        }
    }
}

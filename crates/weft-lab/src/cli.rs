//! The command line: `list`, `tour`, `run NAME`, and the options they share.

use crate::experiment::{Claim, Config, Experiment, Report, Verdict};
use crate::experiments;
use clap::{Parser, Subcommand};
use serde::Serialize;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use weft_bench::{Results, Table};

/// Measures the claims of the notes on multitasking on this machine, with weft.
#[derive(Debug, Parser)]
#[command(name = "weft-lab", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Smaller sizes (10 ms samples, 3 rounds), same code paths.
    #[arg(long, global = true)]
    pub quick: bool,
    /// Also write every raw sample, with the claims and verdicts, to FILE as JSON.
    #[arg(long, global = true, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Threads (each experiment says how it reads this; default from the core count).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Length of one throughput sample, in milliseconds (default 100, or 10 with --quick).
    #[arg(long = "duration-ms", global = true, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub duration_ms: Option<u64>,
    /// Interleaved rounds per comparison (default 7, or 3 with --quick).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub rounds: Option<u16>,
}

/// The subcommands.
#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run every experiment, then print a summary of the verdicts.
    Tour,
    /// List the experiments and the claims they test.
    List,
    /// Run one experiment.
    Run {
        /// The experiment's name, as `list` shows it.
        name: String,
    },
}

impl Cli {
    /// The experiments' configuration: the defaults for `--quick` or not, overridden
    /// by the options given.
    pub fn config(&self) -> Config {
        let mut config = Config::new(self.quick);
        config.threads = self.threads.map(usize::from);
        if let Some(ms) = self.duration_ms {
            config.sample = Duration::from_millis(ms);
        }
        if let Some(rounds) = self.rounds {
            config.rounds = usize::from(rounds);
        }
        config
    }
}

/// Parses the process's arguments, runs the command, and reports failure as exit code
/// 1 (2 for usage errors, from clap).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    match execute(&cli, &mut stdout.lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("weft-lab: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `cli`'s command, writing the human-readable output to `out`.
///
/// # Errors
///
/// An unknown experiment name, or a failure to write `out` or the `--json` file.
pub fn execute(cli: &Cli, out: &mut dyn Write) -> io::Result<()> {
    let config = cli.config();
    let chosen: Vec<&dyn Experiment> = match &cli.command {
        Command::List => return list(out),
        Command::Tour => experiments::all().to_vec(),
        Command::Run { name } => match experiments::find(name) {
            Some(experiment) => vec![experiment],
            None => {
                let known: Vec<&str> = experiments::all().iter().map(|e| e.name()).collect();
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("no experiment {name:?}; try one of: {}", known.join(", ")),
                ));
            }
        },
    };
    writeln!(
        out,
        "weft-lab: {} cores; {} ms samples, {} interleaved rounds{}",
        config.cores,
        config.sample.as_millis(),
        config.rounds,
        if config.quick { " (--quick)" } else { "" }
    )?;
    let mut records = Vec::new();
    for experiment in &chosen {
        let started = Instant::now();
        let report = experiment.run(&config);
        print_report(out, *experiment, &report, started.elapsed())?;
        records.push(Record {
            name: experiment.name(),
            claim: experiment.claim(),
            verdict: report.verdict,
            comparisons: report.comparisons,
        });
    }
    if chosen.len() > 1 {
        let mut summary = Table::new(["experiment", "verdict"]);
        for record in &records {
            summary.row([record.name, record.verdict.outcome.label()]);
        }
        writeln!(out, "\n== summary ==\n{summary}")?;
    }
    if let Some(path) = &cli.json {
        let run = LabRun {
            config,
            experiments: records,
        };
        let json = serde_json::to_string_pretty(&run).map_err(io::Error::other)?;
        std::fs::write(path, json)?;
        writeln!(out, "raw samples written to {}", path.display())?;
    }
    Ok(())
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
struct LabRun {
    config: Config,
    experiments: Vec<Record>,
}

#[derive(Debug, Serialize)]
struct Record {
    name: &'static str,
    claim: Claim,
    verdict: Verdict,
    comparisons: Vec<Results>,
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

    #[test]
    fn an_unknown_experiment_is_an_error_naming_the_known_ones() {
        let error = execute(&parse(&["run", "nope"]).unwrap(), &mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("false-sharing"));
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

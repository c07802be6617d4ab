//! What an experiment is: a claim quoted from the notes, a run that produces figures,
//! and a verdict computed from those figures.

use serde::Serialize;
use std::time::Duration;
use weft_bench::{Results, Table};

/// One experiment: tests one claim of the notes on this machine.
///
/// Adding an experiment is one file in `src/experiments/` implementing this trait and
/// one line in [`all`](crate::experiments::all). Keep the verdict a pure function of
/// the figures (`fn verdict(&Figures) -> Verdict`) so it can be unit-tested with
/// fabricated figures.
pub trait Experiment: Sync {
    /// The name used on the command line (`weft-lab run NAME`), in kebab-case.
    fn name(&self) -> &'static str;

    /// The claim under test, quoted from the notes.
    fn claim(&self) -> Claim;

    /// Runs the measurements and judges the claim.
    fn run(&self, config: &Config) -> Report;
}

/// A claim of the notes: a one-line gist for `weft-lab list`, and the quoted text.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Claim {
    /// The claim in a few words, for listings.
    pub gist: &'static str,
    /// The sentences of the notes the experiment tests, word for word.
    pub quotes: &'static [Quote],
}

/// A sentence quoted from the notes, with where it comes from.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Quote {
    /// The quoted text, verbatim.
    pub text: &'static str,
    /// The note and section it comes from.
    pub source: &'static str,
}

/// How an experiment is asked to run, from the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Config {
    /// `--quick`: smaller sizes, same code paths.
    pub quick: bool,
    /// `--threads`: each experiment documents what it means there (usually the number
    /// of threads, or the largest number tried); `None` picks a default from `cores`.
    pub threads: Option<usize>,
    /// `--duration-ms`: how long one throughput sample runs.
    #[serde(serialize_with = "serialize_millis")]
    pub sample: Duration,
    /// `--rounds`: interleaved rounds per comparison.
    pub rounds: usize,
    /// The number of cores this process may run on.
    pub cores: usize,
}

impl Config {
    /// The defaults for this machine: 100 ms samples and 7 rounds, or with `quick`
    /// 10 ms samples and 3 rounds.
    pub fn new(quick: bool) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            quick,
            threads: None,
            sample: Duration::from_millis(if quick { 10 } else { 100 }),
            rounds: if quick { 3 } else { 7 },
            cores,
        }
    }
}

fn serialize_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e3)
}

/// Whether the figures bear the claim out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The figures show the effect the notes describe, clearly.
    Reproduced,
    /// Some of it, or weakly.
    Partly,
    /// The figures do not show it on this machine.
    NotReproduced,
    /// The run could not test the claim (for example one thread where two are needed).
    Inconclusive,
}

impl Outcome {
    /// A short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Reproduced => "reproduced",
            Outcome::Partly => "partly",
            Outcome::NotReproduced => "not reproduced",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// An experiment's judgement of its claim, computed from its figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Whether the claim held.
    pub outcome: Outcome,
    /// What the figures say, in a sentence or a few lines.
    pub text: String,
}

/// What one run of an experiment produced.
#[derive(Clone, Debug)]
pub struct Report {
    /// The figures, for the terminal.
    pub table: Table,
    /// The judgement.
    pub verdict: Verdict,
    /// Every comparison run, with every raw sample (for `--json`).
    pub comparisons: Vec<Results>,
}

//! What an experiment is: a claim quoted from the notes, a run that produces figures,
//! and a verdict computed from those figures.

use serde::Serialize;
use std::borrow::Cow;
use std::time::Duration;
use weft_bench::{Results, Table};

pub use crate::report::{Chart, Point, Scale, Series, Unit};

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

    /// About how long [`run`](Experiment::run) takes with `config`, for the tour's
    /// progress bar; `None` (the default) shows a spinner instead.
    /// [`throughput_estimate`] computes it for comparisons of fixed-duration samples.
    fn estimate(&self, config: &Config) -> Option<Duration> {
        let _ = config;
        None
    }
}

/// How long `comparisons` throughput comparisons of `contenders` contenders each take
/// with `config`: every contender runs a quarter-sample warm-up, then one sample per
/// round.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_lab::experiment::{Config, throughput_estimate};
///
/// let mut config = Config::new(false);
/// config.sample = Duration::from_millis(100);
/// config.rounds = 7;
/// // 2 comparisons x 2 contenders x 7.25 samples of 100 ms.
/// assert_eq!(throughput_estimate(&config, 2, 2), Duration::from_millis(2900));
/// ```
pub fn throughput_estimate(config: &Config, comparisons: usize, contenders: usize) -> Duration {
    let samples = (comparisons * contenders) as f64 * (config.rounds as f64 + 0.25);
    config.sample.mul_f64(samples)
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

    /// The settings of `--full`, for figures to publish: 250 ms samples and 15 rounds.
    pub fn full() -> Self {
        Self {
            sample: Duration::from_millis(250),
            rounds: 15,
            ..Self::new(false)
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
///
/// Build one with [`Report::new`], and add charts for the HTML report with
/// [`with_chart`](Report::with_chart); without any, the report draws
/// [`default_charts`](crate::report::default_charts) of the comparisons.
///
/// # Examples
///
/// ```
/// use weft_bench::Table;
/// use weft_lab::experiment::{Chart, Outcome, Point, Report, Series, Verdict};
///
/// let verdict = Verdict { outcome: Outcome::Inconclusive, text: "nothing run".into() };
/// let report = Report::new(Table::new(["a"]), verdict, Vec::new())
///     .with_chart(Chart::bars("a chart", ["group"], "ops/s")
///         .series(Series::new("a", vec![Point::new(0.0, 1.0)])));
/// assert_eq!(report.charts_or_default().len(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct Report {
    /// The figures, for the terminal.
    pub table: Table,
    /// The judgement.
    pub verdict: Verdict,
    /// Every comparison run, with every raw sample (for `--json`).
    pub comparisons: Vec<Results>,
    /// Charts for the HTML report, in order; empty means "derive them".
    pub charts: Vec<Chart>,
    /// The raw figures of an experiment that measures something other than
    /// throughput or latency comparisons (counts, counters, run times), for `--json`.
    pub raw: Option<serde_json::Value>,
}

impl Report {
    /// A report without charts of its own.
    pub fn new(table: Table, verdict: Verdict, comparisons: Vec<Results>) -> Self {
        Self {
            table,
            verdict,
            comparisons,
            charts: Vec::new(),
            raw: None,
        }
    }

    /// Attaches raw figures for `--json` (anything serde can write).
    pub fn with_raw(mut self, raw: impl Serialize) -> Self {
        self.raw = serde_json::to_value(raw).ok();
        self
    }

    /// Adds a chart (several calls add several charts).
    pub fn with_chart(mut self, chart: Chart) -> Self {
        self.charts.push(chart);
        self
    }

    /// The charts to draw: the experiment's own, or ones derived from its comparisons.
    pub fn charts_or_default(&self) -> Cow<'_, [Chart]> {
        if self.charts.is_empty() {
            Cow::Owned(crate::report::default_charts(&self.comparisons))
        } else {
            Cow::Borrowed(&self.charts)
        }
    }
}

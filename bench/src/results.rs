//! What a comparison produced: every raw sample, summaries, ratios, a table and JSON.

use crate::format::{format_ratio, format_value, format_with_unit};
use crate::stats::Summary;
use crate::table::Table;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// What the samples of a comparison measure, and so which direction is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Operations per second: higher is better.
    Throughput,
    /// Nanoseconds per operation: lower is better.
    Latency,
}

impl Metric {
    /// The unit of a sample's `value`.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Throughput => "ops/s",
            Metric::Latency => "ns/op",
        }
    }

    /// Whether a larger value means faster.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::Throughput)
    }

    /// The value of a sample that ran `ops` operations in `elapsed`.
    pub fn value(self, ops: u64, elapsed: Duration) -> f64 {
        let nanos = elapsed.as_nanos() as f64;
        match self {
            Metric::Throughput if nanos == 0.0 => 0.0,
            Metric::Throughput => ops as f64 * 1e9 / nanos,
            Metric::Latency if ops == 0 => 0.0,
            Metric::Latency => nanos / ops as f64,
        }
    }

    /// How many times faster `candidate` is than `baseline`, given two values of this
    /// metric: above 1.0 the candidate is faster, below 1.0 slower, whatever the metric.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_bench::Metric;
    ///
    /// assert_eq!(Metric::Throughput.speedup(100.0, 250.0), 2.5);
    /// assert_eq!(Metric::Latency.speedup(30.0, 15.0), 2.0);
    /// ```
    pub fn speedup(self, baseline: f64, candidate: f64) -> f64 {
        match self {
            Metric::Throughput => candidate / baseline,
            Metric::Latency => baseline / candidate,
        }
    }
}

/// One measurement of one contender.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The round it was taken in (0-based).
    pub round: usize,
    /// Its place in that round's running order (0 ran first).
    pub position: usize,
    /// Operations done.
    pub ops: u64,
    /// Time taken, in nanoseconds.
    pub elapsed_ns: u64,
    /// The metric's value: ops/s or ns/op.
    pub value: f64,
}

/// One contender's samples and their summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContenderResults {
    /// The contender's name.
    pub name: String,
    /// Summary of the samples' values.
    pub summary: Summary,
    /// Every sample, in round order.
    pub samples: Vec<Sample>,
}

/// The outcome of [`Comparison::run`](crate::Comparison::run).
///
/// Serializes to JSON with every raw sample ([`Results::to_json`]); displays as a
/// table of medians, spreads and speed relative to the baseline.
///
/// # Ratio convention
///
/// Every ratio here is a *speedup*: how many times faster the candidate is than the
/// baseline, computed from medians so that it reads the same way for throughput and
/// latency. `ratio(baseline, candidate) >= 1.0` means the candidate is as fast or
/// faster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// The comparison's name.
    pub name: String,
    /// What the values measure.
    pub metric: Metric,
    /// Rounds run.
    pub rounds: usize,
    /// The contender the table compares the others with.
    pub baseline: String,
    /// Each contender's results, in the order they were added.
    pub contenders: Vec<ContenderResults>,
}

impl Results {
    /// The named contender's results, if there is one.
    pub fn get(&self, name: &str) -> Option<&ContenderResults> {
        self.contenders.iter().find(|c| c.name == name)
    }

    /// The median of the named contender's samples (ops/s or ns/op).
    ///
    /// # Panics
    ///
    /// If no contender has that name.
    pub fn median(&self, name: &str) -> f64 {
        self.expect(name).summary.median
    }

    /// How many times faster `candidate` is than `baseline`, as a ratio of medians:
    /// `>= 1.0` means the candidate is as fast or faster (see the type's docs).
    ///
    /// # Panics
    ///
    /// If either name is not a contender.
    pub fn ratio(&self, baseline: &str, candidate: &str) -> f64 {
        self.metric
            .speedup(self.median(baseline), self.median(candidate))
    }

    /// The speedup of `candidate` over `baseline` in each round separately. Samples of
    /// one round ran back to back, so these pair up the two contenders under the same
    /// conditions; their spread says how stable [`ratio`](Self::ratio) is.
    ///
    /// # Panics
    ///
    /// If either name is not a contender.
    pub fn round_ratios(&self, baseline: &str, candidate: &str) -> Vec<f64> {
        let base = self.expect(baseline);
        let cand = self.expect(candidate);
        base.samples
            .iter()
            .zip(&cand.samples)
            .map(|(b, c)| self.metric.speedup(b.value, c.value))
            .collect()
    }

    /// The results as a table: contender, median, interquartile range, min–max and the
    /// speedup over the baseline.
    pub fn table(&self) -> Table {
        let unit = self.metric.unit();
        let mut table = Table::new([
            "contender".to_string(),
            format!("median {unit}"),
            "q1 – q3".to_string(),
            "min – max".to_string(),
            format!("vs {}", self.baseline),
        ]);
        for c in &self.contenders {
            let s = &c.summary;
            table.row([
                c.name.clone(),
                format_value(self.metric, s.median),
                format!(
                    "{} – {}",
                    format_value(self.metric, s.q1),
                    format_value(self.metric, s.q3)
                ),
                format!(
                    "{} – {}",
                    format_value(self.metric, s.min),
                    format_value(self.metric, s.max)
                ),
                format_ratio(self.ratio(&self.baseline, &c.name)),
            ]);
        }
        table
    }

    /// Every field and raw sample as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("results always serialize")
    }

    fn expect(&self, name: &str) -> &ContenderResults {
        self.get(name).unwrap_or_else(|| {
            let known: Vec<&str> = self.contenders.iter().map(|c| c.name.as_str()).collect();
            panic!("{}: no contender {name:?} (have {known:?})", self.name)
        })
    }
}

impl fmt::Display for Results {
    /// The name, the run's shape, then [`Results::table`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let better = if self.metric.higher_is_better() {
            "higher"
        } else {
            "lower"
        };
        writeln!(
            f,
            "{} ({} rounds; {} is better; \"vs\" >= 1.00x means as fast or faster)",
            self.name, self.rounds, better
        )?;
        write!(f, "{}", self.table())
    }
}

/// One row per comparison: the candidate's median and its speedup over every other
/// contender (`>= 1.00x`: the candidate is as fast or faster). Comparisons without the
/// candidate are skipped; a contender missing from a comparison leaves its cell empty.
///
/// # Examples
///
/// ```
/// use weft_bench::{Comparison, summary_table};
///
/// let a = Comparison::latency("noop").rounds(1).contender("x", || {}).contender("y", || {}).run();
/// let table = summary_table(&[a], "x");
/// assert_eq!(table.header(), ["comparison", "x median", "x / y"]);
/// assert_eq!(table.rows().len(), 1);
/// ```
pub fn summary_table(all: &[Results], candidate: &str) -> Table {
    let mut others: Vec<&str> = Vec::new();
    for results in all {
        for c in &results.contenders {
            if c.name != candidate && !others.contains(&c.name.as_str()) {
                others.push(&c.name);
            }
        }
    }
    let mut header = vec!["comparison".to_string(), format!("{candidate} median")];
    header.extend(others.iter().map(|other| format!("{candidate} / {other}")));
    let mut table = Table::new(header);
    for results in all.iter().filter(|r| r.get(candidate).is_some()) {
        let mut row = vec![
            results.name.clone(),
            format_with_unit(results.metric, results.median(candidate)),
        ];
        row.extend(others.iter().map(|other| match results.get(other) {
            Some(_) => format_ratio(results.ratio(other, candidate)),
            None => String::new(),
        }));
        table.row(row);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(metric: Metric, a: &[f64], b: &[f64]) -> Results {
        let contender = |name: &str, values: &[f64]| ContenderResults {
            name: name.to_string(),
            summary: Summary::of(values).unwrap(),
            samples: values
                .iter()
                .enumerate()
                .map(|(round, &value)| Sample {
                    round,
                    position: 0,
                    ops: 1,
                    elapsed_ns: 1,
                    value,
                })
                .collect(),
        };
        Results {
            name: "test".into(),
            metric,
            rounds: a.len(),
            baseline: "a".into(),
            contenders: vec![contender("a", a), contender("b", b)],
        }
    }

    #[test]
    fn throughput_ratio_is_candidate_over_baseline_medians() {
        let r = results(Metric::Throughput, &[10.0, 20.0, 30.0], &[50.0, 60.0, 1.0]);
        assert_eq!(r.median("a"), 20.0);
        assert_eq!(r.median("b"), 50.0);
        assert_eq!(r.ratio("a", "b"), 2.5);
        assert_eq!(r.ratio("b", "a"), 0.4);
    }

    #[test]
    fn latency_ratio_is_baseline_over_candidate_medians() {
        let r = results(Metric::Latency, &[30.0, 40.0, 50.0], &[20.0, 10.0, 20.0]);
        assert_eq!(r.ratio("a", "b"), 2.0);
        assert_eq!(r.ratio("a", "a"), 1.0);
    }

    #[test]
    fn round_ratios_pair_samples_of_the_same_round() {
        let r = results(Metric::Throughput, &[10.0, 20.0], &[30.0, 10.0]);
        assert_eq!(r.round_ratios("a", "b"), [3.0, 0.5]);
    }

    #[test]
    fn metric_values_from_ops_and_time() {
        let ms = Duration::from_millis(1);
        assert_eq!(Metric::Throughput.value(5_000, ms), 5_000_000.0);
        assert_eq!(Metric::Latency.value(1_000, ms), 1_000.0);
        assert_eq!(Metric::Throughput.value(5, Duration::ZERO), 0.0);
        assert_eq!(Metric::Latency.value(0, ms), 0.0);
    }

    #[test]
    #[should_panic(expected = "no contender \"c\"")]
    fn unknown_contender_panics_with_the_known_names() {
        results(Metric::Latency, &[1.0], &[1.0]).median("c");
    }

    #[test]
    fn summary_has_a_ratio_column_per_other_contender() {
        let r = results(Metric::Throughput, &[10.0], &[40.0]);
        let table = summary_table(&[r], "b");
        assert_eq!(table.header(), ["comparison", "b median", "b / a"]);
        assert_eq!(table.rows()[0], ["test", "40.0 ops/s", "4.00x"]);
        let r = results(Metric::Throughput, &[10.0], &[40.0]);
        assert!(summary_table(&[r], "weft").rows().is_empty());
    }

    #[test]
    fn json_round_trips_every_sample() {
        let r = results(Metric::Throughput, &[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
        let back: Results = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(back, r);
        assert!(r.to_json().contains("\"metric\": \"throughput\""));
    }

    #[test]
    fn display_has_a_row_per_contender_and_the_convention() {
        let text = results(Metric::Throughput, &[1e6], &[2e6]).to_string();
        assert!(text.contains(">= 1.00x means as fast or faster"));
        let b_row = text.lines().find(|l| l.starts_with("b ")).unwrap();
        assert!(b_row.contains("2.00 M"), "{b_row}");
        assert!(b_row.ends_with("2.00x"), "{b_row}");
    }
}

//! What a chart shows, apart from how it is drawn: line charts (a value against a
//! number, such as threads) and grouped bar charts (a value per group and series),
//! each point a median with its q1–q3 spread and, where known, the raw samples.
//!
//! [`default_charts`] derives charts from an experiment's comparisons for experiments
//! that give none: a line chart of median against threads per contender where the
//! comparisons' names carry a thread count, grouped bars of each comparison's
//! contenders otherwise.

use weft_bench::{ContenderResults, Metric, Results};

/// A chart: a title, two axes, and one or more series.
///
/// # Examples
///
/// ```
/// use weft_lab::report::{Chart, Point, Series, Unit};
///
/// let chart = Chart::line("Throughput against threads", "threads", "operations per second")
///     .unit(Unit::PerSecond)
///     .series(Series::new("mutex", vec![Point::new(1.0, 9e6), Point::new(2.0, 4e6)]))
///     .series(Series::new("atomic", vec![Point::new(1.0, 9e7), Point::new(2.0, 6e7)]))
///     .marker(2.0, "2 cores");
/// assert!(chart.has_data());
///
/// let bars = Chart::bars("Packed against padded", ["fetch_add", "load+store"], "increments/s")
///     .series(Series::new("packed", vec![Point::new(0.0, 1e8), Point::new(1.0, 3e8)]));
/// assert_eq!(bars.series[0].points.len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// Printed above the plot.
    pub title: String,
    /// Lines against a numeric x axis, or bars in groups.
    pub kind: ChartKind,
    /// The x axis's label (with its unit, if any).
    pub x_label: String,
    /// The y axis's label (with its unit).
    pub y_label: String,
    /// How y values are written at the ticks.
    pub y_unit: Unit,
    /// Linear, logarithmic, or chosen from the data's range.
    pub y_scale: Scale,
    /// The data, one series per legend entry.
    pub series: Vec<Series>,
    /// Vertical reference lines of a line chart, such as the core count.
    pub markers: Vec<Marker>,
}

/// The two kinds of chart.
#[derive(Clone, Debug, PartialEq)]
pub enum ChartKind {
    /// Each series is a line through its points; `x` is a number.
    Line,
    /// Each group holds one bar per series; a point's `x` is its group's index.
    Bars {
        /// The groups' labels, left to right.
        groups: Vec<String>,
    },
}

/// How the y axis maps values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Logarithmic when the values span more than [`LOG_SPAN`] (and are all
    /// positive), linear otherwise.
    Auto,
    /// Linear from zero.
    Linear,
    /// Logarithmic, in decades.
    Log,
}

/// Values spanning more than this factor get a logarithmic axis under [`Scale::Auto`].
pub const LOG_SPAN: f64 = 30.0;

/// How tick values are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A rate: SI prefixes, `250 k`, `1.5 M`.
    PerSecond,
    /// Nanoseconds: `800 ns`, `1.2 µs`.
    Nanos,
    /// A ratio: `1.5x`.
    Ratio,
    /// A plain number with SI prefixes.
    Count,
}

impl Unit {
    /// The unit that suits a metric of `weft-bench`.
    pub fn of(metric: Metric) -> Self {
        match metric {
            Metric::Throughput => Unit::PerSecond,
            Metric::Latency => Unit::Nanos,
        }
    }
}

/// One legend entry's points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend's label.
    pub name: String,
    /// The points, in x order for a line.
    pub points: Vec<Point>,
    /// The palette entry to draw it in; `None` takes the series' own position.
    pub color: Option<usize>,
    /// Draw the line dashed (for a model or prediction beside measurements).
    pub dashed: bool,
}

impl Series {
    /// A series called `name`.
    pub fn new(name: impl Into<String>, points: Vec<Point>) -> Self {
        Self {
            name: name.into(),
            points,
            color: None,
            dashed: false,
        }
    }

    /// Draws it in palette entry `index`, so a prediction can share its
    /// measurement's colour.
    pub fn color(mut self, index: usize) -> Self {
        self.color = Some(index);
        self
    }

    /// Draws its line dashed.
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

/// One value: usually a median, with the interquartile range as its whisker.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The x value, or for bars the group's index.
    pub x: f64,
    /// The y value (the median).
    pub y: f64,
    /// The whisker, usually (q1, q3).
    pub spread: Option<(f64, f64)>,
    /// The raw samples, drawn as dots.
    pub samples: Vec<f64>,
}

impl Point {
    /// A bare point.
    pub fn new(x: f64, y: f64) -> Self {
        Self {
            x,
            y,
            spread: None,
            samples: Vec::new(),
        }
    }

    /// A contender's median at `x`, its q1–q3 whisker, and its raw samples.
    pub fn of_contender(x: f64, contender: &ContenderResults) -> Self {
        let s = &contender.summary;
        Self {
            x,
            y: s.median,
            spread: Some((s.q1, s.q3)),
            samples: contender.samples.iter().map(|s| s.value).collect(),
        }
    }

    /// Sets the whisker.
    pub fn spread(mut self, low: f64, high: f64) -> Self {
        self.spread = Some((low, high));
        self
    }
}

/// A vertical reference line on a line chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// Where.
    pub x: f64,
    /// What it marks.
    pub label: String,
}

impl Chart {
    /// A line chart: series of points against a numeric x axis.
    pub fn line(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self::new(
            title.into(),
            ChartKind::Line,
            x_label.into(),
            y_label.into(),
        )
    }

    /// A grouped bar chart: one bar per series in each group; a point's `x` is the
    /// index of its group in `groups`.
    pub fn bars<S: Into<String>>(
        title: impl Into<String>,
        groups: impl IntoIterator<Item = S>,
        y_label: impl Into<String>,
    ) -> Self {
        let groups = groups.into_iter().map(Into::into).collect();
        Self::new(
            title.into(),
            ChartKind::Bars { groups },
            String::new(),
            y_label.into(),
        )
    }

    fn new(title: String, kind: ChartKind, x_label: String, y_label: String) -> Self {
        Self {
            title,
            kind,
            x_label,
            y_label,
            y_unit: Unit::PerSecond,
            y_scale: Scale::Auto,
            series: Vec::new(),
            markers: Vec::new(),
        }
    }

    /// Adds a series.
    pub fn series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Sets how y values are written (default [`Unit::PerSecond`]).
    pub fn unit(mut self, unit: Unit) -> Self {
        self.y_unit = unit;
        self
    }

    /// Sets the y scale (default [`Scale::Auto`]).
    pub fn scale(mut self, scale: Scale) -> Self {
        self.y_scale = scale;
        self
    }

    /// Sets the x axis's label.
    pub fn x_label(mut self, label: impl Into<String>) -> Self {
        self.x_label = label.into();
        self
    }

    /// Adds a vertical reference line at `x` (line charts only).
    pub fn marker(mut self, x: f64, label: impl Into<String>) -> Self {
        self.markers.push(Marker {
            x,
            label: label.into(),
        });
        self
    }

    /// Whether there is at least one finite point to draw.
    pub fn has_data(&self) -> bool {
        self.series
            .iter()
            .flat_map(|s| &s.points)
            .any(|p| p.x.is_finite() && p.y.is_finite())
    }
}

/// The y axis label for a metric of `weft-bench`.
fn metric_label(metric: Metric) -> &'static str {
    match metric {
        Metric::Throughput => "operations per second",
        Metric::Latency => "nanoseconds per operation",
    }
}

/// Splits a comparison's name into the rest of the name and the thread count it
/// carries, if any: `"lock contention, 4 threads"` is `("lock contention", Some(4))`.
///
/// A thread count is a number followed by a word starting with `thr` (`4 threads`,
/// `1 thread`, `8 thr`), or following the word `threads` (`threads=4`, `threads 4`).
pub fn split_thread_count(name: &str) -> (String, Option<usize>) {
    let words: Vec<(usize, &str)> = word_spans(name);
    for (i, &(start, word)) in words.iter().enumerate() {
        let Ok(count) = word.parse::<usize>() else {
            continue;
        };
        let after = words.get(i + 1).map(|&(_, w)| w.to_ascii_lowercase());
        let before = i.checked_sub(1).map(|j| words[j].1.to_ascii_lowercase());
        let (cut_start, cut_end) = if after.as_deref().is_some_and(|w| w.starts_with("thr")) {
            let (next_start, next) = words[i + 1];
            (start, next_start + next.len())
        } else if before.as_deref() == Some("threads") {
            (words[i - 1].0, start + word.len())
        } else {
            continue;
        };
        let rest = format!("{}{}", &name[..cut_start], &name[cut_end..]);
        return (tidy(&rest), Some(count));
    }
    (name.to_string(), None)
}

/// The alphanumeric words of `text` with their byte offsets.
fn word_spans(text: &str) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric() || c == '_', start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                words.push((s, &text[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, &text[s..]));
    }
    words
}

/// Trims the separators left where a thread count was cut out of a name.
fn tidy(text: &str) -> String {
    let mut text = text.replace("()", "").replace("[]", "");
    for (from, to) in [(" ,", ","), (",,", ","), ("  ", " ")] {
        while text.contains(from) {
            text = text.replace(from, to);
        }
    }
    text.trim_matches(|c: char| c.is_whitespace() || ",;:-=".contains(c))
        .to_string()
}

/// Charts for an experiment that gives none, derived from its comparisons.
///
/// Comparisons whose names differ only in a thread count become one line chart each
/// (median against threads, one line per contender); the rest become one grouped bar
/// chart per metric (a group per comparison, a bar per contender). Medians carry their
/// q1–q3 whiskers and raw samples.
pub fn default_charts(comparisons: &[Results]) -> Vec<Chart> {
    let mut charts = Vec::new();
    for metric in [Metric::Throughput, Metric::Latency] {
        let of_metric: Vec<&Results> = comparisons.iter().filter(|r| r.metric == metric).collect();
        if of_metric.is_empty() {
            continue;
        }
        // Families of comparisons that differ only in their thread count.
        let mut families: Vec<(String, Vec<(usize, &Results)>)> = Vec::new();
        let mut singles: Vec<&Results> = Vec::new();
        for results in &of_metric {
            match split_thread_count(&results.name) {
                (base, Some(threads)) => match families.iter_mut().find(|(b, _)| *b == base) {
                    Some((_, members)) => members.push((threads, results)),
                    None => families.push((base, vec![(threads, results)])),
                },
                (_, None) => singles.push(results),
            }
        }
        for (base, mut members) in families {
            members.sort_by_key(|(threads, _)| *threads);
            let mut distinct: Vec<usize> = members.iter().map(|(t, _)| *t).collect();
            distinct.dedup();
            if distinct.len() < 2 {
                singles.extend(members.into_iter().map(|(_, r)| r));
                continue;
            }
            let mut chart = Chart::line(
                format!("{base}: median against threads"),
                "threads",
                metric_label(metric),
            )
            .unit(Unit::of(metric));
            for name in contender_names(members.iter().map(|(_, r)| *r)) {
                let points = members
                    .iter()
                    .filter_map(|(threads, r)| {
                        Some(Point::of_contender(*threads as f64, r.get(&name)?))
                    })
                    .collect();
                chart = chart.series(Series::new(name, points));
            }
            charts.push(chart);
        }
        if !singles.is_empty() {
            // Keep the comparisons' own order.
            singles.sort_by_key(|s| of_metric.iter().position(|r| std::ptr::eq(*r, *s)));
            let groups: Vec<String> = singles.iter().map(|r| r.name.clone()).collect();
            let mut chart = Chart::bars("Median of each contender", groups, metric_label(metric))
                .unit(Unit::of(metric));
            for name in contender_names(singles.iter().copied()) {
                let points = singles
                    .iter()
                    .enumerate()
                    .filter_map(|(group, r)| Some(Point::of_contender(group as f64, r.get(&name)?)))
                    .collect();
                chart = chart.series(Series::new(name, points));
            }
            charts.push(chart);
        }
    }
    charts
}

/// Every contender name, in order of first appearance.
fn contender_names<'a>(comparisons: impl Iterator<Item = &'a Results>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for results in comparisons {
        for c in &results.contenders {
            if !names.contains(&c.name) {
                names.push(c.name.clone());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_bench::Sample;
    use weft_bench::stats::Summary;

    pub(crate) fn results(name: &str, metric: Metric, contenders: &[(&str, &[f64])]) -> Results {
        Results {
            name: name.into(),
            metric,
            rounds: contenders[0].1.len(),
            baseline: contenders[0].0.into(),
            contenders: contenders
                .iter()
                .map(|(name, values)| ContenderResults {
                    name: (*name).into(),
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
                })
                .collect(),
        }
    }

    #[test]
    fn thread_counts_are_found_in_the_usual_spellings() {
        let split = |s: &str| split_thread_count(s);
        assert_eq!(
            split("lock contention, 4 threads"),
            ("lock contention".into(), Some(4))
        );
        assert_eq!(
            split("false sharing, fetch_add, 2 threads"),
            ("false sharing, fetch_add".into(), Some(2))
        );
        assert_eq!(split("1 thread: spawn"), ("spawn".into(), Some(1)));
        assert_eq!(
            split("pool (threads=8), sort"),
            ("pool, sort".into(), Some(8))
        );
        assert_eq!(
            split("ping-pong 64 bytes"),
            ("ping-pong 64 bytes".into(), None)
        );
        assert_eq!(split("sum, 16 thr"), ("sum".into(), Some(16)));
    }

    #[test]
    fn comparisons_differing_in_threads_become_a_line_per_contender() {
        let runs = [
            results(
                "counter, 1 threads",
                Metric::Throughput,
                &[("a", &[1.0, 2.0, 3.0]), ("b", &[4.0])],
            ),
            results(
                "counter, 2 threads",
                Metric::Throughput,
                &[("a", &[2.0]), ("b", &[8.0])],
            ),
            results("counter, 4 threads", Metric::Throughput, &[("a", &[3.0])]),
        ];
        let charts = default_charts(&runs);
        assert_eq!(charts.len(), 1);
        let chart = &charts[0];
        assert_eq!(chart.kind, ChartKind::Line);
        assert_eq!(chart.title, "counter: median against threads");
        assert_eq!(chart.series.len(), 2);
        let a = &chart.series[0];
        assert_eq!(
            a.points.iter().map(|p| p.x).collect::<Vec<_>>(),
            [1.0, 2.0, 4.0]
        );
        assert_eq!(a.points[0].y, 2.0);
        assert_eq!(a.points[0].spread, Some((1.5, 2.5)));
        assert_eq!(a.points[0].samples, [1.0, 2.0, 3.0]);
        // b was not measured at 4 threads: its line stops at 2.
        assert_eq!(chart.series[1].points.len(), 2);
    }

    #[test]
    fn other_comparisons_become_grouped_bars_per_metric() {
        let runs = [
            results(
                "spawn",
                Metric::Latency,
                &[("weft", &[10.0]), ("std", &[50.0])],
            ),
            results(
                "only at 2 threads, 2 threads",
                Metric::Throughput,
                &[("x", &[5.0])],
            ),
            results("join", Metric::Latency, &[("weft", &[20.0])]),
        ];
        let charts = default_charts(&runs);
        assert_eq!(charts.len(), 2);
        let ChartKind::Bars { groups } = &charts[0].kind else {
            panic!("bars expected");
        };
        assert_eq!(groups, &["only at 2 threads, 2 threads"]);
        assert_eq!(charts[0].y_unit, Unit::PerSecond);
        let ChartKind::Bars { groups } = &charts[1].kind else {
            panic!("bars expected");
        };
        assert_eq!(groups, &["spawn", "join"]);
        assert_eq!(charts[1].y_unit, Unit::Nanos);
        let std = &charts[1].series[1];
        assert_eq!(
            (std.name.as_str(), std.points.len(), std.points[0].x),
            ("std", 1, 0.0)
        );
        assert_eq!(charts[1].series[0].points[1].x, 1.0);
    }

    #[test]
    fn no_comparisons_no_charts() {
        assert!(default_charts(&[]).is_empty());
    }
}

//! The HTML report of `--html DIR`: one self-contained page (inline CSS, inline SVG
//! charts, no script, nothing fetched) that opens with the machine and gives each
//! experiment a section: the claim quoted from the notes, its charts, its figures,
//! the verdict and the command that reproduces it.
//!
//! The page is also well-formed XML (XHTML syntax: every element closed, attributes
//! quoted, only XML's five named entities), so the tests parse it with an XML parser
//! and browsers read it as HTML5. Every piece of text goes through [`escape`].
//!
//! - [`chart`]: what a chart shows, and the charts derived from comparisons;
//! - [`svg`]: drawing a chart.

pub mod chart;
pub mod svg;

pub use chart::{Chart, ChartKind, Marker, Point, Scale, Series, Unit, default_charts};

use crate::experiment::{Claim, Config, Outcome, Report};
use crate::machine::{Machine, Noise, NoiseLevel};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use std::{fs, io};
use weft_bench::Table;

/// Escapes text for HTML, SVG and XML alike, in element content and in quoted
/// attribute values.
///
/// # Examples
///
/// ```
/// assert_eq!(weft_lab::report::escape(r#"<a href="x">'&'</a>"#),
///            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newlines are not allowed in XML.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Everything the report shows about one run.
#[derive(Debug)]
pub struct Page<'a> {
    /// The machine it ran on.
    pub machine: &'a Machine,
    /// How noisy the measurements were.
    pub noise: &'a Noise,
    /// The settings the experiments ran with.
    pub config: &'a Config,
    /// The command that produced the whole run.
    pub command: String,
    /// When, as text (see [`now_utc`]).
    pub generated: String,
    /// The experiments, in the order they ran.
    pub entries: Vec<Entry<'a>>,
}

/// One experiment's section.
#[derive(Debug)]
pub struct Entry<'a> {
    /// Its name (`false-sharing`).
    pub name: &'a str,
    /// The claim it tests.
    pub claim: Claim,
    /// What it produced.
    pub report: &'a Report,
    /// How long it ran.
    pub took: Duration,
    /// The command that runs it alone with the same settings.
    pub reproduce: String,
}

impl Entry<'_> {
    /// The section's `id`: the name, kept to letters, digits and dashes.
    pub fn anchor(&self) -> String {
        let slug: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        format!("experiment-{slug}")
    }

    /// The file names its charts get beside the report.
    fn chart_files(&self, charts: usize) -> Vec<String> {
        let base = self.anchor().trim_start_matches("experiment-").to_string();
        (0..charts)
            .map(|i| match i {
                0 => format!("{base}.svg"),
                i => format!("{base}-{}.svg", i + 1),
            })
            .collect()
    }
}

/// The notes' words on the layers of a machine, quoted in the machine section.
pub(crate) const TOPOLOGY_QUOTE: (&str, &str) = (
    "Each socket holds 1 or more Processor and each processor can hold 1 or more cores.",
    "Parallelism and Concurrency, Socket, Processor and Core",
);

const STYLE: &str = r#"
:root { --fg: #1c1c1c; --muted: #5d6470; --line: #e2e5ea; --panel: #ffffff; --bg: #f5f6f8; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 28px 20px 64px; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 0 0 6px; }
h2 a { color: inherit; text-decoration: none; }
h3 { font-size: 15px; margin: 18px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.lead { color: var(--muted); margin: 0 0 4px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
  padding: 22px 26px; margin: 22px 0; }
blockquote { margin: 12px 0; padding: 10px 16px; border-left: 4px solid #9db7d5; background: #f3f6fa;
  border-radius: 0 6px 6px 0; }
blockquote p { margin: 0; font-style: italic; }
blockquote footer { margin-top: 4px; color: var(--muted); font-size: 13px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 14px; margin: 6px 0; }
th, td { padding: 5px 12px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: #f0f2f5; font-weight: 600; }
th:first-child, td:first-child { text-align: left; }
table.facts td, table.facts th, table.summary td, table.summary th { text-align: left; white-space: normal; }
table.facts td:first-child { color: var(--muted); width: 190px; }
figure { margin: 14px 0; }
figure svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 13px; text-align: center; }
.verdict { border-radius: 8px; padding: 10px 16px; margin: 14px 0; }
.verdict ul { margin: 6px 0 0; padding-left: 20px; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; font-weight: 600; font-size: 13px; }
.reproduced { background: #e2f3e8; color: #0d5a2b; }
.partly { background: #fff3d4; color: #6d4c00; }
.not-reproduced { background: #fde6e2; color: #8c1c10; }
.inconclusive, .unknown { background: #eceef1; color: #3f4650; }
.quiet { background: #e2f3e8; color: #0d5a2b; }
.noisy { background: #fde6e2; color: #8c1c10; }
.verdict.reproduced, .verdict.partly, .verdict.not-reproduced, .verdict.inconclusive { color: var(--fg); }
pre.command { background: #1f2328; color: #e9edf1; padding: 10px 14px; border-radius: 6px;
  overflow-x: auto; font-size: 13.5px; margin: 6px 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.took { color: var(--muted); font-size: 13px; }
footer.page { color: var(--muted); font-size: 13px; text-align: center; }
"#;

/// The report as one HTML document.
pub fn html(page: &Page) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n");
    out.push_str(r#"<html xmlns="http://www.w3.org/1999/xhtml" lang="en">"#);
    let _ = write!(
        out,
        r#"<head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/><title>weft-lab report: {}</title><style>{}</style></head>"#,
        escape(&machine_headline(page.machine)),
        STYLE
    );
    out.push_str("<body><main>");
    let _ = write!(
        out,
        r#"<header><h1>weft-lab report</h1><p class="lead">The claims of the notes on multitasking, measured on this machine with weft.</p><p class="lead">Generated {} by <code>{}</code></p></header>"#,
        escape(&page.generated),
        escape(&page.command)
    );
    machine_section(&mut out, page);
    summary_section(&mut out, page);
    for entry in &page.entries {
        experiment_section(&mut out, entry);
    }
    let _ = write!(
        out,
        r#"<footer class="page"><p>weft-lab {}. Medians of interleaved rounds; whiskers span the first to the third quartile, dots are the raw samples. Every raw sample is in the <code>--json</code> output.</p></footer>"#,
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("</main></body></html>\n");
    out
}

fn machine_headline(machine: &Machine) -> String {
    let model = machine.model.as_deref().unwrap_or("unknown processor");
    match machine.hardware_threads {
        Some(threads) => format!("{model}, {threads} hardware threads"),
        None => model.to_string(),
    }
}

fn machine_section(out: &mut String, page: &Page) {
    let machine = page.machine;
    out.push_str(r#"<section id="machine"><h2>The machine</h2>"#);
    let (quote, source) = TOPOLOGY_QUOTE;
    let _ = write!(
        out,
        "<blockquote><p>\u{201c}{}\u{201d}</p><footer>{}</footer></blockquote>",
        escape(quote),
        escape(source)
    );
    let count = |n: Option<usize>, one: &str, many: &str| match n {
        Some(1) => format!("1 {one}"),
        Some(n) => format!("{n} {many}"),
        None => format!("an unknown number of {many}"),
    };
    let mut this_one = format!(
        "This one has {}, {} and {}",
        count(machine.sockets, "socket", "sockets"),
        count(machine.cores, "core", "cores"),
        count(
            machine.hardware_threads,
            "hardware thread",
            "hardware threads"
        ),
    );
    if let Some(per_core) = machine.threads_per_core() {
        let _ = write!(this_one, " ({per_core} per core)");
    }
    this_one.push('.');
    let _ = write!(out, "<p>{}</p>", escape(&this_one));
    out.push_str(r#"<div class="scroll"><table class="facts"><tbody>"#);
    for (label, value) in machine.facts() {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(label),
            escape(&value)
        );
    }
    let config = page.config;
    let _ = write!(
        out,
        "<tr><td>samples</td><td>{} ms each, {} interleaved rounds per comparison</td></tr>",
        config.sample.as_millis(),
        config.rounds
    );
    let level = page.noise.level;
    let class = match level {
        NoiseLevel::Quiet => "quiet",
        NoiseLevel::Noisy => "noisy",
        NoiseLevel::Unknown => "unknown",
    };
    let _ = write!(
        out,
        r#"<tr><td>measurements</td><td><span class="badge {class}">{}</span> {}</td></tr>"#,
        escape(level.label()),
        escape(noise_detail(page.noise).as_str())
    );
    out.push_str("</tbody></table></div></section>");
}

/// The noise sentence without its leading label (the badge shows it).
fn noise_detail(noise: &Noise) -> String {
    let text = noise.to_string();
    match text.split_once(": ") {
        Some((_, rest)) => rest.to_string(),
        None => text,
    }
}

fn outcome_class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Reproduced => "reproduced",
        Outcome::Partly => "partly",
        Outcome::NotReproduced => "not-reproduced",
        Outcome::Inconclusive => "inconclusive",
    }
}

fn badge(outcome: Outcome) -> String {
    format!(
        r#"<span class="badge {}">{}</span>"#,
        outcome_class(outcome),
        escape(outcome.label())
    )
}

fn summary_section(out: &mut String, page: &Page) {
    out.push_str(r#"<section id="summary"><h2>Summary</h2><div class="scroll"><table class="summary"><thead><tr><th>experiment</th><th>claim</th><th>verdict</th><th>time</th></tr></thead><tbody>"#);
    for entry in &page.entries {
        let _ = write!(
            out,
            "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td><td>{:.1} s</td></tr>",
            escape(&entry.anchor()),
            escape(entry.name),
            escape(entry.claim.gist),
            badge(entry.report.verdict.outcome),
            entry.took.as_secs_f64()
        );
    }
    out.push_str("</tbody></table></div></section>");
}

fn experiment_section(out: &mut String, entry: &Entry) {
    let anchor = escape(&entry.anchor());
    let _ = write!(
        out,
        r##"<section class="experiment" id="{anchor}"><h2><a href="#{anchor}">{}</a></h2><p class="lead">{}</p>"##,
        escape(entry.name),
        escape(entry.claim.gist)
    );
    out.push_str("<h3>The claim</h3>");
    for quote in entry.claim.quotes {
        let _ = write!(
            out,
            "<blockquote class=\"claim\"><p>\u{201c}{}\u{201d}</p><footer>{}</footer></blockquote>",
            escape(quote.text),
            escape(quote.source)
        );
    }
    let charts = entry.report.charts_or_default();
    let files = entry.chart_files(charts.len());
    if !charts.is_empty() {
        out.push_str("<h3>Measured</h3>");
    }
    for (chart, file) in charts.iter().zip(&files) {
        let _ = write!(
            out,
            r#"<figure>{}<figcaption>{}: medians, whiskers from q1 to q3, dots the raw samples. <a href="{}">SVG</a></figcaption></figure>"#,
            svg::render(chart),
            escape(&chart.title),
            escape(file)
        );
    }
    out.push_str("<h3>Figures</h3>");
    table(out, &entry.report.table);
    let verdict = &entry.report.verdict;
    let _ = write!(
        out,
        r#"<div class="verdict {}"><p><strong>Verdict:</strong> {}</p><ul>"#,
        outcome_class(verdict.outcome),
        badge(verdict.outcome)
    );
    for line in verdict.text.lines() {
        let _ = write!(out, "<li>{}</li>", escape(line));
    }
    out.push_str("</ul></div>");
    let _ = write!(
        out,
        r#"<h3>Reproduce</h3><pre class="command"><code>{}</code></pre><p class="took">This run took {:.1} s.</p></section>"#,
        escape(&entry.reproduce),
        entry.took.as_secs_f64()
    );
}

fn table(out: &mut String, table: &Table) {
    out.push_str(r#"<div class="scroll"><table class="figures"><thead><tr>"#);
    for heading in table.header() {
        let _ = write!(out, "<th>{}</th>", escape(heading));
    }
    out.push_str("</tr></thead><tbody>");
    let columns = table.header().len();
    for row in table.rows() {
        out.push_str("<tr>");
        for column in 0..columns.max(row.len()) {
            let cell = row.get(column).map_or("", String::as_str);
            let _ = write!(out, "<td>{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
}

/// Writes `DIR/report.html`, and each chart beside it as a standalone SVG file (named
/// after its experiment), creating `dir` if needed. Returns the report's path.
///
/// # Errors
///
/// If `dir` cannot be created or a file cannot be written.
pub fn write(page: &Page, dir: &Path) -> io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    for entry in &page.entries {
        let charts = entry.report.charts_or_default();
        for (chart, file) in charts.iter().zip(entry.chart_files(charts.len())) {
            let svg = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}\n",
                svg::render(chart)
            );
            fs::write(dir.join(file), svg)?;
        }
    }
    let path = report_path(dir);
    fs::write(&path, html(page))?;
    Ok(path)
}

/// Where [`write()`] puts the page.
pub fn report_path(dir: &Path) -> PathBuf {
    dir.join("report.html")
}

/// The current time in UTC, `2025-01-31 14:05 UTC`.
pub fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// Seconds since the Unix epoch as a UTC date and time, by Howard Hinnant's
/// `civil_from_days` algorithm (proleptic Gregorian calendar).
fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (hour, minute) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::experiment::{Quote, Verdict};
    use weft_bench::stats::Summary;
    use weft_bench::{ContenderResults, Metric, Results, Sample};

    pub(crate) fn fabricated_results(name: &str, contenders: &[(&str, f64)]) -> Results {
        Results {
            name: name.into(),
            metric: Metric::Throughput,
            rounds: 3,
            baseline: contenders[0].0.into(),
            contenders: contenders
                .iter()
                .map(|&(name, median)| {
                    let values = [median * 0.9, median, median * 1.1];
                    ContenderResults {
                        name: name.into(),
                        summary: Summary::of(&values).unwrap(),
                        samples: values
                            .iter()
                            .enumerate()
                            .map(|(round, &value)| Sample {
                                round,
                                position: round,
                                ops: 1,
                                elapsed_ns: 1,
                                value,
                            })
                            .collect(),
                    }
                })
                .collect(),
        }
    }

    const QUOTES: &[Quote] = &[Quote {
        text: "Locks <are> slow & \"atomics\" aren't.",
        source: "Notes, 1.2",
    }];

    /// Two fabricated experiments: one with its own chart, one relying on the default.
    pub(crate) fn fabricated_reports() -> Vec<Report> {
        let mut table = Table::new(["contender", "ops/s"]);
        table.row(["a <b>", "1.00 M"]);
        let lines = Report::new(
            table.clone(),
            Verdict {
                outcome: Outcome::Reproduced,
                text: "first line\nsecond & last".into(),
            },
            ["1 threads", "2 threads", "4 threads"]
                .iter()
                .map(|name| fabricated_results(name, &[("mutex", 1e6), ("atomic", 5e7)]))
                .collect(),
        );
        let bars = Report::new(
            table,
            Verdict {
                outcome: Outcome::NotReproduced,
                text: "no".into(),
            },
            vec![fabricated_results("x", &[("one", 3.0), ("two", 4.0)])],
        )
        .with_chart(
            Chart::bars("Own chart", ["g"], "things/s")
                .series(Series::new("s", vec![Point::new(0.0, 1.0)])),
        );
        vec![lines, bars]
    }

    pub(crate) fn page<'a>(
        machine: &'a Machine,
        noise: &'a Noise,
        config: &'a Config,
        reports: &'a [Report],
    ) -> Page<'a> {
        let claim = Claim {
            gist: "a gist with <markup>",
            quotes: QUOTES,
        };
        Page {
            machine,
            noise,
            config,
            command: "weft-lab tour --html 'out dir'".into(),
            generated: format_utc(0),
            entries: reports
                .iter()
                .zip(["first-one", "second"])
                .map(|(report, name)| Entry {
                    name,
                    claim,
                    report,
                    took: Duration::from_millis(1500),
                    reproduce: format!("cargo run --release -p weft-lab -- run {name}"),
                })
                .collect(),
        }
    }

    /// Checks `html` is well-formed XML and has every part of the report; returns the
    /// number of experiment sections.
    pub(crate) fn check_report(html: &str, names: &[&str]) -> usize {
        let doc = roxmltree::Document::parse_with_options(
            html,
            roxmltree::ParsingOptions {
                allow_dtd: true,
                ..Default::default()
            },
        )
        .expect("the report is well-formed XML");
        fn by_class<'a, 'input>(
            node: roxmltree::Node<'a, 'input>,
            tag: &str,
            class: &str,
        ) -> Vec<roxmltree::Node<'a, 'input>> {
            node.descendants()
                .filter(|n| {
                    n.tag_name().name() == tag
                        && n.attribute("class")
                            .is_some_and(|c| c.split(' ').any(|part| part == class))
                })
                .collect()
        }
        let root = doc.root();
        assert!(
            root.descendants()
                .any(|n| n.attribute("id") == Some("machine"))
        );
        assert!(
            root.descendants()
                .any(|n| n.attribute("id") == Some("summary"))
        );
        assert!(!by_class(root, "table", "facts").is_empty());
        let sections = by_class(root, "section", "experiment");
        assert_eq!(sections.len(), names.len());
        for (section, name) in sections.iter().zip(names) {
            let heading = section
                .descendants()
                .find(|n| n.tag_name().name() == "h2")
                .expect("a heading");
            let text: String = heading
                .descendants()
                .filter(|n| n.is_text())
                .filter_map(|n| n.text())
                .collect();
            assert_eq!(text, *name);
            assert!(
                !by_class(*section, "blockquote", "claim").is_empty(),
                "{name}: claim"
            );
            assert!(
                !by_class(*section, "table", "figures").is_empty(),
                "{name}: figures"
            );
            assert_eq!(
                by_class(*section, "div", "verdict").len(),
                1,
                "{name}: verdict"
            );
            let command: String = by_class(*section, "pre", "command")[0]
                .descendants()
                .filter(|n| n.is_text())
                .filter_map(|n| n.text())
                .collect();
            assert!(command.starts_with("cargo run --release -p weft-lab -- run "));
            assert!(command.contains(name), "{command}");
            let svgs: Vec<_> = section
                .descendants()
                .filter(|n| n.tag_name().name() == "svg")
                .collect();
            assert!(!svgs.is_empty(), "{name}: a chart");
            for svg in svgs {
                assert_eq!(
                    svg.tag_name().namespace(),
                    Some("http://www.w3.org/2000/svg")
                );
                let marks = svg.descendants().filter(|n| {
                    ["path", "rect", "circle"].contains(&n.tag_name().name())
                        && n.attribute("class").is_some_and(|c| c.starts_with("mark"))
                        && n.attribute("data-value")
                            .is_some_and(|v| v.split(' ').all(|x| x.parse::<f64>().is_ok()))
                });
                assert!(marks.count() > 0, "{name}: a chart without data marks");
                let texts = svg.descendants().filter(|n| n.tag_name().name() == "text");
                assert!(texts.count() >= 4, "{name}: title, ticks and legend");
            }
        }
        sections.len()
    }

    #[test]
    fn the_report_is_well_formed_and_has_every_part() {
        let machine = Machine::detect();
        let reports = fabricated_reports();
        let all: Vec<&Results> = reports.iter().flat_map(|r| &r.comparisons).collect();
        let noise = Noise::of(&all);
        let config = Config::new(true);
        let html = html(&page(&machine, &noise, &config, &reports));
        assert_eq!(check_report(&html, &["first-one", "second"]), 2);
        // Text is escaped wherever it comes from.
        assert!(html.contains("Locks &lt;are&gt; slow &amp; &quot;atomics&quot; aren&#39;t."));
        assert!(html.contains("a gist with &lt;markup&gt;"));
        assert!(html.contains("<li>second &amp; last</li>"));
        assert!(html.contains("--html &#39;out dir&#39;"));
        assert!(!html.contains("<markup>"));
        // Self-contained: nothing to fetch, no script.
        assert!(!html.contains("<script"));
        assert!(!html.contains(" src="));
        assert!(!html.contains("<link"));
        assert!(html.contains("Generated 1970-01-01 00:00 UTC"));
    }

    #[test]
    fn the_default_chart_is_a_line_and_an_own_chart_replaces_it() {
        let reports = fabricated_reports();
        let first = reports[0].charts_or_default();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].kind, ChartKind::Line);
        let second = reports[1].charts_or_default();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].title, "Own chart");
    }

    #[test]
    fn write_puts_the_page_and_standalone_charts_in_the_directory() {
        let dir = std::env::temp_dir().join(format!("weft-lab-report-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let machine = Machine::default();
        let noise = Noise::of(&[]);
        let config = Config::new(true);
        let reports = fabricated_reports();
        let path = write(
            &page(&machine, &noise, &config, &reports),
            &dir.join("nested"),
        )
        .unwrap();
        assert_eq!(path, dir.join("nested/report.html"));
        check_report(
            &fs::read_to_string(&path).unwrap(),
            &["first-one", "second"],
        );
        for file in ["first-one.svg", "second.svg"] {
            let svg = fs::read_to_string(dir.join("nested").join(file)).unwrap();
            roxmltree::Document::parse(&svg).expect("a standalone SVG is well-formed");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn utc_dates_follow_the_gregorian_calendar() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_735_689_599), "2024-12-31 23:59 UTC");
    }

    #[test]
    fn control_characters_never_reach_the_xml() {
        assert_eq!(escape("a\u{7}b\tc"), "a\u{FFFD}b\tc");
    }
}

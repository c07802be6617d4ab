//! Draws a [`Chart`] as a standalone SVG document, by hand: axes with ticks and
//! units, grid lines, a legend, a title, whiskers and raw samples.
//!
//! Every drawn datum (a line, a bar, a point) carries `class="mark"` and a
//! `data-value` attribute, so a test can tell a chart with data from an empty frame,
//! and a `<title>` child, so a browser shows the exact figure on hover without any
//! script.

use super::chart::{Chart, ChartKind, LOG_SPAN, Point, Scale, Series, Unit};
use super::escape;
use std::fmt::Write as _;

/// The colour-blind-safe palette of Okabe and Ito (2008), most distinct first.
const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#7F7F7F", "#000000",
];

const WIDTH: f64 = 760.0;
const BASE_HEIGHT: f64 = 400.0;
const TOP: f64 = 46.0;
const LEFT: f64 = 84.0;
/// The average advance of a character of the 12 px sans-serif labels, for layout.
const CHAR_WIDTH: f64 = 6.6;

/// The colour of the `index`th series.
pub(crate) fn color(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

/// The colour of the `index`-th series: its own choice, or its position's.
fn series_color(index: usize, series: &Series) -> &'static str {
    color(series.color.unwrap_or(index))
}

/// The `stroke-dasharray` attribute of a dashed series' line, or nothing.
fn dash(series: &Series) -> &'static str {
    if series.dashed {
        r#" stroke-dasharray="7 4""#
    } else {
        ""
    }
}

/// A y axis: the mapping from values to pixels, and its ticks.
struct YAxis {
    log: bool,
    low: f64,
    high: f64,
    top: f64,
    bottom: f64,
    /// (value, labelled)
    ticks: Vec<(f64, bool)>,
}

impl YAxis {
    fn new(chart: &Chart, top: f64, bottom: f64) -> Self {
        let values: Vec<f64> = chart
            .series
            .iter()
            .flat_map(|s| &s.points)
            .flat_map(|p| {
                let spread = p.spread.map_or(Vec::new(), |(l, h)| vec![l, h]);
                std::iter::once(p.y)
                    .chain(spread)
                    .chain(p.samples.iter().copied())
            })
            .filter(|v| v.is_finite())
            .collect();
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let positive = min > 0.0 && min.is_finite();
        let log = match chart.y_scale {
            Scale::Log => positive,
            Scale::Linear => false,
            Scale::Auto => positive && max / min > LOG_SPAN,
        };
        if log {
            let low = 10f64.powf(min.log10().floor());
            let mut high = 10f64.powf(max.log10().ceil());
            if high <= low {
                high = low * 10.0;
            }
            let decades = (high / low).log10().round() as i32;
            let mut ticks = Vec::new();
            let mut decade = low;
            while decade <= high * 1.0001 {
                ticks.push((decade, true));
                if decade < high / 1.0001 {
                    for m in 2..10 {
                        let labelled = decades <= 2 && (m == 2 || m == 5);
                        ticks.push((decade * f64::from(m), labelled));
                    }
                }
                decade *= 10.0;
            }
            YAxis {
                log,
                low,
                high,
                top,
                bottom,
                ticks,
            }
        } else {
            let (min, max) = if min.is_finite() {
                (min.min(0.0), max.max(0.0))
            } else {
                (0.0, 1.0)
            };
            let max = if max == min { min + 1.0 } else { max };
            let step = nice_step((max - min) / 5.0);
            let low = (min / step).floor() * step;
            let high = (max / step).ceil() * step;
            let count = ((high - low) / step).round() as usize;
            let ticks = (0..=count).map(|i| (low + step * i as f64, true)).collect();
            YAxis {
                log,
                low,
                high,
                top,
                bottom,
                ticks,
            }
        }
    }

    fn y(&self, value: f64) -> f64 {
        let fraction = if self.log {
            let value = value.max(self.low);
            (value.log10() - self.low.log10()) / (self.high.log10() - self.low.log10())
        } else {
            (value - self.low) / (self.high - self.low)
        };
        self.bottom - fraction * (self.bottom - self.top)
    }

    /// Where bars start: zero on a linear axis, the bottom on a log one.
    fn base(&self) -> f64 {
        if self.log {
            self.bottom
        } else {
            self.y(0.0_f64.clamp(self.low, self.high))
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// A tick label: `0`, `250 k`, `1.5 M`, `800 ns`, `1.2 µs`, `1.5x`.
pub(crate) fn format_tick(value: f64, unit: Unit) -> String {
    if value == 0.0 {
        return match unit {
            Unit::Nanos => "0 ns".into(),
            Unit::Ratio => "0x".into(),
            _ => "0".into(),
        };
    }
    let scaled = |steps: &[(f64, &str)], fallback: &str| {
        let abs = value.abs();
        let (divisor, suffix) = steps
            .iter()
            .copied()
            .find(|&(d, _)| abs >= d)
            .unwrap_or((1.0, fallback));
        format!("{}{suffix}", short_number(value / divisor))
    };
    match unit {
        Unit::PerSecond | Unit::Count => {
            scaled(&[(1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")], "")
        }
        Unit::Nanos => scaled(&[(1e9, " s"), (1e6, " ms"), (1e3, " µs")], " ns"),
        Unit::Ratio => format!("{}x", short_number(value)),
    }
}

/// At most three significant digits, without trailing zeros.
fn short_number(value: f64) -> String {
    let abs = value.abs();
    let decimals = if abs >= 100.0 {
        0
    } else if abs >= 10.0 {
        1
    } else if abs >= 1.0 {
        2
    } else {
        3
    };
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// An x axis of a line chart: linear, or base-2 logarithmic when the values (thread
/// counts, sizes) double.
struct XAxis {
    log: bool,
    low: f64,
    high: f64,
    left: f64,
    right: f64,
    ticks: Vec<f64>,
}

impl XAxis {
    fn new(chart: &Chart, left: f64, right: f64) -> Self {
        let mut xs: Vec<f64> = chart
            .series
            .iter()
            .flat_map(|s| &s.points)
            .map(|p| p.x)
            .filter(|x| x.is_finite())
            .collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let (min, max) = match (xs.first(), xs.last()) {
            (Some(&min), Some(&max)) => (min, max),
            _ => (0.0, 1.0),
        };
        let log = min > 0.0 && max / min >= 8.0;
        let transform = |x: f64| if log { x.log2() } else { x };
        let (tmin, tmax) = (transform(min), transform(max));
        let pad = if tmax > tmin {
            (tmax - tmin) * 0.06
        } else {
            1.0
        };
        let ticks = if xs.len() <= 12 {
            xs.clone()
        } else if log {
            let mut t = 2f64.powf(tmin.ceil());
            let mut ticks = Vec::new();
            while t <= max {
                ticks.push(t);
                t *= 2.0;
            }
            ticks
        } else {
            let step = nice_step((max - min) / 8.0);
            let mut t = (min / step).ceil() * step;
            let mut ticks = Vec::new();
            while t <= max + step * 1e-9 {
                ticks.push(t);
                t += step;
            }
            ticks
        };
        XAxis {
            log,
            low: tmin - pad,
            high: tmax + pad,
            left,
            right,
            ticks,
        }
    }

    fn x(&self, value: f64) -> f64 {
        let t = if self.log { value.log2() } else { value };
        self.left + (t - self.low) / (self.high - self.low) * (self.right - self.left)
    }

    fn contains(&self, value: f64) -> bool {
        let t = if self.log { value.log2() } else { value };
        value.is_finite() && (self.low..=self.high).contains(&t)
    }
}

/// Splits `text` into lines of at most `width` characters at spaces (a longer word
/// gets a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// A number for an attribute: one decimal is finer than a pixel.
fn n(value: f64) -> String {
    format!("{value:.1}")
}

/// The chart as an SVG document (no XML declaration, so it can also be inlined in
/// HTML).
pub fn render(chart: &Chart) -> String {
    let longest = chart
        .series
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    // Legend text is measured generously: an overflowing legend is cut off by the
    // edge of the image, a loose one only wastes a little space.
    let legend_width = (longest as f64 * CHAR_WIDTH * 1.12 + 44.0).clamp(110.0, 260.0);
    let right = WIDTH - legend_width - 18.0;

    // Bars: group labels wrap to fit their band, and the bottom margin grows to hold
    // the lines.
    let group_lines: Vec<Vec<String>> = match &chart.kind {
        ChartKind::Bars { groups } => {
            let band = (right - LEFT) / groups.len().max(1) as f64;
            let chars = ((band - 8.0) / CHAR_WIDTH).floor().max(6.0) as usize;
            groups.iter().map(|g| wrap(g, chars)).collect()
        }
        ChartKind::Line => Vec::new(),
    };
    let label_lines = group_lines.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let x_label_height = if chart.x_label.is_empty() { 0.0 } else { 18.0 };
    let bottom_margin = 24.0 + 14.0 * label_lines as f64 + x_label_height;
    let height = (BASE_HEIGHT - 52.0 + bottom_margin).max(BASE_HEIGHT);
    let bottom = height - bottom_margin;

    let mut svg = String::new();
    let title = escape(&chart.title);
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{title}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">"##,
        w = WIDTH,
        h = n(height),
    );
    let _ = write!(
        svg,
        r##"<title>{title}</title><rect class="background" x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>"##,
        w = WIDTH,
        h = n(height)
    );
    let _ = write!(
        svg,
        r##"<text class="title" x="{x}" y="26" text-anchor="middle" font-size="15" font-weight="600" fill="#111111">{title}</text>"##,
        x = n(WIDTH / 2.0)
    );

    if !chart.has_data() {
        let _ = write!(
            svg,
            r##"<text x="{x}" y="{y}" text-anchor="middle" fill="#666666">no data</text></svg>"##,
            x = n(WIDTH / 2.0),
            y = n(height / 2.0)
        );
        return svg;
    }

    let y_axis = YAxis::new(chart, TOP, bottom);
    draw_y_axis(&mut svg, chart, &y_axis, right);
    match &chart.kind {
        ChartKind::Line => draw_lines(&mut svg, chart, &y_axis, right),
        ChartKind::Bars { groups } => {
            draw_bars(&mut svg, chart, groups, &group_lines, &y_axis, right)
        }
    }
    // The frame on top of the grid: the two axes.
    let _ = write!(
        svg,
        r##"<path class="axes" d="M{l},{t} V{b} H{r}" fill="none" stroke="#333333" stroke-width="1"/>"##,
        l = n(LEFT),
        t = n(TOP),
        b = n(bottom),
        r = n(right)
    );
    if !chart.x_label.is_empty() {
        let _ = write!(
            svg,
            r##"<text class="x-label" x="{x}" y="{y}" text-anchor="middle" fill="#333333">{label}</text>"##,
            x = n((LEFT + right) / 2.0),
            y = n(height - 10.0),
            label = escape(&chart.x_label)
        );
    }
    draw_legend(&mut svg, chart, right + 18.0);
    svg.push_str("</svg>");
    svg
}

fn draw_y_axis(svg: &mut String, chart: &Chart, axis: &YAxis, right: f64) {
    svg.push_str(r#"<g class="y-axis">"#);
    for &(value, labelled) in &axis.ticks {
        let y = n(axis.y(value));
        let (stroke, width) = if labelled {
            ("#dddddd", 1.0)
        } else {
            ("#f0f0f0", 0.8)
        };
        let _ = write!(
            svg,
            r#"<line x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke="{stroke}" stroke-width="{width}"/>"#,
            l = n(LEFT),
            r = n(right)
        );
        if labelled {
            let _ = write!(
                svg,
                r##"<line x1="{a}" y1="{y}" x2="{l}" y2="{y}" stroke="#333333"/><text x="{tx}" y="{ty}" text-anchor="end" fill="#333333">{label}</text>"##,
                a = n(LEFT - 5.0),
                l = n(LEFT),
                tx = n(LEFT - 8.0),
                ty = n(axis.y(value) + 4.0),
                label = escape(&format_tick(value, chart.y_unit))
            );
        }
    }
    if axis.log {
        let _ = write!(
            svg,
            r##"<text class="scale" x="{x}" y="{y}" font-size="10.5" fill="#666666">log scale</text>"##,
            x = n(LEFT - 8.0),
            y = n(axis.top - 9.0)
        );
    }
    // One line if it fits along the axis, else two, split at the space nearest the
    // middle.
    let room = ((axis.bottom - axis.top) / (CHAR_WIDTH * 0.96)).floor() as usize;
    let label = &chart.y_label;
    let lines = if label.chars().count() <= room {
        vec![label.clone()]
    } else {
        let half = label.len() / 2;
        let split = label
            .match_indices(' ')
            .map(|(i, _)| i)
            .min_by_key(|&i| i.abs_diff(half));
        match split {
            Some(i) => vec![label[..i].to_string(), label[i + 1..].to_string()],
            None => vec![label.clone()],
        }
    };
    let first = if lines.len() == 1 { 18.0 } else { 13.0 };
    let _ = write!(
        svg,
        r##"<text class="y-label" transform="translate({first},{y}) rotate(-90)" text-anchor="middle" font-size="11.5" fill="#333333">"##,
        y = n((axis.top + axis.bottom) / 2.0),
    );
    for (k, line) in lines.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<tspan x="0" dy="{dy}">{line}</tspan>"#,
            dy = if k == 0 { 0.0 } else { 14.0 },
            line = escape(line)
        );
    }
    svg.push_str("</text></g>");
}

/// The text shown on hover over a point.
fn tooltip(series: &str, x_text: &str, point: &Point, unit: Unit) -> String {
    let mut text = format!("{series}, {x_text}: {}", format_tick(point.y, unit));
    if let Some((low, high)) = point.spread {
        let _ = write!(
            text,
            " (q1–q3 {} – {})",
            format_tick(low, unit),
            format_tick(high, unit)
        );
    }
    if !point.samples.is_empty() {
        let _ = write!(text, ", {} samples", point.samples.len());
    }
    escape(&text)
}

fn whisker(svg: &mut String, x: f64, axis: &YAxis, point: &Point, color: &str, cap: f64) {
    if let Some((low, high)) = point.spread {
        if !(low.is_finite() && high.is_finite()) {
            return;
        }
        let (y1, y2) = (axis.y(low), axis.y(high));
        let _ = write!(
            svg,
            r#"<path class="whisker" d="M{x},{y1} V{y2} M{a},{y1} H{b} M{a},{y2} H{b}" fill="none" stroke="{color}" stroke-width="1.4"/>"#,
            x = n(x),
            y1 = n(y1),
            y2 = n(y2),
            a = n(x - cap),
            b = n(x + cap)
        );
    }
}

fn samples(svg: &mut String, x: f64, spread: f64, axis: &YAxis, point: &Point, color: &str) {
    for (k, &value) in point.samples.iter().enumerate() {
        if !value.is_finite() {
            continue;
        }
        // Spread the dots sideways by the golden ratio so equal values stay visible.
        let offset = ((k as f64 * 0.618_034).fract() - 0.5) * spread;
        let _ = write!(
            svg,
            r#"<circle class="sample" cx="{cx}" cy="{cy}" r="1.9" fill="{color}" fill-opacity="0.45"/>"#,
            cx = n(x + offset),
            cy = n(axis.y(value))
        );
    }
}

fn draw_lines(svg: &mut String, chart: &Chart, y_axis: &YAxis, right: f64) {
    let x_axis = XAxis::new(chart, LEFT, right);
    // Ticks on the x axis, at the measured values where there are few.
    svg.push_str(r#"<g class="x-axis">"#);
    for &tick in &x_axis.ticks {
        let x = n(x_axis.x(tick));
        let _ = write!(
            svg,
            r##"<line x1="{x}" y1="{b}" x2="{x}" y2="{b5}" stroke="#333333"/><text x="{x}" y="{ty}" text-anchor="middle" fill="#333333">{label}</text>"##,
            b = n(y_axis.bottom),
            b5 = n(y_axis.bottom + 5.0),
            ty = n(y_axis.bottom + 19.0),
            label = escape(&short_number(tick))
        );
    }
    svg.push_str("</g>");
    for marker in chart.markers.iter().filter(|m| x_axis.contains(m.x)) {
        let x = x_axis.x(marker.x);
        let _ = write!(
            svg,
            r##"<g class="marker"><line x1="{x}" y1="{t}" x2="{x}" y2="{b}" stroke="#888888" stroke-dasharray="4 3"/><text x="{tx}" y="{ty}" fill="#555555" font-size="11">{label}</text></g>"##,
            x = n(x),
            t = n(y_axis.top),
            b = n(y_axis.bottom),
            tx = n(x + 4.0),
            ty = n(y_axis.top + 11.0),
            label = escape(&marker.label)
        );
    }
    let count = chart.series.len();
    for (i, series) in chart.series.iter().enumerate() {
        let color = series_color(i, series);
        // Nudge each series sideways a little so whiskers at one x don't hide each other.
        let dodge = (i as f64 - (count as f64 - 1.0) / 2.0) * 3.0;
        let mut points: Vec<&Point> = series
            .points
            .iter()
            .filter(|p| p.x.is_finite() && p.y.is_finite())
            .collect();
        points.sort_by(|a, b| a.x.total_cmp(&b.x));
        let name = escape(&series.name);
        let _ = write!(svg, r#"<g class="series" data-series="{name}">"#);
        for point in &points {
            let x = x_axis.x(point.x) + dodge;
            samples(svg, x, 6.0, y_axis, point, color);
            whisker(svg, x, y_axis, point, color, 3.5);
        }
        if points.len() > 1 {
            let d: Vec<String> = points
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    let command = if k == 0 { 'M' } else { 'L' };
                    format!("{command}{},{}", n(x_axis.x(p.x) + dodge), n(y_axis.y(p.y)))
                })
                .collect();
            let values: Vec<String> = points.iter().map(|p| format!("{}", p.y)).collect();
            let _ = write!(
                svg,
                r#"<path class="mark line" d="{d}" fill="none" stroke="{color}" stroke-width="2.2" stroke-linejoin="round"{dash} data-value="{values}"/>"#,
                d = d.join(" "),
                dash = dash(series),
                values = values.join(" ")
            );
        }
        for point in &points {
            let x_text = format!("{} {}", short_number(point.x), chart.x_label);
            let _ = write!(
                svg,
                r##"<circle class="mark point" cx="{cx}" cy="{cy}" r="4" fill="{color}" stroke="#ffffff" stroke-width="1.2" data-x="{x}" data-value="{y}"><title>{tip}</title></circle>"##,
                cx = n(x_axis.x(point.x) + dodge),
                cy = n(y_axis.y(point.y)),
                x = point.x,
                y = point.y,
                tip = tooltip(&series.name, &x_text, point, chart.y_unit)
            );
        }
        svg.push_str("</g>");
    }
}

fn draw_bars(
    svg: &mut String,
    chart: &Chart,
    groups: &[String],
    group_lines: &[Vec<String>],
    y_axis: &YAxis,
    right: f64,
) {
    let band = (right - LEFT) / groups.len().max(1) as f64;
    let count = chart.series.len().max(1);
    let bar = (band * 0.78 / count as f64).min(64.0);
    let labelled = bar >= 30.0;
    svg.push_str(r#"<g class="x-axis">"#);
    for (g, lines) in group_lines.iter().enumerate() {
        let center = LEFT + band * (g as f64 + 0.5);
        let _ = write!(
            svg,
            r##"<text x="{x}" y="{y}" text-anchor="middle" fill="#333333">"##,
            x = n(center),
            y = n(y_axis.bottom + 18.0)
        );
        for (k, line) in lines.iter().enumerate() {
            let dy = if k == 0 { 0.0 } else { 14.0 };
            let _ = write!(
                svg,
                r#"<tspan x="{x}" dy="{dy}">{line}</tspan>"#,
                x = n(center),
                line = escape(line)
            );
        }
        svg.push_str("</text>");
    }
    svg.push_str("</g>");
    let base = y_axis.base();
    for (i, series) in chart.series.iter().enumerate() {
        let color = series_color(i, series);
        let name = escape(&series.name);
        let _ = write!(svg, r#"<g class="series" data-series="{name}">"#);
        for point in series.points.iter().filter(|p| p.y.is_finite()) {
            let group = point.x.round();
            if !(0.0..groups.len() as f64).contains(&group) {
                continue;
            }
            let group_label = &groups[group as usize];
            let left = LEFT + band * group + (band - bar * count as f64) / 2.0 + bar * i as f64;
            let top = y_axis.y(point.y);
            let (y, h) = if top < base {
                (top, base - top)
            } else {
                (base, top - base)
            };
            let center = left + bar / 2.0;
            let _ = write!(
                svg,
                r#"<rect class="mark bar" x="{x}" y="{y}" width="{w}" height="{h}" fill="{color}" fill-opacity="0.85" data-value="{value}"><title>{tip}</title></rect>"#,
                x = n(left + 1.0),
                y = n(y),
                w = n((bar - 2.0).max(1.0)),
                h = n(h.max(0.5)),
                value = point.y,
                tip = tooltip(&series.name, group_label, point, chart.y_unit)
            );
            samples(svg, center, bar * 0.45, y_axis, point, "#222222");
            whisker(svg, center, y_axis, point, "#222222", (bar * 0.18).min(6.0));
            if labelled {
                // Above the whisker and every sample, so the label hides neither.
                let above = point
                    .samples
                    .iter()
                    .copied()
                    .chain(point.spread.map(|(_, high)| high))
                    .filter(|v| v.is_finite())
                    .fold(point.y, f64::max);
                let _ = write!(
                    svg,
                    r##"<text class="value" x="{x}" y="{y}" text-anchor="middle" font-size="10.5" fill="#333333">{label}</text>"##,
                    x = n(center),
                    y = n((y_axis.y(above) - 5.0).max(y_axis.top + 9.0)),
                    label = escape(&format_tick(point.y, chart.y_unit))
                );
            }
        }
        svg.push_str("</g>");
    }
}

fn draw_legend(svg: &mut String, chart: &Chart, left: f64) {
    svg.push_str(r#"<g class="legend">"#);
    for (i, series) in chart.series.iter().enumerate() {
        let y = TOP + 8.0 + 20.0 * i as f64;
        let color = series_color(i, series);
        match chart.kind {
            ChartKind::Line => {
                let _ = write!(
                    svg,
                    r##"<line x1="{a}" y1="{y}" x2="{b}" y2="{y}" stroke="{color}" stroke-width="2.2"{dash}/><circle cx="{c}" cy="{y}" r="4" fill="{color}" stroke="#ffffff" stroke-width="1.2"/>"##,
                    a = n(left),
                    b = n(left + 22.0),
                    c = n(left + 11.0),
                    y = n(y),
                    dash = dash(series)
                );
            }
            ChartKind::Bars { .. } => {
                let _ = write!(
                    svg,
                    r#"<rect x="{x}" y="{y}" width="16" height="12" fill="{color}" fill-opacity="0.85"/>"#,
                    x = n(left + 3.0),
                    y = n(y - 6.0)
                );
            }
        }
        let _ = write!(
            svg,
            r##"<text x="{x}" y="{y}" fill="#222222">{name}</text>"##,
            x = n(left + 30.0),
            y = n(y + 4.0),
            name = escape(&series.name)
        );
    }
    svg.push_str("</g>");
}

#[cfg(test)]
mod tests {
    use super::super::chart::{Point, Series};
    use super::*;

    #[test]
    fn ticks_are_round_and_short() {
        assert_eq!(format_tick(0.0, Unit::PerSecond), "0");
        assert_eq!(format_tick(2.5e7, Unit::PerSecond), "25 M");
        assert_eq!(format_tick(1.5e6, Unit::PerSecond), "1.5 M");
        assert_eq!(format_tick(1e9, Unit::PerSecond), "1 G");
        assert_eq!(format_tick(800.0, Unit::Nanos), "800 ns");
        assert_eq!(format_tick(1200.0, Unit::Nanos), "1.2 µs");
        assert_eq!(format_tick(1.5, Unit::Ratio), "1.5x");
        assert_eq!(format_tick(0.25, Unit::Count), "0.25");
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.7e6), 2e6);
        assert_eq!(nice_step(7.0), 10.0);
    }

    #[test]
    fn a_linear_axis_starts_at_zero_and_covers_the_data() {
        let chart = Chart::line("t", "threads", "ops/s").series(Series::new(
            "a",
            vec![Point::new(1.0, 3.2e6).spread(3.0e6, 3.9e6)],
        ));
        let axis = YAxis::new(&chart, 0.0, 100.0);
        assert!(!axis.log);
        assert_eq!((axis.low, axis.high), (0.0, 4e6));
        assert_eq!(axis.ticks.len(), 5);
        assert_eq!(axis.y(0.0), 100.0);
        assert_eq!(axis.y(4e6), 0.0);
    }

    #[test]
    fn values_spanning_decades_get_a_log_axis_in_decades() {
        let chart = Chart::line("t", "threads", "ops/s").series(Series::new(
            "a",
            vec![Point::new(1.0, 2e5), Point::new(2.0, 3e8)],
        ));
        let axis = YAxis::new(&chart, 0.0, 100.0);
        assert!(axis.log);
        assert_eq!((axis.low, axis.high), (1e5, 1e9));
        let labelled: Vec<f64> = axis.ticks.iter().filter(|t| t.1).map(|t| t.0).collect();
        assert_eq!(labelled, [1e5, 1e6, 1e7, 1e8, 1e9]);
        assert!((axis.y(1e7) - 50.0).abs() < 1e-9);
        // Forced linear stays linear.
        let linear = YAxis::new(&chart.clone().scale(Scale::Linear), 0.0, 100.0);
        assert!(!linear.log);
    }

    #[test]
    fn doubling_thread_counts_get_a_log2_x_axis() {
        let points = [1.0, 2.0, 4.0, 8.0, 16.0]
            .map(|x| Point::new(x, 1.0))
            .to_vec();
        let chart = Chart::line("t", "threads", "ops/s").series(Series::new("a", points));
        let axis = XAxis::new(&chart, 0.0, 100.0);
        assert!(axis.log);
        assert_eq!(axis.ticks, [1.0, 2.0, 4.0, 8.0, 16.0]);
        let gaps: Vec<f64> = axis
            .ticks
            .windows(2)
            .map(|w| axis.x(w[1]) - axis.x(w[0]))
            .collect();
        assert!(gaps.windows(2).all(|g| (g[0] - g[1]).abs() < 1e-9));
    }

    #[test]
    fn long_group_labels_wrap_at_spaces() {
        assert_eq!(
            wrap("false sharing, fetch_add, 2 threads", 16),
            ["false sharing,", "fetch_add, 2", "threads"]
        );
        assert_eq!(wrap("short", 16), ["short"]);
    }

    #[test]
    fn every_series_is_drawn_with_marks_and_escaped_names() {
        let chart = Chart::bars("a <b> & \"c\"", ["g1", "g2"], "ops/s")
            .series(Series::new(
                "x<y",
                vec![Point::new(0.0, 10.0), Point::new(1.0, 20.0)],
            ))
            .series(Series::new("y", vec![Point::new(1.0, 5.0)]));
        let svg = render(&chart);
        assert_eq!(svg.matches(r#"class="mark bar""#).count(), 3);
        assert!(svg.contains("a &lt;b&gt; &amp; &quot;c&quot;"));
        assert!(svg.contains("x&lt;y"));
        assert!(!svg.contains("x<y"));
        let long = Chart::line(
            "t",
            "x",
            "a label much too long to fit along the y axis of one chart",
        )
        .series(Series::new("s", vec![Point::new(1.0, 1.0)]));
        assert_eq!(render(&long).matches("<tspan x=\"0\"").count(), 2);
        let empty = render(&Chart::line("nothing", "x", "y"));
        assert!(empty.contains("no data") && !empty.contains("class=\"mark"));
    }
}

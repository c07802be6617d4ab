//! Human-readable numbers for tables: rates, durations and ratios with SI prefixes.

use crate::results::Metric;

/// A rate in operations per second with an SI prefix and three significant digits.
///
/// # Examples
///
/// ```
/// use weft_bench::format::format_rate;
///
/// assert_eq!(format_rate(12_345_678.0), "12.3 M");
/// assert_eq!(format_rate(950.0), "950");
/// assert_eq!(format_rate(1_500.0), "1.50 k");
/// ```
pub fn format_rate(per_sec: f64) -> String {
    let (value, prefix) = match per_sec.abs() {
        v if v >= 1e9 => (per_sec / 1e9, " G"),
        v if v >= 1e6 => (per_sec / 1e6, " M"),
        v if v >= 1e3 => (per_sec / 1e3, " k"),
        _ => (per_sec, ""),
    };
    format!("{}{prefix}", three_digits(value))
}

/// A duration given in nanoseconds, in ns, µs, ms or s with three significant digits.
///
/// # Examples
///
/// ```
/// use weft_bench::format::format_nanos;
///
/// assert_eq!(format_nanos(18.24), "18.2 ns");
/// assert_eq!(format_nanos(1_250.0), "1.25 µs");
/// assert_eq!(format_nanos(3_000_000.0), "3.00 ms");
/// ```
pub fn format_nanos(nanos: f64) -> String {
    let (value, unit) = match nanos.abs() {
        v if v >= 1e9 => (nanos / 1e9, "s"),
        v if v >= 1e6 => (nanos / 1e6, "ms"),
        v if v >= 1e3 => (nanos / 1e3, "µs"),
        _ => (nanos, "ns"),
    };
    format!("{} {unit}", three_digits(value))
}

/// A speedup ratio, two decimals and a multiplication sign: `format_ratio(6.104)` is
/// `"6.10x"`.
pub fn format_ratio(ratio: f64) -> String {
    format!("{ratio:.2}x")
}

/// A value of `metric`, with [`format_rate`] or [`format_nanos`].
pub fn format_value(metric: Metric, value: f64) -> String {
    match metric {
        Metric::Throughput => format_rate(value),
        Metric::Latency => format_nanos(value),
    }
}

/// A value of `metric` with its unit: `"47.7 M ops/s"` or `"4.77 ns"` (a latency's unit
/// is already in [`format_nanos`]).
///
/// # Examples
///
/// ```
/// use weft_bench::Metric;
/// use weft_bench::format::format_with_unit;
///
/// assert_eq!(format_with_unit(Metric::Throughput, 2.5e6), "2.50 M ops/s");
/// assert_eq!(format_with_unit(Metric::Latency, 4.77), "4.77 ns");
/// ```
pub fn format_with_unit(metric: Metric, value: f64) -> String {
    match metric {
        Metric::Throughput => format!("{} ops/s", format_rate(value)),
        Metric::Latency => format_nanos(value),
    }
}

fn three_digits(value: f64) -> String {
    match value.abs() {
        v if v >= 100.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_pick_the_prefix_that_leaves_one_to_three_integer_digits() {
        assert_eq!(format_rate(0.5), "0.50");
        assert_eq!(format_rate(999.0), "999");
        assert_eq!(format_rate(2_500_000_000.0), "2.50 G");
        assert_eq!(format_rate(123_456.0), "123 k");
    }

    #[test]
    fn durations_switch_units_at_each_thousand() {
        assert_eq!(format_nanos(999.0), "999 ns");
        assert_eq!(format_nanos(1_000.0), "1.00 µs");
        assert_eq!(format_nanos(2.5e9), "2.50 s");
    }

    #[test]
    fn ratio_has_two_decimals() {
        assert_eq!(format_ratio(1.0), "1.00x");
        assert_eq!(format_ratio(0.456), "0.46x");
    }
}

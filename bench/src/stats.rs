//! Order statistics over a handful of samples: quantiles, the median and a summary.
//!
//! Benchmarks on a shared two-core machine produce samples with long upper tails (a
//! context switch, a neighbour's burst), so everything here is built on order
//! statistics, which ignore the tails, rather than on the mean, which doesn't.

use serde::{Deserialize, Serialize};

/// The `q`-quantile of `values` (`0.0 <= q <= 1.0`), interpolating linearly between the
/// two nearest order statistics (Hyndman and Fan's type 7, the default of R and NumPy).
///
/// Returns `None` for an empty slice or a NaN among the values.
///
/// # Panics
///
/// If `q` is outside `0.0..=1.0`.
///
/// # Examples
///
/// ```
/// use weft_bench::stats::quantile;
///
/// assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.5), Some(2.5));
/// assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.25), Some(2.0));
/// assert_eq!(quantile(&[], 0.5), None);
/// ```
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    assert!((0.0..=1.0).contains(&q), "quantile {q} is outside 0..=1");
    let sorted = sorted(values)?;
    Some(quantile_of_sorted(&sorted, q))
}

/// The median of `values`: the mean of the two middle values when their count is even.
///
/// Returns `None` for an empty slice or a NaN among the values.
///
/// # Examples
///
/// ```
/// use weft_bench::stats::median;
///
/// assert_eq!(median(&[3.0, 100.0, 1.0]), Some(3.0));
/// assert_eq!(median(&[1.0, 2.0, 3.0, 4.0]), Some(2.5));
/// ```
pub fn median(values: &[f64]) -> Option<f64> {
    quantile(values, 0.5)
}

/// Where a set of samples sits and how far it spreads.
///
/// `q1..q3` (the interquartile range) holds the middle half of the samples and is the
/// spread to quote; `min..max` shows the worst outliers.
///
/// # Examples
///
/// ```
/// use weft_bench::stats::Summary;
///
/// let s = Summary::of(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
/// assert_eq!(s.median, 3.0);
/// assert_eq!((s.q1, s.q3), (2.0, 4.0));
/// assert_eq!((s.min, s.max), (1.0, 100.0));
/// assert_eq!(s.count, 5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How many samples.
    pub count: usize,
    /// The smallest sample.
    pub min: f64,
    /// The first quartile (25th percentile).
    pub q1: f64,
    /// The median (50th percentile).
    pub median: f64,
    /// The third quartile (75th percentile).
    pub q3: f64,
    /// The largest sample.
    pub max: f64,
}

impl Summary {
    /// Summarizes `values`; `None` if there are none or one is NaN.
    pub fn of(values: &[f64]) -> Option<Self> {
        let sorted = sorted(values)?;
        Some(Self {
            count: sorted.len(),
            min: sorted[0],
            q1: quantile_of_sorted(&sorted, 0.25),
            median: quantile_of_sorted(&sorted, 0.5),
            q3: quantile_of_sorted(&sorted, 0.75),
            max: sorted[sorted.len() - 1],
        })
    }

    /// The interquartile range relative to the median (`(q3 - q1) / median`): a
    /// scale-free measure of noise, 0.0 for identical samples.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_bench::stats::Summary;
    ///
    /// let s = Summary::of(&[90.0, 100.0, 110.0]).unwrap();
    /// assert_eq!(s.relative_spread(), 0.1);
    /// ```
    pub fn relative_spread(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.q3 - self.q1) / self.median.abs()
        }
    }
}

fn sorted(values: &[f64]) -> Option<Vec<f64>> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(sorted)
}

fn quantile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let fraction = position - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_count_is_the_middle_value() {
        assert_eq!(median(&[5.0, 1.0, 9.0, 3.0, 7.0]), Some(5.0));
    }

    #[test]
    fn median_of_even_count_averages_the_middle_pair() {
        assert_eq!(median(&[10.0, 1.0, 4.0, 2.0]), Some(3.0));
    }

    #[test]
    fn median_ignores_one_huge_outlier() {
        assert_eq!(median(&[1.0, 2.0, 3.0, 1e12]), Some(2.5));
    }

    #[test]
    fn single_value_is_every_quantile() {
        for q in [0.0, 0.1, 0.5, 0.9, 1.0] {
            assert_eq!(quantile(&[42.0], q), Some(42.0));
        }
    }

    #[test]
    fn quantiles_interpolate_linearly() {
        let v = [0.0, 10.0, 20.0, 30.0, 40.0];
        assert_eq!(quantile(&v, 0.0), Some(0.0));
        assert_eq!(quantile(&v, 0.25), Some(10.0));
        assert_eq!(quantile(&v, 0.1), Some(4.0));
        assert_eq!(quantile(&v, 0.9), Some(36.0));
        assert_eq!(quantile(&v, 1.0), Some(40.0));
    }

    #[test]
    fn quartiles_of_1_to_8_match_numpy() {
        // numpy.percentile(range(1, 9), [25, 75]) == [2.75, 6.25]
        let v: Vec<f64> = (1..=8).map(f64::from).collect();
        let s = Summary::of(&v).unwrap();
        assert_eq!((s.q1, s.median, s.q3), (2.75, 4.5, 6.25));
        assert_eq!((s.min, s.max, s.count), (1.0, 8.0, 8));
    }

    #[test]
    fn empty_and_nan_inputs_have_no_statistics() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    #[should_panic(expected = "outside 0..=1")]
    fn quantile_rejects_q_above_one() {
        let _ = quantile(&[1.0], 1.5);
    }

    #[test]
    fn relative_spread_is_iqr_over_median() {
        let s = Summary::of(&[8.0, 10.0, 12.0]).unwrap();
        assert_eq!(s.relative_spread(), 0.2);
        assert_eq!(Summary::of(&[0.0, 0.0]).unwrap().relative_spread(), 0.0);
    }
}

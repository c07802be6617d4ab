//! Amdahl's and Gustafson's laws, and fitting a serial fraction to measured speedups.
//!
//! Amdahl (fixed problem): with a serial fraction `f` of the one-processor run time,
//! `p` processors give `S(p) = 1 / (f + (1 − f) / p)`.
//!
//! Gustafson (problem scaled with `p`, fixed time): with a serial fraction `f` of the
//! `p`-processor run time, the scaled speedup is `S(p) = f + (1 − f) · p`.
//!
//! The fits are least squares, and linear in `f`:
//!
//! - Amdahl: `1/S − 1/p = f · (1 − 1/p)`. Each point alone gives the Karp–Flatt metric
//!   `e = (1/S − 1/p) / (1 − 1/p)` (Karp and Flatt, "Measuring parallel processor
//!   performance", CACM 1990); least squares over every `p > 1` gives
//!   `f = Σ x·y / Σ x²` with `x = 1 − 1/p`, `y = 1/S − 1/p`.
//! - Gustafson: `p − S = f · (p − 1)`, so `f = Σ (p − 1)(p − S) / Σ (p − 1)²`.

/// Amdahl's speedup with serial fraction `f` on `p` processors.
///
/// # Examples
///
/// ```
/// use weft_lab::fit::amdahl;
///
/// assert_eq!(amdahl(0.0, 4.0), 4.0);
/// assert!((amdahl(0.05, 1e12) - 20.0).abs() < 1e-6); // "caps speedup at 20x"
/// ```
pub fn amdahl(f: f64, p: f64) -> f64 {
    1.0 / (f + (1.0 - f) / p)
}

/// Gustafson's scaled speedup with serial fraction `f` on `p` processors.
///
/// # Examples
///
/// ```
/// assert_eq!(weft_lab::fit::gustafson(0.25, 4.0), 3.25);
/// ```
pub fn gustafson(f: f64, p: f64) -> f64 {
    f + (1.0 - f) * p
}

/// The Karp–Flatt metric: the serial fraction that explains speedup `s` on `p > 1`
/// processors (`None` for `p ≤ 1` or a non-positive speedup).
///
/// # Examples
///
/// ```
/// use weft_lab::fit::{amdahl, karp_flatt};
///
/// let s = amdahl(0.3, 4.0);
/// assert!((karp_flatt(s, 4.0).unwrap() - 0.3).abs() < 1e-12);
/// assert_eq!(karp_flatt(1.0, 1.0), None);
/// ```
pub fn karp_flatt(s: f64, p: f64) -> Option<f64> {
    (p > 1.0 && s > 0.0 && s.is_finite()).then(|| (1.0 / s - 1.0 / p) / (1.0 - 1.0 / p))
}

/// A fitted serial fraction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// The serial fraction, clamped to `[0, 1]`.
    pub serial_fraction: f64,
    /// The root-mean-square difference between the measured speedups and the law's
    /// with the fitted fraction.
    pub rms_error: f64,
    /// How many points (with `p > 1`) the fit used.
    pub points: usize,
}

/// Fits Amdahl's law to `(p, speedup)` points by least squares (points with `p ≤ 1`
/// carry no information and are skipped). `None` without a usable point.
///
/// # Examples
///
/// ```
/// use weft_lab::fit::{amdahl, fit_amdahl};
///
/// let points: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0].iter().map(|&p| (p, amdahl(0.1, p))).collect();
/// let fit = fit_amdahl(&points).unwrap();
/// assert!((fit.serial_fraction - 0.1).abs() < 1e-12);
/// assert_eq!(fit.points, 3);
/// ```
pub fn fit_amdahl(points: &[(f64, f64)]) -> Option<Fit> {
    let usable: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(p, s)| p > 1.0 && s > 0.0 && s.is_finite())
        .collect();
    let (sxy, sxx) = usable.iter().fold((0.0, 0.0), |(sxy, sxx), &(p, s)| {
        let (x, y) = (1.0 - 1.0 / p, 1.0 / s - 1.0 / p);
        (sxy + x * y, sxx + x * x)
    });
    fit_result(&usable, sxy, sxx, amdahl)
}

/// Fits Gustafson's law to `(p, scaled speedup)` points by least squares.
///
/// # Examples
///
/// ```
/// use weft_lab::fit::{fit_gustafson, gustafson};
///
/// let points: Vec<(f64, f64)> = [1.0, 2.0, 3.0].iter().map(|&p| (p, gustafson(0.3, p))).collect();
/// assert!((fit_gustafson(&points).unwrap().serial_fraction - 0.3).abs() < 1e-12);
/// ```
pub fn fit_gustafson(points: &[(f64, f64)]) -> Option<Fit> {
    let usable: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(p, s)| p > 1.0 && s.is_finite())
        .collect();
    let (sxy, sxx) = usable.iter().fold((0.0, 0.0), |(sxy, sxx), &(p, s)| {
        let (x, y) = (p - 1.0, p - s);
        (sxy + x * y, sxx + x * x)
    });
    fit_result(&usable, sxy, sxx, gustafson)
}

/// Fits Amdahl's law to run times at several parallelisms, `(p, seconds)`, without
/// a run at `p = 1`: the model `T(p) = a + b / p` (serial time `a`, parallel time `b`
/// on one processor) is linear in `a` and `b`, so least squares over `1/p` gives them,
/// and `f = a / (a + b)`. Needs two distinct `p`.
///
/// # Examples
///
/// ```
/// use weft_lab::fit::fit_amdahl_times;
///
/// // 2 s serial, 8 s parallel: f = 0.2, measured at 2, 4 and 8 threads only.
/// let points: Vec<(f64, f64)> = [2.0, 4.0, 8.0].iter().map(|&p| (p, 2.0 + 8.0 / p)).collect();
/// let fit = fit_amdahl_times(&points).unwrap();
/// assert!((fit.serial_fraction - 0.2).abs() < 1e-9);
/// ```
pub fn fit_amdahl_times(points: &[(f64, f64)]) -> Option<Fit> {
    let usable: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(p, t)| p >= 1.0 && t > 0.0 && t.is_finite())
        .collect();
    let n = usable.len() as f64;
    let (sx, sy) = usable
        .iter()
        .fold((0.0, 0.0), |(sx, sy), &(p, t)| (sx + 1.0 / p, sy + t));
    let (mx, my) = (sx / n, sy / n);
    let (sxy, sxx) = usable.iter().fold((0.0, 0.0), |(sxy, sxx), &(p, t)| {
        let dx = 1.0 / p - mx;
        (sxy + dx * (t - my), sxx + dx * dx)
    });
    if usable.len() < 2 || sxx <= 1e-15 {
        return None;
    }
    let b = (sxy / sxx).max(0.0);
    let a = (my - b * mx).max(0.0);
    if a + b <= 0.0 {
        return None;
    }
    let f = a / (a + b);
    // The error in speedup terms, relative to the smallest p measured.
    let (p0, t0) = usable
        .iter()
        .copied()
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .expect("two points");
    let squares: f64 = usable
        .iter()
        .map(|&(p, t)| (amdahl(f, p) / amdahl(f, p0) - t0 / t).powi(2))
        .sum();
    Some(Fit {
        serial_fraction: f,
        rms_error: (squares / n).sqrt(),
        points: usable.len(),
    })
}

fn fit_result(usable: &[(f64, f64)], sxy: f64, sxx: f64, law: fn(f64, f64) -> f64) -> Option<Fit> {
    if usable.is_empty() || sxx <= 0.0 {
        return None;
    }
    let f = (sxy / sxx).clamp(0.0, 1.0);
    let squares: f64 = usable.iter().map(|&(p, s)| (law(f, p) - s).powi(2)).sum();
    Some(Fit {
        serial_fraction: f,
        rms_error: (squares / usable.len() as f64).sqrt(),
        points: usable.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_laws_agree_at_one_processor_and_diverge_after() {
        for f in [0.0, 0.1, 0.5, 1.0] {
            assert_eq!(amdahl(f, 1.0), 1.0);
            assert_eq!(gustafson(f, 1.0), 1.0);
        }
        assert!(gustafson(0.1, 8.0) > amdahl(0.1, 8.0));
        assert_eq!(amdahl(1.0, 64.0), 1.0);
    }

    #[test]
    fn noisy_speedups_fit_near_the_true_fraction() {
        // Speedups 3% off in alternating directions.
        let points: Vec<(f64, f64)> = [1.0, 2.0, 3.0, 4.0, 6.0, 8.0]
            .iter()
            .enumerate()
            .map(|(i, &p)| (p, amdahl(0.3, p) * if i % 2 == 0 { 1.03 } else { 0.97 }))
            .collect();
        let fit = fit_amdahl(&points).unwrap();
        assert!((fit.serial_fraction - 0.3).abs() < 0.03, "{fit:?}");
        assert!(fit.rms_error > 0.0);
    }

    #[test]
    fn superlinear_or_impossible_speedups_clamp() {
        assert_eq!(fit_amdahl(&[(2.0, 2.5)]).unwrap().serial_fraction, 0.0);
        assert_eq!(fit_amdahl(&[(2.0, 0.5)]).unwrap().serial_fraction, 1.0);
    }

    #[test]
    fn fitting_times_agrees_with_fitting_speedups() {
        let times: Vec<(f64, f64)> = [1.0, 2.0, 4.0]
            .iter()
            .map(|&p| (p, 3.0 + 7.0 / p))
            .collect();
        let speedups: Vec<(f64, f64)> = times.iter().map(|&(p, t)| (p, 10.0 / t)).collect();
        let a = fit_amdahl_times(&times).unwrap().serial_fraction;
        let b = fit_amdahl(&speedups).unwrap().serial_fraction;
        assert!((a - 0.3).abs() < 1e-9 && (b - 0.3).abs() < 1e-9);
        assert_eq!(fit_amdahl_times(&[(2.0, 1.0)]), None);
        assert_eq!(fit_amdahl_times(&[(2.0, 1.0), (2.0, 1.1)]), None);
    }

    #[test]
    fn no_usable_point_no_fit() {
        assert_eq!(fit_amdahl(&[]), None);
        assert_eq!(fit_amdahl(&[(1.0, 1.0)]), None);
        assert_eq!(fit_gustafson(&[(1.0, 1.0)]), None);
        assert_eq!(karp_flatt(0.0, 2.0), None);
    }
}

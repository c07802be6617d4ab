//! `amdahl`: Amdahl's and Gustafson's laws, measured, with the serial fraction
//! fitted back from the speedups.
//!
//! A workload is `W` units of busy work (a unit is a dependent chain of 2,000
//! multiply-adds; one calibration sizes `W` to the base run time): a chosen fraction
//! `f` of them runs on one thread, then the rest is split evenly over `p` plain `std`
//! threads. Its speedup at `p` threads is the one-thread time over the `p`-thread time (the fastest of
//! interleaved rounds). [`fit_amdahl`](crate::fit::fit_amdahl) recovers `f` from the
//! speedups at `p = 2 ..= cores`: Amdahl's `p` counts processors, so thread counts
//! beyond the cores are charted (the plateau) but not fitted.
//!
//! The Gustafson series scales the parallel part with `p` (the serial part stays the
//! same): its scaled speedup is the time one thread would need for the scaled
//! workload (from the measured one-thread time, since busy work is linear in units)
//! over the measured `p`-thread time, against `f + (1 − f) · p`.

use crate::experiment::{
    Chart, Claim, Config, Experiment, Outcome, Point, Quote, Report, Series, Unit, Verdict,
};
use crate::fit::{self, Fit};
use crate::probe::proc::OtherLoad;
use std::hint::black_box;
use std::time::{Duration, Instant};
use weft_bench::Table;
use weft_bench::busy_work;
use weft_bench::stats::Summary;

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct Amdahl;

const CLAIM: Claim = Claim {
    gist: "a serial fraction f caps speedup at 1/(f + (1-f)/p); scaling the work lifts it",
    quotes: &[
        Quote {
            text: "The former says that if a fraction $f$ of a program is sequential, the \
                   maximum speedup is $\\lim_{p \\to \\infty} 1/(f + (1-f)/p) = 1/f$, so even 5% \
                   sequential code caps speedup at maximum of 20×.",
            source: "Multitasking, introduction",
        },
        Quote {
            text: "The latter counters that problem size often scales with available \
                   processors, making parallelisation more effective in practice.",
            source: "Multitasking, introduction",
        },
    ],
};

/// The serial fractions tried.
pub const FRACTIONS: [f64; 4] = [0.0, 0.1, 0.3, 0.5];
/// A fitted fraction within this of the chosen one reproduces the law.
pub const TOLERANCE: f64 = 0.05;
/// Busy-work steps per unit.
const STEPS: u32 = 2_000;

/// One serial fraction's measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct FractionRun {
    /// The chosen serial fraction.
    pub fraction: f64,
    /// Speedup (fastest runs) at each thread count of [`Figures::threads`].
    pub speedups: Vec<f64>,
    /// Gustafson scaled speedup at each thread count.
    pub scaled: Vec<f64>,
    /// Amdahl fitted to the speedups at `2 ..= cores` threads.
    pub fit: Option<Fit>,
    /// Gustafson fitted to the scaled speedups at `2 ..= cores` threads.
    pub scaled_fit: Option<Fit>,
    /// Every run time, seconds: one list of rounds per thread count.
    pub times: Vec<Vec<f64>>,
    /// The same for the scaled workload (empty at one thread).
    pub scaled_times: Vec<Vec<f64>>,
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Cores available.
    pub cores: usize,
    /// Thread counts measured, ascending, starting at 1.
    pub threads: Vec<usize>,
    /// One-thread run time of the base workload.
    pub base: Duration,
    /// One entry per serial fraction.
    pub series: Vec<FractionRun>,
    /// The share of all CPUs other processes used during the measurements, if known.
    pub others: Option<f64>,
}

/// Other processes using more than this share of the CPUs make a miss inconclusive:
/// the `p`-thread runs did not get their `p` cores.
pub const BUSY: f64 = 0.15;

/// Judges the claim: each fitted serial fraction must be within [`TOLERANCE`] of the
/// chosen one.
pub fn verdict(f: &Figures) -> Verdict {
    let mut lines = Vec::new();
    let mut within = 0;
    let mut fitted = 0;
    for s in &f.series {
        let Some(fit) = s.fit else { continue };
        fitted += 1;
        let error = fit.serial_fraction - s.fraction;
        let ok = error.abs() <= TOLERANCE;
        within += usize::from(ok);
        let at_cores = f
            .threads
            .iter()
            .rposition(|&t| t <= f.cores)
            .map(|i| s.speedups[i])
            .unwrap_or(f64::NAN);
        let gustafson = s.scaled_fit.map_or(String::new(), |g| {
            format!("; Gustafson fit {:.3}", g.serial_fraction)
        });
        lines.push(format!(
            "f = {:.2}: fitted {:.3} ({}{:+.3}); speedup {:.2}x at {} threads, Amdahl \
             predicts {:.2}x{gustafson}",
            s.fraction,
            fit.serial_fraction,
            if ok { "within ±0.05: " } else { "off by " },
            error,
            at_cores,
            f.cores.min(*f.threads.last().unwrap_or(&1)),
            fit::amdahl(
                s.fraction,
                f.cores.min(*f.threads.last().unwrap_or(&1)) as f64
            ),
        ));
    }
    if fitted == 0 {
        return Verdict {
            outcome: Outcome::Inconclusive,
            text: format!(
                "nothing to fit: a serial fraction needs speedups at 2 or more threads on \
                 as many cores ({} core(s), threads up to {})",
                f.cores,
                f.threads.last().unwrap_or(&1)
            ),
        };
    }
    let mut outcome = if within == fitted {
        Outcome::Reproduced
    } else if within > 0 {
        Outcome::Partly
    } else {
        Outcome::NotReproduced
    };
    lines.push(format!(
        "{within} of {fitted} fitted serial fractions within ±{TOLERANCE} of the chosen one \
         (least squares of Karp–Flatt over 2..={} threads)",
        f.cores
    ));
    match f.others {
        Some(share) if share > BUSY && outcome != Outcome::Reproduced => {
            outcome = Outcome::Inconclusive;
            lines.push(format!(
                "inconclusive: other processes used {:.0}% of the CPUs meanwhile, so the \
                 multi-thread runs did not get their cores; rerun on a quiet machine",
                share * 100.0
            ));
        }
        Some(share) => lines.push(format!(
            "other processes used {:.0}% of the CPUs meanwhile",
            share * 100.0
        )),
        None => {}
    }
    Verdict {
        outcome,
        text: lines.join("\n"),
    }
}

/// Units of busy work per millisecond on one thread, measured once.
fn calibrate() -> f64 {
    let mut units = 16u64;
    loop {
        let started = Instant::now();
        work(units);
        let elapsed = started.elapsed();
        if elapsed >= Duration::from_millis(10) || units > 1 << 30 {
            return units as f64 / (elapsed.as_secs_f64() * 1e3).max(1e-9);
        }
        units *= 2;
    }
}

fn work(units: u64) -> u64 {
    let mut x = units;
    for _ in 0..units {
        x = busy_work(x, STEPS);
    }
    black_box(x)
}

/// Runs `serial` units on this thread, then `parallel` units split over `threads`.
fn run(serial: u64, parallel: u64, threads: usize) -> Duration {
    let started = Instant::now();
    work(serial);
    std::thread::scope(|s| {
        for t in 0..threads as u64 {
            let share = parallel / threads as u64 + u64::from(t < parallel % threads as u64);
            s.spawn(move || work(share));
        }
    });
    started.elapsed()
}

/// The fastest of the rounds: other load on the machine only ever adds time to a
/// CPU-bound run, so the minimum is the least disturbed estimate (the median would
/// carry half the disturbance into the speedups on a shared machine).
fn fastest(values: &[f64]) -> f64 {
    Summary::of(values).map_or(f64::NAN, |s| s.min)
}

/// Measures every fraction at every thread count, `rounds` interleaved rounds, with a
/// one-thread base run of `units` units.
fn measure(cores: usize, threads: Vec<usize>, units: u64, rounds: usize) -> Figures {
    let load = OtherLoad::start();
    let mut base_times = Vec::new();
    let mut series = Vec::new();
    // times[fraction][thread index][round], and the same for the scaled workload.
    let mut times = vec![vec![Vec::new(); threads.len()]; FRACTIONS.len()];
    let mut scaled_times = times.clone();
    for _ in 0..rounds {
        for (i, &f) in FRACTIONS.iter().enumerate() {
            let serial = (units as f64 * f).round() as u64;
            let parallel = units - serial;
            for (j, &p) in threads.iter().enumerate() {
                times[i][j].push(run(serial, parallel, p).as_secs_f64());
                if p > 1 {
                    scaled_times[i][j].push(run(serial, parallel * p as u64, p).as_secs_f64());
                }
            }
        }
    }
    for (i, &f) in FRACTIONS.iter().enumerate() {
        let one = fastest(&times[i][0]);
        base_times.push(one);
        let speedups: Vec<f64> = times[i].iter().map(|t| one / fastest(t)).collect();
        let scaled: Vec<f64> = threads
            .iter()
            .enumerate()
            .map(|(j, &p)| {
                if p == 1 {
                    1.0
                } else {
                    one * fit::gustafson(f, p as f64) / fastest(&scaled_times[i][j])
                }
            })
            .collect();
        let fitted = |values: &[f64]| -> Vec<(f64, f64)> {
            threads
                .iter()
                .zip(values)
                .filter(|&(&p, _)| p <= cores)
                .map(|(&p, &s)| (p as f64, s))
                .collect()
        };
        series.push(FractionRun {
            fraction: f,
            fit: fit::fit_amdahl(&fitted(&speedups)),
            scaled_fit: fit::fit_gustafson(&fitted(&scaled)),
            speedups,
            scaled,
            times: times[i].clone(),
            scaled_times: scaled_times[i].clone(),
        });
    }
    Figures {
        cores,
        threads,
        base: Duration::from_secs_f64(fastest(&base_times).max(0.0)),
        series,
        others: load.share(cores),
    }
}

/// How long the one-thread base run of a workload takes.
fn base_time(config: &Config) -> Duration {
    if config.quick {
        Duration::from_millis(8)
    } else {
        (config.sample / 5).clamp(Duration::from_millis(10), Duration::from_millis(100))
    }
}

fn rounds(config: &Config) -> usize {
    config.rounds.clamp(1, 5)
}

fn thread_counts(config: &Config) -> Vec<usize> {
    (1..=config.threads.unwrap_or(2 * config.cores).max(1)).collect()
}

impl Experiment for Amdahl {
    fn name(&self) -> &'static str {
        "amdahl"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads N`: thread counts 1..=N (default twice the cores).
    fn run(&self, config: &Config) -> Report {
        let units_per_ms = calibrate();
        let units = (units_per_ms * base_time(config).as_secs_f64() * 1e3).max(8.0) as u64;
        let figures = measure(config.cores, thread_counts(config), units, rounds(config));
        let [amdahl, gustafson] = charts(&figures);
        let fractions: Vec<serde_json::Value> = figures
            .series
            .iter()
            .map(|s| {
                serde_json::json!({
                    "f": s.fraction,
                    "speedups": s.speedups,
                    "scaled_speedups": s.scaled,
                    "fitted_f": s.fit.map(|f| f.serial_fraction),
                    "gustafson_fitted_f": s.scaled_fit.map(|f| f.serial_fraction),
                    "seconds": s.times,
                    "scaled_seconds": s.scaled_times,
                })
            })
            .collect();
        let raw = serde_json::json!({
            "threads": figures.threads,
            "units": units,
            "other_processes_cpu_share": figures.others,
            "fractions": fractions,
        });
        Report::new(table(&figures), verdict(&figures), Vec::new())
            .with_chart(amdahl)
            .with_chart(gustafson)
            .with_raw(raw)
    }

    fn estimate(&self, config: &Config) -> Option<Duration> {
        // Per fraction and round: the Amdahl runs take at most the base time each, the
        // scaled ones about f + (1 − f)·p / min(p, cores) base times.
        let threads = thread_counts(config);
        let mut bases = 0.0;
        for f in FRACTIONS {
            for &p in &threads {
                let par = p.min(config.cores) as f64;
                bases += f + (1.0 - f) / par;
                if p > 1 {
                    bases += f + (1.0 - f) * p as f64 / par;
                }
            }
        }
        Some(base_time(config).mul_f64(bases * rounds(config) as f64) + Duration::from_millis(30))
    }
}

/// Measured speedup against threads with Amdahl's curve per fraction, and the same
/// for Gustafson's scaled speedup.
fn charts(f: &Figures) -> [Chart; 2] {
    let processors = |p: usize| p.min(f.cores) as f64;
    let mut amdahl = Chart::line(
        "Amdahl: measured speedup (solid) against 1/(f + (1-f)/p) (dashed), fixed work",
        "threads",
        "speedup over one thread",
    )
    .unit(Unit::Ratio)
    .marker(f.cores as f64, format!("{} cores", f.cores));
    let mut gustafson = Chart::line(
        "Gustafson: scaled speedup (solid) against f + (1-f)p (dashed), work grows with p",
        "threads",
        "scaled speedup",
    )
    .unit(Unit::Ratio)
    .marker(f.cores as f64, format!("{} cores", f.cores));
    for (index, s) in f.series.iter().enumerate() {
        let measured = |values: &[f64]| -> Vec<Point> {
            f.threads
                .iter()
                .zip(values)
                .map(|(&p, &v)| Point::new(p as f64, v))
                .collect()
        };
        let law = |law: fn(f64, f64) -> f64| -> Vec<Point> {
            f.threads
                .iter()
                .map(|&p| Point::new(p as f64, law(s.fraction, processors(p))))
                .collect()
        };
        // Each prediction dashed, in its measurement's colour.
        let pair = |measured: Vec<Point>, law: Vec<Point>, name: &str| {
            [
                Series::new(format!("f = {} measured", s.fraction), measured).color(index),
                Series::new(format!("f = {} {name}", s.fraction), law)
                    .color(index)
                    .dashed(),
            ]
        };
        for series in pair(measured(&s.speedups), law(fit::amdahl), "Amdahl") {
            amdahl = amdahl.series(series);
        }
        for series in pair(measured(&s.scaled), law(fit::gustafson), "Gustafson") {
            gustafson = gustafson.series(series);
        }
    }
    [amdahl, gustafson]
}

fn table(f: &Figures) -> Table {
    let mut header = vec!["f".to_string()];
    header.extend(f.threads.iter().map(|t| format!("S({t})")));
    header.extend(["fitted f".to_string(), "Gustafson S(max)".to_string()]);
    header.push("Gustafson fitted f".to_string());
    let mut table = Table::new(header);
    for s in &f.series {
        let mut cells = vec![format!("{:.2}", s.fraction)];
        cells.extend(s.speedups.iter().map(|v| format!("{v:.2}x")));
        cells.push(
            s.fit
                .map_or("-".into(), |fit| format!("{:.3}", fit.serial_fraction)),
        );
        cells.push(s.scaled.last().map_or("-".into(), |v| format!("{v:.2}x")));
        cells.push(
            s.scaled_fit
                .map_or("-".into(), |fit| format!("{:.3}", fit.serial_fraction)),
        );
        table.row(cells);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Figures as the laws predict, with speedups scaled by `noise`.
    fn ideal(cores: usize, noise: f64) -> Figures {
        let threads: Vec<usize> = (1..=2 * cores).collect();
        let series = FRACTIONS
            .iter()
            .map(|&f| {
                let speedups: Vec<f64> = threads
                    .iter()
                    .map(|&p| {
                        let s = fit::amdahl(f, p.min(cores) as f64);
                        if p > 1 { s * noise } else { s }
                    })
                    .collect();
                let scaled: Vec<f64> = threads
                    .iter()
                    .map(|&p| fit::gustafson(f, p.min(cores) as f64))
                    .collect();
                let points = |v: &[f64]| -> Vec<(f64, f64)> {
                    threads
                        .iter()
                        .zip(v)
                        .filter(|&(&p, _)| p <= cores)
                        .map(|(&p, &s)| (p as f64, s))
                        .collect()
                };
                FractionRun {
                    fraction: f,
                    fit: fit::fit_amdahl(&points(&speedups)),
                    scaled_fit: fit::fit_gustafson(&points(&scaled)),
                    speedups,
                    scaled,
                    times: Vec::new(),
                    scaled_times: Vec::new(),
                }
            })
            .collect();
        Figures {
            cores,
            threads,
            base: Duration::from_millis(10),
            series,
            others: Some(0.02),
        }
    }

    #[test]
    fn speedups_on_the_curves_reproduce_every_fraction() {
        let v = verdict(&ideal(4, 1.0));
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        assert!(v.text.contains("f = 0.30: fitted 0.300 (within ±0.05: "));
        assert!(v.text.contains("4 of 4 fitted serial fractions"));
    }

    #[test]
    fn slow_parallel_runs_fit_larger_fractions_than_chosen() {
        // 20% slower parallel runs: every fit overshoots,
        // and the verdict names the error.
        let v = verdict(&ideal(2, 0.8));
        assert_ne!(v.outcome, Outcome::Reproduced, "{}", v.text);
        assert!(
            v.text.contains("f = 0.00: fitted 0.250 (off by +0.250)"),
            "{}",
            v.text
        );
    }

    #[test]
    fn a_miss_on_a_busy_machine_is_inconclusive_but_a_hit_stands() {
        let mut busy = ideal(2, 0.8);
        busy.others = Some(0.6);
        let v = verdict(&busy);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.text.contains("other processes used 60% of the CPUs"));
        let mut hit = ideal(2, 1.0);
        hit.others = Some(0.6);
        assert_eq!(verdict(&hit).outcome, Outcome::Reproduced);
    }

    #[test]
    fn one_core_cannot_fit_anything() {
        let v = verdict(&ideal(1, 1.0));
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.text.contains("nothing to fit"));
    }

    #[test]
    fn a_tiny_run_measures_charts_and_fits() {
        let f = measure(2, vec![1, 2, 3], 40, 1);
        assert_eq!(f.series.len(), FRACTIONS.len());
        for s in &f.series {
            assert_eq!(s.speedups.len(), 3);
            assert!(s.speedups.iter().all(|v| v.is_finite() && *v > 0.0));
            assert_eq!(s.fit.unwrap().points, 1);
        }
        for chart in charts(&f) {
            assert!(chart.has_data());
        }
        assert_eq!(table(&f).rows().len(), FRACTIONS.len());
        assert!(calibrate() > 0.0);
    }
}

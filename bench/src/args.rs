//! Command-line options shared by the `harness = false` benchmarks in `bench/benches/`.

use crate::results::Results;
use std::path::PathBuf;
use std::time::Duration;
use std::{fs, io};

/// The options of a benchmark binary: `cargo bench -p weft-bench --bench NAME -- [--quick]
/// [--rounds N] [--json FILE]`.
///
/// Arguments it doesn't know (cargo passes `--bench`) are ignored, so the benchmarks
/// also run under `cargo test --benches`, where they are called without `--bench`.
///
/// # Examples
///
/// ```
/// use weft_bench::BenchArgs;
///
/// let args = BenchArgs::parse(["--bench", "--quick", "--json", "out.json"]);
/// assert!(args.quick);
/// assert_eq!(args.json.as_deref(), Some(std::path::Path::new("out.json")));
/// assert_eq!(args.rounds(), 3);
///
/// // Many short rounds, for cells whose spread is wider than the difference sought.
/// let args = BenchArgs::parse(["--bench", "--quick", "--rounds", "31"]);
/// assert_eq!(args.rounds(), 31);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BenchArgs {
    /// `--quick`: fewer rounds and shorter samples, the same code paths.
    pub quick: bool,
    /// `--json FILE`: where to write every raw sample.
    pub json: Option<PathBuf>,
    /// `--rounds N`: rounds per comparison instead of the default (ignored under
    /// `cargo test`, and when `N` is not a positive number).
    pub rounds: Option<usize>,
    /// Set when run by `cargo test --benches` (no `--bench` argument): one tiny round,
    /// just to prove the benchmark runs.
    pub smoke: bool,
}

impl BenchArgs {
    /// Parses this process's arguments.
    pub fn from_env() -> Self {
        Self::parse(std::env::args().skip(1))
    }

    /// Parses `args` (without the program name).
    pub fn parse<S: AsRef<str>>(args: impl IntoIterator<Item = S>) -> Self {
        let mut parsed = BenchArgs {
            smoke: true,
            ..BenchArgs::default()
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_ref() {
                "--quick" => parsed.quick = true,
                "--bench" => parsed.smoke = false,
                "--json" => parsed.json = args.next().map(|p| PathBuf::from(p.as_ref())),
                "--rounds" => {
                    parsed.rounds = args
                        .next()
                        .and_then(|n| n.as_ref().parse().ok())
                        .filter(|&n: &usize| n > 0);
                }
                _ => {}
            }
        }
        parsed
    }

    /// Rounds per comparison: 9 by default, 3 with `--quick`, `N` with `--rounds N`,
    /// 1 under `cargo test`.
    pub fn rounds(&self) -> usize {
        match (self.smoke, self.rounds, self.quick) {
            (true, _, _) => 1,
            (false, Some(n), _) => n,
            (false, None, true) => 3,
            (false, None, false) => 9,
        }
    }

    /// The length of one throughput sample: `full` by default, a tenth of it with
    /// `--quick`, 1 ms under `cargo test`.
    pub fn sample_duration(&self, full: Duration) -> Duration {
        match (self.smoke, self.quick) {
            (true, _) => Duration::from_millis(1),
            (false, true) => full / 10,
            (false, false) => full,
        }
    }

    /// The shortest latency batch: 1 ms, or 100 µs under `cargo test`.
    pub fn min_sample(&self) -> Duration {
        if self.smoke {
            Duration::from_micros(100)
        } else {
            Duration::from_millis(1)
        }
    }

    /// Writes `results` as a JSON array to the `--json` file, if one was given.
    ///
    /// # Errors
    ///
    /// If the file cannot be written.
    pub fn write_json(&self, results: &[Results]) -> io::Result<()> {
        let Some(path) = &self.json else {
            return Ok(());
        };
        let json = serde_json::to_string_pretty(results).map_err(io::Error::other)?;
        fs::write(path, json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_bench_flag_it_is_a_smoke_run() {
        let args = BenchArgs::parse(Vec::<String>::new());
        assert!(args.smoke);
        assert_eq!(args.rounds(), 1);
        assert_eq!(
            args.sample_duration(Duration::from_secs(1)),
            Duration::from_millis(1)
        );
    }

    #[test]
    fn full_and_quick_runs_scale_rounds_and_samples() {
        let full = BenchArgs::parse(["--bench"]);
        assert_eq!(full.rounds(), 9);
        assert_eq!(
            full.sample_duration(Duration::from_millis(200)),
            Duration::from_millis(200)
        );
        let quick = BenchArgs::parse(["--bench", "--quick"]);
        assert_eq!(
            quick.sample_duration(Duration::from_millis(200)),
            Duration::from_millis(20)
        );
    }

    #[test]
    fn unknown_arguments_are_ignored() {
        let args = BenchArgs::parse(["--bench", "--nocapture", "filter"]);
        assert_eq!(
            args,
            BenchArgs {
                quick: false,
                json: None,
                rounds: None,
                smoke: false
            }
        );
    }

    #[test]
    fn rounds_override_the_default_but_not_a_smoke_run() {
        assert_eq!(BenchArgs::parse(["--bench", "--rounds", "31"]).rounds(), 31);
        assert_eq!(
            BenchArgs::parse(["--bench", "--quick", "--rounds", "5"]).rounds(),
            5
        );
        // Not a positive number: the default stays.
        assert_eq!(BenchArgs::parse(["--bench", "--rounds", "0"]).rounds(), 9);
        assert_eq!(
            BenchArgs::parse(["--bench", "--rounds", "many"]).rounds(),
            9
        );
        assert_eq!(BenchArgs::parse(["--bench", "--rounds"]).rounds(), 9);
        // Under `cargo test` one round, whatever was asked.
        assert_eq!(BenchArgs::parse(["--rounds", "31"]).rounds(), 1);
    }
}

//! weft-lab: one experiment per claim of the notes on multitasking, measured on this
//! machine with weft.
//!
//! Each experiment quotes the claim it tests, measures it with the interleaved-rounds
//! harness of `weft-bench` (medians, ratios of medians), prints its figures as a
//! table, and computes a verdict from those figures: reproduced, partly, not
//! reproduced, or inconclusive, with the numbers that decided it.
//!
//! ```text
//! weft-lab list                        the experiments and their claims
//! weft-lab tour                        run them all (a couple of minutes), then a summary
//! weft-lab tour --quick                the same code paths in seconds
//! weft-lab tour --full                 longer samples, more rounds: figures to publish
//! weft-lab tour --only a,b --skip c    a subset, in tour order
//! weft-lab run false-sharing --threads 2 --duration-ms 50 --rounds 9
//! weft-lab tour --json lab.json        also write every raw sample and the machine
//! weft-lab tour --html lab/            also write lab/report.html, with charts
//! weft-lab profile -- COMMAND ARGS...  is COMMAND CPU-bound, I/O-bound or mixed?
//! weft-lab profile --scale 1,2,4 -- make -j{}   rerun at each parallelism, fit Amdahl
//! ```
//!
//! From the workspace, `cargo run --release -p weft-lab -- tour --html lab/`.
//!
//! # What a run shows
//!
//! - **The machine** ([`machine`]): sockets, cores, hardware threads, cache sizes and
//!   line size, NUMA nodes and the OS, read from sysfs and procfs (missing files read
//!   as "unknown"). After the run, whether the measurements were quiet or noisy: the
//!   worst spread of repeats, `(q3 − q1) / median`, over every comparison.
//! - **Each experiment**: the claim, the figures, the verdict, and its time; during a
//!   tour on a terminal, a progress bar per experiment (on stderr; none when stdout is
//!   redirected).
//! - **`--json FILE`**: every raw sample, the machine, the noise, the claims, the
//!   verdicts and the command that reproduces each experiment.
//! - **`--html DIR`** ([`report`]): `DIR/report.html`, one self-contained page
//!   (inline CSS and SVG, no script, nothing fetched) with a section per experiment:
//!   the claim quoted from the notes, charts (lines against threads, grouped bars,
//!   log scales where values span decades), the figures, the verdict and the exact
//!   command that reproduces it. Each chart is also written beside it as an SVG file.
//!
//! # Profiling a program
//!
//! [`profile`] runs a command, samples `/proc` every 10 ms and `wait4`'s totals, and
//! says whether it is CPU-bound, I/O-bound or mixed, with the concurrency model the
//! notes recommend for it; `--scale` reruns it at several parallelisms and fits
//! Amdahl's law ([`fit`]). [`probe`] holds the OS readings (rusage, perf counters,
//! `/proc`) it shares with the experiments.
//!
//! # Errors and exit codes
//!
//! An unknown experiment name (in `run`, `--only` or `--skip`) or an output path that
//! cannot be written is reported on stderr with exit code 2, before any experiment
//! runs, so a long tour is never lost to a typo; so is malformed usage, and so, for
//! `profile`, are a command that cannot be started and a bad `--scale` list. A
//! failure to write output after the run exits with code 1.
//!
//! # Adding an experiment
//!
//! Implement [`Experiment`](experiment::Experiment) in a new file of
//! `src/experiments/` and list it in [`experiments::all`]. Build its
//! [`Report`](experiment::Report) with [`Report::new`](experiment::Report::new); add a
//! chart with [`with_chart`](experiment::Report::with_chart), or let the report derive
//! one from the comparisons; attach figures that are not comparisons (counts,
//! counters) with [`with_raw`](experiment::Report::with_raw) for `--json`. Give
//! [`estimate`](experiment::Experiment::estimate) to get a filling progress bar
//! instead of a spinner.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod cli;
pub mod experiment;
pub mod experiments;
pub mod fit;
pub mod machine;
pub mod probe;
pub mod profile;
pub mod report;

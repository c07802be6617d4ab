//! weft-lab: one experiment per claim of the notes on multitasking, measured on this
//! machine with weft.
//!
//! Each experiment quotes the claim it tests, measures it with the interleaved-rounds
//! harness of `weft-bench` (medians, ratios of medians), prints its figures as a
//! table, and computes a verdict from those figures: reproduced, partly, not
//! reproduced, or inconclusive, with the numbers that decided it.
//!
//! ```text
//! weft-lab list                       the experiments and their claims
//! weft-lab tour [--quick]             run them all, then a summary table
//! weft-lab run false-sharing --threads 2 --duration-ms 50 --rounds 9
//! weft-lab tour --json lab.json       also write every raw sample
//! ```
//!
//! To add an experiment, implement [`Experiment`](experiment::Experiment) in a new
//! file of `src/experiments/` and list it in [`experiments::all`].

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod cli;
pub mod experiment;
pub mod experiments;

//! Measurement harness shared by `bench/` and `weft-lab`: interleaved rounds, medians
//! and ratios of medians.
//!
//! weft's benchmarks run on small, shared machines (two cores, neighbours), where one
//! timing means little. So every figure here is a comparison:
//!
//! 1. Each [`Comparison`] runs all its contenders once per round, rotating the order
//!    each round, for several rounds, after one warm-up run per contender. Drift of
//!    the machine's speed hits every contender alike.
//! 2. Each contender's samples are summarized by order statistics ([`stats`]): the
//!    median, the quartiles, the extremes. One preempted sample moves none of them
//!    much.
//! 3. Contenders are compared by the ratio of their medians, always expressed as a
//!    speedup ([`Results::ratio`]): `ratio(baseline, candidate) >= 1.0` means the
//!    candidate is as fast or faster, for throughput and latency alike.
//!
//! Two kinds of measurement:
//!
//! - **throughput** ([`Comparison::throughput`]): each sample runs a [`Budget`] (a
//!   fixed duration or a fixed number of operations), usually on several threads with
//!   [`run_threads`], and reports operations per second;
//! - **latency** ([`Comparison::latency`]): each contender is one operation, run in
//!   batches sized during warm-up so that a batch takes at least 1 ms, and reports
//!   nanoseconds per operation.
//!
//! [`Results`] keep every raw sample, print as a [`Table`] and serialize to JSON.
//!
//! # Examples
//!
//! ```
//! use std::sync::Mutex;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use weft_bench::{Budget, Comparison, run_threads};
//!
//! let atomic = AtomicU64::new(0);
//! let mutex = Mutex::new(0u64);
//! let results = Comparison::throughput("counter on 2 threads", Budget::millis(2))
//!     .rounds(3)
//!     .contender("mutex", |budget| {
//!         run_threads(2, budget, |_thread| || *mutex.lock().unwrap() += 1)
//!     })
//!     .contender("atomic", |budget| {
//!         run_threads(2, budget, |_thread| || {
//!             atomic.fetch_add(1, Ordering::Relaxed);
//!         })
//!     })
//!     .run();
//! println!("{results}");
//! let speedup = results.ratio("mutex", "atomic");
//! println!("the atomic counter is {speedup:.2}x the mutex's throughput");
//! let json = results.to_json(); // every raw sample
//! assert!(json.contains("\"samples\""));
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod args;
mod comparison;
pub mod format;
mod results;
pub mod stats;
mod table;
mod workload;

pub use args::BenchArgs;
pub use comparison::{Comparison, DEFAULT_MIN_SAMPLE, DEFAULT_ROUNDS, KindOf, Latency, Throughput};
pub use results::{ContenderResults, Metric, Results, Sample, summary_table};
pub use table::Table;
pub use workload::{Budget, Tally, busy_work, run_threads};

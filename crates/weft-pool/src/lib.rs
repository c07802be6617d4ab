//! weft's work-stealing thread pool: fork-join (`join`, `scope`), fire-and-forget
//! `spawn`, parallel iterators and parallel sort, with rayon's vocabulary.
//!
//! Under construction (issue 5).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod iter;
pub mod prelude;
pub mod slice;

// A stand-in for the pool's core until it lands (see `stand_in.rs`).
mod stand_in;
pub use stand_in::{FnContext, current_num_threads, join, join_context};

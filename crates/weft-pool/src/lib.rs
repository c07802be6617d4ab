//! weft's work-stealing thread pool: fork-join (`join`, `scope`), fire-and-forget
//! `spawn`, parallel iterators and parallel sort, with rayon's vocabulary.
//!
//! Under construction (issue 5).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

//! The traits that put parallel iterators and parallel sorts in scope:
//! `use weft_pool::prelude::*;`.
//!
//! ```
//! use weft_pool::prelude::*;
//!
//! let mut v: Vec<u64> = (0..1000).rev().collect();
//! v.par_sort_unstable();
//! assert_eq!(v.par_iter().copied().max(), Some(999));
//! ```

pub use crate::iter::{
    FromParallelIterator, IndexedParallelIterator, IntoParallelIterator, IntoParallelRefIterator,
    IntoParallelRefMutIterator, ParallelExtend, ParallelIterator, ParallelString,
};
pub use crate::slice::{ParallelSlice, ParallelSliceMut};

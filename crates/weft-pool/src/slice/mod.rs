//! Parallel slices: `par_iter`, `par_iter_mut`, `par_chunks(_mut)`, and the parallel
//! sorts `par_sort*` (stable merge sort) and `par_sort_unstable*` (quicksort).
//!
//! ```
//! use weft_pool::prelude::*;
//!
//! let mut v: Vec<u32> = (0..10_000).rev().collect();
//! v.par_sort_unstable();
//! assert!(v.windows(2).all(|w| w[0] <= w[1]));
//! let sums: Vec<u32> = v.par_chunks(100).map(|c| c.iter().sum()).collect();
//! assert_eq!(sums.len(), 100);
//! ```

mod mergesort;
mod quicksort;

use crate::iter::plumbing::{Producer, ProducerCallback, UnindexedConsumer, bridge};
use crate::iter::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};
use std::cmp::Ordering;

/// Parallel operations on shared slices.
///
/// # Examples
///
/// ```
/// use weft_pool::prelude::*;
///
/// let v = [1, 2, 3, 4, 5];
/// let firsts: Vec<i32> = v.par_chunks(2).map(|c| c[0]).collect();
/// assert_eq!(firsts, [1, 3, 5]);
/// ```
pub trait ParallelSlice<T: Sync> {
    /// The slice itself.
    fn as_parallel_slice(&self) -> &[T];

    /// A parallel iterator over `chunk_size` items at a time (the last chunk may be
    /// shorter), like `slice::chunks`.
    ///
    /// # Panics
    ///
    /// If `chunk_size` is 0, as `slice::chunks` does.
    fn par_chunks(&self, chunk_size: usize) -> Chunks<'_, T> {
        assert!(chunk_size != 0, "chunk_size must not be zero");
        Chunks {
            slice: self.as_parallel_slice(),
            chunk_size,
        }
    }
}

impl<T: Sync> ParallelSlice<T> for [T] {
    fn as_parallel_slice(&self) -> &[T] {
        self
    }
}

/// Parallel operations on mutable slices: chunks and sorts.
///
/// # Examples
///
/// ```
/// use weft_pool::prelude::*;
///
/// let mut v = vec![5, 1, 4, 2, 3];
/// v.par_chunks_mut(2).for_each(|c| c.reverse());
/// assert_eq!(v, [1, 5, 2, 4, 3]);
/// v.par_sort();
/// assert_eq!(v, [1, 2, 3, 4, 5]);
/// ```
pub trait ParallelSliceMut<T: Send> {
    /// The slice itself.
    fn as_parallel_slice_mut(&mut self) -> &mut [T];

    /// A parallel iterator over `chunk_size` mutable items at a time.
    ///
    /// # Panics
    ///
    /// If `chunk_size` is 0, as `slice::chunks_mut` does.
    fn par_chunks_mut(&mut self, chunk_size: usize) -> ChunksMut<'_, T> {
        assert!(chunk_size != 0, "chunk_size must not be zero");
        ChunksMut {
            slice: self.as_parallel_slice_mut(),
            chunk_size,
        }
    }

    /// Sorts in parallel, stably: equal items keep their order. A parallel merge sort
    /// (sorted runs merged pairwise, each merge itself split over the pool), with
    /// `slice::sort` below a cut-off; it allocates a buffer of the slice's length.
    ///
    /// If a comparison panics, the panic reaches the caller and the slice holds the
    /// same items as before, in some order.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let mut v = vec![3, 1, 2];
    /// v.par_sort();
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    fn par_sort(&mut self)
    where
        T: Ord,
    {
        mergesort::par_mergesort(self.as_parallel_slice_mut(), &T::cmp);
    }

    /// [`par_sort`](ParallelSliceMut::par_sort) by a comparison function.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let mut v = vec![1, 3, 2];
    /// v.par_sort_by(|a, b| b.cmp(a));
    /// assert_eq!(v, [3, 2, 1]);
    /// ```
    fn par_sort_by<F>(&mut self, compare: F)
    where
        F: Fn(&T, &T) -> Ordering + Sync,
    {
        mergesort::par_mergesort(self.as_parallel_slice_mut(), &compare);
    }

    /// [`par_sort`](ParallelSliceMut::par_sort) by a key (computed at every
    /// comparison).
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let mut v = vec![(2, 'a'), (1, 'b'), (2, 'c'), (1, 'd')];
    /// v.par_sort_by_key(|p| p.0);
    /// assert_eq!(v, [(1, 'b'), (1, 'd'), (2, 'a'), (2, 'c')]); // stable
    /// ```
    fn par_sort_by_key<K, F>(&mut self, f: F)
    where
        K: Ord,
        F: Fn(&T) -> K + Sync,
    {
        mergesort::par_mergesort(self.as_parallel_slice_mut(), &|a: &T, b: &T| {
            f(a).cmp(&f(b))
        });
    }

    /// Sorts in parallel, not necessarily keeping equal items in order, without
    /// allocating: a parallel quicksort (partition, then both sides in parallel) with
    /// `slice::sort_unstable` below a cut-off and for degenerate inputs.
    ///
    /// If a comparison panics, the panic reaches the caller and the slice holds the
    /// same items as before, in some order.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let mut v = vec![3, 1, 2];
    /// v.par_sort_unstable();
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    fn par_sort_unstable(&mut self)
    where
        T: Ord,
    {
        quicksort::par_quicksort(self.as_parallel_slice_mut(), &T::cmp);
    }

    /// [`par_sort_unstable`](ParallelSliceMut::par_sort_unstable) by a comparison
    /// function.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let mut v = vec![1, 3, 2];
    /// v.par_sort_unstable_by(|a, b| b.cmp(a));
    /// assert_eq!(v, [3, 2, 1]);
    /// ```
    fn par_sort_unstable_by<F>(&mut self, compare: F)
    where
        F: Fn(&T, &T) -> Ordering + Sync,
    {
        quicksort::par_quicksort(self.as_parallel_slice_mut(), &compare);
    }

    /// [`par_sort_unstable`](ParallelSliceMut::par_sort_unstable) by a key.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let mut v = vec![-3i32, 1, -2];
    /// v.par_sort_unstable_by_key(|x| x.abs());
    /// assert_eq!(v, [1, -2, -3]);
    /// ```
    fn par_sort_unstable_by_key<K, F>(&mut self, f: F)
    where
        K: Ord,
        F: Fn(&T) -> K + Sync,
    {
        quicksort::par_quicksort(self.as_parallel_slice_mut(), &|a: &T, b: &T| {
            f(a).cmp(&f(b))
        });
    }
}

impl<T: Send> ParallelSliceMut<T> for [T] {
    fn as_parallel_slice_mut(&mut self) -> &mut [T] {
        self
    }
}

/// The parallel iterator over `&[T]`.
#[must_use = "parallel iterators are lazy and do nothing unless consumed"]
#[derive(Debug)]
pub struct Iter<'data, T> {
    slice: &'data [T],
}

impl<T> Clone for Iter<'_, T> {
    fn clone(&self) -> Self {
        Iter { slice: self.slice }
    }
}

/// The parallel iterator over `&mut [T]`.
#[must_use = "parallel iterators are lazy and do nothing unless consumed"]
#[derive(Debug)]
pub struct IterMut<'data, T> {
    slice: &'data mut [T],
}

/// The iterator of [`ParallelSlice::par_chunks`].
#[must_use = "parallel iterators are lazy and do nothing unless consumed"]
#[derive(Debug)]
pub struct Chunks<'data, T> {
    slice: &'data [T],
    chunk_size: usize,
}

impl<T> Clone for Chunks<'_, T> {
    fn clone(&self) -> Self {
        Chunks { ..*self }
    }
}

/// The iterator of [`ParallelSliceMut::par_chunks_mut`].
#[must_use = "parallel iterators are lazy and do nothing unless consumed"]
#[derive(Debug)]
pub struct ChunksMut<'data, T> {
    slice: &'data mut [T],
    chunk_size: usize,
}

impl<'data, T: Sync + 'data> IntoParallelIterator for &'data [T] {
    type Iter = Iter<'data, T>;
    type Item = &'data T;

    fn into_par_iter(self) -> Iter<'data, T> {
        Iter { slice: self }
    }
}

impl<'data, T: Sync + 'data, const N: usize> IntoParallelIterator for &'data [T; N] {
    type Iter = Iter<'data, T>;
    type Item = &'data T;

    fn into_par_iter(self) -> Iter<'data, T> {
        Iter { slice: self }
    }
}

impl<'data, T: Send + 'data> IntoParallelIterator for &'data mut [T] {
    type Iter = IterMut<'data, T>;
    type Item = &'data mut T;

    fn into_par_iter(self) -> IterMut<'data, T> {
        IterMut { slice: self }
    }
}

impl<'data, T: Send + 'data, const N: usize> IntoParallelIterator for &'data mut [T; N] {
    type Iter = IterMut<'data, T>;
    type Item = &'data mut T;

    fn into_par_iter(self) -> IterMut<'data, T> {
        IterMut { slice: self }
    }
}

/// Implements `ParallelIterator` and `IndexedParallelIterator` for a slice iterator
/// whose producer is `$producer { $($field),* }`.
macro_rules! slice_iterator {
    ($name:ident<$lt:lifetime, $t:ident>, $bound:ident, $item:ty, $producer:ident { $($field:ident),* }, $len:expr) => {
        impl<$lt, $t: $bound + $lt> ParallelIterator for $name<$lt, $t> {
            type Item = $item;

            fn drive_unindexed<C>(self, consumer: C) -> C::Result
            where
                C: UnindexedConsumer<Self::Item>,
            {
                bridge(self, consumer)
            }

            fn opt_len(&self) -> Option<usize> {
                Some(self.len())
            }
        }

        impl<$lt, $t: $bound + $lt> IndexedParallelIterator for $name<$lt, $t> {
            fn len(&self) -> usize {
                let len: fn(&Self) -> usize = $len;
                len(self)
            }

            fn with_producer<CB>(self, callback: CB) -> CB::Output
            where
                CB: ProducerCallback<Self::Item>,
            {
                callback.callback($producer { $($field: self.$field),* })
            }
        }
    };
}

slice_iterator!(
    Iter<'data, T>,
    Sync,
    &'data T,
    SliceProducer { slice },
    |it| it.slice.len()
);
slice_iterator!(
    IterMut<'data, T>,
    Send,
    &'data mut T,
    SliceMutProducer { slice },
    |it| it.slice.len()
);
slice_iterator!(
    Chunks<'data, T>,
    Sync,
    &'data [T],
    ChunksProducer { slice, chunk_size },
    |it| it.slice.len().div_ceil(it.chunk_size)
);
slice_iterator!(
    ChunksMut<'data, T>,
    Send,
    &'data mut [T],
    ChunksMutProducer { slice, chunk_size },
    |it| it.slice.len().div_ceil(it.chunk_size)
);

struct SliceProducer<'data, T> {
    slice: &'data [T],
}

impl<'data, T: Sync> Producer for SliceProducer<'data, T> {
    type Item = &'data T;
    type IntoIter = std::slice::Iter<'data, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.slice.iter()
    }

    fn split_at(self, index: usize) -> (Self, Self) {
        let (left, right) = self.slice.split_at(index);
        (
            SliceProducer { slice: left },
            SliceProducer { slice: right },
        )
    }
}

struct SliceMutProducer<'data, T> {
    slice: &'data mut [T],
}

impl<'data, T: Send> Producer for SliceMutProducer<'data, T> {
    type Item = &'data mut T;
    type IntoIter = std::slice::IterMut<'data, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.slice.iter_mut()
    }

    fn split_at(self, index: usize) -> (Self, Self) {
        let (left, right) = self.slice.split_at_mut(index);
        (
            SliceMutProducer { slice: left },
            SliceMutProducer { slice: right },
        )
    }
}

struct ChunksProducer<'data, T> {
    slice: &'data [T],
    chunk_size: usize,
}

impl<'data, T: Sync> Producer for ChunksProducer<'data, T> {
    type Item = &'data [T];
    type IntoIter = std::slice::Chunks<'data, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.slice.chunks(self.chunk_size)
    }

    fn split_at(self, index: usize) -> (Self, Self) {
        let at = (index * self.chunk_size).min(self.slice.len());
        let (left, right) = self.slice.split_at(at);
        (
            ChunksProducer {
                slice: left,
                ..self
            },
            ChunksProducer {
                slice: right,
                ..self
            },
        )
    }
}

struct ChunksMutProducer<'data, T> {
    slice: &'data mut [T],
    chunk_size: usize,
}

impl<'data, T: Send> Producer for ChunksMutProducer<'data, T> {
    type Item = &'data mut [T];
    type IntoIter = std::slice::ChunksMut<'data, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.slice.chunks_mut(self.chunk_size)
    }

    fn split_at(self, index: usize) -> (Self, Self) {
        let at = (index * self.chunk_size).min(self.slice.len());
        let chunk_size = self.chunk_size;
        let (left, right) = self.slice.split_at_mut(at);
        (
            ChunksMutProducer {
                slice: left,
                chunk_size,
            },
            ChunksMutProducer {
                slice: right,
                chunk_size,
            },
        )
    }
}

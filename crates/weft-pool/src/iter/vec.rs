//! A `Vec` as a parallel iterator by value, and `&Vec` / `&mut Vec` as slices.
//!
//! `into_par_iter` on a `Vec` sets its length to 0 and lends its items to a
//! producer: each piece moves its items out as it goes, and drops whatever it
//! did not hand out (if a downstream `take` cut it off, or a panic unwound past it).
//! The buffer itself is freed by the `Vec` at the end, empty.
//!
//! ```
//! use weft_pool::prelude::*;
//!
//! let names = vec![String::from("a"), String::from("bc")];
//! let lengths: Vec<usize> = names.into_par_iter().map(|s| s.len()).collect();
//! assert_eq!(lengths, [1, 2]);
//! ```

use super::plumbing::{Producer, ProducerCallback, UnindexedConsumer, bridge};
use super::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};
use crate::slice::{Iter, IterMut};
use std::{mem, ptr, slice};

/// The parallel iterator that moves the items out of a `Vec`.
#[derive(Clone, Debug)]
pub struct IntoIter<T> {
    vec: Vec<T>,
}

impl<T: Send> IntoParallelIterator for Vec<T> {
    type Iter = IntoIter<T>;
    type Item = T;

    fn into_par_iter(self) -> IntoIter<T> {
        IntoIter { vec: self }
    }
}

impl<'data, T: Sync + 'data> IntoParallelIterator for &'data Vec<T> {
    type Iter = Iter<'data, T>;
    type Item = &'data T;

    fn into_par_iter(self) -> Iter<'data, T> {
        self.as_slice().into_par_iter()
    }
}

impl<'data, T: Send + 'data> IntoParallelIterator for &'data mut Vec<T> {
    type Iter = IterMut<'data, T>;
    type Item = &'data mut T;

    fn into_par_iter(self) -> IterMut<'data, T> {
        self.as_mut_slice().into_par_iter()
    }
}

impl<T: Send> ParallelIterator for IntoIter<T> {
    type Item = T;

    fn drive_unindexed<C>(self, consumer: C) -> C::Result
    where
        C: UnindexedConsumer<T>,
    {
        bridge(self, consumer)
    }

    fn opt_len(&self) -> Option<usize> {
        Some(self.vec.len())
    }
}

impl<T: Send> IndexedParallelIterator for IntoIter<T> {
    fn len(&self) -> usize {
        self.vec.len()
    }

    fn with_producer<CB>(mut self, callback: CB) -> CB::Output
    where
        CB: ProducerCallback<T>,
    {
        let len = self.vec.len();
        // SAFETY: from here on the items belong to the producer; with length 0 the
        // `Vec` only frees its buffer when dropped (even while unwinding), never the
        // items, so each is dropped exactly once, by whoever holds it.
        unsafe { self.vec.set_len(0) };
        // SAFETY: the first `len` slots are initialized, and the `Vec`, which is not
        // touched again until it is dropped, no longer claims them.
        let items = unsafe { slice::from_raw_parts_mut(self.vec.as_mut_ptr(), len) };
        callback.callback(DrainProducer { items })
    }
}

/// Owns the items of a slice it borrows the memory of: hands them out by value and
/// drops those it did not hand out.
#[derive(Debug)]
pub(crate) struct DrainProducer<'data, T: Send> {
    items: &'data mut [T],
}

impl<'data, T: Send> Producer for DrainProducer<'data, T> {
    type Item = T;
    type IntoIter = SliceDrain<'data, T>;

    fn into_iter(mut self) -> SliceDrain<'data, T> {
        let items = mem::take(&mut self.items);
        SliceDrain {
            iter: items.iter_mut(),
        }
    }

    fn split_at(mut self, index: usize) -> (Self, Self) {
        let items = mem::take(&mut self.items);
        let (left, right) = items.split_at_mut(index);
        (
            DrainProducer { items: left },
            DrainProducer { items: right },
        )
    }
}

impl<T: Send> Drop for DrainProducer<'_, T> {
    fn drop(&mut self) {
        let items = mem::take(&mut self.items);
        // SAFETY: the producer owns these items (`with_producer` gave it them) and none
        // was moved out.
        unsafe { ptr::drop_in_place(items) };
    }
}

/// The sequential iterator of a [`DrainProducer`]: moves items out one by one and
/// drops the rest when dropped.
#[derive(Debug)]
pub(crate) struct SliceDrain<'data, T> {
    iter: slice::IterMut<'data, T>,
}

impl<T> Iterator for SliceDrain<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let item: *const T = self.iter.next()?;
        // SAFETY: the item is owned by this iterator and, once the iterator has moved
        // past it, never read again, so it is moved out exactly once.
        Some(unsafe { ptr::read(item) })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }
}

impl<T> DoubleEndedIterator for SliceDrain<'_, T> {
    fn next_back(&mut self) -> Option<T> {
        let item: *const T = self.iter.next_back()?;
        // SAFETY: as in `next`.
        Some(unsafe { ptr::read(item) })
    }
}

impl<T> ExactSizeIterator for SliceDrain<'_, T> {}

impl<T> Drop for SliceDrain<'_, T> {
    fn drop(&mut self) {
        let rest = mem::take(&mut self.iter).into_slice();
        // SAFETY: the items the iterator has not reached are still owned by it.
        unsafe { ptr::drop_in_place(rest) };
    }
}

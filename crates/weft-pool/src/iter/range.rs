//! Parallel iterators over integer ranges, `a..b` and `a..=b`.
//!
//! ```
//! use weft_pool::prelude::*;
//!
//! assert_eq!((1..=100u64).into_par_iter().sum::<u64>(), 5050);
//! assert_eq!((-5..5).into_par_iter().count(), 10);
//! ```

use super::plumbing::{Producer, ProducerCallback, UnindexedConsumer, bridge};
use super::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};
use std::ops::{Range, RangeInclusive};

/// The integer types whose ranges are parallel iterators (sealed: `u8` to `u64`,
/// `usize`, `i8` to `i64`, `isize`). One generic impl over this trait, rather than one
/// per type, lets `(0..n).into_par_iter()` infer the integer type as `Iterator` does.
pub trait RangeInteger: Copy + Ord + Send + Sync + sealed::Sealed {}

mod sealed {
    use std::ops::Range;

    /// The arithmetic the range iterators need, per integer type.
    pub trait Sealed: Sized {
        /// The sequential iterator of a piece.
        type Seq: Iterator<Item = Self> + DoubleEndedIterator + ExactSizeIterator + Send;
        fn len(range: &Range<Self>) -> usize;
        fn split_at(range: Range<Self>, index: usize) -> (Range<Self>, Range<Self>);
        fn seq(range: Range<Self>) -> Self::Seq;
        /// `end + 1`, or `None` at the type's maximum.
        fn after(end: Self) -> Option<Self>;
    }
}

/// The parallel iterator over `a..b` (from `into_par_iter`).
#[must_use = "parallel iterators are lazy and do nothing unless consumed"]
#[derive(Clone, Debug)]
pub struct Iter<T> {
    range: Range<T>,
}

/// The parallel iterator over `a..=b` (from `into_par_iter`).
#[must_use = "parallel iterators are lazy and do nothing unless consumed"]
#[derive(Clone, Debug)]
pub struct InclusiveIter<T> {
    range: RangeInclusive<T>,
}

impl<T: RangeInteger> IntoParallelIterator for Range<T> {
    type Iter = Iter<T>;
    type Item = T;

    /// # Panics
    ///
    /// If the range is longer than `usize::MAX` (only possible for 64-bit integers on
    /// a 32-bit target).
    fn into_par_iter(self) -> Iter<T> {
        let _ = T::len(&self);
        Iter { range: self }
    }
}

impl<T: RangeInteger> IntoParallelIterator for RangeInclusive<T> {
    type Iter = InclusiveIter<T>;
    type Item = T;

    /// # Panics
    ///
    /// If the range is longer than `usize::MAX` (the full range of a 64-bit integer,
    /// or an over-long range on a 32-bit target).
    fn into_par_iter(self) -> InclusiveIter<T> {
        let range = InclusiveIter { range: self };
        let _ = range.len();
        range
    }
}

impl<T: RangeInteger> ParallelIterator for Iter<T> {
    type Item = T;

    fn drive_unindexed<C>(self, consumer: C) -> C::Result
    where
        C: UnindexedConsumer<T>,
    {
        bridge(self, consumer)
    }

    fn opt_len(&self) -> Option<usize> {
        Some(self.len())
    }
}

impl<T: RangeInteger> IndexedParallelIterator for Iter<T> {
    fn len(&self) -> usize {
        T::len(&self.range)
    }

    fn with_producer<CB>(self, callback: CB) -> CB::Output
    where
        CB: ProducerCallback<T>,
    {
        callback.callback(RangeProducer { range: self.range })
    }
}

impl<T: RangeInteger> ParallelIterator for InclusiveIter<T> {
    type Item = T;

    fn drive_unindexed<C>(self, consumer: C) -> C::Result
    where
        C: UnindexedConsumer<T>,
    {
        bridge(self, consumer)
    }

    fn opt_len(&self) -> Option<usize> {
        Some(self.len())
    }
}

impl<T: RangeInteger> IndexedParallelIterator for InclusiveIter<T> {
    fn len(&self) -> usize {
        let (start, end) = (*self.range.start(), *self.range.end());
        if self.range.is_empty() {
            return 0;
        }
        match T::after(end) {
            Some(after_end) => T::len(&(start..after_end)),
            None => T::len(&(start..end))
                .checked_add(1)
                .expect("the range is longer than usize::MAX"),
        }
    }

    fn with_producer<CB>(self, callback: CB) -> CB::Output
    where
        CB: ProducerCallback<T>,
    {
        let (start, end) = (*self.range.start(), *self.range.end());
        if self.range.is_empty() {
            return callback.callback(RangeProducer {
                range: start..start,
            });
        }
        match T::after(end) {
            Some(after_end) => callback.callback(RangeProducer {
                range: start..after_end,
            }),
            // `end` is the type's maximum: `start..end`, then `end` itself.
            None => Iter { range: start..end }
                .chain(Some(end))
                .with_producer(callback),
        }
    }
}

/// The producer of a range: cut at any index by integer arithmetic.
#[derive(Debug)]
struct RangeProducer<T> {
    range: Range<T>,
}

impl<T: RangeInteger> Producer for RangeProducer<T> {
    type Item = T;
    type IntoIter = T::Seq;

    fn into_iter(self) -> T::Seq {
        T::seq(self.range)
    }

    fn split_at(self, index: usize) -> (Self, Self) {
        let (left, right) = T::split_at(self.range, index);
        (
            RangeProducer { range: left },
            RangeProducer { range: right },
        )
    }
}

/// `Range<T>` with the exact size std cannot promise for 64-bit `T` on every target;
/// here the length was checked to fit in `usize` when the iterator was made.
#[derive(Debug)]
pub struct RangeSeq<T> {
    range: Range<T>,
}

macro_rules! range_integer {
    ($($t:ty => $unsigned:ty),* $(,)?) => {$(
        impl RangeInteger for $t {}

        impl sealed::Sealed for $t {
            type Seq = RangeSeq<$t>;

            fn len(range: &Range<$t>) -> usize {
                if range.start >= range.end {
                    return 0;
                }
                // The unsigned twin's wrapping difference is the exact length, also
                // across zero for signed types.
                let len = (range.end as $unsigned).wrapping_sub(range.start as $unsigned);
                usize::try_from(len).expect("the range is longer than usize::MAX")
            }

            fn split_at(range: Range<$t>, index: usize) -> (Range<$t>, Range<$t>) {
                // `index <= len`, so the midpoint is inside the range.
                let mid = (range.start as $unsigned).wrapping_add(index as $unsigned) as $t;
                (range.start..mid, mid..range.end)
            }

            fn seq(range: Range<$t>) -> RangeSeq<$t> {
                RangeSeq { range }
            }

            fn after(end: $t) -> Option<$t> {
                end.checked_add(1)
            }
        }

        impl Iterator for RangeSeq<$t> {
            type Item = $t;

            fn next(&mut self) -> Option<$t> {
                self.range.next()
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                let len = <$t as sealed::Sealed>::len(&self.range);
                (len, Some(len))
            }

            fn fold<Acc, F>(self, init: Acc, f: F) -> Acc
            where
                F: FnMut(Acc, $t) -> Acc,
            {
                self.range.fold(init, f)
            }
        }

        impl DoubleEndedIterator for RangeSeq<$t> {
            fn next_back(&mut self) -> Option<$t> {
                self.range.next_back()
            }
        }

        impl ExactSizeIterator for RangeSeq<$t> {}
    )*};
}

range_integer! {
    u8 => u8, u16 => u16, u32 => u32, u64 => u64, usize => usize,
    i8 => u8, i16 => u16, i32 => u32, i64 => u64, isize => usize,
}

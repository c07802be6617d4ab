//! Parallel iterators over integer ranges, `a..b` and `a..=b`.
//!
//! ```
//! use weft_pool::prelude::*;
//!
//! assert_eq!((1..=100u64).into_par_iter().sum::<u64>(), 5050);
//! assert_eq!((-5..5i32).into_par_iter().count(), 10);
//! ```

use super::plumbing::{Producer, ProducerCallback, UnindexedConsumer, bridge};
use super::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};
use std::ops::{Range, RangeInclusive};

/// The parallel iterator over `a..b` (from `into_par_iter`).
#[derive(Clone, Debug)]
pub struct Iter<T> {
    range: Range<T>,
}

/// The parallel iterator over `a..=b` (from `into_par_iter`).
#[derive(Clone, Debug)]
pub struct InclusiveIter<T> {
    range: RangeInclusive<T>,
}

/// The producer of a range: cut at any index by integer arithmetic.
#[derive(Debug)]
struct RangeProducer<T> {
    range: Range<T>,
}

/// `Range<T>` with the exact size std cannot promise for 64-bit `T` on every target;
/// here the length was checked to fit in `usize` when the iterator was made.
#[derive(Debug)]
struct RangeSeq<T> {
    range: Range<T>,
}

macro_rules! indexed_range {
    ($($t:ty => $unsigned:ty),* $(,)?) => {$(
        impl IntoParallelIterator for Range<$t> {
            type Iter = Iter<$t>;
            type Item = $t;

            /// # Panics
            ///
            /// If the range is longer than `usize::MAX` (only possible for 64-bit
            /// integers on a 32-bit target).
            fn into_par_iter(self) -> Iter<$t> {
                let range = Iter { range: self };
                let _ = range_len(&range.range);
                range
            }
        }

        impl IntoParallelIterator for RangeInclusive<$t> {
            type Iter = InclusiveIter<$t>;
            type Item = $t;

            /// # Panics
            ///
            /// If the range is longer than `usize::MAX` (the full range of a 64-bit
            /// integer, or any over-long range on a 32-bit target).
            fn into_par_iter(self) -> InclusiveIter<$t> {
                let range = InclusiveIter { range: self };
                let _ = range.len();
                range
            }
        }

        impl RangeLen for Range<$t> {
            fn range_len(&self) -> usize {
                if self.start >= self.end {
                    return 0;
                }
                let len = (self.end as $unsigned).wrapping_sub(self.start as $unsigned);
                usize::try_from(len).expect("the range is longer than usize::MAX")
            }
        }

        impl ParallelIterator for Iter<$t> {
            type Item = $t;

            fn drive_unindexed<C>(self, consumer: C) -> C::Result
            where
                C: UnindexedConsumer<$t>,
            {
                bridge(self, consumer)
            }

            fn opt_len(&self) -> Option<usize> {
                Some(self.len())
            }
        }

        impl IndexedParallelIterator for Iter<$t> {
            fn len(&self) -> usize {
                range_len(&self.range)
            }

            fn with_producer<CB>(self, callback: CB) -> CB::Output
            where
                CB: ProducerCallback<$t>,
            {
                callback.callback(RangeProducer { range: self.range })
            }
        }

        impl ParallelIterator for InclusiveIter<$t> {
            type Item = $t;

            fn drive_unindexed<C>(self, consumer: C) -> C::Result
            where
                C: UnindexedConsumer<$t>,
            {
                bridge(self, consumer)
            }

            fn opt_len(&self) -> Option<usize> {
                Some(self.len())
            }
        }

        impl IndexedParallelIterator for InclusiveIter<$t> {
            fn len(&self) -> usize {
                let (start, end) = (*self.range.start(), *self.range.end());
                if self.range.is_empty() {
                    return 0;
                }
                let len = (end as $unsigned).wrapping_sub(start as $unsigned);
                usize::try_from(len)
                    .ok()
                    .and_then(|len| len.checked_add(1))
                    .expect("the range is longer than usize::MAX")
            }

            fn with_producer<CB>(self, callback: CB) -> CB::Output
            where
                CB: ProducerCallback<$t>,
            {
                let (start, end) = (*self.range.start(), *self.range.end());
                if self.range.is_empty() {
                    callback.callback(RangeProducer { range: start..start })
                } else if let Some(after_end) = end.checked_add(1) {
                    callback.callback(RangeProducer { range: start..after_end })
                } else {
                    // `end` is the type's maximum: `start..end`, then `end` itself.
                    (start..end)
                        .into_par_iter()
                        .chain(Some(end))
                        .with_producer(callback)
                }
            }
        }

        impl Producer for RangeProducer<$t> {
            type Item = $t;
            type IntoIter = RangeSeq<$t>;

            fn into_iter(self) -> RangeSeq<$t> {
                RangeSeq { range: self.range }
            }

            fn split_at(self, index: usize) -> (Self, Self) {
                // `index <= len`, so the midpoint is inside the range; the arithmetic
                // is done in the unsigned twin to cross zero for signed types.
                let mid = (self.range.start as $unsigned).wrapping_add(index as $unsigned) as $t;
                (
                    RangeProducer { range: self.range.start..mid },
                    RangeProducer { range: mid..self.range.end },
                )
            }
        }

        impl Iterator for RangeSeq<$t> {
            type Item = $t;

            fn next(&mut self) -> Option<$t> {
                self.range.next()
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                let len = range_len(&self.range);
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

/// The length of a range in `usize` (private so the impls don't leak).
trait RangeLen {
    fn range_len(&self) -> usize;
}

fn range_len<R: RangeLen>(range: &R) -> usize {
    range.range_len()
}

indexed_range! {
    u8 => u8, u16 => u16, u32 => u32, u64 => u64, usize => usize,
    i8 => u8, i16 => u16, i32 => u32, i64 => u64, isize => usize,
}

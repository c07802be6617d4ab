//! `skip` and `take`: cut the producer once, before any splitting, and keep one side.

use super::plumbing::{Producer, ProducerCallback, UnindexedConsumer, bridge};
use super::{IndexedParallelIterator, ParallelIterator};

/// Hands on the part of a producer before (`keep_left`) or from index `n`.
struct CutCallback<CB> {
    callback: CB,
    n: usize,
    keep_left: bool,
}

impl<T, CB> ProducerCallback<T> for CutCallback<CB>
where
    CB: ProducerCallback<T>,
{
    type Output = CB::Output;
    fn callback<P>(self, base: P) -> CB::Output
    where
        P: Producer<Item = T>,
    {
        // The part not kept is dropped here, which drops any items it owns.
        let (left, right) = base.split_at(self.n);
        if self.keep_left {
            self.callback.callback(left)
        } else {
            self.callback.callback(right)
        }
    }
}

macro_rules! cut_adaptor {
    ($(#[$doc:meta])* $name:ident, $keep_left:expr, $len:expr) => {
        $(#[$doc])*
        #[must_use = "parallel iterators are lazy and do nothing unless consumed"]
        #[derive(Clone, Debug)]
        pub struct $name<I> {
            base: I,
            n: usize,
        }

        impl<I: IndexedParallelIterator> $name<I> {
            pub(super) fn new(base: I, n: usize) -> Self {
                let n = n.min(base.len());
                $name { base, n }
            }
        }

        impl<I: IndexedParallelIterator> ParallelIterator for $name<I> {
            type Item = I::Item;

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

        impl<I: IndexedParallelIterator> IndexedParallelIterator for $name<I> {
            fn len(&self) -> usize {
                let len: fn(usize, usize) -> usize = $len;
                len(self.base.len(), self.n)
            }

            fn with_producer<CB>(self, callback: CB) -> CB::Output
            where
                CB: ProducerCallback<Self::Item>,
            {
                self.base.with_producer(CutCallback {
                    callback,
                    n: self.n,
                    keep_left: $keep_left,
                })
            }
        }
    };
}

cut_adaptor!(
    /// The iterator of [`IndexedParallelIterator::skip`].
    Skip,
    false,
    |len, n| len - n
);

cut_adaptor!(
    /// The iterator of [`IndexedParallelIterator::take`].
    Take,
    true,
    |_, n| n
);

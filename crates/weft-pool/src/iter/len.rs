//! `with_min_len` and `with_max_len`: bounds on the size of the pieces.

use super::plumbing::{Producer, ProducerCallback, UnindexedConsumer, bridge};
use super::{IndexedParallelIterator, ParallelIterator};

/// A producer with its piece-size bounds tightened.
struct BoundedProducer<P> {
    base: P,
    min: usize,
    max: usize,
}

impl<P: Producer> Producer for BoundedProducer<P> {
    type Item = P::Item;
    type IntoIter = P::IntoIter;

    fn into_iter(self) -> P::IntoIter {
        self.base.into_iter()
    }

    fn min_len(&self) -> usize {
        self.base.min_len().max(self.min)
    }

    fn max_len(&self) -> usize {
        self.base.max_len().min(self.max)
    }

    fn split_at(self, index: usize) -> (Self, Self) {
        let (left, right) = self.base.split_at(index);
        (
            BoundedProducer {
                base: left,
                min: self.min,
                max: self.max,
            },
            BoundedProducer {
                base: right,
                min: self.min,
                max: self.max,
            },
        )
    }

    fn fold_with<F>(self, folder: F) -> F
    where
        F: super::plumbing::Folder<Self::Item>,
    {
        self.base.fold_with(folder)
    }
}

struct BoundCallback<CB> {
    callback: CB,
    min: usize,
    max: usize,
}

impl<T, CB: ProducerCallback<T>> ProducerCallback<T> for BoundCallback<CB> {
    type Output = CB::Output;
    fn callback<P>(self, base: P) -> CB::Output
    where
        P: Producer<Item = T>,
    {
        self.callback.callback(BoundedProducer {
            base,
            min: self.min,
            max: self.max,
        })
    }
}

macro_rules! bound_adaptor {
    ($(#[$doc:meta])* $name:ident, $field:ident, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[must_use = "parallel iterators are lazy and do nothing unless consumed"]
        #[derive(Clone, Debug)]
        pub struct $name<I> {
            base: I,
            $field: usize,
        }

        impl<I> $name<I> {
            pub(super) fn new(base: I, $field: usize) -> Self {
                $name { base, $field }
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
                Some(self.base.len())
            }
        }

        impl<I: IndexedParallelIterator> IndexedParallelIterator for $name<I> {
            fn len(&self) -> usize {
                self.base.len()
            }

            fn with_producer<CB>(self, callback: CB) -> CB::Output
            where
                CB: ProducerCallback<Self::Item>,
            {
                let bound: fn(usize) -> (usize, usize) = |$field| ($min, $max);
                let (min, max) = bound(self.$field);
                self.base.with_producer(BoundCallback { callback, min, max })
            }
        }
    };
}

bound_adaptor!(
    /// The iterator of [`IndexedParallelIterator::with_min_len`].
    MinLen,
    min,
    min,
    usize::MAX
);

bound_adaptor!(
    /// The iterator of [`IndexedParallelIterator::with_max_len`].
    MaxLen,
    max,
    1,
    max
);

//! `HashMap` and `HashSet` as parallel iterators, by reference and by value.
//!
//! Their internal layout is not open to splitting from outside `std`, so the entries
//! are first gathered into a `Vec` (one sequential pass, pointers only when borrowing),
//! which is then split like any other; in exchange the iterators are indexed.
//!
//! ```
//! use std::collections::HashMap;
//! use weft_pool::prelude::*;
//!
//! let map: HashMap<u32, u32> = (0..100).map(|k| (k, k * 2)).collect();
//! let total: u32 = map.par_iter().map(|(_, v)| v).sum();
//! assert_eq!(total, 9900);
//! let keys: Vec<u32> = map.into_par_iter().map(|(k, _)| k).collect();
//! assert_eq!(keys.len(), 100);
//! ```

use super::plumbing::{ProducerCallback, UnindexedConsumer};
use super::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};
use std::collections::{HashMap, HashSet};

/// Defines a parallel iterator that is a `vec::IntoIter` of gathered entries.
macro_rules! gathered {
    ($(#[$doc:meta])* $name:ident[$($generics:tt)*], $item:ty, [$($bounds:tt)*]) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<$($generics)*> where $($bounds)* {
            inner: crate::iter::vec::IntoIter<$item>,
        }

        impl<$($generics)*> ParallelIterator for $name<$($generics)*>
        where
            $($bounds)*
            $item: Send,
        {
            type Item = $item;

            fn drive_unindexed<C>(self, consumer: C) -> C::Result
            where
                C: UnindexedConsumer<$item>,
            {
                self.inner.drive_unindexed(consumer)
            }

            fn opt_len(&self) -> Option<usize> {
                self.inner.opt_len()
            }
        }

        impl<$($generics)*> IndexedParallelIterator for $name<$($generics)*>
        where
            $($bounds)*
            $item: Send,
        {
            fn len(&self) -> usize {
                self.inner.len()
            }

            fn with_producer<CB>(self, callback: CB) -> CB::Output
            where
                CB: ProducerCallback<$item>,
            {
                self.inner.with_producer(callback)
            }
        }
    };
}

/// Parallel iterators over a `HashMap`.
pub mod hash_map {
    use super::*;

    gathered!(
        /// The parallel iterator over `&HashMap<K, V>`: `(&K, &V)` pairs.
        Iter['a, K, V],
        (&'a K, &'a V),
        [K: 'a, V: 'a,]
    );
    gathered!(
        /// The parallel iterator over `&mut HashMap<K, V>`: `(&K, &mut V)` pairs.
        IterMut['a, K, V],
        (&'a K, &'a mut V),
        [K: 'a, V: 'a,]
    );
    gathered!(
        /// The parallel iterator over a `HashMap` by value: `(K, V)` pairs.
        IntoIter[K, V],
        (K, V),
        []
    );

    impl<'a, K: Sync, V: Sync, S> IntoParallelIterator for &'a HashMap<K, V, S> {
        type Iter = Iter<'a, K, V>;
        type Item = (&'a K, &'a V);

        fn into_par_iter(self) -> Self::Iter {
            Iter {
                inner: self.iter().collect::<Vec<_>>().into_par_iter(),
            }
        }
    }

    impl<'a, K: Sync, V: Send, S> IntoParallelIterator for &'a mut HashMap<K, V, S> {
        type Iter = IterMut<'a, K, V>;
        type Item = (&'a K, &'a mut V);

        fn into_par_iter(self) -> Self::Iter {
            IterMut {
                inner: self.iter_mut().collect::<Vec<_>>().into_par_iter(),
            }
        }
    }

    impl<K: Send, V: Send, S> IntoParallelIterator for HashMap<K, V, S> {
        type Iter = IntoIter<K, V>;
        type Item = (K, V);

        fn into_par_iter(self) -> Self::Iter {
            IntoIter {
                inner: self.into_iter().collect::<Vec<_>>().into_par_iter(),
            }
        }
    }
}

/// Parallel iterators over a `HashSet`.
pub mod hash_set {
    use super::*;

    gathered!(
        /// The parallel iterator over `&HashSet<T>`.
        Iter['a, T],
        &'a T,
        [T: 'a,]
    );
    gathered!(
        /// The parallel iterator over a `HashSet` by value.
        IntoIter[T],
        T,
        []
    );

    impl<'a, T: Sync, S> IntoParallelIterator for &'a HashSet<T, S> {
        type Iter = Iter<'a, T>;
        type Item = &'a T;

        fn into_par_iter(self) -> Self::Iter {
            Iter {
                inner: self.iter().collect::<Vec<_>>().into_par_iter(),
            }
        }
    }

    impl<T: Send, S> IntoParallelIterator for HashSet<T, S> {
        type Iter = IntoIter<T>;
        type Item = T;

        fn into_par_iter(self) -> Self::Iter {
            IntoIter {
                inner: self.into_iter().collect::<Vec<_>>().into_par_iter(),
            }
        }
    }
}

//! Parallel iterators: rayon's vocabulary (`par_iter`, `map`, `filter`, `sum`,
//! `collect`, ...) over weft's pool.
//!
//! # Examples
//!
//! ```
//! use weft_pool::prelude::*;
//!
//! let squares: Vec<u64> = (0..1000u64).into_par_iter().map(|x| x * x).collect();
//! assert_eq!(squares[999], 999 * 999);
//! let even: u64 = squares.par_iter().filter(|&&x| x % 2 == 0).sum();
//! assert_eq!(even, squares.iter().filter(|&&x| x % 2 == 0).sum());
//! ```
//!
//! # The split design
//!
//! The design is rayon's producer/consumer split (see its `plumbing` README), written
//! anew for weft:
//!
//! - A **producer** ([`plumbing::Producer`]) is a source of a known number of items
//!   that can be cut at any index (a slice, a range, a `Vec` being drained). Indexed
//!   adaptors (`map`, `enumerate`, `zip`, `rev`, `skip`, `take`, `chain` of indexed
//!   iterators) wrap producers, so an indexed pipeline stays one splittable producer.
//! - A **consumer** ([`plumbing::Consumer`]) is the parallel side of a fold: it splits
//!   at the same indices as the producer (so `collect` can hand each piece the exact
//!   part of the output buffer it writes), turns into a sequential
//!   [`plumbing::Folder`] at a leaf, and its [`plumbing::Reducer`] combines the results
//!   of neighbouring pieces, left before right, which is why order-sensitive results
//!   (`collect`, `find_first`, `min_by_key` ties) match the sequential ones.
//! - Iterators of unknown length (`filter`, `flat_map`, `par_chars`) are driven by
//!   [`ParallelIterator::drive_unindexed`] into an
//!   [`plumbing::UnindexedConsumer`], which can split "somewhere" instead of at an
//!   index; their adaptors wrap the consumer instead of the producer.
//!
//! ## Adaptive splitting
//!
//! [`plumbing::bridge_producer_consumer`] does not cut the input into a fixed number
//! of pieces. It starts with about one split per thread and halves that budget at each
//! level; but whenever a piece turns out to have been **stolen** by another worker
//! (`join_context` reports it as migrated), the budget is reset to one split per
//! thread, because a steal proves some thread ran out of work. So a balanced job
//! splits about `log2(threads)` times and pays almost nothing for splitting, and a
//! skewed one keeps splitting exactly where the idle threads are ("thief splitting").
//! `with_min_len` and `with_max_len` bound the piece sizes.
//!
//! ## Stopping early
//!
//! A leaf folds its piece in blocks of a few thousand items and, between blocks, asks
//! its folder whether it is [`full`](plumbing::Folder::full) and looks at a stop flag
//! shared by the whole computation. `find_any`, `any` and `all` make their folders
//! full, from a shared flag, as soon as any piece finds an answer, and check it on
//! every item; a panic in any piece raises the stop flag, so the other pieces stop
//! within a block, and the panic reaches the caller with its payload. Every producer
//! that owns items (a drained `Vec`) drops what it did not hand out, and `collect`'s
//! partial output drops what it wrote, so nothing leaks and nothing drops twice.

use std::cmp::Ordering;
use std::iter::{Product, Sum};

pub mod plumbing;

mod chain;
mod collect;
pub mod collections;
mod enumerate;
mod filter;
mod find;
mod flat_map;
mod fold;
mod for_each;
mod len;
mod map;
mod map_with;
pub mod option;
pub mod range;
mod reduce;
mod rev;
mod skip_take;
pub mod string;
mod sum;
mod unzip;
pub mod vec;
mod while_some;
mod zip;

pub use chain::Chain;
pub use enumerate::Enumerate;
pub use filter::{Filter, FilterMap};
pub use flat_map::{FlatMap, FlatMapIter};
pub use fold::{Fold, FoldWith};
pub use len::{MaxLen, MinLen};
pub use map::{Cloned, Copied, Inspect, Map};
pub use map_with::{MapInit, MapWith};
pub use rev::Rev;
pub use skip_take::{Skip, Take};
pub use string::{Chars, ParallelString};
pub use while_some::WhileSome;
pub use zip::Zip;

use plumbing::{Consumer, ProducerCallback, UnindexedConsumer};

/// Conversion into a parallel iterator: what `into_par_iter()` calls, and what every
/// method taking "something parallel" accepts.
///
/// # Examples
///
/// ```
/// use weft_pool::prelude::*;
///
/// let v = vec![1, 2, 3];
/// let doubled: Vec<i32> = v.into_par_iter().map(|x| x * 2).collect();
/// assert_eq!(doubled, [2, 4, 6]);
/// ```
pub trait IntoParallelIterator {
    /// The parallel iterator.
    type Iter: ParallelIterator<Item = Self::Item>;
    /// Its items.
    type Item: Send;

    /// Converts `self` into a parallel iterator.
    fn into_par_iter(self) -> Self::Iter;
}

impl<T: ParallelIterator> IntoParallelIterator for T {
    type Iter = T;
    type Item = T::Item;

    fn into_par_iter(self) -> T {
        self
    }
}

/// `par_iter()`: a parallel iterator over shared references, for every type whose
/// reference converts into one (`&[T]`, `&Vec<T>`, `&HashMap<K, V>`, ...).
///
/// # Examples
///
/// ```
/// use weft_pool::prelude::*;
///
/// let v = vec![1, 2, 3];
/// assert_eq!(v.par_iter().sum::<i32>(), 6);
/// assert_eq!(v.len(), 3); // still ours
/// ```
pub trait IntoParallelRefIterator<'data> {
    /// The parallel iterator.
    type Iter: ParallelIterator<Item = Self::Item>;
    /// Its items, usually `&'data T`.
    type Item: Send + 'data;

    /// A parallel iterator over references to `self`'s items.
    fn par_iter(&'data self) -> Self::Iter;
}

impl<'data, I: 'data + ?Sized> IntoParallelRefIterator<'data> for I
where
    &'data I: IntoParallelIterator,
{
    type Iter = <&'data I as IntoParallelIterator>::Iter;
    type Item = <&'data I as IntoParallelIterator>::Item;

    fn par_iter(&'data self) -> Self::Iter {
        self.into_par_iter()
    }
}

/// `par_iter_mut()`: a parallel iterator over mutable references.
///
/// # Examples
///
/// ```
/// use weft_pool::prelude::*;
///
/// let mut v = vec![1, 2, 3];
/// v.par_iter_mut().for_each(|x| *x *= 10);
/// assert_eq!(v, [10, 20, 30]);
/// ```
pub trait IntoParallelRefMutIterator<'data> {
    /// The parallel iterator.
    type Iter: ParallelIterator<Item = Self::Item>;
    /// Its items, usually `&'data mut T`.
    type Item: Send + 'data;

    /// A parallel iterator over mutable references to `self`'s items.
    fn par_iter_mut(&'data mut self) -> Self::Iter;
}

impl<'data, I: 'data + ?Sized> IntoParallelRefMutIterator<'data> for I
where
    &'data mut I: IntoParallelIterator,
{
    type Iter = <&'data mut I as IntoParallelIterator>::Iter;
    type Item = <&'data mut I as IntoParallelIterator>::Item;

    fn par_iter_mut(&'data mut self) -> Self::Iter {
        self.into_par_iter()
    }
}

/// Building a collection from a parallel iterator: what
/// [`collect`](ParallelIterator::collect) calls.
///
/// Implemented for `Vec<T>` (in order; an indexed iterator writes straight into the
/// final buffer), `VecDeque<T>`, `HashMap`, `HashSet`, `BTreeMap`, `BTreeSet`,
/// `String` (from `char`, `&str` and `String`), `()`, and `Result<C, E>` / `Option<C>`
/// of any of those (stopping early at the first `Err` / `None`).
///
/// # Examples
///
/// ```
/// use weft_pool::prelude::*;
///
/// let parsed: Result<Vec<u32>, _> = ["1", "2", "x"].par_iter().map(|s| s.parse::<u32>()).collect();
/// assert!(parsed.is_err());
/// ```
pub trait FromParallelIterator<T: Send> {
    /// Builds `Self` from the items of `par_iter`.
    fn from_par_iter<I>(par_iter: I) -> Self
    where
        I: IntoParallelIterator<Item = T>;
}

/// Extending a collection from a parallel iterator.
///
/// # Examples
///
/// ```
/// use weft_pool::prelude::*;
///
/// let mut v = vec![0];
/// v.par_extend(1..4);
/// assert_eq!(v, [0, 1, 2, 3]);
/// ```
pub trait ParallelExtend<T: Send> {
    /// Adds every item of `par_iter` to `self`.
    fn par_extend<I>(&mut self, par_iter: I)
    where
        I: IntoParallelIterator<Item = T>;
}

/// A parallel iterator: a computation over items that may run on many threads.
///
/// Adaptors (`map`, `filter`, ...) build a new iterator; consumers (`for_each`, `sum`,
/// `collect`, ...) run it on the pool and return when every piece is done. Closures
/// must be `Fn + Sync + Send` since several threads call them at once.
///
/// # Examples
///
/// ```
/// use weft_pool::prelude::*;
///
/// let words = ["apple", "bob", "kayak", "weft"];
/// let palindromes = words.par_iter().filter(|w| w.chars().rev().eq(w.chars())).count();
/// assert_eq!(palindromes, 2);
/// ```
pub trait ParallelIterator: Sized + Send {
    /// The items.
    type Item: Send;

    /// Runs the iterator into `consumer` (the plumbing's entry point).
    ///
    /// Contract: if [`opt_len`](ParallelIterator::opt_len) returns `Some`, this only
    /// ever splits `consumer` with `split_at`, never with `split_off_left`.
    fn drive_unindexed<C>(self, consumer: C) -> C::Result
    where
        C: UnindexedConsumer<Self::Item>;

    /// The exact number of items, if this iterator is indexed.
    fn opt_len(&self) -> Option<usize> {
        None
    }

    /// Calls `op` on every item.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use weft_pool::prelude::*;
    ///
    /// let total = AtomicU64::new(0);
    /// (1..=100u64).into_par_iter().for_each(|x| {
    ///     total.fetch_add(x, Ordering::Relaxed);
    /// });
    /// assert_eq!(total.into_inner(), 5050);
    /// ```
    fn for_each<F>(self, op: F)
    where
        F: Fn(Self::Item) + Sync + Send,
    {
        for_each::for_each(self, &op)
    }

    /// Applies `map_op` to every item.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let v: Vec<String> = (0..3).into_par_iter().map(|i| i.to_string()).collect();
    /// assert_eq!(v, ["0", "1", "2"]);
    /// ```
    fn map<F, R>(self, map_op: F) -> Map<Self, F>
    where
        F: Fn(Self::Item) -> R + Sync + Send,
        R: Send,
    {
        Map::new(self, map_op)
    }

    /// Like [`map`](ParallelIterator::map), with `&mut` access to a per-piece clone
    /// of `init` (a scratch buffer, a sender, ...). Which items share a clone is not
    /// specified.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let v: Vec<String> = (0..3)
    ///     .into_par_iter()
    ///     .map_with(String::from("#"), |prefix, i| format!("{prefix}{i}"))
    ///     .collect();
    /// assert_eq!(v, ["#0", "#1", "#2"]);
    /// ```
    fn map_with<F, T, R>(self, init: T, map_op: F) -> MapWith<Self, T, F>
    where
        F: Fn(&mut T, Self::Item) -> R + Sync + Send,
        T: Send + Clone,
        R: Send,
    {
        MapWith::new(self, init, map_op)
    }

    /// Like [`map`](ParallelIterator::map), with `&mut` access to a value `init()`
    /// makes per piece of work (for state that cannot or should not be cloned).
    /// Which items share a value is not specified; `init` runs about once per few
    /// thousand items at most (once per piece, and once per block of a long piece).
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let lengths: Vec<usize> = ["a", "bb", "ccc"]
    ///     .par_iter()
    ///     .map_init(String::new, |buffer, s| {
    ///         buffer.clear();
    ///         buffer.push_str(s);
    ///         buffer.len()
    ///     })
    ///     .collect();
    /// assert_eq!(lengths, [1, 2, 3]);
    /// ```
    fn map_init<F, INIT, T, R>(self, init: INIT, map_op: F) -> MapInit<Self, INIT, F>
    where
        F: Fn(&mut T, Self::Item) -> R + Sync + Send,
        INIT: Fn() -> T + Sync + Send,
        R: Send,
    {
        MapInit::new(self, init, map_op)
    }

    /// Calls `inspect_op` on a reference to every item, and passes the item on.
    fn inspect<F>(self, inspect_op: F) -> Inspect<Self, F>
    where
        F: Fn(&Self::Item) + Sync + Send,
    {
        Inspect::new(self, inspect_op)
    }

    /// Clones every referenced item.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let v = vec![String::from("a"), String::from("b")];
    /// let w: Vec<String> = v.par_iter().cloned().collect();
    /// assert_eq!(v, w);
    /// ```
    fn cloned<'a, T>(self) -> Cloned<Self>
    where
        T: 'a + Clone + Send + Sync,
        Self: ParallelIterator<Item = &'a T>,
    {
        Cloned::new(self)
    }

    /// Copies every referenced item.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let v = [1, 2, 3];
    /// let w: Vec<i32> = v.par_iter().copied().collect();
    /// assert_eq!(w, v);
    /// ```
    fn copied<'a, T>(self) -> Copied<Self>
    where
        T: 'a + Copy + Send + Sync,
        Self: ParallelIterator<Item = &'a T>,
    {
        Copied::new(self)
    }

    /// Keeps the items for which `filter_op` is true.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let odd: Vec<u32> = (0..10u32).into_par_iter().filter(|x| x % 2 == 1).collect();
    /// assert_eq!(odd, [1, 3, 5, 7, 9]);
    /// ```
    fn filter<P>(self, filter_op: P) -> Filter<Self, P>
    where
        P: Fn(&Self::Item) -> bool + Sync + Send,
    {
        Filter::new(self, filter_op)
    }

    /// Maps every item to an `Option` and keeps the `Some` values.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let n: Vec<u8> = ["1", "x", "3"].par_iter().filter_map(|s| s.parse().ok()).collect();
    /// assert_eq!(n, [1, 3]);
    /// ```
    fn filter_map<P, R>(self, filter_op: P) -> FilterMap<Self, P>
    where
        P: Fn(Self::Item) -> Option<R> + Sync + Send,
        R: Send,
    {
        FilterMap::new(self, filter_op)
    }

    /// Maps every item to a parallel iterator and flattens them; the inner iterators
    /// are themselves split over the pool.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let v: Vec<u32> = (1..4u32).into_par_iter().flat_map(|n| 0..n).collect();
    /// assert_eq!(v, [0, 0, 1, 0, 1, 2]);
    /// ```
    fn flat_map<F, PI>(self, map_op: F) -> FlatMap<Self, F>
    where
        F: Fn(Self::Item) -> PI + Sync + Send,
        PI: IntoParallelIterator,
    {
        FlatMap::new(self, map_op)
    }

    /// Maps every item to a sequential iterator and flattens them (cheaper than
    /// [`flat_map`](ParallelIterator::flat_map) when the inner iterators are short).
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let v: Vec<u32> = (1..4u32).into_par_iter().flat_map_iter(|n| 0..n).collect();
    /// assert_eq!(v, [0, 0, 1, 0, 1, 2]);
    /// ```
    fn flat_map_iter<F, SI>(self, map_op: F) -> FlatMapIter<Self, F>
    where
        F: Fn(Self::Item) -> SI + Sync + Send,
        SI: IntoIterator,
        SI::Item: Send,
    {
        FlatMapIter::new(self, map_op)
    }

    /// Folds each piece of the work into one accumulator, starting from `identity()`;
    /// the result is a parallel iterator over the accumulators (one per piece, in
    /// order), usually followed by `reduce` or `sum`.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let lengths: usize = ["ab", "cde", ""]
    ///     .par_iter()
    ///     .fold(|| 0, |acc, s| acc + s.len())
    ///     .sum();
    /// assert_eq!(lengths, 5);
    /// ```
    fn fold<T, ID, F>(self, identity: ID, fold_op: F) -> Fold<Self, ID, F>
    where
        F: Fn(T, Self::Item) -> T + Sync + Send,
        ID: Fn() -> T + Sync + Send,
        T: Send,
    {
        Fold::new(self, identity, fold_op)
    }

    /// Like [`fold`](ParallelIterator::fold), starting each piece from a clone of
    /// `init`.
    fn fold_with<F, T>(self, init: T, fold_op: F) -> FoldWith<Self, T, F>
    where
        F: Fn(T, Self::Item) -> T + Sync + Send,
        T: Send + Clone,
    {
        FoldWith::new(self, init, fold_op)
    }

    /// Combines all items with `op`, which must be associative, starting every piece
    /// from `identity()` (so `identity()` must be neutral for `op`).
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let longest = ["a", "abc", "ab"]
    ///     .par_iter()
    ///     .map(|s| s.len())
    ///     .reduce(|| 0, usize::max);
    /// assert_eq!(longest, 3);
    /// ```
    fn reduce<OP, ID>(self, identity: ID, op: OP) -> Self::Item
    where
        OP: Fn(Self::Item, Self::Item) -> Self::Item + Sync + Send,
        ID: Fn() -> Self::Item + Sync + Send,
    {
        reduce::reduce(self, &identity, &op)
    }

    /// Combines all items with the associative `op`; `None` if there are none.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// assert_eq!((1..5).into_par_iter().reduce_with(|a, b| a * b), Some(24));
    /// assert_eq!((0..0).into_par_iter().reduce_with(|a, b| a * b), None);
    /// ```
    fn reduce_with<OP>(self, op: OP) -> Option<Self::Item>
    where
        OP: Fn(Self::Item, Self::Item) -> Self::Item + Sync + Send,
    {
        reduce::reduce_with(self, &op)
    }

    /// The sum of all items.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let v: Vec<u64> = (1..=1000).collect();
    /// assert_eq!(v.par_iter().map(|x| x * 2).sum::<u64>(), 1_001_000);
    /// ```
    fn sum<S>(self) -> S
    where
        S: Send + Sum<Self::Item> + Sum<S>,
    {
        sum::sum(self)
    }

    /// The product of all items.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// assert_eq!((1..=5u32).into_par_iter().product::<u32>(), 120);
    /// ```
    fn product<P>(self) -> P
    where
        P: Send + Product<Self::Item> + Product<P>,
    {
        sum::product(self)
    }

    /// The smallest item (the first of equal ones, like `Iterator::min`).
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// assert_eq!([3, 1, 2].par_iter().min(), Some(&1));
    /// ```
    fn min(self) -> Option<Self::Item>
    where
        Self::Item: Ord,
    {
        self.reduce_with(std::cmp::min)
    }

    /// The smallest item by `f` (the first of equal ones).
    fn min_by<F>(self, f: F) -> Option<Self::Item>
    where
        F: Fn(&Self::Item, &Self::Item) -> Ordering + Sync + Send,
    {
        self.reduce_with(move |a, b| match f(&a, &b) {
            Ordering::Greater => b,
            _ => a,
        })
    }

    /// The item with the smallest key (the first of equal ones).
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let shortest = ["abc", "x", "yz", "q"].par_iter().min_by_key(|s| s.len());
    /// assert_eq!(shortest, Some(&"x"));
    /// ```
    fn min_by_key<K, F>(self, f: F) -> Option<Self::Item>
    where
        K: Ord + Send,
        F: Fn(&Self::Item) -> K + Sync + Send,
    {
        self.map(move |x| (f(&x), x))
            .min_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, x)| x)
    }

    /// The largest item (the last of equal ones, like `Iterator::max`).
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// assert_eq!([3, 1, 2].par_iter().max(), Some(&3));
    /// ```
    fn max(self) -> Option<Self::Item>
    where
        Self::Item: Ord,
    {
        self.reduce_with(std::cmp::max)
    }

    /// The largest item by `f` (the last of equal ones).
    fn max_by<F>(self, f: F) -> Option<Self::Item>
    where
        F: Fn(&Self::Item, &Self::Item) -> Ordering + Sync + Send,
    {
        self.reduce_with(move |a, b| match f(&a, &b) {
            Ordering::Greater => a,
            _ => b,
        })
    }

    /// The item with the largest key (the last of equal ones).
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let longest = ["abc", "x", "yzw"].par_iter().max_by_key(|s| s.len());
    /// assert_eq!(longest, Some(&"yzw"));
    /// ```
    fn max_by_key<K, F>(self, f: F) -> Option<Self::Item>
    where
        K: Ord + Send,
        F: Fn(&Self::Item) -> K + Sync + Send,
    {
        self.map(move |x| (f(&x), x))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, x)| x)
    }

    /// The number of items.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// assert_eq!((0..100).into_par_iter().filter(|x| x % 3 == 0).count(), 34);
    /// ```
    fn count(self) -> usize {
        self.map(|_| 1usize).sum()
    }

    /// Some item for which `predicate` is true, not necessarily the first; the other
    /// pieces stop as soon as one is found.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let found = (0..1_000_000u32).into_par_iter().find_any(|&x| x % 1000 == 999);
    /// assert_eq!(found.map(|x| x % 1000), Some(999));
    /// ```
    fn find_any<P>(self, predicate: P) -> Option<Self::Item>
    where
        P: Fn(&Self::Item) -> bool + Sync + Send,
    {
        find::find_any(self, &predicate)
    }

    /// The first item (in iteration order) for which `predicate` is true; pieces to
    /// the right of a found item stop early.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// assert_eq!((0..1000).into_par_iter().find_first(|&x| x > 10 && x % 7 == 0), Some(14));
    /// ```
    fn find_first<P>(self, predicate: P) -> Option<Self::Item>
    where
        P: Fn(&Self::Item) -> bool + Sync + Send,
    {
        find::find_first(self, &predicate)
    }

    /// The last item (in iteration order) for which `predicate` is true.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// assert_eq!((0..1000).into_par_iter().find_last(|&x| x % 7 == 0), Some(994));
    /// ```
    fn find_last<P>(self, predicate: P) -> Option<Self::Item>
    where
        P: Fn(&Self::Item) -> bool + Sync + Send,
    {
        find::find_last(self, &predicate)
    }

    /// True if `predicate` holds for some item; stops everyone at the first hit.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// assert!((0..100).into_par_iter().any(|x| x == 42));
    /// ```
    fn any<P>(self, predicate: P) -> bool
    where
        P: Fn(Self::Item) -> bool + Sync + Send,
    {
        self.map(predicate).find_any(|&hit| hit).is_some()
    }

    /// True if `predicate` holds for every item; stops everyone at the first miss.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// assert!((0..100).into_par_iter().all(|x| x < 100));
    /// ```
    fn all<P>(self, predicate: P) -> bool
    where
        P: Fn(Self::Item) -> bool + Sync + Send,
    {
        self.map(predicate).find_any(|&hit| !hit).is_none()
    }

    /// Passes items on while they are `Some`, and stops (all pieces, promptly) at the
    /// first `None` any piece sees. Which items before that `None` are passed on is
    /// not specified when several threads run.
    fn while_some<T>(self) -> WhileSome<Self>
    where
        Self: ParallelIterator<Item = Option<T>>,
        T: Send,
    {
        WhileSome::new(self)
    }

    /// The items of `self`, then those of `chain`.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let v: Vec<i32> = (0..2).into_par_iter().chain(vec![7, 8]).collect();
    /// assert_eq!(v, [0, 1, 7, 8]);
    /// ```
    fn chain<C>(self, chain: C) -> Chain<Self, C::Iter>
    where
        C: IntoParallelIterator<Item = Self::Item>,
    {
        Chain::new(self, chain.into_par_iter())
    }

    /// Collects the items into a collection (see [`FromParallelIterator`]). For an
    /// indexed iterator the order is kept, and a `Vec` is written in place.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use weft_pool::prelude::*;
    ///
    /// let squares: HashMap<u32, u32> = (0..5u32).into_par_iter().map(|x| (x, x * x)).collect();
    /// assert_eq!(squares[&4], 16);
    /// ```
    fn collect<C>(self) -> C
    where
        C: FromParallelIterator<Self::Item>,
    {
        C::from_par_iter(self)
    }

    /// Splits pairs into two collections, keeping order.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let (a, b): (Vec<u32>, Vec<char>) = [(1, 'a'), (2, 'b')].par_iter().copied().unzip();
    /// assert_eq!((a, b), (vec![1, 2], vec!['a', 'b']));
    /// ```
    fn unzip<A, B, FromA, FromB>(self) -> (FromA, FromB)
    where
        Self: ParallelIterator<Item = (A, B)>,
        FromA: Default + Send + ParallelExtend<A>,
        FromB: Default + Send + ParallelExtend<B>,
        A: Send,
        B: Send,
    {
        unzip::unzip(self)
    }

    /// Splits the items into those for which `predicate` holds and the others,
    /// keeping order.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let (even, odd): (Vec<u32>, Vec<u32>) = (0..6u32).into_par_iter().partition(|x| x % 2 == 0);
    /// assert_eq!((even, odd), (vec![0, 2, 4], vec![1, 3, 5]));
    /// ```
    fn partition<A, B, P>(self, predicate: P) -> (A, B)
    where
        A: Default + Send + ParallelExtend<Self::Item>,
        B: Default + Send + ParallelExtend<Self::Item>,
        P: Fn(&Self::Item) -> bool + Sync + Send,
    {
        unzip::partition(self, &predicate)
    }
}

/// A parallel iterator that knows its exact length and can be split at any index:
/// ranges, slices, `Vec`s, and `map`/`enumerate`/`zip`/... of those.
///
/// # Examples
///
/// ```
/// use weft_pool::prelude::*;
///
/// let v = [10, 20, 30];
/// let pairs: Vec<(usize, &i32)> = v.par_iter().enumerate().rev().collect();
/// assert_eq!(pairs, [(2, &30), (1, &20), (0, &10)]);
/// ```
pub trait IndexedParallelIterator: ParallelIterator {
    /// The exact number of items.
    fn len(&self) -> usize;

    /// True if there are no items.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands this iterator's [`plumbing::Producer`] to `callback` (the plumbing's
    /// indexed entry point).
    fn with_producer<CB>(self, callback: CB) -> CB::Output
    where
        CB: ProducerCallback<Self::Item>;

    /// Runs the iterator into an indexed consumer.
    fn drive<C>(self, consumer: C) -> C::Result
    where
        C: Consumer<Self::Item>,
    {
        plumbing::bridge(self, consumer)
    }

    /// Pairs every item with its index.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let v: Vec<(usize, char)> = ['a', 'b'].par_iter().copied().enumerate().collect();
    /// assert_eq!(v, [(0, 'a'), (1, 'b')]);
    /// ```
    fn enumerate(self) -> Enumerate<Self> {
        Enumerate::new(self)
    }

    /// Pairs the items of `self` and `zip_op`, up to the shorter length.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let dot: i32 = [1, 2, 3].par_iter().zip(&[4, 5, 6]).map(|(a, b)| a * b).sum();
    /// assert_eq!(dot, 32);
    /// ```
    fn zip<Z>(self, zip_op: Z) -> Zip<Self, Z::Iter>
    where
        Z: IntoParallelIterator,
        Z::Iter: IndexedParallelIterator,
    {
        Zip::new(self, zip_op.into_par_iter())
    }

    /// The items in reverse order.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let v: Vec<i32> = (0..4).into_par_iter().rev().collect();
    /// assert_eq!(v, [3, 2, 1, 0]);
    /// ```
    fn rev(self) -> Rev<Self> {
        Rev::new(self)
    }

    /// All but the first `n` items.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let v: Vec<i32> = (0..5).into_par_iter().skip(3).collect();
    /// assert_eq!(v, [3, 4]);
    /// ```
    fn skip(self, n: usize) -> Skip<Self> {
        Skip::new(self, n)
    }

    /// The first `n` items.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let v: Vec<i32> = (0..5).into_par_iter().take(2).collect();
    /// assert_eq!(v, [0, 1]);
    /// ```
    fn take(self, n: usize) -> Take<Self> {
        Take::new(self, n)
    }

    /// Never splits into pieces of fewer than `min` items (for cheap items whose
    /// splitting would cost more than it gains).
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// assert_eq!((0..10_000).into_par_iter().with_min_len(1000).count(), 10_000);
    /// ```
    fn with_min_len(self, min: usize) -> MinLen<Self> {
        MinLen::new(self, min)
    }

    /// Always splits into pieces of at most `max` items (for expensive items, so that
    /// there are pieces to steal).
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// assert_eq!((0..100).into_par_iter().with_max_len(1).sum::<i32>(), 4950);
    /// ```
    fn with_max_len(self, max: usize) -> MaxLen<Self> {
        MaxLen::new(self, max)
    }

    /// The index of some item for which `predicate` holds.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// assert_eq!([1, 2, 3].par_iter().position_any(|&x| x == 2), Some(1));
    /// ```
    fn position_any<P>(self, predicate: P) -> Option<usize>
    where
        P: Fn(Self::Item) -> bool + Sync + Send,
    {
        self.map(predicate)
            .enumerate()
            .find_any(|&(_, hit)| hit)
            .map(|(index, _)| index)
    }

    /// The index of the first item for which `predicate` holds.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// assert_eq!([1, 2, 2].par_iter().position_first(|&x| x == 2), Some(1));
    /// ```
    fn position_first<P>(self, predicate: P) -> Option<usize>
    where
        P: Fn(Self::Item) -> bool + Sync + Send,
    {
        self.map(predicate)
            .enumerate()
            .find_first(|&(_, hit)| hit)
            .map(|(index, _)| index)
    }

    /// The index of the last item for which `predicate` holds.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// assert_eq!([1, 2, 2].par_iter().position_last(|&x| x == 2), Some(2));
    /// ```
    fn position_last<P>(self, predicate: P) -> Option<usize>
    where
        P: Fn(Self::Item) -> bool + Sync + Send,
    {
        self.map(predicate)
            .enumerate()
            .find_last(|&(_, hit)| hit)
            .map(|(index, _)| index)
    }

    /// Collects into `target`, replacing its contents, reusing its allocation.
    ///
    /// ```
    /// use weft_pool::prelude::*;
    ///
    /// let mut v = vec![9; 10];
    /// (0..3).into_par_iter().collect_into_vec(&mut v);
    /// assert_eq!(v, [0, 1, 2]);
    /// ```
    fn collect_into_vec(self, target: &mut Vec<Self::Item>) {
        target.clear();
        collect::collect_indexed_append(self, target);
    }
}

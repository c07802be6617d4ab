//! `collect` and `par_extend`: `FromParallelIterator` and `ParallelExtend` for the
//! standard collections.
//!
//! An iterator of known length is collected into a `Vec` in place: the consumer is
//! split at the producer's indices, so every piece owns exactly the slot range of the
//! final buffer its items go to, and writes them there directly. A piece's result is
//! the run of slots it initialized; neighbouring runs merge in the reducer, and a run
//! that is dropped (because a panic unwinds past it) drops the items it wrote. Only
//! when one run covers the whole range does the `Vec` take ownership, by `set_len`.
//!
//! Iterators of unknown length are folded into one `Vec` per piece, linked in order,
//! and appended.

use super::plumbing::{Consumer, Folder, Reducer, UnindexedConsumer};
use super::{
    FromParallelIterator, IndexedParallelIterator, IntoParallelIterator, ParallelExtend,
    ParallelIterator,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, LinkedList, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr;

/// Appends the items of an indexed iterator to `vec`, in place and in order.
pub(super) fn collect_indexed_append<I>(par_iter: I, vec: &mut Vec<I::Item>)
where
    I: IndexedParallelIterator,
{
    let len = par_iter.len();
    collect_with_len(len, vec, |consumer| par_iter.drive(consumer));
}

/// Reserves `len` slots after `vec`'s items, lets `drive` fill them through a
/// [`CollectConsumer`], and takes ownership once all `len` are initialized.
fn collect_with_len<T, D>(len: usize, vec: &mut Vec<T>, drive: D)
where
    T: Send,
    D: FnOnce(CollectConsumer<'_, T>) -> CollectResult<'_, T>,
{
    vec.reserve(len);
    let start = vec.len();
    // SAFETY: `reserve` made room for `len` more items after `start`; the slots are
    // uninitialized, which `MaybeUninit` allows, and nothing else touches them until
    // `set_len` below.
    let target = unsafe {
        std::slice::from_raw_parts_mut(vec.as_mut_ptr().add(start).cast::<MaybeUninit<T>>(), len)
    };
    let result = drive(CollectConsumer::new(target));
    let written = result.initialized_len;
    // A short write means the iterator broke its length promise; `result` drops the
    // items it holds while this unwinds, and the `Vec` never sees them.
    assert_eq!(
        written, len,
        "an indexed parallel iterator produced {written} items instead of its length {len}"
    );
    result.release_ownership();
    // SAFETY: all `len` slots after `start` are initialized (checked above) and
    // their ownership was released to the `Vec`.
    unsafe { vec.set_len(start + len) };
}

/// Writes items into a borrowed range of uninitialized slots.
pub(super) struct CollectConsumer<'c, T> {
    target: &'c mut [MaybeUninit<T>],
}

impl<'c, T> CollectConsumer<'c, T> {
    fn new(target: &'c mut [MaybeUninit<T>]) -> Self {
        CollectConsumer { target }
    }
}

impl<'c, T: Send> Consumer<T> for CollectConsumer<'c, T> {
    type Folder = CollectResult<'c, T>;
    type Reducer = CollectReducer;
    type Result = CollectResult<'c, T>;

    fn split_at(self, index: usize) -> (Self, Self, CollectReducer) {
        let (left, right) = self.target.split_at_mut(index);
        (
            CollectConsumer::new(left),
            CollectConsumer::new(right),
            CollectReducer,
        )
    }

    fn into_folder(self) -> Self::Folder {
        CollectResult {
            start: self.target.as_mut_ptr().cast::<T>(),
            total_len: self.target.len(),
            initialized_len: 0,
            marker: PhantomData,
        }
    }

    fn full(&self) -> bool {
        false
    }
}

impl<T: Send> UnindexedConsumer<T> for CollectConsumer<'_, T> {
    fn split_off_left(&self) -> Self {
        unreachable!("collect's consumer is only used for iterators of known length")
    }

    fn to_reducer(&self) -> CollectReducer {
        CollectReducer
    }
}

/// A run of initialized slots `start[..initialized_len]` inside the slot range
/// `start[..total_len]` a piece owns; drops its items unless ownership was released.
pub(super) struct CollectResult<'c, T> {
    start: *mut T,
    total_len: usize,
    initialized_len: usize,
    /// Borrows the slots mutably and owns the items written to them.
    marker: PhantomData<&'c mut T>,
}

// SAFETY: a `CollectResult` is the unique owner of the items in its run and the unique
// user of its slots (its range was split off a `&mut` slice), like a `&mut [T]` that
// owns its items: sending it sends `T`s.
unsafe impl<T: Send> Send for CollectResult<'_, T> {}

impl<T> CollectResult<'_, T> {
    fn release_ownership(self) {
        std::mem::forget(self);
    }
}

impl<T> Drop for CollectResult<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the first `initialized_len` slots hold items this run owns, written
        // by `consume` and never handed out.
        unsafe {
            ptr::drop_in_place(ptr::slice_from_raw_parts_mut(
                self.start,
                self.initialized_len,
            ));
        }
    }
}

impl<T> Folder<T> for CollectResult<'_, T> {
    type Result = Self;

    fn consume(mut self, item: T) -> Self {
        assert!(
            self.initialized_len < self.total_len,
            "an indexed parallel iterator produced more items than its length"
        );
        // SAFETY: the slot is within this piece's range (checked above) and not yet
        // initialized (slots fill in order).
        unsafe { self.start.add(self.initialized_len).write(item) };
        self.initialized_len += 1;
        self
    }

    fn complete(self) -> Self {
        self
    }

    fn full(&self) -> bool {
        false
    }
}

/// Merges two runs when the right one starts where the left one ends.
#[derive(Debug, Clone, Copy)]
pub(super) struct CollectReducer;

impl<'c, T> Reducer<CollectResult<'c, T>> for CollectReducer {
    fn reduce(
        self,
        mut left: CollectResult<'c, T>,
        right: CollectResult<'c, T>,
    ) -> CollectResult<'c, T> {
        // SAFETY: `left`'s slot range is in bounds of the buffer, so one past its last
        // initialized slot is too (at most its end).
        let left_end = unsafe { left.start.add(left.initialized_len) };
        if left_end == right.start {
            left.total_len += right.total_len;
            left.initialized_len += right.initialized_len;
            right.release_ownership();
        }
        // Otherwise `left` stopped short (a stop flag), so the gap makes the total
        // fall short and `collect_with_len` panics; `right` drops its own items.
        left
    }
}

/// Folds the items into one `Vec` per piece, linked in order.
fn collect_list<I>(par_iter: I) -> LinkedList<Vec<I::Item>>
where
    I: ParallelIterator,
{
    par_iter
        .fold(Vec::new, |mut vec, item| {
            vec.push(item);
            vec
        })
        .map(|vec| {
            let mut list = LinkedList::new();
            list.push_back(vec);
            list
        })
        .reduce(LinkedList::new, |mut left, mut right| {
            left.append(&mut right);
            left
        })
}

/// Appends every item to `vec`, in order: in place if the length is known.
fn extend_vec<I>(vec: &mut Vec<I::Item>, par_iter: I)
where
    I: ParallelIterator,
{
    match par_iter.opt_len() {
        // `opt_len` promises the iterator then only splits `CollectConsumer` at
        // indices (see `ParallelIterator::drive_unindexed`).
        Some(len) => collect_with_len(len, vec, |consumer| par_iter.drive_unindexed(consumer)),
        None => {
            let list = collect_list(par_iter);
            vec.reserve(list.iter().map(Vec::len).sum());
            for mut piece in list {
                vec.append(&mut piece);
            }
        }
    }
}

impl<T: Send> FromParallelIterator<T> for Vec<T> {
    fn from_par_iter<I>(par_iter: I) -> Self
    where
        I: IntoParallelIterator<Item = T>,
    {
        let mut vec = Vec::new();
        extend_vec(&mut vec, par_iter.into_par_iter());
        vec
    }
}

impl<T: Send> ParallelExtend<T> for Vec<T> {
    fn par_extend<I>(&mut self, par_iter: I)
    where
        I: IntoParallelIterator<Item = T>,
    {
        extend_vec(self, par_iter.into_par_iter());
    }
}

impl<T: Send> FromParallelIterator<T> for VecDeque<T> {
    fn from_par_iter<I>(par_iter: I) -> Self
    where
        I: IntoParallelIterator<Item = T>,
    {
        Vec::from_par_iter(par_iter).into()
    }
}

impl<T: Send> ParallelExtend<T> for VecDeque<T> {
    fn par_extend<I>(&mut self, par_iter: I)
    where
        I: IntoParallelIterator<Item = T>,
    {
        self.extend(Vec::from_par_iter(par_iter));
    }
}

/// Collections that are built by extending them with each piece's items in turn.
macro_rules! extend_by_pieces {
    ($(impl<$($param:ident),*> for $collection:ty, $item:ty, where { $($bound:tt)* })*) => {$(
        impl<$($param),*> ParallelExtend<$item> for $collection
        where
            $($bound)*
        {
            fn par_extend<I>(&mut self, par_iter: I)
            where
                I: IntoParallelIterator<Item = $item>,
            {
                for piece in collect_list(par_iter.into_par_iter()) {
                    self.extend(piece);
                }
            }
        }

        impl<$($param),*> FromParallelIterator<$item> for $collection
        where
            $collection: Default,
            $($bound)*
        {
            fn from_par_iter<I>(par_iter: I) -> Self
            where
                I: IntoParallelIterator<Item = $item>,
            {
                let mut collection = Self::default();
                collection.par_extend(par_iter);
                collection
            }
        }
    )*};
}

extend_by_pieces! {
    impl<K, V, S> for HashMap<K, V, S>, (K, V), where { K: Eq + Hash + Send, V: Send, S: BuildHasher + Send, }
    impl<T, S> for HashSet<T, S>, T, where { T: Eq + Hash + Send, S: BuildHasher + Send, }
    impl<K, V> for BTreeMap<K, V>, (K, V), where { K: Ord + Send, V: Send, }
    impl<T> for BTreeSet<T>, T, where { T: Ord + Send, }
}

impl ParallelExtend<char> for String {
    fn par_extend<I>(&mut self, par_iter: I)
    where
        I: IntoParallelIterator<Item = char>,
    {
        for piece in collect_list(par_iter.into_par_iter()) {
            self.extend(piece);
        }
    }
}

impl<'a> ParallelExtend<&'a str> for String {
    fn par_extend<I>(&mut self, par_iter: I)
    where
        I: IntoParallelIterator<Item = &'a str>,
    {
        for piece in collect_list(par_iter.into_par_iter()) {
            self.extend(piece);
        }
    }
}

impl ParallelExtend<String> for String {
    fn par_extend<I>(&mut self, par_iter: I)
    where
        I: IntoParallelIterator<Item = String>,
    {
        for piece in collect_list(par_iter.into_par_iter()) {
            self.extend(piece);
        }
    }
}

macro_rules! string_from_par_iter {
    ($($item:ty),*) => {$(
        impl<'a> FromParallelIterator<$item> for String {
            fn from_par_iter<I>(par_iter: I) -> Self
            where
                I: IntoParallelIterator<Item = $item>,
            {
                let mut string = String::new();
                string.par_extend(par_iter);
                string
            }
        }
    )*};
}

string_from_par_iter!(char, &'a str, String);

impl FromParallelIterator<()> for () {
    fn from_par_iter<I>(par_iter: I) -> Self
    where
        I: IntoParallelIterator<Item = ()>,
    {
        par_iter.into_par_iter().for_each(|()| {});
    }
}

impl<C, T, E> FromParallelIterator<Result<T, E>> for Result<C, E>
where
    C: FromParallelIterator<T>,
    T: Send,
    E: Send,
{
    /// Collects the `Ok` values, or returns an `Err` (one of them, not necessarily the
    /// first when several threads run): the other pieces stop soon after the first
    /// `Err` is seen.
    fn from_par_iter<I>(par_iter: I) -> Self
    where
        I: IntoParallelIterator<Item = Result<T, E>>,
    {
        let saved = weft_sync::Mutex::new(None);
        let collection = par_iter
            .into_par_iter()
            .map(|item| match item {
                Ok(value) => Some(value),
                Err(error) => {
                    let mut saved = saved.lock();
                    if saved.is_none() {
                        *saved = Some(error);
                    }
                    None
                }
            })
            .while_some()
            .collect();
        match saved.into_inner() {
            Some(error) => Err(error),
            None => Ok(collection),
        }
    }
}

impl<C, T> FromParallelIterator<Option<T>> for Option<C>
where
    C: FromParallelIterator<T>,
    T: Send,
{
    /// Collects the `Some` values, or returns `None` if any item is `None`.
    fn from_par_iter<I>(par_iter: I) -> Self
    where
        I: IntoParallelIterator<Item = Option<T>>,
    {
        let failed = crate::primitive::atomic::AtomicBool::new(false);
        let collection = par_iter
            .into_par_iter()
            .inspect(|item| {
                if item.is_none() {
                    failed.store(true, crate::primitive::atomic::Ordering::Relaxed);
                }
            })
            .while_some()
            .collect();
        if failed.into_inner() {
            None
        } else {
            Some(collection)
        }
    }
}

//! `map_with` and `map_init`: a `map` whose closure also gets `&mut` to a per-piece
//! value (a clone of a seed, or made by an `init` closure once per piece).

use super::plumbing::{Consumer, Folder, Producer, ProducerCallback, UnindexedConsumer};
use super::{IndexedParallelIterator, ParallelIterator};
use std::fmt;

/// The iterator of [`ParallelIterator::map_with`].
#[must_use = "parallel iterators are lazy and do nothing unless consumed"]
#[derive(Clone)]
pub struct MapWith<I, T, F> {
    base: I,
    item: T,
    map_op: F,
}

impl<I: fmt::Debug, T: fmt::Debug, F> fmt::Debug for MapWith<I, T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapWith")
            .field("base", &self.base)
            .field("item", &self.item)
            .finish()
    }
}

impl<I, T, F> MapWith<I, T, F> {
    pub(super) fn new(base: I, item: T, map_op: F) -> Self {
        MapWith { base, item, map_op }
    }
}

/// The iterator of [`ParallelIterator::map_init`].
#[must_use = "parallel iterators are lazy and do nothing unless consumed"]
#[derive(Clone)]
pub struct MapInit<I, INIT, F> {
    base: I,
    init: INIT,
    map_op: F,
}

impl<I: fmt::Debug, INIT, F> fmt::Debug for MapInit<I, INIT, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapInit").field("base", &self.base).finish()
    }
}

impl<I, INIT, F> MapInit<I, INIT, F> {
    pub(super) fn new(base: I, init: INIT, map_op: F) -> Self {
        MapInit { base, init, map_op }
    }
}

/// Where a piece's state comes from: a seed cloned at every split (`map_with`), or a
/// closure called once per piece (`map_init`).
trait State<T>: Send {
    fn split(&self) -> Self;
    fn into_state(self) -> T;
}

struct Seed<T>(T);

impl<T: Clone + Send> State<T> for Seed<T> {
    fn split(&self) -> Self {
        Seed(self.0.clone())
    }
    fn into_state(self) -> T {
        self.0
    }
}

struct Init<'f, INIT>(&'f INIT);

impl<T, INIT: Fn() -> T + Sync> State<T> for Init<'_, INIT> {
    fn split(&self) -> Self {
        Init(self.0)
    }
    fn into_state(self) -> T {
        (self.0)()
    }
}

impl<I, T, F, R> ParallelIterator for MapWith<I, T, F>
where
    I: ParallelIterator,
    T: Send + Clone,
    F: Fn(&mut T, I::Item) -> R + Sync + Send,
    R: Send,
{
    type Item = R;

    fn drive_unindexed<C>(self, consumer: C) -> C::Result
    where
        C: UnindexedConsumer<R>,
    {
        self.base.drive_unindexed(StateConsumer {
            base: consumer,
            state: Seed(self.item),
            map_op: &self.map_op,
            marker: std::marker::PhantomData,
        })
    }

    fn opt_len(&self) -> Option<usize> {
        self.base.opt_len()
    }
}

impl<I, T, F, R> IndexedParallelIterator for MapWith<I, T, F>
where
    I: IndexedParallelIterator,
    T: Send + Clone,
    F: Fn(&mut T, I::Item) -> R + Sync + Send,
    R: Send,
{
    fn len(&self) -> usize {
        self.base.len()
    }

    fn with_producer<CB>(self, callback: CB) -> CB::Output
    where
        CB: ProducerCallback<R>,
    {
        self.base.with_producer(StateCallback {
            callback,
            state: Seed(self.item),
            map_op: &self.map_op,
            marker: std::marker::PhantomData,
        })
    }
}

impl<I, INIT, T, F, R> ParallelIterator for MapInit<I, INIT, F>
where
    I: ParallelIterator,
    INIT: Fn() -> T + Sync + Send,
    F: Fn(&mut T, I::Item) -> R + Sync + Send,
    R: Send,
{
    type Item = R;

    fn drive_unindexed<C>(self, consumer: C) -> C::Result
    where
        C: UnindexedConsumer<R>,
    {
        self.base.drive_unindexed(StateConsumer {
            base: consumer,
            state: Init(&self.init),
            map_op: &self.map_op,
            marker: std::marker::PhantomData,
        })
    }

    fn opt_len(&self) -> Option<usize> {
        self.base.opt_len()
    }
}

impl<I, INIT, T, F, R> IndexedParallelIterator for MapInit<I, INIT, F>
where
    I: IndexedParallelIterator,
    INIT: Fn() -> T + Sync + Send,
    F: Fn(&mut T, I::Item) -> R + Sync + Send,
    R: Send,
{
    fn len(&self) -> usize {
        self.base.len()
    }

    fn with_producer<CB>(self, callback: CB) -> CB::Output
    where
        CB: ProducerCallback<R>,
    {
        self.base.with_producer(StateCallback {
            callback,
            state: Init(&self.init),
            map_op: &self.map_op,
            marker: std::marker::PhantomData,
        })
    }
}

/// `fn() -> T`: the marker is `Send` and `Sync` whatever `T` is; the state is carried
/// by `S`.
type Marker<T> = std::marker::PhantomData<fn() -> T>;

struct StateCallback<'f, CB, S, F, T> {
    callback: CB,
    state: S,
    map_op: &'f F,
    marker: Marker<T>,
}

impl<'f, Item, R, CB, S, F, T> ProducerCallback<Item> for StateCallback<'f, CB, S, F, T>
where
    CB: ProducerCallback<R>,
    S: State<T>,
    F: Fn(&mut T, Item) -> R + Sync,
{
    type Output = CB::Output;

    fn callback<P>(self, base: P) -> CB::Output
    where
        P: Producer<Item = Item>,
    {
        self.callback.callback(StateProducer {
            base,
            state: self.state,
            map_op: self.map_op,
            marker: self.marker,
        })
    }
}

struct StateProducer<'f, P, S, F, T> {
    base: P,
    state: S,
    map_op: &'f F,
    marker: Marker<T>,
}

impl<'f, P, S, F, T, R> Producer for StateProducer<'f, P, S, F, T>
where
    P: Producer,
    S: State<T>,
    F: Fn(&mut T, P::Item) -> R + Sync,
{
    type Item = R;
    type IntoIter = StateIter<'f, P::IntoIter, T, F>;

    fn into_iter(self) -> Self::IntoIter {
        StateIter {
            base: self.base.into_iter(),
            item: self.state.into_state(),
            map_op: self.map_op,
        }
    }

    fn min_len(&self) -> usize {
        self.base.min_len()
    }

    fn max_len(&self) -> usize {
        self.base.max_len()
    }

    fn split_at(self, index: usize) -> (Self, Self) {
        let (left, right) = self.base.split_at(index);
        (
            StateProducer {
                base: left,
                state: self.state.split(),
                map_op: self.map_op,
                marker: self.marker,
            },
            StateProducer {
                base: right,
                state: self.state,
                map_op: self.map_op,
                marker: self.marker,
            },
        )
    }

    fn fold_with<G>(self, folder: G) -> G
    where
        G: Folder<R>,
    {
        self.base
            .fold_with(StateFolder {
                base: folder,
                item: self.state.into_state(),
                map_op: self.map_op,
            })
            .base
    }
}

/// The sequential iterator of a piece: maps with `&mut` to the piece's state.
pub(super) struct StateIter<'f, I, T, F> {
    base: I,
    item: T,
    map_op: &'f F,
}

impl<I, T, F, R> Iterator for StateIter<'_, I, T, F>
where
    I: Iterator,
    F: Fn(&mut T, I::Item) -> R,
{
    type Item = R;

    fn next(&mut self) -> Option<R> {
        let next = self.base.next()?;
        Some((self.map_op)(&mut self.item, next))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.base.size_hint()
    }
}

impl<I, T, F, R> DoubleEndedIterator for StateIter<'_, I, T, F>
where
    I: DoubleEndedIterator,
    F: Fn(&mut T, I::Item) -> R,
{
    fn next_back(&mut self) -> Option<R> {
        let next = self.base.next_back()?;
        Some((self.map_op)(&mut self.item, next))
    }
}

impl<I, T, F, R> ExactSizeIterator for StateIter<'_, I, T, F>
where
    I: ExactSizeIterator,
    F: Fn(&mut T, I::Item) -> R,
{
}

struct StateConsumer<'f, C, S, F, T> {
    base: C,
    state: S,
    map_op: &'f F,
    marker: Marker<T>,
}

impl<'f, Item, R, C, S, F, T> Consumer<Item> for StateConsumer<'f, C, S, F, T>
where
    C: Consumer<R>,
    S: State<T>,
    F: Fn(&mut T, Item) -> R + Sync,
{
    type Folder = StateFolder<'f, C::Folder, T, F>;
    type Reducer = C::Reducer;
    type Result = C::Result;

    fn split_at(self, index: usize) -> (Self, Self, C::Reducer) {
        let (left, right, reducer) = self.base.split_at(index);
        (
            StateConsumer {
                base: left,
                state: self.state.split(),
                map_op: self.map_op,
                marker: self.marker,
            },
            StateConsumer {
                base: right,
                state: self.state,
                map_op: self.map_op,
                marker: self.marker,
            },
            reducer,
        )
    }

    fn into_folder(self) -> Self::Folder {
        StateFolder {
            base: self.base.into_folder(),
            item: self.state.into_state(),
            map_op: self.map_op,
        }
    }

    fn full(&self) -> bool {
        self.base.full()
    }
}

impl<Item, R, C, S, F, T> UnindexedConsumer<Item> for StateConsumer<'_, C, S, F, T>
where
    C: UnindexedConsumer<R>,
    S: State<T>,
    F: Fn(&mut T, Item) -> R + Sync,
{
    fn split_off_left(&self) -> Self {
        StateConsumer {
            base: self.base.split_off_left(),
            state: self.state.split(),
            map_op: self.map_op,
            marker: self.marker,
        }
    }

    fn to_reducer(&self) -> C::Reducer {
        self.base.to_reducer()
    }
}

struct StateFolder<'f, C, T, F> {
    base: C,
    item: T,
    map_op: &'f F,
}

impl<Item, R, C, T, F> Folder<Item> for StateFolder<'_, C, T, F>
where
    C: Folder<R>,
    F: Fn(&mut T, Item) -> R,
{
    type Result = C::Result;

    fn consume(mut self, item: Item) -> Self {
        let mapped = (self.map_op)(&mut self.item, item);
        self.base = self.base.consume(mapped);
        self
    }

    fn consume_iter<I>(mut self, iter: I) -> Self
    where
        I: IntoIterator<Item = Item>,
    {
        let (state, map_op) = (&mut self.item, self.map_op);
        self.base = self
            .base
            .consume_iter(iter.into_iter().map(|item| map_op(state, item)));
        self
    }

    fn complete(self) -> C::Result {
        self.base.complete()
    }

    fn full(&self) -> bool {
        self.base.full()
    }
}

//! `sum` and `product`: each piece sums its items in one sequential loop (which the
//! compiler can vectorize), and the pieces' sums are added up.

use super::ParallelIterator;
use super::plumbing::{Consumer, Folder, Reducer, UnindexedConsumer};
use std::iter::{Product, Sum};
use std::marker::PhantomData;

pub(super) fn sum<I, S>(par_iter: I) -> S
where
    I: ParallelIterator,
    S: Send + Sum<I::Item> + Sum<S>,
{
    par_iter.drive_unindexed(CombineConsumer::<SumOp, S>(PhantomData))
}

pub(super) fn product<I, P>(par_iter: I) -> P
where
    I: ParallelIterator,
    P: Send + Product<I::Item> + Product<P>,
{
    par_iter.drive_unindexed(CombineConsumer::<ProductOp, P>(PhantomData))
}

/// How to fold items into an `S` and combine two `S`: by `Sum` or by `Product`.
trait Combine<T, S> {
    fn empty() -> S;
    fn of_iter<I: Iterator<Item = T>>(iter: I) -> S;
    fn combine(left: S, right: S) -> S;
}

struct SumOp;
struct ProductOp;

impl<T, S: Sum<T> + Sum<S>> Combine<T, S> for SumOp {
    fn empty() -> S {
        std::iter::empty::<T>().sum()
    }
    fn of_iter<I: Iterator<Item = T>>(iter: I) -> S {
        iter.sum()
    }
    fn combine(left: S, right: S) -> S {
        [left, right].into_iter().sum()
    }
}

impl<T, S: Product<T> + Product<S>> Combine<T, S> for ProductOp {
    fn empty() -> S {
        std::iter::empty::<T>().product()
    }
    fn of_iter<I: Iterator<Item = T>>(iter: I) -> S {
        iter.product()
    }
    fn combine(left: S, right: S) -> S {
        [left, right].into_iter().product()
    }
}

/// `fn() -> (Op, S)`: the marker is `Send` and `Sync` whatever `S` is.
struct CombineConsumer<Op, S>(PhantomData<fn() -> (Op, S)>);

impl<Op, S> Clone for CombineConsumer<Op, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Op, S> Copy for CombineConsumer<Op, S> {}

impl<T, Op, S> Consumer<T> for CombineConsumer<Op, S>
where
    Op: Combine<T, S> + Combine<S, S>,
    S: Send,
{
    type Folder = CombineFolder<Op, S>;
    type Reducer = Self;
    type Result = S;

    fn split_at(self, _index: usize) -> (Self, Self, Self) {
        (self, self, self)
    }

    fn into_folder(self) -> Self::Folder {
        CombineFolder {
            acc: <Op as Combine<T, S>>::empty(),
            op: PhantomData,
        }
    }

    fn full(&self) -> bool {
        false
    }
}

impl<T, Op, S> UnindexedConsumer<T> for CombineConsumer<Op, S>
where
    Op: Combine<T, S> + Combine<S, S>,
    S: Send,
{
    fn split_off_left(&self) -> Self {
        *self
    }

    fn to_reducer(&self) -> Self {
        *self
    }
}

impl<Op, S> Reducer<S> for CombineConsumer<Op, S>
where
    Op: Combine<S, S>,
{
    fn reduce(self, left: S, right: S) -> S {
        Op::combine(left, right)
    }
}

struct CombineFolder<Op, S> {
    acc: S,
    op: PhantomData<fn() -> Op>,
}

impl<T, Op, S> Folder<T> for CombineFolder<Op, S>
where
    Op: Combine<T, S> + Combine<S, S>,
{
    type Result = S;

    fn consume(self, item: T) -> Self {
        self.consume_iter(std::iter::once(item))
    }

    fn consume_iter<I>(self, iter: I) -> Self
    where
        I: IntoIterator<Item = T>,
    {
        let piece = <Op as Combine<T, S>>::of_iter(iter.into_iter());
        CombineFolder {
            acc: <Op as Combine<S, S>>::combine(self.acc, piece),
            op: PhantomData,
        }
    }

    fn complete(self) -> S {
        self.acc
    }

    fn full(&self) -> bool {
        false
    }
}

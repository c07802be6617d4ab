//! The machinery under the parallel iterators: producers, consumers, folders,
//! reducers, and the bridges that split them over `join`.
//!
//! Users of parallel iterators never touch this module; it is public so that new
//! sources and adaptors can be written outside the crate, as with rayon's `plumbing`.
//! See the [`iter`](super) module docs for the design.

use crate::iter::IndexedParallelIterator;
use crate::primitive::atomic::{AtomicBool, Ordering};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

/// A generic closure over a [`Producer`]: what
/// [`IndexedParallelIterator::with_producer`] hands its producer to, so that a
/// producer borrowing from the iterator's own frame never has to be named.
pub trait ProducerCallback<T> {
    /// What the callback returns.
    type Output;
    /// Consumes the producer.
    fn callback<P>(self, producer: P) -> Self::Output
    where
        P: Producer<Item = T>;
}

/// A splittable source of a known number of items: a parallel `IntoIterator` that can
/// be cut at any index.
pub trait Producer: Send + Sized {
    /// The items produced.
    type Item;
    /// The sequential iterator a leaf of the split tree runs.
    type IntoIter: Iterator<Item = Self::Item> + DoubleEndedIterator + ExactSizeIterator;

    /// The sequential iterator over this producer's items.
    fn into_iter(self) -> Self::IntoIter;

    /// The fewest items a piece should have (from `with_min_len`).
    fn min_len(&self) -> usize {
        1
    }

    /// The most items a piece should have (from `with_max_len`).
    fn max_len(&self) -> usize {
        usize::MAX
    }

    /// Splits into the items before `index` and those from `index` on.
    fn split_at(self, index: usize) -> (Self, Self);

    /// Feeds every item to `folder` (stopping early is the folder's business, through
    /// [`Folder::full`] in its `consume_iter`).
    fn fold_with<F>(self, folder: F) -> F
    where
        F: Folder<Self::Item>,
    {
        folder.consume_iter(self.into_iter())
    }
}

/// A splittable source of an unknown number of items: it splits "somewhere" when
/// asked, or declines.
pub trait UnindexedProducer: Send + Sized {
    /// The items produced.
    type Item;

    /// Splits in two if worthwhile; `None` means "too small to split".
    fn split(self) -> (Self, Option<Self>);

    /// Feeds every item to `folder`.
    fn fold_with<F>(self, folder: F) -> F
    where
        F: Folder<Self::Item>;
}

/// A sequential fold: what one piece of a parallel computation runs.
pub trait Folder<Item>: Sized {
    /// The piece's result.
    type Result;

    /// Folds one item in.
    fn consume(self, item: Item) -> Self;

    /// Folds a sequence of items in, stopping once [`full`](Folder::full). Folders
    /// override this to let the whole loop compile as one (vectorized) loop.
    fn consume_iter<I>(mut self, iter: I) -> Self
    where
        I: IntoIterator<Item = Item>,
    {
        for item in iter {
            self = self.consume(item);
            if self.full() {
                break;
            }
        }
        self
    }

    /// Finishes the piece.
    fn complete(self) -> Self::Result;

    /// True when no more items are wanted (an answer was found, or another piece
    /// asked everyone to stop).
    fn full(&self) -> bool;
}

/// Combines the results of two neighbouring pieces, the left one first.
pub trait Reducer<Result> {
    /// Combines `left` and `right`, in that order.
    fn reduce(self, left: Result, right: Result) -> Result;
}

/// A parallel fold that can be split at an index, so its pieces line up with the
/// pieces of a [`Producer`].
pub trait Consumer<Item>: Send + Sized {
    /// The sequential fold of one piece.
    type Folder: Folder<Item, Result = Self::Result>;
    /// How two pieces' results combine.
    type Reducer: Reducer<Self::Result>;
    /// The result.
    type Result: Send;

    /// Splits into a consumer of the first `index` items and one of the rest.
    fn split_at(self, index: usize) -> (Self, Self, Self::Reducer);

    /// The fold that runs one piece.
    fn into_folder(self) -> Self::Folder;

    /// True when no more items are wanted.
    fn full(&self) -> bool;
}

/// A [`Consumer`] that can also be split without knowing where: needed to consume
/// iterators of unknown length.
pub trait UnindexedConsumer<Item>: Consumer<Item> {
    /// A consumer for items that all come before this one's.
    fn split_off_left(&self) -> Self;

    /// The reducer that combines the split-off consumer's result with this one's.
    fn to_reducer(&self) -> Self::Reducer;
}

/// Items a leaf folds between two looks at the stop flag: small enough that a panic
/// or a found answer stops the others within microseconds, large enough that the
/// split per block costs nothing next to the block.
const BLOCK: usize = 1 << 12;

/// The thief-splitting policy: start with about one piece per thread, and split a
/// piece again whenever it was stolen, since a steal means another thread ran dry.
#[derive(Clone, Copy, Debug)]
struct Splitter {
    splits: usize,
}

impl Splitter {
    fn new() -> Self {
        Splitter {
            splits: crate::current_num_threads(),
        }
    }

    fn try_split(&mut self, migrated: bool) -> bool {
        if migrated {
            // Stolen: the thief had nothing to do, so give this piece as many splits
            // as a fresh iterator would get.
            self.splits = (self.splits / 2).max(crate::current_num_threads());
            true
        } else if self.splits > 0 {
            self.splits /= 2;
            true
        } else {
            false
        }
    }
}

/// Thief splitting, bounded by the producer's `min_len` and `max_len`.
#[derive(Clone, Copy, Debug)]
struct LengthSplitter {
    inner: Splitter,
    min: usize,
}

impl LengthSplitter {
    fn new(min: usize, max: usize, len: usize) -> Self {
        let mut inner = Splitter::new();
        // Enough splits that no piece exceeds `max`.
        let min_splits = len / max.max(1);
        inner.splits = inner.splits.max(min_splits);
        LengthSplitter {
            inner,
            min: min.max(1),
        }
    }

    fn try_split(&mut self, len: usize, migrated: bool) -> bool {
        len / 2 >= self.min && self.inner.try_split(migrated)
    }
}

/// Drives an indexed parallel iterator into a consumer.
pub fn bridge<I, C>(par_iter: I, consumer: C) -> C::Result
where
    I: IndexedParallelIterator,
    C: Consumer<I::Item>,
{
    struct Callback<C> {
        len: usize,
        consumer: C,
    }
    impl<C, T> ProducerCallback<T> for Callback<C>
    where
        C: Consumer<T>,
    {
        type Output = C::Result;
        fn callback<P>(self, producer: P) -> C::Result
        where
            P: Producer<Item = T>,
        {
            bridge_producer_consumer(self.len, producer, self.consumer)
        }
    }
    let len = par_iter.len();
    par_iter.with_producer(Callback { len, consumer })
}

/// Splits `producer` (of `len` items) and `consumer` at the same indices, runs the
/// pieces over `join`, and reduces their results in order.
///
/// A panic in any piece sets a flag every other piece checks between blocks of items,
/// so the rest of the work winds down quickly; the panic itself travels up through
/// `join` to the caller, payload intact.
pub fn bridge_producer_consumer<P, C>(len: usize, producer: P, consumer: C) -> C::Result
where
    P: Producer,
    C: Consumer<P::Item>,
{
    let splitter = LengthSplitter::new(producer.min_len(), producer.max_len(), len);
    let stop = AtomicBool::new(false);
    indexed_helper(len, false, splitter, producer, consumer, &stop)
}

fn indexed_helper<P, C>(
    len: usize,
    migrated: bool,
    mut splitter: LengthSplitter,
    producer: P,
    consumer: C,
    stop: &AtomicBool,
) -> C::Result
where
    P: Producer,
    C: Consumer<P::Item>,
{
    // Relaxed: the flag only asks for less work; the panic it announces reaches the
    // caller through `join`, which synchronizes on its own.
    if consumer.full() || stop.load(Ordering::Relaxed) {
        return consumer.into_folder().complete();
    }
    if splitter.try_split(len, migrated) {
        let mid = len / 2;
        let (left_producer, right_producer) = producer.split_at(mid);
        let (left_consumer, right_consumer, reducer) = consumer.split_at(mid);
        let (left, right) = crate::join_context(
            |context| {
                indexed_helper(
                    mid,
                    context.migrated(),
                    splitter,
                    left_producer,
                    left_consumer,
                    stop,
                )
            },
            |context| {
                indexed_helper(
                    len - mid,
                    context.migrated(),
                    splitter,
                    right_producer,
                    right_consumer,
                    stop,
                )
            },
        );
        reducer.reduce(left, right)
    } else {
        guard_leaf(stop, || {
            fold_blocks(len, producer, consumer.into_folder(), stop).complete()
        })
    }
}

/// Folds a leaf block by block, looking at the consumer's `full` and the stop flag
/// between blocks.
fn fold_blocks<P, F>(mut len: usize, mut producer: P, mut folder: F, stop: &AtomicBool) -> F
where
    P: Producer,
    F: Folder<P::Item>,
{
    while len > BLOCK {
        let (head, tail) = producer.split_at(BLOCK);
        folder = head.fold_with(folder);
        if folder.full() || stop.load(Ordering::Relaxed) {
            return folder;
        }
        producer = tail;
        len -= BLOCK;
    }
    producer.fold_with(folder)
}

/// Runs one leaf; if it panics, raises the stop flag before passing the panic on.
fn guard_leaf<R>(stop: &AtomicBool, leaf: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(leaf)) {
        Ok(result) => result,
        Err(payload) => {
            stop.store(true, Ordering::Relaxed);
            resume_unwind(payload)
        }
    }
}

/// Drives an unindexed producer into a consumer, splitting by the thief-splitting
/// policy as far as the producer agrees to split.
pub fn bridge_unindexed<P, C>(producer: P, consumer: C) -> C::Result
where
    P: UnindexedProducer,
    C: UnindexedConsumer<P::Item>,
{
    let stop = AtomicBool::new(false);
    unindexed_helper(false, Splitter::new(), producer, consumer, &stop)
}

fn unindexed_helper<P, C>(
    migrated: bool,
    mut splitter: Splitter,
    producer: P,
    consumer: C,
    stop: &AtomicBool,
) -> C::Result
where
    P: UnindexedProducer,
    C: UnindexedConsumer<P::Item>,
{
    if consumer.full() || stop.load(Ordering::Relaxed) {
        return consumer.into_folder().complete();
    }
    if splitter.try_split(migrated) {
        match producer.split() {
            (left_producer, Some(right_producer)) => {
                let reducer = consumer.to_reducer();
                let left_consumer = consumer.split_off_left();
                let (left, right) = crate::join_context(
                    |context| {
                        unindexed_helper(
                            context.migrated(),
                            splitter,
                            left_producer,
                            left_consumer,
                            stop,
                        )
                    },
                    |context| {
                        unindexed_helper(
                            context.migrated(),
                            splitter,
                            right_producer,
                            consumer,
                            stop,
                        )
                    },
                );
                return reducer.reduce(left, right);
            }
            (producer, None) => {
                return guard_leaf(stop, || {
                    producer.fold_with(consumer.into_folder()).complete()
                });
            }
        }
    }
    guard_leaf(stop, || {
        producer.fold_with(consumer.into_folder()).complete()
    })
}

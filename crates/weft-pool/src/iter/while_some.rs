//! `while_some`: passes `Some` values on and stops every piece at the first `None`.

use super::ParallelIterator;
use super::plumbing::{Consumer, Folder, UnindexedConsumer};
use crate::primitive::atomic::{AtomicBool, Ordering};

/// The iterator of [`ParallelIterator::while_some`].
#[must_use = "parallel iterators are lazy and do nothing unless consumed"]
#[derive(Clone, Debug)]
pub struct WhileSome<I> {
    base: I,
}

impl<I> WhileSome<I> {
    pub(super) fn new(base: I) -> Self {
        WhileSome { base }
    }
}

impl<I, T> ParallelIterator for WhileSome<I>
where
    I: ParallelIterator<Item = Option<T>>,
    T: Send,
{
    type Item = T;

    fn drive_unindexed<C>(self, consumer: C) -> C::Result
    where
        C: UnindexedConsumer<T>,
    {
        let stopped = AtomicBool::new(false);
        self.base.drive_unindexed(WhileSomeConsumer {
            base: consumer,
            stopped: &stopped,
        })
    }
}

struct WhileSomeConsumer<'s, C> {
    base: C,
    stopped: &'s AtomicBool,
}

impl<'s, T, C> Consumer<Option<T>> for WhileSomeConsumer<'s, C>
where
    C: Consumer<T>,
    T: Send,
{
    type Folder = WhileSomeFolder<'s, C::Folder>;
    type Reducer = C::Reducer;
    type Result = C::Result;

    fn split_at(self, index: usize) -> (Self, Self, C::Reducer) {
        let (left, right, reducer) = self.base.split_at(index);
        (
            WhileSomeConsumer {
                base: left,
                stopped: self.stopped,
            },
            WhileSomeConsumer {
                base: right,
                stopped: self.stopped,
            },
            reducer,
        )
    }

    fn into_folder(self) -> Self::Folder {
        WhileSomeFolder {
            base: self.base.into_folder(),
            stopped: self.stopped,
        }
    }

    fn full(&self) -> bool {
        // Relaxed: the flag only saves work; results flow through the reducers.
        self.stopped.load(Ordering::Relaxed) || self.base.full()
    }
}

impl<T, C> UnindexedConsumer<Option<T>> for WhileSomeConsumer<'_, C>
where
    C: UnindexedConsumer<T>,
    T: Send,
{
    fn split_off_left(&self) -> Self {
        WhileSomeConsumer {
            base: self.base.split_off_left(),
            stopped: self.stopped,
        }
    }

    fn to_reducer(&self) -> C::Reducer {
        self.base.to_reducer()
    }
}

struct WhileSomeFolder<'s, C> {
    base: C,
    stopped: &'s AtomicBool,
}

impl<T, C> Folder<Option<T>> for WhileSomeFolder<'_, C>
where
    C: Folder<T>,
{
    type Result = C::Result;

    fn consume(mut self, item: Option<T>) -> Self {
        match item {
            Some(item) => self.base = self.base.consume(item),
            None => self.stopped.store(true, Ordering::Relaxed),
        }
        self
    }

    fn consume_iter<I>(mut self, iter: I) -> Self
    where
        I: IntoIterator<Item = Option<T>>,
    {
        let stopped = self.stopped;
        let items = iter.into_iter().map_while(|item| {
            if stopped.load(Ordering::Relaxed) {
                return None;
            }
            if item.is_none() {
                stopped.store(true, Ordering::Relaxed);
            }
            item
        });
        self.base = self.base.consume_iter(items);
        self
    }

    fn complete(self) -> C::Result {
        self.base.complete()
    }

    fn full(&self) -> bool {
        self.stopped.load(Ordering::Relaxed) || self.base.full()
    }
}

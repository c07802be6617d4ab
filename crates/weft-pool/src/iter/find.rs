//! `find_any`, `find_first` and `find_last`: searches that stop the other pieces.
//!
//! `find_any` shares one flag: the first piece to find a match raises it, and every
//! folder checks it before each item, so all pieces stop within one item.
//!
//! `find_first` cannot stop everyone at the first match: a piece to the left may
//! still hold an earlier one. Each consumer owns an interval of a virtual index space
//! (`[lower, upper)`, halved at every split, left half to the left piece), and the
//! pieces share the smallest `lower` of a piece that found a match. A piece may stop
//! once some piece entirely to its left has found one; the reducer prefers the left
//! result, so the answer is the sequential one. `find_last` is the mirror image.

use super::ParallelIterator;
use super::plumbing::{Consumer, Folder, Reducer, UnindexedConsumer};
use crate::primitive::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::cell::Cell;

pub(super) fn find_any<I, P>(par_iter: I, predicate: &P) -> Option<I::Item>
where
    I: ParallelIterator,
    P: Fn(&I::Item) -> bool + Sync,
{
    let found = AtomicBool::new(false);
    par_iter.drive_unindexed(FindAnyConsumer {
        predicate,
        found: &found,
    })
}

struct FindAnyConsumer<'p, P> {
    predicate: &'p P,
    found: &'p AtomicBool,
}

impl<P> Clone for FindAnyConsumer<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for FindAnyConsumer<'_, P> {}

impl<'p, T, P> Consumer<T> for FindAnyConsumer<'p, P>
where
    T: Send,
    P: Fn(&T) -> bool + Sync,
{
    type Folder = FindAnyFolder<'p, T, P>;
    type Reducer = FirstSomeReducer;
    type Result = Option<T>;

    fn split_at(self, _index: usize) -> (Self, Self, FirstSomeReducer) {
        (self, self, FirstSomeReducer)
    }

    fn into_folder(self) -> Self::Folder {
        FindAnyFolder {
            predicate: self.predicate,
            found: self.found,
            item: None,
        }
    }

    fn full(&self) -> bool {
        // Relaxed: a stale `false` costs one more item, never a wrong answer (the
        // answer travels back through the reducers, not through the flag).
        self.found.load(Ordering::Relaxed)
    }
}

impl<T, P> UnindexedConsumer<T> for FindAnyConsumer<'_, P>
where
    T: Send,
    P: Fn(&T) -> bool + Sync,
{
    fn split_off_left(&self) -> Self {
        *self
    }

    fn to_reducer(&self) -> FirstSomeReducer {
        FirstSomeReducer
    }
}

struct FindAnyFolder<'p, T, P> {
    predicate: &'p P,
    found: &'p AtomicBool,
    item: Option<T>,
}

impl<T, P> Folder<T> for FindAnyFolder<'_, T, P>
where
    P: Fn(&T) -> bool,
{
    type Result = Option<T>;

    fn consume(mut self, item: T) -> Self {
        if (self.predicate)(&item) {
            self.found.store(true, Ordering::Relaxed);
            self.item = Some(item);
        }
        self
    }

    fn consume_iter<I>(mut self, iter: I) -> Self
    where
        I: IntoIterator<Item = T>,
    {
        for item in iter {
            if self.found.load(Ordering::Relaxed) {
                break;
            }
            if (self.predicate)(&item) {
                self.found.store(true, Ordering::Relaxed);
                self.item = Some(item);
                break;
            }
        }
        self
    }

    fn complete(self) -> Option<T> {
        self.item
    }

    fn full(&self) -> bool {
        self.item.is_some() || self.found.load(Ordering::Relaxed)
    }
}

/// Keeps the left result if there is one.
#[derive(Debug, Clone, Copy)]
pub(super) struct FirstSomeReducer;

impl<T> Reducer<Option<T>> for FirstSomeReducer {
    fn reduce(self, left: Option<T>, right: Option<T>) -> Option<T> {
        left.or(right)
    }
}

/// Keeps the right result if there is one.
#[derive(Debug, Clone, Copy)]
struct LastSomeReducer;

impl<T> Reducer<Option<T>> for LastSomeReducer {
    fn reduce(self, left: Option<T>, right: Option<T>) -> Option<T> {
        right.or(left)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    First,
    Last,
}

pub(super) fn find_first<I, P>(par_iter: I, predicate: &P) -> Option<I::Item>
where
    I: ParallelIterator,
    P: Fn(&I::Item) -> bool + Sync,
{
    find_extreme(par_iter, predicate, Side::First)
}

pub(super) fn find_last<I, P>(par_iter: I, predicate: &P) -> Option<I::Item>
where
    I: ParallelIterator,
    P: Fn(&I::Item) -> bool + Sync,
{
    find_extreme(par_iter, predicate, Side::Last)
}

fn find_extreme<I, P>(par_iter: I, predicate: &P, side: Side) -> Option<I::Item>
where
    I: ParallelIterator,
    P: Fn(&I::Item) -> bool + Sync,
{
    // For `First`: the smallest `lower` of a piece that found a match (MAX: none).
    // For `Last`: the largest `upper` of such a piece (0: none).
    let best = AtomicUsize::new(match side {
        Side::First => usize::MAX,
        Side::Last => 0,
    });
    par_iter.drive_unindexed(FindExtremeConsumer {
        predicate,
        best: &best,
        side,
        lower: Cell::new(0),
        upper: usize::MAX,
    })
}

struct FindExtremeConsumer<'p, P> {
    predicate: &'p P,
    best: &'p AtomicUsize,
    side: Side,
    /// `split_off_left(&self)` hands out the lower half and keeps the upper one, so
    /// the lower bound changes behind a shared reference.
    lower: Cell<usize>,
    upper: usize,
}

impl<P> FindExtremeConsumer<'_, P> {
    /// True once a piece that comes entirely before (for `First`) or after (for
    /// `Last`) this one has found a match.
    fn beaten(&self) -> bool {
        let best = self.best.load(Ordering::Relaxed);
        match self.side {
            Side::First => best < self.lower.get(),
            Side::Last => best > self.upper,
        }
    }

    fn split_interval(&self) -> usize {
        let lower = self.lower.get();
        lower + (self.upper - lower) / 2
    }
}

impl<'p, T, P> Consumer<T> for FindExtremeConsumer<'p, P>
where
    T: Send,
    P: Fn(&T) -> bool + Sync,
{
    type Folder = FindExtremeFolder<'p, T, P>;
    type Reducer = ExtremeReducer;
    type Result = Option<T>;

    fn split_at(self, _index: usize) -> (Self, Self, ExtremeReducer) {
        let left = self.split_off_left();
        let reducer = self.to_reducer();
        (left, self, reducer)
    }

    fn into_folder(self) -> Self::Folder {
        FindExtremeFolder {
            predicate: self.predicate,
            best: self.best,
            side: self.side,
            lower: self.lower.get(),
            upper: self.upper,
            item: None,
        }
    }

    fn full(&self) -> bool {
        self.beaten()
    }
}

impl<T, P> UnindexedConsumer<T> for FindExtremeConsumer<'_, P>
where
    T: Send,
    P: Fn(&T) -> bool + Sync,
{
    fn split_off_left(&self) -> Self {
        let mid = self.split_interval();
        let left = FindExtremeConsumer {
            predicate: self.predicate,
            best: self.best,
            side: self.side,
            lower: Cell::new(self.lower.get()),
            upper: mid,
        };
        self.lower.set(mid);
        left
    }

    fn to_reducer(&self) -> ExtremeReducer {
        ExtremeReducer(self.side)
    }
}

/// Prefers the left result for `First`, the right one for `Last`.
#[derive(Debug, Clone, Copy)]
struct ExtremeReducer(Side);

impl<T> Reducer<Option<T>> for ExtremeReducer {
    fn reduce(self, left: Option<T>, right: Option<T>) -> Option<T> {
        match self.0 {
            Side::First => FirstSomeReducer.reduce(left, right),
            Side::Last => LastSomeReducer.reduce(left, right),
        }
    }
}

struct FindExtremeFolder<'p, T, P> {
    predicate: &'p P,
    best: &'p AtomicUsize,
    side: Side,
    lower: usize,
    upper: usize,
    item: Option<T>,
}

impl<T, P> Folder<T> for FindExtremeFolder<'_, T, P>
where
    P: Fn(&T) -> bool,
{
    type Result = Option<T>;

    fn consume(mut self, item: T) -> Self {
        match self.side {
            Side::First => {
                if self.item.is_none() && (self.predicate)(&item) {
                    self.item = Some(item);
                    self.best.fetch_min(self.lower, Ordering::Relaxed);
                }
            }
            Side::Last => {
                // A later match replaces an earlier one within the piece.
                if (self.predicate)(&item) {
                    self.item = Some(item);
                    self.best.fetch_max(self.upper, Ordering::Relaxed);
                }
            }
        }
        self
    }

    fn consume_iter<I>(mut self, iter: I) -> Self
    where
        I: IntoIterator<Item = T>,
    {
        for item in iter {
            self = self.consume(item);
            if self.full() {
                break;
            }
        }
        self
    }

    fn complete(self) -> Option<T> {
        self.item
    }

    fn full(&self) -> bool {
        let best = self.best.load(Ordering::Relaxed);
        match self.side {
            Side::First => self.item.is_some() || best < self.lower,
            // A piece searching for the last match cannot stop at its own match.
            Side::Last => best > self.upper,
        }
    }
}

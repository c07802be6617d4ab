//! `unzip` and `partition`: each piece fills a pair of `Vec`s, the pieces are joined
//! in order, and each half is then handed to its collection's `par_extend`.

use super::{IntoParallelIterator, ParallelExtend, ParallelIterator};
use std::collections::LinkedList;

/// Folds items into one pair of `Vec`s per piece (`route` says which side an item goes
/// to), then concatenates each side in order.
fn split_pieces<I, A, B, R>(par_iter: I, route: &R) -> (Vec<A>, Vec<B>)
where
    I: ParallelIterator,
    A: Send,
    B: Send,
    R: Fn(I::Item, &mut Vec<A>, &mut Vec<B>) + Sync,
{
    let list = par_iter
        .fold(
            || (Vec::new(), Vec::new()),
            |(mut left, mut right), item| {
                route(item, &mut left, &mut right);
                (left, right)
            },
        )
        .map(|pair| {
            let mut list = LinkedList::new();
            list.push_back(pair);
            list
        })
        .reduce(LinkedList::new, |mut left, mut right| {
            left.append(&mut right);
            left
        });
    let mut all_a = Vec::with_capacity(list.iter().map(|(a, _)| a.len()).sum());
    let mut all_b = Vec::with_capacity(list.iter().map(|(_, b)| b.len()).sum());
    for (mut a, mut b) in list {
        all_a.append(&mut a);
        all_b.append(&mut b);
    }
    (all_a, all_b)
}

fn extend_both<A, B, FromA, FromB>(a: Vec<A>, b: Vec<B>) -> (FromA, FromB)
where
    A: Send,
    B: Send,
    FromA: Default + Send + ParallelExtend<A>,
    FromB: Default + Send + ParallelExtend<B>,
{
    crate::join(
        move || {
            let mut from_a = FromA::default();
            from_a.par_extend(a.into_par_iter());
            from_a
        },
        move || {
            let mut from_b = FromB::default();
            from_b.par_extend(b.into_par_iter());
            from_b
        },
    )
}

pub(super) fn unzip<I, A, B, FromA, FromB>(par_iter: I) -> (FromA, FromB)
where
    I: ParallelIterator<Item = (A, B)>,
    A: Send,
    B: Send,
    FromA: Default + Send + ParallelExtend<A>,
    FromB: Default + Send + ParallelExtend<B>,
{
    let (a, b) = split_pieces(
        par_iter,
        &|(a, b), left: &mut Vec<A>, right: &mut Vec<B>| {
            left.push(a);
            right.push(b);
        },
    );
    extend_both(a, b)
}

pub(super) fn partition<I, A, B, P>(par_iter: I, predicate: &P) -> (A, B)
where
    I: ParallelIterator,
    A: Default + Send + ParallelExtend<I::Item>,
    B: Default + Send + ParallelExtend<I::Item>,
    P: Fn(&I::Item) -> bool + Sync,
{
    let (yes, no) = split_pieces(
        par_iter,
        &|item, left: &mut Vec<I::Item>, right: &mut Vec<I::Item>| {
            if predicate(&item) {
                left.push(item);
            } else {
                right.push(item);
            }
        },
    );
    extend_both(yes, no)
}

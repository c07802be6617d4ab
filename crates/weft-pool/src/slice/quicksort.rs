//! The unstable parallel sort: quicksort over `join`, in the manner of pattern-
//! defeating quicksort (Peters, "Pattern-defeating Quicksort", 2021).
//!
//! Each step picks a pivot (median of three, or of three medians of three on long
//! slices), partitions around it, and sorts both sides in parallel; pieces below a
//! cut-off go to `slice::sort_unstable_by`. Two guards from pdqsort keep the worst case
//! in check: if the pivot equals the one of the enclosing step (which is known to be
//! no greater than anything in the slice), the slice is partitioned into "equal to the
//! pivot" and "greater", and the equal part is done, so many duplicates cost linear
//! time; and after too many lopsided partitions the piece is handed to
//! `slice::sort_unstable_by`, whose worst case is `O(n log n)`.
//!
//! The partition is a branch-free Lomuto scheme: every step swaps the current item
//! with the first "not less" one and advances the boundary by the comparison's result,
//! so the loop has no unpredictable branch.
//!
//! # Panic safety
//!
//! Items only move by swaps, each completed before the next comparison, so at every
//! point where the comparison may panic the slice is a permutation of its input.

use std::cmp::Ordering;
use std::ptr;

/// Pieces this short go to `slice::sort_unstable_by`.
const MIN_SEQUENTIAL: usize = 1 << 12;

pub(super) fn par_quicksort<T, F>(v: &mut [T], compare: &F)
where
    T: Send,
    F: Fn(&T, &T) -> Ordering + Sync,
{
    let len = v.len();
    let threads = crate::current_num_threads().max(1);
    // Enough pieces to balance the load (16 per thread), no smaller than the cut-off.
    let cutoff = MIN_SEQUENTIAL.max(len / (16 * threads));
    if len <= cutoff || threads == 1 {
        v.sort_unstable_by(compare);
        return;
    }
    // Lopsided partitions allowed before giving up on quicksort: about log2(len).
    let limit = usize::BITS - len.leading_zeros();
    recurse(v, compare, None, limit, cutoff);
}

/// Sorts `v`. `ancestor` is the pivot of an enclosing step that is no greater than any
/// item of `v`, if there is one.
fn recurse<T, F>(v: &mut [T], compare: &F, ancestor: Option<&mut T>, mut limit: u32, cutoff: usize)
where
    T: Send,
    F: Fn(&T, &T) -> Ordering + Sync,
{
    let len = v.len();
    if len <= cutoff || limit == 0 {
        v.sort_unstable_by(compare);
        return;
    }
    let is_less = |a: &T, b: &T| compare(a, b) == Ordering::Less;
    let pivot_index = choose_pivot(v, &is_less);
    v.swap(0, pivot_index);
    let (pivot_slot, rest) = v.split_at_mut(1);
    let pivot = &pivot_slot[0];

    if let Some(ancestor) = ancestor.as_deref()
        && !is_less(ancestor, pivot)
    {
        // pivot == ancestor <= every item: the items not greater than the pivot are
        // equal to it, and already in place once gathered on the left.
        let equal = partition(rest, |x| !is_less(pivot, x));
        let (_, greater) = rest.split_at_mut(equal);
        recurse(greater, compare, None, limit, cutoff);
        return;
    }

    let less = partition(rest, |x| is_less(x, pivot));
    // Put the pivot between the two sides.
    v.swap(0, less);
    let (left, right) = v.split_at_mut(less);
    let (pivot, right) = right.split_at_mut(1);
    if left.len().min(right.len()) < len / 8 {
        limit -= 1;
    }
    let pivot = &mut pivot[0];
    crate::join(
        || recurse(left, compare, ancestor, limit, cutoff),
        || recurse(right, compare, Some(pivot), limit, cutoff),
    );
}

/// Moves the items for which `goes_left` holds to the front; returns their count.
fn partition<T, P>(v: &mut [T], goes_left: P) -> usize
where
    P: Fn(&T) -> bool,
{
    let base = v.as_mut_ptr();
    let mut boundary = 0;
    for i in 0..v.len() {
        // SAFETY: `boundary <= i < v.len()`, so both are in bounds. The comparison
        // runs before anything moves; the three moves below are a swap (correct when
        // `boundary == i` too) and cannot panic, so a panic leaves a permutation.
        unsafe {
            let current = base.add(i);
            let left = goes_left(&*current);
            let first_not_left = base.add(boundary);
            let item = ptr::read(current);
            ptr::copy(first_not_left, current, 1);
            ptr::write(first_not_left, item);
            boundary += usize::from(left);
        }
    }
    boundary
}

/// An index of a good pivot: the median of three samples, or on long slices the
/// median of three medians of three (Tukey's ninther).
fn choose_pivot<T, F>(v: &[T], is_less: &F) -> usize
where
    F: Fn(&T, &T) -> bool,
{
    let len = v.len();
    let (a, b, c) = (len / 4, len / 2, len / 4 * 3);
    if len < 128 {
        return median3(v, a, b, c, is_less);
    }
    let step = len / 8;
    let a = median3(v, a - step, a, a + step, is_less);
    let b = median3(v, b - step, b, b + step, is_less);
    let c = median3(v, c - step, c, c + step, is_less);
    median3(v, a, b, c, is_less)
}

fn median3<T, F>(v: &[T], a: usize, b: usize, c: usize, is_less: &F) -> usize
where
    F: Fn(&T, &T) -> bool,
{
    let (x, y, z) = (&v[a], &v[b], &v[c]);
    let xy = is_less(x, y);
    let xz = is_less(x, z);
    if xy != xz {
        return a;
    }
    let yz = is_less(y, z);
    if yz == xy { b } else { c }
}

//! The stable parallel sort: merge sort over `join`.
//!
//! The slice is cut in halves recursively down to pieces of a cut-off length, which
//! `slice::sort_by` sorts (stable, panic-safe). Two sorted neighbours are merged by
//! copying both into a scratch buffer and merging back into the slice; a long merge is
//! itself split in two independent merges (the pivot is the middle of the longer run,
//! its place in the other run found by binary search), as in the parallel merge of
//! Cormen et al., *Introduction to Algorithms*, 3rd ed., §27.3.
//!
//! # Panic safety
//!
//! While a merge runs, every item of the merged range exists twice (in the slice and
//! in the buffer) and the slice's copies are being overwritten in merged order. Each
//! merge (and each half of a split merge) owns a guard naming the buffer items it has
//! not yet written back and the slice slots they belong in; if the comparison panics,
//! the guard copies them there, so every slot ends up holding exactly one item of the
//! input. Items are only ever moved bitwise, never dropped or cloned, so the slice is
//! a permutation of its input afterwards, whether or not a comparison panicked.

use std::cmp::Ordering;
use std::mem::MaybeUninit;
use std::ptr;

/// Pieces this short are sorted by `slice::sort_by` (sorting is then cache-resident).
const MIN_SEQUENTIAL_SORT: usize = 1 << 12;
/// Merges this short are not split further.
const MIN_SEQUENTIAL_MERGE: usize = 1 << 12;

/// A raw pointer that may cross `join`; each user touches a disjoint range of it.
struct SendPtr<T>(*mut T);

impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SendPtr<T> {}

// SAFETY: the pointer stands for a `&mut [T]` split into disjoint ranges, one per
// thread, so sending it is sending (parts of) a `&mut [T]`, which needs `T: Send`.
unsafe impl<T: Send> Send for SendPtr<T> {}
// SAFETY: as above; `join`'s closures capture it by reference.
unsafe impl<T: Send> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    fn get(self) -> *mut T {
        self.0
    }
}

pub(super) fn par_mergesort<T, F>(v: &mut [T], compare: &F)
where
    T: Send,
    F: Fn(&T, &T) -> Ordering + Sync,
{
    let len = v.len();
    let threads = crate::current_num_threads();
    // A few pieces per thread (each merge level costs a pass over the data, and the
    // merges themselves split to balance the load), no smaller than the cut-off.
    let cutoff = MIN_SEQUENTIAL_SORT.max(len / (4 * threads.max(1)));
    if len <= cutoff || threads == 1 {
        v.sort_by(compare);
        return;
    }
    let mut buffer: Vec<MaybeUninit<T>> = Vec::with_capacity(len);
    let scratch = SendPtr(buffer.as_mut_ptr().cast::<T>());
    sort(v, scratch, compare, cutoff);
    // The buffer's length is 0: dropping it frees the memory and no item.
}

/// Sorts `v` using `scratch[..v.len()]` as the merge buffer.
fn sort<T, F>(v: &mut [T], scratch: SendPtr<T>, compare: &F, cutoff: usize)
where
    T: Send,
    F: Fn(&T, &T) -> Ordering + Sync,
{
    let len = v.len();
    if len <= cutoff {
        v.sort_by(compare);
        return;
    }
    let mid = len / 2;
    let (left, right) = v.split_at_mut(mid);
    // SAFETY: `scratch` has room for `len` items, so for `mid` more after `mid`.
    let right_scratch = SendPtr(unsafe { scratch.get().add(mid) });
    crate::join(
        || sort(left, scratch, compare, cutoff),
        || sort(right, right_scratch, compare, cutoff),
    );
    // Already in order (common for presorted input): nothing to merge.
    if compare(&v[mid], &v[mid - 1]) != Ordering::Less {
        return;
    }
    let dest = SendPtr(v.as_mut_ptr());
    // SAFETY: `scratch` has room for `len` items and does not overlap `v`. From here
    // on, the items' owners are the copies in `scratch`; the merge writes each back to
    // `v` exactly once, and the guards do so on a panic (see the module docs).
    unsafe {
        ptr::copy_nonoverlapping(v.as_ptr(), scratch.get(), len);
        merge(
            scratch,
            mid,
            SendPtr(scratch.get().add(mid)),
            len - mid,
            dest,
            compare,
        );
    }
}

/// The items `[left, left + left_len)` and `[right, right + right_len)` not yet written
/// back, and where the first of them goes: dropping it writes them all back, in that
/// order (the order is only right if the merge finished; otherwise it is a
/// permutation, which is all a panic promises).
struct MergeHole<T> {
    left: *const T,
    left_end: *const T,
    right: *const T,
    right_end: *const T,
    dest: *mut T,
}

impl<T> Drop for MergeHole<T> {
    fn drop(&mut self) {
        // SAFETY: the two source ranges hold the items not yet written back, and
        // `dest` has exactly their total count of slots left; sources (scratch) and
        // destination (the slice) never overlap.
        unsafe {
            let left_len = self.left_end.offset_from(self.left) as usize;
            ptr::copy_nonoverlapping(self.left, self.dest, left_len);
            let right_len = self.right_end.offset_from(self.right) as usize;
            ptr::copy_nonoverlapping(self.right, self.dest.add(left_len), right_len);
        }
    }
}

/// Merges two sorted runs of scratch items into `dest[..left_len + right_len]`,
/// splitting long merges over `join`.
///
/// # Safety
///
/// The runs are initialized, sorted by `compare`, disjoint from `dest`, and their
/// items' only owners; `dest` has room for both and its old contents are forgotten.
unsafe fn merge<T, F>(
    left: SendPtr<T>,
    left_len: usize,
    right: SendPtr<T>,
    right_len: usize,
    dest: SendPtr<T>,
    compare: &F,
) where
    T: Send,
    F: Fn(&T, &T) -> Ordering + Sync,
{
    if left_len + right_len <= MIN_SEQUENTIAL_MERGE || left_len == 0 || right_len == 0 {
        // SAFETY: the caller's contract.
        unsafe {
            sequential_merge(
                left.get(),
                left_len,
                right.get(),
                right_len,
                dest.get(),
                compare,
            )
        };
        return;
    }
    // If a comparison of the binary search panics, this writes everything back.
    // SAFETY: the ends are one past the runs' last items, within their allocation.
    let hole = unsafe {
        MergeHole {
            left: left.get(),
            left_end: left.get().add(left_len),
            right: right.get(),
            right_end: right.get().add(right_len),
            dest: dest.get(),
        }
    };
    // SAFETY: the runs are initialized for `left_len` and `right_len` items.
    let (left_run, right_run) = unsafe {
        (
            std::slice::from_raw_parts(left.get(), left_len),
            std::slice::from_raw_parts(right.get(), right_len),
        )
    };
    // Stability: items equal to the pivot go left of it if they come from the left
    // run, right of it if from the right run, so equal items never change order.
    let (left_mid, right_mid) = if left_len >= right_len {
        let left_mid = left_len / 2;
        let pivot = &left_run[left_mid];
        let right_mid = right_run.partition_point(|x| compare(x, pivot) == Ordering::Less);
        (left_mid, right_mid)
    } else {
        let right_mid = right_len / 2;
        let pivot = &right_run[right_mid];
        let left_mid = left_run.partition_point(|x| compare(pivot, x) != Ordering::Less);
        (left_mid, right_mid)
    };
    // The two halves now own their ranges, each with its own guard.
    std::mem::forget(hole);
    // SAFETY: splitting inside the runs and inside `dest`, which has room for both.
    let (left_high, right_high, dest_high) = unsafe {
        (
            SendPtr(left.get().add(left_mid)),
            SendPtr(right.get().add(right_mid)),
            SendPtr(dest.get().add(left_mid + right_mid)),
        )
    };
    crate::join(
        // SAFETY: the low parts of the runs, merged into the low part of `dest`,
        // whose length is their total.
        || unsafe { merge(left, left_mid, right, right_mid, dest, compare) },
        // SAFETY: the high parts, into the rest of `dest`.
        || unsafe {
            merge(
                left_high,
                left_len - left_mid,
                right_high,
                right_len - right_mid,
                dest_high,
                compare,
            )
        },
    );
}

/// # Safety
///
/// As for [`merge`].
unsafe fn sequential_merge<T, F>(
    left: *mut T,
    left_len: usize,
    right: *mut T,
    right_len: usize,
    dest: *mut T,
    compare: &F,
) where
    F: Fn(&T, &T) -> Ordering,
{
    // SAFETY: within the runs (caller's contract).
    let mut hole = unsafe {
        MergeHole {
            left,
            left_end: left.add(left_len),
            right,
            right_end: right.add(right_len),
            dest,
        }
    };
    while hole.left < hole.left_end && hole.right < hole.right_end {
        // SAFETY: both pointers are inside their runs (loop condition); the item
        // chosen is copied to the next free slot, then its run's pointer advances past
        // it, so the guard never writes it twice. A panic in `compare` happens before
        // anything moved in this step.
        unsafe {
            // Branch-free: on random input the choice is a coin toss, so a branch
            // would mispredict half the time; select the source and advance both
            // pointers by the comparison's result instead.
            let take_right = compare(&*hole.right, &*hole.left) == Ordering::Less;
            let source = if take_right { hole.right } else { hole.left };
            ptr::copy_nonoverlapping(source, hole.dest, 1);
            hole.right = hole.right.add(usize::from(take_right));
            hole.left = hole.left.add(usize::from(!take_right));
            hole.dest = hole.dest.add(1);
        }
    }
    // Dropping the hole writes back whichever run has items left.
}

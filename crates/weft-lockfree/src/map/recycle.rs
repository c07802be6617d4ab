//! Entry blocks, recycled per thread.
//!
//! Every write allocates one entry and retires one, and the epoch frees retired entries
//! in batches, on whichever thread collects them: with glibc's allocator most of those
//! frees land in another thread's arena (a lock, and a cache line bouncing between
//! cores), and a batch of 64 frees overflows its small per-thread cache. So the map
//! keeps its own per-thread free lists of entry blocks, one per size class: a freed
//! block goes to the freeing thread's list and the next entry that thread allocates
//! reuses it, without a lock or an atomic. Each list keeps at most [`KEEP`] blocks; the
//! rest, and everything a thread still holds when it exits, go back to the global
//! allocator.
//!
//! A block is only ever recycled once the entry in it is dead: `drop_entry` runs after
//! the epoch's grace period (or with exclusive access), drops the key and value, and
//! then hands the block back. Blocks of one class all have the same layout, so a block
//! allocated by one thread may be freed to the global allocator by another.
//!
//! Under loom the lists are off: every block goes straight to the global allocator.

use core::alloc::Layout;
use std::alloc;

/// Size classes are multiples of this, which is also the blocks' alignment.
const GRAIN: usize = 8;
/// Classes: blocks of 8, 16, ..., 256 bytes. Larger or more aligned entries bypass the
/// lists.
const CLASSES: usize = 32;
/// Blocks each thread keeps per class: a few epoch bags' worth of retirements.
#[cfg(not(loom))]
const KEEP: usize = 256;

/// The class of blocks for a `T`, if `T` is small and aligned enough for one.
#[inline]
const fn class_of<T>() -> Option<usize> {
    let size = size_of::<T>();
    if align_of::<T>() <= GRAIN && size > 0 && size <= CLASSES * GRAIN {
        Some(size.div_ceil(GRAIN) - 1)
    } else {
        None
    }
}

/// The layout every block of a `T` has, recycled or not.
#[inline]
fn layout_of<T>() -> Layout {
    match class_of::<T>() {
        // SAFETY: a non-zero multiple of `GRAIN`, a power of two; no overflow (small).
        Some(class) => unsafe { Layout::from_size_align_unchecked((class + 1) * GRAIN, GRAIN) },
        None => Layout::new::<T>(),
    }
}

#[cfg(not(loom))]
mod lists {
    use super::{CLASSES, GRAIN, KEEP};
    use core::alloc::Layout;
    use core::cell::RefCell;
    use std::alloc;

    /// One thread's free blocks, by class.
    pub(super) struct Lists {
        classes: [Vec<*mut u8>; CLASSES],
    }

    impl Drop for Lists {
        fn drop(&mut self) {
            for (class, blocks) in self.classes.iter_mut().enumerate() {
                // SAFETY: the class layout; `Layout::from_size_align` cannot fail for it.
                let layout =
                    unsafe { Layout::from_size_align_unchecked((class + 1) * GRAIN, GRAIN) };
                for block in blocks.drain(..) {
                    // SAFETY: every listed block was allocated with its class layout
                    // and is free (`super::free`).
                    unsafe { alloc::dealloc(block, layout) };
                }
            }
        }
    }

    std::thread_local! {
        static LISTS: RefCell<Lists> = const {
            RefCell::new(Lists { classes: [const { Vec::new() }; CLASSES] })
        };
    }

    /// A free block of `class` from this thread's list, if it has one.
    #[inline]
    pub(super) fn take(class: usize) -> Option<*mut u8> {
        LISTS
            .try_with(|lists| lists.try_borrow_mut().ok()?.classes[class].pop())
            .ok()
            .flatten()
    }

    /// Keeps `block` on this thread's list of `class`; gives it back if the list is
    /// full (or the thread's lists are gone).
    #[inline]
    pub(super) fn keep(class: usize, block: *mut u8) -> Result<(), *mut u8> {
        LISTS
            .try_with(|lists| {
                let Ok(mut lists) = lists.try_borrow_mut() else {
                    return Err(block);
                };
                let list = &mut lists.classes[class];
                if list.len() >= KEEP {
                    return Err(block);
                }
                if list.capacity() == 0 {
                    list.reserve_exact(KEEP);
                }
                list.push(block);
                Ok(())
            })
            .unwrap_or(Err(block))
    }
}

#[cfg(loom)]
mod lists {
    #[inline]
    pub(super) fn take(_class: usize) -> Option<*mut u8> {
        None
    }

    #[inline]
    pub(super) fn keep(_class: usize, block: *mut u8) -> Result<(), *mut u8> {
        Err(block)
    }
}

/// Moves `value` into a block (recycled if this thread has one).
#[inline]
pub(super) fn boxed<T>(value: T) -> *mut T {
    let block = match class_of::<T>().and_then(lists::take) {
        Some(block) => block,
        None => {
            let layout = layout_of::<T>();
            // SAFETY: `layout` is not zero-sized (entries hold at least a hash).
            let block = unsafe { alloc::alloc(layout) };
            if block.is_null() {
                alloc::handle_alloc_error(layout);
            }
            block
        }
    };
    let block = block.cast::<T>();
    // SAFETY: a free block with `T`'s size and alignment (its layout is `layout_of`).
    unsafe { block.write(value) };
    block
}

/// Takes the value out of a block and frees (or recycles) the block.
///
/// # Safety
///
/// `block` came from [`boxed`] with this `T`, and nothing else uses it.
#[inline]
pub(super) unsafe fn unboxed<T>(block: *mut T) -> T {
    // SAFETY: the caller's contract: a live `T` that only we use.
    let value = unsafe { block.read() };
    // SAFETY: the value was moved out; the block is free.
    unsafe { free::<T>(block.cast()) };
    value
}

/// Drops the value in a block and frees (or recycles) the block.
///
/// # Safety
///
/// As [`unboxed`].
#[inline]
pub(super) unsafe fn dropped<T>(block: *mut T) {
    // SAFETY: the caller's contract. The value's `Drop` runs first, with no list
    // borrowed, so it may use maps (and allocate) itself.
    unsafe { block.drop_in_place() };
    // SAFETY: the value is gone; the block is free.
    unsafe { free::<T>(block.cast()) };
}

/// # Safety
///
/// `block` is a free block made by `boxed::<T>`.
#[inline]
unsafe fn free<T>(block: *mut u8) {
    let block = match class_of::<T>() {
        Some(class) => match lists::keep(class, block) {
            Ok(()) => return,
            Err(block) => block,
        },
        None => block,
    };
    // SAFETY: allocated with `layout_of::<T>()` (by `boxed`, on whichever thread).
    unsafe { alloc::dealloc(block, layout_of::<T>()) };
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_and_big_or_aligned_types_bypass() {
        assert_eq!(class_of::<u64>(), Some(0));
        assert_eq!(class_of::<[u64; 3]>(), Some(2));
        assert_eq!(class_of::<[u8; 17]>(), Some(2));
        assert_eq!(class_of::<[u8; 257]>(), None);
        assert_eq!(class_of::<u128>().is_some(), align_of::<u128>() <= GRAIN);
    }

    #[test]
    fn a_freed_block_is_reused_by_the_same_thread() {
        let first = boxed([1u64, 2, 3]);
        // SAFETY: ours, used once.
        assert_eq!(unsafe { unboxed(first) }, [1, 2, 3]);
        let second = boxed([4u64, 5, 6]);
        assert_eq!(first, second, "the block came back from the list");
        // SAFETY: ours, used once.
        unsafe { dropped(second) };
    }

    #[test]
    fn values_are_dropped_once() {
        use std::rc::Rc;
        let counted = Rc::new(());
        let block = boxed(Rc::clone(&counted));
        assert_eq!(Rc::strong_count(&counted), 2);
        // SAFETY: ours, used once.
        unsafe { dropped(block) };
        assert_eq!(Rc::strong_count(&counted), 1);
    }

    #[test]
    fn a_list_keeps_at_most_keep_blocks() {
        let blocks: Vec<_> = (0..KEEP + 10).map(|i| boxed([i as u64; 5])).collect();
        for block in blocks {
            // SAFETY: ours, used once.
            unsafe { dropped(block) };
        }
        let kept = lists::take(class_of::<[u64; 5]>().unwrap());
        assert!(kept.is_some());
        let count = 1 + core::iter::from_fn(|| lists::take(class_of::<[u64; 5]>().unwrap()))
            .inspect(|&block| {
                // SAFETY: a free block of this class, given back with its layout.
                unsafe { alloc::dealloc(block, layout_of::<[u64; 5]>()) }
            })
            .count();
        assert_eq!(count, KEEP);
        // SAFETY: as above.
        unsafe { alloc::dealloc(kept.unwrap(), layout_of::<[u64; 5]>()) };
    }
}

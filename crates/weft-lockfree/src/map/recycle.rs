//! Entry blocks, recycled per thread.
//!
//! Every write allocates one entry and retires one, and the epoch frees retired entries
//! in batches, on whichever thread collects them: with glibc's allocator most of those
//! frees land in another thread's arena (a lock, and a cache line bouncing between
//! cores), and a batch of 64 frees overflows its small per-thread cache. So the map
//! keeps its own per-thread free lists of entry blocks, one per size class: a freed
//! block goes to the freeing thread's list and the next entry that thread allocates
//! reuses it, without a lock or an atomic. The epoch runs retirements on whichever
//! thread collects them, so one thread may free more than it allocates: a list that
//! reaches `KEEP` blocks hands half of them, as one batch, to a global pool of its
//! class (a mutex taken once per `KEEP / 2` frees), and a thread whose list is empty
//! takes a batch from there before it asks the allocator. Past `POOLED` batches, and
//! when a thread exits, blocks go back to the global allocator.
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
/// Batches (of `KEEP / 2` blocks) the global pool keeps per class.
#[cfg(not(loom))]
const POOLED: usize = 64;

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
    use super::{CLASSES, GRAIN, KEEP, POOLED};
    use core::alloc::Layout;
    use core::cell::RefCell;
    use std::alloc;
    use weft_sync::Mutex;

    /// One thread's free blocks, by class.
    pub(super) struct Lists {
        classes: [Vec<*mut u8>; CLASSES],
    }

    impl Drop for Lists {
        fn drop(&mut self) {
            for (class, blocks) in self.classes.iter_mut().enumerate() {
                free_all(class, blocks.drain(..));
            }
        }
    }

    std::thread_local! {
        static LISTS: RefCell<Lists> = const {
            RefCell::new(Lists { classes: [const { Vec::new() }; CLASSES] })
        };
    }

    /// Free blocks of one class, moved between threads as a unit.
    struct Batch(Vec<*mut u8>);

    // SAFETY: the blocks are free memory that no thread uses; whoever holds the batch
    // owns them.
    unsafe impl Send for Batch {}

    /// Batches handed over by threads that freed more than they allocated.
    static POOL: [Mutex<Vec<Batch>>; CLASSES] = [const { Mutex::new(Vec::new()) }; CLASSES];

    fn class_layout(class: usize) -> Layout {
        // SAFETY: a non-zero multiple of `GRAIN`, a power of two; no overflow (small).
        unsafe { Layout::from_size_align_unchecked((class + 1) * GRAIN, GRAIN) }
    }

    fn free_all(class: usize, blocks: impl Iterator<Item = *mut u8>) {
        for block in blocks {
            // SAFETY: every listed block is free and was allocated with its class
            // layout (`super::boxed`).
            unsafe { alloc::dealloc(block, class_layout(class)) };
        }
    }

    /// Gives `blocks` (of `class`) to the pool, or back to the allocator if it is full.
    #[cold]
    #[inline(never)]
    fn hand_over(class: usize, blocks: Vec<*mut u8>) {
        let mut pool = POOL[class].lock();
        if pool.len() < POOLED {
            pool.push(Batch(blocks));
            return;
        }
        drop(pool);
        free_all(class, blocks.into_iter());
    }

    /// A batch from the pool, if it has one.
    #[cold]
    #[inline(never)]
    fn take_over(class: usize) -> Option<Vec<*mut u8>> {
        POOL[class].lock().pop().map(|batch| batch.0)
    }

    /// A free block of `class` from this thread's list (refilled from the pool when
    /// empty), if there is one.
    #[inline]
    pub(super) fn take(class: usize) -> Option<*mut u8> {
        LISTS
            .try_with(|lists| {
                let mut lists = lists.try_borrow_mut().ok()?;
                let list = &mut lists.classes[class];
                if let Some(block) = list.pop() {
                    return Some(block);
                }
                // The empty list's vector goes; the batch's (room for `KEEP`) stays.
                *list = take_over(class)?;
                list.pop()
            })
            .ok()
            .flatten()
    }

    /// Keeps `block` on this thread's list of `class` (handing half of a full list to
    /// the pool first); gives it back if the thread's lists are gone.
    #[inline]
    pub(super) fn keep(class: usize, block: *mut u8) -> Result<(), *mut u8> {
        LISTS
            .try_with(|lists| {
                let Ok(mut lists) = lists.try_borrow_mut() else {
                    return Err(block);
                };
                let list = &mut lists.classes[class];
                if list.len() >= KEEP {
                    let mut half = Vec::with_capacity(KEEP);
                    half.extend(list.drain(KEEP / 2..));
                    hand_over(class, half);
                } else if list.capacity() == 0 {
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
    fn a_full_list_hands_half_to_the_pool_and_an_empty_one_takes_it_back() {
        // A class no other test uses, so the pool holds only this test's batches.
        type Odd = [u8; 201];
        let class = class_of::<Odd>().unwrap();
        let freed: Vec<usize> = (0..KEEP + 1).map(|_| boxed([7u8; 201]) as usize).collect();
        std::thread::spawn(move || {
            for block in freed {
                // SAFETY: ours, used once.
                unsafe { dropped(block as *mut Odd) };
            }
        })
        .join()
        .unwrap();
        // The freeing thread kept half, handed half over, and gave the rest back at
        // exit; this thread's empty list takes the batch.
        let reused: Vec<_> = (0..KEEP / 2).map(|_| lists::take(class)).collect();
        assert!(reused.iter().all(Option::is_some));
        for block in reused.into_iter().flatten() {
            // SAFETY: a free block of this class, given back with its layout.
            unsafe { alloc::dealloc(block, layout_of::<Odd>()) };
        }
    }
}

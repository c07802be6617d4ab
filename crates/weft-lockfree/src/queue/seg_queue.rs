//! `SegQueue`: an unbounded multi-producer multi-consumer queue over a linked list of
//! fixed-size blocks, each freed by the last consumer to leave it.
//!
//! # Design
//!
//! A segmented variant of Vyukov's bounded queue: positions are claimed by
//! compare-and-swap on `tail` (producers) and `head` (consumers), as in the ring, but
//! instead of reusing slots round a ring, each block of `BLOCK_CAP` slots is used once
//! and a new block is linked on when the last one fills. Per-slot state bits replace
//! the ring's stamps, and the same bits let the block be freed without a general
//! garbage collector: the block is only ever reached through `head`/`tail` (whose
//! CAS validates the pointer before it is used), so once every slot of a block has
//! been read, nobody can touch it again.
//!
//! # Positions
//!
//! `head` and `tail` hold `position << SHIFT`. Within a block, `position % LAP` is the
//! offset: `0..BLOCK_CAP` are slots, and offset `BLOCK_CAP` is a sentinel meaning "the
//! block is used up and the thread that took its last slot is moving on to the next
//! block"; others wait while an end rests on it. The low bit of `head` is `HAS_NEXT`:
//! set when the consumer knows `tail` has moved past this block, so pops can skip
//! reading `tail` (a cache line the producers keep writing).
//!
//! # Slot state bits
//!
//! - `WRITE`: the producer has written the value (set once, Release).
//! - `READ`: the consumer has moved the value out (set once, AcqRel).
//! - `DESTROY`: a thread freeing the block found this slot's reader still busy and
//!   left the rest of the freeing to it.
//!
//! A slot goes `0 → WRITE → WRITE|READ`, with `DESTROY` possibly set in between by the
//! freeing thread. Whoever sets the second of `READ`/`DESTROY` continues the freeing.
//!
//! # Freeing a block (the last reader frees it)
//!
//! The consumer that takes a block's last slot moves `head` to the next block, reads
//! its value, then walks slots `0..BLOCK_CAP - 1`: for each slot whose `READ` is not
//! yet set it sets `DESTROY`; if `READ` is still unset then, that slot's reader is
//! mid-read and will, on setting `READ` and seeing `DESTROY`, continue the walk from
//! the following slot. The thread that finishes the walk frees the block. Producers
//! never touch a block after setting `WRITE`, and readers wait for `WRITE`, so a fully
//! read block has no user left.

use super::{after_lost_race, wait_for_other};
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr;
use weft_sync::primitive::UnsafeCell;
use weft_sync::primitive::atomic::{self, AtomicPtr, AtomicUsize, Ordering};
use weft_sync::{Backoff, CachePadded};

/// Positions per block, including the sentinel: 32 (31 slots) normally, 3 (2 slots)
/// under loom so a model crosses a block boundary in three pushes.
#[cfg(not(loom))]
const LAP: usize = 32;
#[cfg(loom)]
const LAP: usize = 3;

/// Slots per block.
const BLOCK_CAP: usize = LAP - 1;

/// Positions are stored shifted left by this much, freeing the low bit for `HAS_NEXT`.
const SHIFT: usize = 1;

/// In `head`: the block after `head`'s block is known to exist (so not empty).
const HAS_NEXT: usize = 1;

/// Slot state: the value is written.
const WRITE: usize = 1;
/// Slot state: the value has been moved out.
const READ: usize = 2;
/// Slot state: the block's freer passed this slot while it was being read.
const DESTROY: usize = 4;

struct Slot<T> {
    value: UnsafeCell<MaybeUninit<T>>,
    state: AtomicUsize,
}

impl<T> Slot<T> {
    /// Waits until the producer that claimed this slot has written it.
    fn wait_write(&self) {
        let backoff = Backoff::new();
        // Acquire: pairs with the Release `fetch_or(WRITE)` in `push`, making the value
        // visible.
        while self.state.load(Ordering::Acquire) & WRITE == 0 {
            wait_for_other(&backoff);
        }
    }
}

struct Block<T> {
    /// The following block, set once by the producer that took this block's last slot.
    next: AtomicPtr<Block<T>>,
    slots: [Slot<T>; BLOCK_CAP],
}

impl<T> Block<T> {
    /// A fresh block on the heap: every slot empty, no successor.
    fn allocate() -> Box<Self> {
        #[cfg(not(loom))]
        {
            let layout = std::alloc::Layout::new::<Self>();
            // SAFETY: `Block` has a non-zero size (at least the `next` pointer).
            let raw = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Self>();
            if raw.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            // SAFETY: `raw` is a fresh allocation with `Box`'s layout for `Self`, and
            // all-zero bytes are a valid `Block`: a null `AtomicPtr`, zero `AtomicUsize`
            // states, uninitialized `MaybeUninit` values. Zeroing skips building the
            // (possibly large) block on the stack.
            unsafe { Box::from_raw(raw) }
        }
        #[cfg(loom)]
        {
            Box::new(Self {
                next: AtomicPtr::new(ptr::null_mut()),
                slots: core::array::from_fn(|_| Slot {
                    value: UnsafeCell::new(MaybeUninit::uninit()),
                    state: AtomicUsize::new(0),
                }),
            })
        }
    }

    /// Waits until the producer that took this block's last slot has linked the next.
    fn wait_next(&self) -> *mut Self {
        let backoff = Backoff::new();
        loop {
            // Acquire: pairs with the Release store of `next` in `push`, so the new
            // block's initialization is visible.
            let next = self.next.load(Ordering::Acquire);
            if !next.is_null() {
                return next;
            }
            wait_for_other(&backoff);
        }
    }

    /// Frees `block` once slots `start..BLOCK_CAP - 1` have been read, or hands the
    /// job to the first of them whose reader is still busy.
    ///
    /// # Safety
    ///
    /// `block` came from `Box::into_raw`, every slot of it has been claimed by a
    /// consumer, and slot `BLOCK_CAP - 1` and slots `..start` have been read (their
    /// readers no longer touch the block).
    unsafe fn destroy(block: *mut Self, start: usize) {
        // The last slot is never checked: its reader is the one that starts the walk.
        for index in start..BLOCK_CAP - 1 {
            // SAFETY: the block is live: slot `index`'s reader (or we) still use it.
            let slot = unsafe { &(*block).slots[index] };
            // Acquire (both): pairs with the reader's AcqRel `fetch_or(READ)`, so its
            // read of the value happens before we free the memory.
            if slot.state.load(Ordering::Acquire) & READ == 0
                && slot.state.fetch_or(DESTROY, Ordering::AcqRel) & READ == 0
            {
                // The reader will see DESTROY and continue from `index + 1`.
                return;
            }
        }
        // SAFETY: every slot has been read and no producer touches a block after
        // writing its slot; `block` came from `Box::into_raw` and is freed only here.
        drop(unsafe { Box::from_raw(block) });
    }
}

/// One end of the queue: its position, and the block that position lies in.
struct End<T> {
    index: AtomicUsize,
    block: AtomicPtr<Block<T>>,
}

/// An unbounded multi-producer multi-consumer FIFO queue of linked blocks.
///
/// Any number of threads may [`push`](Self::push) and [`pop`](Self::pop) through a
/// shared reference. Memory grows a block (31 slots) at a time and each block is freed
/// as soon as its last value is popped; there is no garbage collector and no epoch.
///
/// # Progress
///
/// `push` and `pop` claim positions with a compare-and-swap that fails only because
/// another thread's succeeded, so claims are lock-free. There are three places a
/// thread waits for another's step in progress, spinning and then yielding:
///
/// 1. a `pop` that claimed a slot whose producer has not finished writing it;
/// 2. a `push` (or `pop`) reaching the end of a block while the thread that took the
///    block's last slot is linking (or moving `head` to) the next block — a few
///    stores, and the next block is allocated before the last slot is claimed so the
///    window holds no allocation;
/// 3. a `pop` taking a block's last slot waits for the next block to be linked.
///
/// If the thread in the middle is descheduled, the threads behind it wait with it.
/// `len` and `is_empty` never wait. Freeing a block never waits: a busy reader is left
/// to finish the freeing.
///
/// Design: the segmented form of Vyukov's bounded MPMC queue (per-slot state bits,
/// blocks freed by their last reader); see the module source for the state machine.
///
/// # Examples
///
/// ```
/// use weft_lockfree::SegQueue;
///
/// let queue = SegQueue::new();
/// for i in 0..100 {
///     queue.push(i);
/// }
/// assert_eq!(queue.len(), 100);
/// assert_eq!(queue.pop(), Some(0));
/// assert_eq!(queue.pop(), Some(1));
/// ```
pub struct SegQueue<T> {
    head: CachePadded<End<T>>,
    tail: CachePadded<End<T>>,
    /// The queue owns `T`s (for drop check and auto traits).
    _marker: PhantomData<T>,
}

// SAFETY: each value is written by one producer and moved out by one consumer, the
// slot's WRITE bit ordering the two, so `T: Send` suffices.
unsafe impl<T: Send> Send for SegQueue<T> {}
// SAFETY: as for `Send`: `&SegQueue` moves values in and out, never shares a `&T`.
unsafe impl<T: Send> Sync for SegQueue<T> {}

impl<T> SegQueue<T> {
    /// An empty queue. Allocates nothing until the first push.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::SegQueue;
    ///
    /// static QUEUE: SegQueue<u32> = SegQueue::new();
    /// QUEUE.push(7);
    /// assert_eq!(QUEUE.pop(), Some(7));
    /// ```
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            head: CachePadded::new(End {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(ptr::null_mut()),
            }),
            tail: CachePadded::new(End {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(ptr::null_mut()),
            }),
            _marker: PhantomData,
        }
    }

    /// An empty queue (loom's atomics have no `const` constructor).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            head: CachePadded::new(End {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(ptr::null_mut()),
            }),
            tail: CachePadded::new(End {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(ptr::null_mut()),
            }),
            _marker: PhantomData,
        }
    }

    /// Adds `value` at the back.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::SegQueue;
    ///
    /// let queue = SegQueue::new();
    /// queue.push("job");
    /// assert_eq!(queue.len(), 1);
    /// ```
    pub fn push(&self, value: T) {
        let backoff = Backoff::new();
        // Acquire (both): pairs with the Release stores of `tail` when a block is
        // installed, so `block` is at least the block `tail` lies in (see below).
        let mut tail = self.tail.index.load(Ordering::Acquire);
        let mut block = self.tail.block.load(Ordering::Acquire);
        let mut next_block: Option<Box<Block<T>>> = None;
        loop {
            let offset = (tail >> SHIFT) % LAP;
            if offset == BLOCK_CAP {
                // Another producer took the last slot and is installing the next block.
                wait_for_other(&backoff);
                tail = self.tail.index.load(Ordering::Acquire);
                block = self.tail.block.load(Ordering::Acquire);
                continue;
            }
            // About to take the last slot: allocate the next block now, outside the
            // window in which the other producers wait for it.
            if offset + 1 == BLOCK_CAP && next_block.is_none() {
                next_block = Some(Block::allocate());
            }
            if block.is_null() {
                // The very first push: install the first block.
                let first = Box::into_raw(next_block.take().unwrap_or_else(Block::allocate));
                // Release: publishes the block's initialization to the Acquire loads
                // of `tail.block`. Relaxed on failure: we reload both ends with
                // Acquire before touching the winner's block.
                match self.tail.block.compare_exchange(
                    ptr::null_mut(),
                    first,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // Release: pairs with the Acquire load of `head.block` in `pop`.
                        self.head.block.store(first, Ordering::Release);
                        block = first;
                    }
                    Err(_) => {
                        // SAFETY: `first` is ours, from `Box::into_raw` just above; we
                        // keep it for a later block installation.
                        next_block = Some(unsafe { Box::from_raw(first) });
                        tail = self.tail.index.load(Ordering::Acquire);
                        block = self.tail.block.load(Ordering::Acquire);
                        continue;
                    }
                }
            }
            let new_tail = tail.wrapping_add(1 << SHIFT);
            // SeqCst: `pop`'s emptiness check reads `tail` after a SeqCst fence; a total
            // order on the claims makes "empty" a state the queue really was in.
            match self.tail.index.compare_exchange_weak(
                tail,
                new_tail,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // The CAS proves `block` is the block of position `tail`: `tail.block`
                    // changes only while `tail.index` rests on a sentinel, which our
                    // loaded `tail` was not, and our Acquire load of `tail` saw at least
                    // the install of this block.
                    if offset + 1 == BLOCK_CAP {
                        // We took the last slot (`tail` now rests on the sentinel):
                        // install the next block and move `tail` past the sentinel.
                        let next = Box::into_raw(next_block.take().expect("allocated above"));
                        // Release (all three): publish the new block's initialization to
                        // the Acquire loads of `tail.block`, `tail.index` and `next`.
                        // `next` goes last: the consumer that moves `head` into the new
                        // block waits for `next` (Acquire), so `tail` is past the
                        // sentinel before `head` can be, and `head` never overtakes
                        // `tail` (which `pop`'s emptiness check relies on).
                        self.tail.block.store(next, Ordering::Release);
                        self.tail
                            .index
                            .store(new_tail.wrapping_add(1 << SHIFT), Ordering::Release);
                        // SAFETY: `block` is live: our slot in it is not yet written, so
                        // its consumer cannot have freed it.
                        unsafe { (*block).next.store(next, Ordering::Release) };
                    }
                    // SAFETY: as above, the block is live until our slot is read.
                    let slot = unsafe { &(*block).slots[offset] };
                    // SAFETY: winning the CAS on position `tail` made the slot ours to
                    // write; its consumer waits for WRITE before reading.
                    slot.value.with_mut(|cell| unsafe { (*cell).write(value) });
                    // Release: publishes the value to the consumer's Acquire in
                    // `wait_write`. After this we never touch the block again.
                    slot.state.fetch_or(WRITE, Ordering::Release);
                    return;
                }
                Err(current) => {
                    tail = current;
                    block = self.tail.block.load(Ordering::Acquire);
                    after_lost_race(&backoff);
                }
            }
        }
    }

    /// Removes the value at the front, or returns `None` if the queue is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::SegQueue;
    ///
    /// let queue = SegQueue::new();
    /// queue.push(1);
    /// assert_eq!(queue.pop(), Some(1));
    /// assert_eq!(queue.pop(), None);
    /// ```
    pub fn pop(&self) -> Option<T> {
        let backoff = Backoff::new();
        // Acquire (both): pairs with the Release stores when `head` moves to a new
        // block, so `block` is at least the block `head` lies in.
        let mut head = self.head.index.load(Ordering::Acquire);
        let mut block = self.head.block.load(Ordering::Acquire);
        loop {
            let offset = (head >> SHIFT) % LAP;
            if offset == BLOCK_CAP {
                // Another consumer took the last slot and is moving `head` on.
                wait_for_other(&backoff);
                head = self.head.index.load(Ordering::Acquire);
                block = self.head.block.load(Ordering::Acquire);
                continue;
            }
            let mut new_head = head.wrapping_add(1 << SHIFT);
            if new_head & HAS_NEXT == 0 {
                // SeqCst fence: pairs with the SeqCst CAS on `tail` in `push`, so the
                // `tail` read here is no older than any push ordered before this pop.
                atomic::fence(Ordering::SeqCst);
                let tail = self.tail.index.load(Ordering::Relaxed);
                if head >> SHIFT == tail >> SHIFT {
                    return None;
                }
                // `tail` is in a later block: every slot left in ours is claimed.
                if (head >> SHIFT) / LAP != (tail >> SHIFT) / LAP {
                    new_head |= HAS_NEXT;
                }
            }
            if block.is_null() {
                // The first push has claimed a slot but not yet published the block.
                wait_for_other(&backoff);
                head = self.head.index.load(Ordering::Acquire);
                block = self.head.block.load(Ordering::Acquire);
                continue;
            }
            // SeqCst: see the CAS in `push`.
            match self.head.index.compare_exchange_weak(
                head,
                new_head,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // As in `push`, the CAS proves `block` is the block of `head`.
                    if offset + 1 == BLOCK_CAP {
                        // We took the last slot: move `head` to the next block.
                        // SAFETY: `block` is live: our slot in it is not yet read.
                        let next = unsafe { (*block).wait_next() };
                        let mut next_index = (new_head & !HAS_NEXT).wrapping_add(1 << SHIFT);
                        // Relaxed: only a hint. A stale null leaves HAS_NEXT unset,
                        // and the next pop reads `tail` instead.
                        // SAFETY: `next` is live: `head` has not reached it yet, so
                        // none of its slots has been read.
                        if unsafe { !(*next).next.load(Ordering::Relaxed).is_null() } {
                            next_index |= HAS_NEXT;
                        }
                        // Release (both): pair with the Acquire loads at the top of
                        // `pop`, carrying the `next` pointer we acquired.
                        self.head.block.store(next, Ordering::Release);
                        self.head.index.store(next_index, Ordering::Release);
                    }
                    // SAFETY: the block is live until our slot is read (below).
                    let slot = unsafe { &(*block).slots[offset] };
                    slot.wait_write();
                    // SAFETY: we won position `head`, and WRITE (Acquire) says the value
                    // is initialized; nobody else reads it.
                    let value = slot
                        .value
                        .with_mut(|cell| unsafe { (*cell).as_ptr().read() });
                    if offset + 1 == BLOCK_CAP {
                        // SAFETY: every slot is claimed (we took the last), ours is read.
                        unsafe { Block::destroy(block, 0) };
                    } else if slot.state.fetch_or(READ, Ordering::AcqRel) & DESTROY != 0 {
                        // AcqRel: Release orders our read before the block's freeing;
                        // Acquire pairs with the freer's `fetch_or(DESTROY)`, so the
                        // slots it already checked happen-before our freeing.
                        // SAFETY: the freer stopped at our slot; slots before it are read.
                        unsafe { Block::destroy(block, offset + 1) };
                    }
                    return Some(value);
                }
                Err(current) => {
                    head = current;
                    block = self.head.block.load(Ordering::Acquire);
                    after_lost_race(&backoff);
                }
            }
        }
    }

    /// How many values the queue holds: exact when no other thread is using it, and
    /// otherwise a value it held at some instant during the call.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::SegQueue;
    ///
    /// let queue = SegQueue::new();
    /// queue.push(1);
    /// queue.push(2);
    /// assert_eq!(queue.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        loop {
            // SeqCst: a consistent snapshot of both ends, retried if `tail` moved.
            let tail = self.tail.index.load(Ordering::SeqCst);
            let head = self.head.index.load(Ordering::SeqCst);
            if self.tail.index.load(Ordering::SeqCst) != tail {
                continue;
            }
            let mut tail = tail >> SHIFT;
            let mut head = head >> SHIFT;
            // An end resting on a sentinel counts as the next block's first slot.
            if tail % LAP == BLOCK_CAP {
                tail = tail.wrapping_add(1);
            }
            if head % LAP == BLOCK_CAP {
                head = head.wrapping_add(1);
            }
            // Positions minus the sentinels between the ends (one per block boundary).
            let blocks_crossed = (tail / LAP).wrapping_sub(head / LAP);
            return tail.wrapping_sub(head).wrapping_sub(blocks_crossed);
        }
    }

    /// Whether the queue holds no value (at some instant during the call).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::SegQueue;
    ///
    /// let queue = SegQueue::<u8>::new();
    /// assert!(queue.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        // SeqCst: ordered with the claims on both ends; see `len`.
        let head = self.head.index.load(Ordering::SeqCst);
        let tail = self.tail.index.load(Ordering::SeqCst);
        head >> SHIFT == tail >> SHIFT
    }
}

impl<T> Default for SegQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for SegQueue<T> {
    fn drop(&mut self) {
        // Relaxed: `&mut self` means every other thread's accesses happen-before now.
        let mut head = self.head.index.load(Ordering::Relaxed) & !HAS_NEXT;
        let tail = self.tail.index.load(Ordering::Relaxed) & !HAS_NEXT;
        let mut block = self.head.block.load(Ordering::Relaxed);
        while head != tail {
            let offset = (head >> SHIFT) % LAP;
            if offset < BLOCK_CAP {
                // SAFETY: positions in `head..tail` were pushed (WRITE set, no push in
                // flight) and not popped, so the value is initialized; dropped once.
                unsafe {
                    (*block).slots[offset]
                        .value
                        .with_mut(|cell| (*cell).assume_init_drop());
                }
            } else {
                // SAFETY: `tail` is past this block, so its successor was linked; the
                // block is ours alone (every earlier block was freed by its readers).
                let next = unsafe { (*block).next.load(Ordering::Relaxed) };
                // SAFETY: from `Box::into_raw`, and no thread can reach it any more.
                drop(unsafe { Box::from_raw(block) });
                block = next;
            }
            head = head.wrapping_add(1 << SHIFT);
        }
        if !block.is_null() {
            // SAFETY: the block `tail` lies in, from `Box::into_raw`, unreachable now.
            drop(unsafe { Box::from_raw(block) });
        }
    }
}

impl<T> fmt::Debug for SegQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegQueue")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fifo_across_many_blocks() {
        let queue = SegQueue::new();
        for value in 0..(BLOCK_CAP * 5 + 3) {
            queue.push(value);
            assert_eq!(queue.len(), value + 1);
        }
        for value in 0..(BLOCK_CAP * 5 + 3) {
            assert_eq!(queue.pop(), Some(value));
        }
        assert_eq!(queue.pop(), None);
        assert!(queue.is_empty());
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn len_at_block_boundaries() {
        let queue = SegQueue::new();
        for round in 0..3 * LAP {
            queue.push(round);
            queue.push(round);
            assert_eq!(queue.len(), 2);
            queue.pop();
            assert_eq!(queue.len(), 1);
            queue.pop();
            assert_eq!(queue.len(), 0);
        }
    }

    #[test]
    fn debug_shows_len() {
        let queue = SegQueue::new();
        queue.push(1);
        assert_eq!(format!("{queue:?}"), "SegQueue { len: 1, .. }");
    }
}

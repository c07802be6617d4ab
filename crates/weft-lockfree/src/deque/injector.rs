//! `Injector`: the global FIFO queue that work enters from outside the workers.
//!
//! # Layout and indices
//!
//! A linked list of blocks of [`BLOCK_CAP`] slots. `head.index` and `tail.index` count
//! positions, [`LAP`] = `BLOCK_CAP + 1` per block: offsets `0..BLOCK_CAP` are slots,
//! offset `BLOCK_CAP` is a sentinel meaning "the next block is being installed". A
//! producer reserves a slot with a CAS on `tail.index`, then writes it and sets the
//! slot's `WRITTEN` bit. A consumer reserves a *range* of slots of one block with one
//! CAS on `head.index`, which is how batches are taken.
//!
//! # Invariants
//!
//! 1. The thread that reserves the last slot of a block installs the next block: the
//!    producer allocates it and stores `tail.block`, then `tail.index` (past the
//!    sentinel), then the old block's `next`; the consumer waits for `next`, then
//!    stores `head.block`, then `head.index`. Loading `index` then `block` therefore
//!    gives a block at least as new as the index, and a CAS from an index of an older
//!    lap fails (indices only grow).
//! 2. A block is freed once every slot is `READ`. The consumer of the last slot walks
//!    the others; at the first one not yet read it sets `DESTROY` and stops, and the
//!    reader of that slot, seeing `DESTROY` when it sets `READ`, resumes the walk.
//!
//! # Progress
//!
//! Producers are lock-free. Consumers are lock-free against each other (`Retry`), but
//! one that has reserved a slot may wait (spin, then yield) for the producer that
//! reserved it to finish writing it, or to install the next block; both are a few
//! instructions after that producer's CAS. The same trade is made by every segmented
//! queue with per-slot ready bits; it buys one CAS per push and per batch.

use super::Steal;
use super::worker::{MAX_BATCH, Worker};
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr;
use weft_sync::primitive::UnsafeCell;
use weft_sync::primitive::atomic::{AtomicPtr, AtomicUsize, Ordering, fence};
use weft_sync::{Backoff, CachePadded};

/// Slots per block. Tiny under loom, so block changes happen inside models.
#[cfg(not(loom))]
const BLOCK_CAP: usize = 63;
#[cfg(loom)]
const BLOCK_CAP: usize = 2;
/// Positions per block: the slots and the sentinel.
const LAP: usize = BLOCK_CAP + 1;

/// The slot's value has been written.
const WRITTEN: usize = 1;
/// The slot's value has been read out.
const READ: usize = 2;
/// The block's destroyer stopped here; the slot's reader continues the walk.
const DESTROY: usize = 4;

struct Slot<T> {
    value: UnsafeCell<MaybeUninit<T>>,
    state: AtomicUsize,
}

struct Block<T> {
    next: AtomicPtr<Block<T>>,
    slots: [Slot<T>; BLOCK_CAP],
}

impl<T> Block<T> {
    fn allocate() -> *mut Block<T> {
        Box::into_raw(Box::new(Block {
            next: AtomicPtr::new(ptr::null_mut()),
            slots: core::array::from_fn(|_| Slot {
                value: UnsafeCell::new(MaybeUninit::uninit()),
                state: AtomicUsize::new(0),
            }),
        }))
    }

    /// Waits for the producer that reserved the last slot to link the next block.
    fn wait_next(&self) -> *mut Block<T> {
        let backoff = Backoff::new();
        loop {
            // Acquire: pairs with the Release store in `push`, so the new block's
            // initialisation is visible.
            let next = self.next.load(Ordering::Acquire);
            if !next.is_null() {
                return next;
            }
            backoff.snooze();
        }
    }

    /// Walks slots `start..BLOCK_CAP - 1` (the last slot's reader is the one who
    /// started the walk) and frees the block if all are read (invariant 2).
    ///
    /// # Safety
    ///
    /// The caller read the last slot (start 0) or found `DESTROY` on slot `start - 1`
    /// after having finished with every slot it reserved in this block.
    unsafe fn destroy(this: *mut Block<T>, start: usize) {
        for index in start..BLOCK_CAP - 1 {
            // SAFETY: the block is alive until this walk finishes (nobody else frees).
            let slot = unsafe { &(*this).slots[index] };
            // Acquire (load and RMW): pairs with the reader's AcqRel `fetch_or(READ)`,
            // so its read of the value happens before the free.
            if slot.state.load(Ordering::Acquire) & READ == 0
                && slot.state.fetch_or(DESTROY, Ordering::AcqRel) & READ == 0
            {
                // That slot's reader will resume the walk.
                return;
            }
        }
        // SAFETY: every slot is read and no reader will touch the block again.
        unsafe { drop(Box::from_raw(this)) };
    }
}

/// One end of the queue: a position and the block it is in.
struct Position<T> {
    index: AtomicUsize,
    block: AtomicPtr<Block<T>>,
}

/// A multi-producer multi-consumer FIFO queue, unbounded, from which consumers take
/// one item or a batch straight into their [`Worker`] deque.
///
/// # Progress
///
/// `push` is lock-free. `steal*` are lock-free against each other (a lost race is a
/// [`Steal::Retry`]), but may briefly wait for a producer that has reserved a slot
/// and not yet written it (see the module notes in `injector.rs`).
///
/// # Examples
///
/// ```
/// use weft_lockfree::deque::{Injector, Steal, Worker};
///
/// let injector = Injector::new();
/// for i in 0..10 {
///     injector.push(i);
/// }
/// assert_eq!(injector.steal(), Steal::Success(0));
/// let mine = Worker::new_fifo();
/// assert_eq!(injector.steal_batch_and_pop(&mine), Steal::Success(1));
/// assert_eq!(injector.len() + mine.len(), 8);
/// ```
pub struct Injector<T> {
    head: CachePadded<Position<T>>,
    tail: CachePadded<Position<T>>,
    _owns: PhantomData<T>,
}

// SAFETY: values move between threads (`T: Send`); all shared access goes through
// atomics, and each slot's value is read by the one consumer that reserved it.
unsafe impl<T: Send> Send for Injector<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Injector<T> {}

impl<T> Default for Injector<T> {
    fn default() -> Injector<T> {
        Injector::new()
    }
}

impl<T> fmt::Debug for Injector<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Injector")
            .field("len", &self.len())
            .finish()
    }
}

/// Positions before `index`, not counting sentinels.
fn items_before(index: usize) -> usize {
    index - index / LAP
}

impl<T> Injector<T> {
    /// An empty queue (one block is allocated up front).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Injector;
    ///
    /// let injector = Injector::<u32>::new();
    /// assert!(injector.is_empty());
    /// ```
    pub fn new() -> Injector<T> {
        let block = Block::allocate();
        Injector {
            head: CachePadded::new(Position {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(block),
            }),
            tail: CachePadded::new(Position {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(block),
            }),
            _owns: PhantomData,
        }
    }

    /// Appends `value` at the back.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Injector;
    ///
    /// let injector = Injector::new();
    /// injector.push("job");
    /// assert_eq!(injector.len(), 1);
    /// ```
    pub fn push(&self, value: T) {
        let backoff = Backoff::new();
        // Acquire both: pairs with the Release stores of a block installer
        // (invariant 1), so the block is initialised and matches the index.
        let mut tail = self.tail.index.load(Ordering::Acquire);
        let mut block = self.tail.block.load(Ordering::Acquire);
        let mut next_block: *mut Block<T> = ptr::null_mut();
        loop {
            let offset = tail % LAP;
            if offset == BLOCK_CAP {
                // Another producer is installing the next block.
                backoff.snooze();
                tail = self.tail.index.load(Ordering::Acquire);
                block = self.tail.block.load(Ordering::Acquire);
                continue;
            }
            // Allocate before the CAS, so the installer's window is short.
            if offset + 1 == BLOCK_CAP && next_block.is_null() {
                next_block = Block::allocate();
            }
            // SeqCst: the reservation is ordered with consumers' fence-then-load of
            // `tail.index`, which decides emptiness.
            match self.tail.index.compare_exchange_weak(
                tail,
                tail + 1,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if offset + 1 == BLOCK_CAP {
                        // Invariant 1. Release stores: the new block's contents are
                        // published to whoever acquires these.
                        self.tail.block.store(next_block, Ordering::Release);
                        self.tail.index.store(tail + 2, Ordering::Release);
                        // SAFETY: `block` is alive: its last slot is reserved by us
                        // and not yet read, so no one has freed it.
                        unsafe { (*block).next.store(next_block, Ordering::Release) };
                        next_block = ptr::null_mut();
                    }
                    // SAFETY: we reserved `offset` in `block`, which cannot be freed
                    // before its slot is read, which cannot happen before `WRITTEN`.
                    let slot = unsafe { &(*block).slots[offset] };
                    // SAFETY: the reservation makes us the slot's only writer.
                    slot.value
                        .with_mut(|cell| unsafe { cell.write(MaybeUninit::new(value)) });
                    // Release: publishes the value to the consumer's Acquire load.
                    slot.state.fetch_or(WRITTEN, Ordering::Release);
                    break;
                }
                Err(current) => {
                    tail = current;
                    block = self.tail.block.load(Ordering::Acquire);
                    backoff.spin();
                }
            }
        }
        if !next_block.is_null() {
            // SAFETY: allocated above, never shared (we did not install it).
            unsafe { drop(Box::from_raw(next_block)) };
        }
    }

    /// `true` if the queue looked empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Injector;
    ///
    /// let injector = Injector::new();
    /// injector.push(1);
    /// assert!(!injector.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        let head = self.head.index.load(Ordering::SeqCst);
        let tail = self.tail.index.load(Ordering::SeqCst);
        items_before(head) >= items_before(tail)
    }

    /// The number of items the queue looked to hold.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Injector;
    ///
    /// let injector = Injector::new();
    /// injector.push(1);
    /// injector.push(2);
    /// assert_eq!(injector.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        loop {
            let tail = self.tail.index.load(Ordering::SeqCst);
            let head = self.head.index.load(Ordering::SeqCst);
            // A consistent pair: `tail` did not move while we read `head`.
            if self.tail.index.load(Ordering::SeqCst) == tail {
                return items_before(tail).saturating_sub(items_before(head));
            }
        }
    }

    /// Takes the oldest item.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::{Injector, Steal};
    ///
    /// let injector = Injector::new();
    /// assert_eq!(injector.steal(), Steal::<i32>::Empty);
    /// injector.push(1);
    /// assert_eq!(injector.steal(), Steal::Success(1));
    /// ```
    pub fn steal(&self) -> Steal<T> {
        match self.reserve(1) {
            Steal::Success((block, offset, _)) => {
                // SAFETY: `reserve` gave us slot `offset` of `block`.
                let value = unsafe { Self::take(block, offset) };
                // SAFETY: we are done with our one slot.
                unsafe { Self::release(block, offset, offset + 1) };
                Steal::Success(value)
            }
            Steal::Empty => Steal::Empty,
            Steal::Retry => Steal::Retry,
        }
    }

    /// Moves up to half the items (at most 32, and within one block) into `dest`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::{Injector, Steal, Worker};
    ///
    /// let injector = Injector::new();
    /// for i in 0..6 {
    ///     injector.push(i);
    /// }
    /// let mine = Worker::new_fifo();
    /// assert_eq!(injector.steal_batch(&mine), Steal::Success(()));
    /// assert_eq!(mine.len(), 3);
    /// assert_eq!(mine.pop(), Some(0));
    /// ```
    pub fn steal_batch(&self, dest: &Worker<T>) -> Steal<()> {
        match self.steal_into(dest, false) {
            Steal::Success(_) => Steal::Success(()),
            Steal::Empty => Steal::Empty,
            Steal::Retry => Steal::Retry,
        }
    }

    /// Like [`steal_batch`](Injector::steal_batch), but returns the oldest item taken
    /// instead of pushing it into `dest`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::{Injector, Steal, Worker};
    ///
    /// let injector = Injector::new();
    /// for i in 0..6 {
    ///     injector.push(i);
    /// }
    /// let mine = Worker::new_lifo();
    /// assert_eq!(injector.steal_batch_and_pop(&mine), Steal::Success(0));
    /// assert_eq!(mine.len(), 2);
    /// ```
    pub fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        match self.steal_into(dest, true) {
            Steal::Success(first) => Steal::Success(first.expect("a popped item")),
            Steal::Empty => Steal::Empty,
            Steal::Retry => Steal::Retry,
        }
    }

    fn steal_into(&self, dest: &Worker<T>, pop_first: bool) -> Steal<Option<T>> {
        let (block, offset, count) = match self.reserve(MAX_BATCH) {
            Steal::Success(range) => range,
            Steal::Empty => return Steal::Empty,
            Steal::Retry => return Steal::Retry,
        };
        let mut first = None;
        let mut start = offset;
        if pop_first {
            // SAFETY: `reserve` gave us `offset..offset + count`, count >= 1.
            first = Some(unsafe { Self::take(block, offset) });
            start += 1;
        }
        for index in start..offset + count {
            // SAFETY: as above; each slot is taken once.
            dest.push(unsafe { Self::take(block, index) });
        }
        // SAFETY: every reserved slot has been read.
        unsafe { Self::release(block, offset, offset + count) };
        Steal::Success(first)
    }

    /// Reserves up to `max` slots (and up to half the items, rounded up) at the head,
    /// all in one block: `(block, first offset, count)`.
    fn reserve(&self, max: usize) -> Steal<(*mut Block<T>, usize, usize)> {
        // Acquire both: invariant 1.
        let head = self.head.index.load(Ordering::Acquire);
        let block = self.head.block.load(Ordering::Acquire);
        let offset = head % LAP;
        if offset == BLOCK_CAP {
            // Another consumer is moving the head to the next block.
            return Steal::Retry;
        }
        // SeqCst fence then load: pairs with the producers' SeqCst CAS on
        // `tail.index`, so a push that completed before this steal began is seen.
        fence(Ordering::SeqCst);
        let tail = self.tail.index.load(Ordering::Relaxed);
        if items_before(tail) <= items_before(head) {
            return Steal::Empty;
        }
        let in_block = if head / LAP == tail / LAP {
            tail % LAP - offset
        } else {
            BLOCK_CAP - offset
        };
        let total = items_before(tail) - items_before(head);
        let count = in_block.min(max).min(total.div_ceil(2)).max(1);
        let new_head = head + count;
        // SeqCst: ordered with the other consumers' CAS and the fences above.
        if self
            .head
            .index
            .compare_exchange(head, new_head, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return Steal::Retry;
        }
        if new_head % LAP == BLOCK_CAP {
            // We reserved the last slot: move the head on (invariant 1).
            // SAFETY: the block is alive: its last slot is ours and unread.
            let next = unsafe { (*block).wait_next() };
            // Release: publishes the block pointer before the index that uses it.
            self.head.block.store(next, Ordering::Release);
            self.head.index.store(new_head + 1, Ordering::Release);
        }
        Steal::Success((block, offset, count))
    }

    /// Reads the value out of a reserved slot, waiting for its producer if needed.
    ///
    /// # Safety
    ///
    /// The caller reserved slot `offset` of `block` and takes it once.
    unsafe fn take(block: *mut Block<T>, offset: usize) -> T {
        // SAFETY: the block lives until its reserved slots are released.
        let slot = unsafe { &(*block).slots[offset] };
        let backoff = Backoff::new();
        // Acquire: pairs with the producer's Release `fetch_or(WRITTEN)`.
        while slot.state.load(Ordering::Acquire) & WRITTEN == 0 {
            backoff.snooze();
        }
        // SAFETY: written and reserved by us alone: we own the value now.
        slot.value
            .with(|cell| unsafe { ptr::read(cell).assume_init() })
    }

    /// Marks reserved slots `start..end` of `block` read, and frees the block when it
    /// is done (invariant 2).
    ///
    /// # Safety
    ///
    /// Every slot in `start..end` was reserved by the caller and already taken.
    unsafe fn release(block: *mut Block<T>, start: usize, end: usize) {
        if end == BLOCK_CAP {
            // We hold the last slot: nobody else can have started a walk, so no
            // `DESTROY` is set on our slots. Mark ours, then walk from the start.
            for index in start..end - 1 {
                // SAFETY: alive (see `take`). AcqRel: as below.
                unsafe { (*block).slots[index].state.fetch_or(READ, Ordering::AcqRel) };
            }
            // SAFETY: we read the last slot and are done with the block.
            unsafe { Block::destroy(block, 0) };
            return;
        }
        let mut resume = None;
        for index in start..end {
            // AcqRel: Release publishes our read of the value to the destroyer;
            // Acquire sees its `DESTROY`.
            // SAFETY: alive until every slot is `READ`, including ours.
            let before = unsafe { (*block).slots[index].state.fetch_or(READ, Ordering::AcqRel) };
            if before & DESTROY != 0 {
                resume = Some(index + 1);
            }
        }
        if let Some(start) = resume {
            // SAFETY: the destroyer stopped at one of our slots and we are done with
            // all of them; the walk passes over the rest of ours (all `READ`).
            unsafe { Block::destroy(block, start) };
        }
    }
}

impl<T> Drop for Injector<T> {
    fn drop(&mut self) {
        let mut head = self.head.index.load(Ordering::Relaxed);
        let tail = self.tail.index.load(Ordering::Relaxed);
        let mut block = self.head.block.load(Ordering::Relaxed);
        while head != tail {
            let offset = head % LAP;
            if offset == BLOCK_CAP {
                // SAFETY: `&mut self`: no other thread; the next block is linked
                // (installs complete before `push` returns).
                let next = unsafe { (*block).next.load(Ordering::Relaxed) };
                // SAFETY: every slot of this block has been taken or dropped.
                unsafe { drop(Box::from_raw(block)) };
                block = next;
            } else {
                // SAFETY: `head..tail` holds written, unread values (every push
                // finished), each dropped once.
                unsafe {
                    (*block).slots[offset]
                        .value
                        .with_mut(|cell| (*cell).assume_init_drop())
                };
            }
            head += 1;
        }
        // SAFETY: the last block, owned by the queue alone.
        unsafe { drop(Box::from_raw(block)) };
    }
}

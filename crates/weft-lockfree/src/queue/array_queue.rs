//! `ArrayQueue`: a bounded multi-producer multi-consumer queue over a ring of slots,
//! each slot carrying a stamp that says whose turn it is.
//!
//! # Design
//!
//! Dmitry Vyukov's bounded MPMC queue ("Bounded MPMC queue", 1024cores.net, 2010):
//! producers claim a position by compare-and-swap on `tail`, consumers on `head`, and
//! a per-slot stamp hands the slot back and forth so that the value itself is written
//! and read outside any shared counter.
//!
//! A position is `lap + index`: `index` (low bits) picks the slot, `lap` (high bits)
//! counts trips round the ring in units of `one_lap`, the smallest power of two above
//! `capacity`. Keeping the lap in separate bits means no division on the fast path
//! and correct wrap-around of `usize`. After `index == capacity - 1` the next
//! position is `lap + one_lap` (index 0 of the next lap).
//!
//! # Slot stamps (the state machine)
//!
//! For the slot at `index`, during lap `lap`:
//!
//! 1. `stamp == lap + index`: empty, waiting for the producer whose `tail` is that
//!    position. Initial state (lap 0).
//! 2. `stamp == lap + index + 1`: full, holding the value for the consumer whose
//!    `head` is `lap + index`.
//! 3. After that consumer takes the value: `stamp == lap + one_lap + index`, empty for
//!    the next lap's producer (state 1 of the next lap).
//!
//! Only the thread that won the CAS for a position touches the slot's value, and only
//! between reading the stamp it needs (Acquire) and storing the next stamp (Release).
//! Every claim checks the stamp before its CAS, so a producer never claims a slot
//! whose previous-lap consumer is still reading it (it waits for that consumer's
//! stamp store instead), and a consumer never claims a slot not yet written.
//!
//! `force_push` on a full queue claims both ends of one slot: it moves `head` past the
//! oldest value (as a `pop` would), after which no other thread can move `tail` (that
//! needs the slot's stamp, which only it will store), so it stores `tail`, swaps the
//! value and publishes the stamp.

use super::{after_lost_race, wait_for_other};
use core::fmt;
use core::mem::MaybeUninit;
use weft_sync::primitive::UnsafeCell;
use weft_sync::primitive::atomic::{self, AtomicUsize, Ordering};
use weft_sync::{Backoff, CachePadded};

/// One cell of the ring: the value, and the stamp that says who may touch it.
struct Slot<T> {
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// The capacity given to [`ArrayQueue::try_new`] cannot be used: zero, or so large
/// that positions would not fit in a `usize`.
///
/// # Examples
///
/// ```
/// use weft_lockfree::{ArrayQueue, CapacityError};
///
/// let err: CapacityError = ArrayQueue::<u8>::try_new(0).unwrap_err();
/// assert_eq!(err.requested(), 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapacityError {
    requested: usize,
}

impl CapacityError {
    /// The capacity that was asked for.
    pub fn requested(&self) -> usize {
        self.requested
    }
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.requested == 0 {
            f.write_str("a bounded queue needs a capacity of at least 1")
        } else {
            write!(f, "queue capacity {} is too large", self.requested)
        }
    }
}

impl std::error::Error for CapacityError {}

/// A bounded multi-producer multi-consumer FIFO queue in one allocation.
///
/// Any number of threads may [`push`](Self::push) and [`pop`](Self::pop) through a
/// shared reference. The queue holds at most [`capacity`](Self::capacity) values;
/// `push` on a full queue hands the value back, [`force_push`](Self::force_push)
/// evicts the oldest one instead.
///
/// # Progress
///
/// `push`, `pop` and `force_push` are lock-free against each other's position claims:
/// a compare-and-swap on `head` or `tail` fails only because another thread's
/// succeeded. They are not wait-free, and there is one place where a thread waits for
/// another: between winning a position and storing the slot's new stamp, a thread
/// holds that slot. A consumer reaching a slot whose producer has claimed it but not
/// yet written it (or a producer reaching a slot a consumer of the previous lap is
/// still reading) spins, then yields, until that store lands. If the thread in the
/// middle is descheduled, the threads behind it on that one slot wait with it; the
/// others (on other slots) are unaffected. `len`, `is_empty`, `is_full` never wait.
///
/// Design: Vyukov's bounded MPMC queue with per-slot stamps (see the module source for
/// the stamp state machine).
///
/// # Examples
///
/// ```
/// use weft_lockfree::ArrayQueue;
///
/// let queue = ArrayQueue::new(2);
/// assert_eq!(queue.push('a'), Ok(()));
/// assert_eq!(queue.push('b'), Ok(()));
/// assert_eq!(queue.push('c'), Err('c')); // full: the value comes back
/// assert_eq!(queue.force_push('c'), Some('a')); // evicts the oldest
/// assert_eq!(queue.pop(), Some('b'));
/// assert_eq!(queue.pop(), Some('c'));
/// assert_eq!(queue.pop(), None);
/// ```
pub struct ArrayQueue<T> {
    /// The next position to pop from.
    head: CachePadded<AtomicUsize>,
    /// The next position to push to.
    tail: CachePadded<AtomicUsize>,
    buffer: Box<[Slot<T>]>,
    /// `buffer.len()`, kept beside `one_lap` to avoid the slice's length load.
    capacity: usize,
    /// The smallest power of two greater than `capacity`: one trip round the ring.
    one_lap: usize,
}

// SAFETY: values move between threads through the queue (so `T: Send`), and are never
// shared: each is written by one producer and read by one consumer, the stamp
// handshake ordering the two.
unsafe impl<T: Send> Send for ArrayQueue<T> {}
// SAFETY: as for `Send`; `&ArrayQueue` only moves values in and out, never hands out
// `&T`, so `T: Sync` is not needed.
unsafe impl<T: Send> Sync for ArrayQueue<T> {}

impl<T> ArrayQueue<T> {
    /// A queue holding at most `capacity` values.
    ///
    /// # Errors
    ///
    /// [`CapacityError`] if `capacity` is 0, or too large for positions to fit in a
    /// `usize` (above `usize::MAX / 2`).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::ArrayQueue;
    ///
    /// let queue = ArrayQueue::<u32>::try_new(8).unwrap();
    /// assert_eq!(queue.capacity(), 8);
    /// assert!(ArrayQueue::<u32>::try_new(0).is_err());
    /// ```
    pub fn try_new(capacity: usize) -> Result<Self, CapacityError> {
        let one_lap = capacity
            .checked_add(1)
            .and_then(usize::checked_next_power_of_two)
            .filter(|_| capacity > 0)
            .ok_or(CapacityError {
                requested: capacity,
            })?;
        // Slot `i` starts empty for lap 0's producer: stamp = position = i.
        let buffer = (0..capacity)
            .map(|index| Slot {
                stamp: AtomicUsize::new(index),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ok(Self {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            buffer,
            capacity,
            one_lap,
        })
    }

    /// A queue holding at most `capacity` values.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0 or above `usize::MAX / 2`; [`try_new`](Self::try_new) is
    /// the non-panicking form.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::ArrayQueue;
    ///
    /// let queue = ArrayQueue::<String>::new(16);
    /// assert!(queue.is_empty());
    /// ```
    #[track_caller]
    pub fn new(capacity: usize) -> Self {
        match Self::try_new(capacity) {
            Ok(queue) => queue,
            Err(err) => panic!("ArrayQueue::new: {err}"),
        }
    }

    /// The slot of `position`. Every position `head` and `tail` ever hold has an
    /// index below `capacity` (both start at 0, and `next_position` skips the indices
    /// above), so the lookup needs no bounds check. Without it, and with `push` and
    /// `pop` inlinable, a push and a pop on one thread take 64 instructions instead of
    /// 107 (callgrind; crossbeam's took 57-96 in the same probe, as LLVM inlined it
    /// or not).
    #[inline(always)]
    fn slot(&self, position: usize) -> &Slot<T> {
        let index = position & (self.one_lap - 1);
        debug_assert!(
            index < self.buffer.len(),
            "position {position} off the ring"
        );
        // SAFETY: `index < capacity == buffer.len()` by the position invariant above.
        unsafe { self.buffer.get_unchecked(index) }
    }

    /// The position after `position`, skipping the unused indices above `capacity`.
    #[inline]
    fn next_position(&self, position: usize) -> usize {
        let index = position & (self.one_lap - 1);
        if index + 1 < self.capacity {
            position.wrapping_add(1)
        } else {
            (position & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// Adds `value` at the back.
    ///
    /// # Errors
    ///
    /// Gives `value` back if the queue is full.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::ArrayQueue;
    ///
    /// let queue = ArrayQueue::new(1);
    /// assert_eq!(queue.push(10), Ok(()));
    /// assert_eq!(queue.push(20), Err(20));
    /// ```
    #[inline]
    pub fn push(&self, value: T) -> Result<(), T> {
        let backoff = Backoff::new();
        // Relaxed: only a guess; the slot's stamp (Acquire) and the CAS validate it.
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(tail);
            // Acquire: pairs with the Release stamp store in `pop` (or `force_push`),
            // so the previous lap's read of the value is done before we overwrite it.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == tail {
                // SeqCst: the full/empty checks below read `tail`/`head` after a SeqCst
                // fence; a total order on the claims keeps those verdicts consistent.
                match self.tail.compare_exchange_weak(
                    tail,
                    self.next_position(tail),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: we won position `tail` and its stamp says empty, so no
                        // other thread touches this slot's value until our store below.
                        slot.value.with_mut(|cell| unsafe { (*cell).write(value) });
                        // Release: publishes the value to the Acquire stamp load in `pop`.
                        slot.stamp.store(tail.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(current) => {
                        tail = current;
                        after_lost_race(&backoff);
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail.wrapping_add(1) {
                // The slot still holds last lap's value: the queue may be full.
                // SeqCst fence: pairs with the SeqCst CAS on `head` in `pop`, so the
                // `head` we read is no older than any pop ordered before this point.
                atomic::fence(Ordering::SeqCst);
                let head = self.head.load(Ordering::Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    return Err(value);
                }
                after_lost_race(&backoff);
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // Another producer won `tail` and has not stored yet, or a consumer is
                // mid-read: wait for it.
                wait_for_other(&backoff);
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Adds `value` at the back; if the queue is full, removes and returns the oldest
    /// value to make room.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::ArrayQueue;
    ///
    /// let queue = ArrayQueue::new(2);
    /// assert_eq!(queue.force_push(1), None);
    /// assert_eq!(queue.force_push(2), None);
    /// assert_eq!(queue.force_push(3), Some(1));
    /// assert_eq!(queue.pop(), Some(2));
    /// ```
    pub fn force_push(&self, value: T) -> Option<T> {
        let backoff = Backoff::new();
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(tail);
            // Acquire: as in `push`; also makes last lap's value visible for eviction.
            let stamp = slot.stamp.load(Ordering::Acquire);
            let next = self.next_position(tail);
            if stamp == tail {
                // SeqCst: as in `push`.
                match self.tail.compare_exchange_weak(
                    tail,
                    next,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: as in `push`: we own the empty slot at `tail`.
                        slot.value.with_mut(|cell| unsafe { (*cell).write(value) });
                        // Release: pairs with the Acquire stamp load in `pop`.
                        slot.stamp.store(tail.wrapping_add(1), Ordering::Release);
                        return None;
                    }
                    Err(current) => {
                        tail = current;
                        after_lost_race(&backoff);
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail.wrapping_add(1) {
                // Full, unless a pop is under way: try to pop the oldest value (at
                // `tail - one_lap`, the very slot we want) by claiming `head` past it.
                let head = tail.wrapping_sub(self.one_lap);
                // SeqCst: a claim on `head`, totally ordered with `pop`'s.
                if self
                    .head
                    .compare_exchange_weak(
                        head,
                        next.wrapping_sub(self.one_lap),
                        Ordering::SeqCst,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    // Nobody else can move `tail` now: that needs this slot's stamp to
                    // read `tail`, and only we store it from here on. So a plain store.
                    // SeqCst: keeps the claims' total order for the full/empty checks.
                    self.tail.store(next, Ordering::SeqCst);
                    // SAFETY: winning `head` made us this slot's consumer (its stamp says
                    // full, Acquire above), and the slot's producer turn (the position
                    // `tail`) is ours too since only we can advance `tail`. So we both
                    // read the old value and write the new one, alone.
                    let old = slot
                        .value
                        .with_mut(|cell| unsafe { (*cell).as_ptr().read() });
                    // SAFETY: as above.
                    slot.value.with_mut(|cell| unsafe { (*cell).write(value) });
                    // Release: publishes the new value to the Acquire load in `pop`.
                    slot.stamp.store(tail.wrapping_add(1), Ordering::Release);
                    return Some(old);
                }
                after_lost_race(&backoff);
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                wait_for_other(&backoff);
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Removes the value at the front, or returns `None` if the queue is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::ArrayQueue;
    ///
    /// let queue = ArrayQueue::new(4);
    /// queue.push(1).unwrap();
    /// assert_eq!(queue.pop(), Some(1));
    /// assert_eq!(queue.pop(), None);
    /// ```
    #[inline]
    pub fn pop(&self) -> Option<T> {
        let backoff = Backoff::new();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(head);
            // Acquire: pairs with the Release stamp store in `push`/`force_push`, so
            // the value written there is visible before we read it.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == head.wrapping_add(1) {
                // SeqCst: see the CAS in `push`.
                match self.head.compare_exchange_weak(
                    head,
                    self.next_position(head),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: we won position `head` and its stamp says full: the
                        // value is initialized and no other thread touches it until our
                        // stamp store below.
                        let value = slot
                            .value
                            .with_mut(|cell| unsafe { (*cell).as_ptr().read() });
                        // Release: hands the emptied slot to next lap's producer (its
                        // Acquire stamp load), ordering our read before its write.
                        slot.stamp
                            .store(head.wrapping_add(self.one_lap), Ordering::Release);
                        return Some(value);
                    }
                    Err(current) => {
                        head = current;
                        after_lost_race(&backoff);
                    }
                }
            } else if stamp == head {
                // The slot waits for this lap's producer: the queue may be empty.
                // SeqCst fence: pairs with the SeqCst CAS on `tail` in `push`, so the
                // `tail` we read is no older than any push ordered before this point.
                atomic::fence(Ordering::SeqCst);
                let tail = self.tail.load(Ordering::Relaxed);
                if tail == head {
                    return None;
                }
                // A producer won `head`'s position and is writing: wait for it.
                wait_for_other(&backoff);
                head = self.head.load(Ordering::Relaxed);
            } else {
                // Another consumer won `head` (or a `force_push` is swapping this
                // slot): wait for `head` to move.
                wait_for_other(&backoff);
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// The most values the queue holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::ArrayQueue;
    ///
    /// assert_eq!(ArrayQueue::<u8>::new(3).capacity(), 3);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many values the queue holds: exact when no other thread is using it, and
    /// otherwise a value it held at some instant during the call.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::ArrayQueue;
    ///
    /// let queue = ArrayQueue::new(3);
    /// queue.push(()).unwrap();
    /// queue.push(()).unwrap();
    /// assert_eq!(queue.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        loop {
            // SeqCst: a consistent snapshot of both ends, retried if `tail` moved
            // while we read `head`.
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            if self.tail.load(Ordering::SeqCst) == tail {
                let head_index = head & (self.one_lap - 1);
                let tail_index = tail & (self.one_lap - 1);
                return if head_index < tail_index {
                    tail_index - head_index
                } else if head_index > tail_index {
                    self.capacity - head_index + tail_index
                } else if tail == head {
                    0
                } else {
                    self.capacity
                };
            }
        }
    }

    /// Whether the queue holds no value (at some instant during the call).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::ArrayQueue;
    ///
    /// let queue = ArrayQueue::new(1);
    /// assert!(queue.is_empty());
    /// queue.push(1).unwrap();
    /// assert!(!queue.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        // SeqCst: ordered with the claims on `head`/`tail`; see `len`.
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        tail == head
    }

    /// Whether the queue holds `capacity` values (at some instant during the call).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::ArrayQueue;
    ///
    /// let queue = ArrayQueue::new(1);
    /// queue.push(1).unwrap();
    /// assert!(queue.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        // SeqCst: as in `is_empty`.
        let tail = self.tail.load(Ordering::SeqCst);
        let head = self.head.load(Ordering::SeqCst);
        head.wrapping_add(self.one_lap) == tail
    }
}

impl<T> Drop for ArrayQueue<T> {
    fn drop(&mut self) {
        if !core::mem::needs_drop::<T>() {
            return;
        }
        // Relaxed: `&mut self` means every other thread's accesses happen-before now.
        let mut position = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        while position != tail {
            let slot = self.slot(position);
            // SAFETY: positions in `head..tail` hold values that were pushed and not
            // popped (no operation is in flight, given `&mut self`), each dropped once.
            slot.value
                .with_mut(|cell| unsafe { (*cell).assume_init_drop() });
            position = self.next_position(position);
        }
    }
}

impl<T> fmt::Debug for ArrayQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArrayQueue")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// The owning iterator of an [`ArrayQueue`], front to back.
///
/// # Examples
///
/// ```
/// use weft_lockfree::ArrayQueue;
///
/// let queue = ArrayQueue::new(3);
/// queue.push(1).unwrap();
/// queue.push(2).unwrap();
/// assert_eq!(queue.into_iter().collect::<Vec<_>>(), [1, 2]);
/// ```
pub struct IntoIter<T> {
    queue: ArrayQueue<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        // Owning the queue, `pop` never waits nor retries: one uncontended CAS.
        self.queue.pop()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self.queue.len();
        (len, Some(len))
    }
}

impl<T> ExactSizeIterator for IntoIter<T> {}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter")
            .field("remaining", &self.queue.len())
            .finish()
    }
}

impl<T> IntoIterator for ArrayQueue<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter { queue: self }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn zero_capacity_is_an_error_not_a_panic() {
        assert_eq!(
            ArrayQueue::<u8>::try_new(0).unwrap_err(),
            CapacityError { requested: 0 }
        );
        assert!(ArrayQueue::<u8>::try_new(usize::MAX).is_err());
    }

    #[test]
    #[should_panic(expected = "capacity of at least 1")]
    fn new_with_zero_capacity_panics() {
        let _ = ArrayQueue::<u8>::new(0);
    }

    #[test]
    fn wraps_round_many_laps_in_order() {
        for capacity in 1..=5 {
            let queue = ArrayQueue::new(capacity);
            let mut next_out = 0;
            for value in 0..100 {
                if queue.push(value).is_err() {
                    assert_eq!(queue.len(), capacity);
                    assert!(queue.is_full());
                    assert_eq!(queue.pop(), Some(next_out));
                    next_out += 1;
                    queue.push(value).unwrap();
                }
            }
            while let Some(value) = queue.pop() {
                assert_eq!(value, next_out);
                next_out += 1;
            }
            assert_eq!(next_out, 100);
            assert!(queue.is_empty());
        }
    }

    #[test]
    fn force_push_keeps_the_newest() {
        let queue = ArrayQueue::new(3);
        for value in 0..10 {
            queue.force_push(value);
            assert!(queue.len() <= 3);
        }
        assert_eq!(queue.into_iter().collect::<Vec<_>>(), [7, 8, 9]);
    }

    #[test]
    fn len_counts_across_the_wrap() {
        let queue = ArrayQueue::new(3);
        for round in 0..7 {
            queue.push(round).unwrap();
            queue.push(round).unwrap();
            assert_eq!(queue.len(), 2);
            queue.pop();
            assert_eq!(queue.len(), 1);
            queue.pop();
            assert_eq!(queue.len(), 0);
        }
    }

    #[test]
    fn debug_shows_len_and_capacity() {
        let queue = ArrayQueue::new(2);
        queue.push(1).unwrap();
        assert_eq!(
            format!("{queue:?}"),
            "ArrayQueue { len: 1, capacity: 2, .. }"
        );
    }
}

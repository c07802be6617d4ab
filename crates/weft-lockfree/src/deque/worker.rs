//! The Chase–Lev deque: `Worker` (the owner's end) and `Stealer` (everyone else's).
//!
//! # State and who touches what
//!
//! 1. `bottom` is written only by the owner. `top` moves forward only, by a CAS from a
//!    stealer or the owner's last-element pop, or by the owner's `fetch_add` in FIFO
//!    mode. The live items are the logical indices `top..bottom`.
//! 2. `buffer` (the current ring) is replaced only by the owner, on growth. Retired
//!    rings stay allocated in `retired` until the shared `Inner` is dropped, so a
//!    stealer that loaded an old pointer can still read it.
//! 3. A slot's bits are owned by whoever claimed its index: the owner for
//!    `bottom - 1` when `top < bottom - 1`, otherwise the winner of the CAS on `top`.
//!    Stealers copy bits *before* their CAS (the slot may be reused right after it)
//!    and keep them as `MaybeUninit<T>`; only a winning CAS turns the copy into a `T`.
//!    A loser forgets the copy, so it never owns or drops the value.

use super::Steal;
use super::buffer::Buffer;
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use weft_sync::CachePadded;
use weft_sync::primitive::Arc;
use weft_sync::primitive::UnsafeCell;
use weft_sync::primitive::atomic::{AtomicIsize, AtomicPtr, Ordering, fence};

/// Capacity of a new deque's ring. Tiny under loom, so growth happens inside models.
#[cfg(not(loom))]
const MIN_CAPACITY: usize = 64;
#[cfg(loom)]
const MIN_CAPACITY: usize = 2;

/// At most this many items move in one `steal_batch`.
pub(super) const MAX_BATCH: usize = 32;

/// Which end the owner pops from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// Owner pops the newest item (bottom); stealers take the oldest.
    Lifo,
    /// Owner pops the oldest item (top), like the stealers.
    Fifo,
}

/// The state shared by a `Worker` and its `Stealer`s.
struct Inner<T> {
    /// Index of the oldest item.
    top: CachePadded<AtomicIsize>,
    /// One past the newest item; written by the owner only.
    bottom: CachePadded<AtomicIsize>,
    /// The current ring.
    buffer: CachePadded<AtomicPtr<Buffer<T>>>,
    /// Rings replaced by growth, kept for stealers that may still read them. Touched
    /// by the owner only (in `grow`) and by `drop` (exclusive).
    retired: UnsafeCell<Vec<*mut Buffer<T>>>,
    flavor: Flavor,
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        let top = self.top.load(Ordering::Relaxed);
        let bottom = self.bottom.load(Ordering::Relaxed);
        let buffer = self.buffer.load(Ordering::Relaxed);
        let mut index = top;
        while index != bottom {
            // SAFETY: `&mut self`: no handle is left, so the live items `top..bottom`
            // of the current ring are owned by nobody else and each is dropped once.
            unsafe { (*buffer).read(index).assume_init_drop() };
            index = index.wrapping_add(1);
        }
        // SAFETY: every ring was made by `Buffer::allocate` and is freed once: the
        // current one here, the retired ones below (they hold only stale copies).
        unsafe { drop(Box::from_raw(buffer)) };
        self.retired.with_mut(|retired| {
            // SAFETY: exclusive access (`&mut self`); see above for the rings.
            for old in unsafe { (*retired).drain(..) } {
                // SAFETY: see above.
                unsafe { drop(Box::from_raw(old)) };
            }
        });
    }
}

/// The owner's end of a work-stealing deque: push and pop on one thread, while
/// [`Stealer`]s take the oldest items from others.
///
/// # Progress
///
/// `push` is wait-free except when the ring is full and grows (an allocation and a copy
/// of the live items); `pop` is wait-free (LIFO: at most one CAS, on the last item;
/// FIFO: one `fetch_add`). Neither ever waits for a stealer.
///
/// # Memory
///
/// The ring doubles when full and never shrinks. Replaced rings are kept until the
/// deque (every handle) is dropped, because a stealer may still be reading one; they
/// total less than the current ring, so the deque holds under twice its largest ring.
///
/// # Examples
///
/// ```
/// use weft_lockfree::deque::{Steal, Worker};
///
/// let worker = Worker::new_lifo();
/// let stealer = worker.stealer();
/// worker.push(1);
/// worker.push(2);
/// worker.push(3);
/// assert_eq!(stealer.steal(), Steal::Success(1)); // stealers take the oldest
/// assert_eq!(worker.pop(), Some(3)); // a LIFO owner takes the newest
/// assert_eq!(worker.len(), 1);
/// ```
pub struct Worker<T> {
    inner: Arc<Inner<T>>,
    /// The owner's copy of `inner.buffer` (only the owner changes it).
    buffer: Cell<*mut Buffer<T>>,
    /// `Send` when `T: Send` (below), never `Sync`: one owner at a time.
    _not_sync: PhantomData<*mut ()>,
}

// SAFETY: a `Worker` moves its `T`s to whichever thread holds it; the raw pointers are
// to rings owned by `inner`. It is not `Sync` (`Cell`, `PhantomData<*mut ()>`), so the
// owner-only operations run on one thread at a time.
unsafe impl<T: Send> Send for Worker<T> {}

impl<T> Worker<T> {
    /// A deque whose owner pops the most recently pushed item (the usual choice for
    /// fork-join: the newest job is the hottest in cache).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Worker;
    ///
    /// let worker = Worker::new_lifo();
    /// worker.push('a');
    /// worker.push('b');
    /// assert_eq!(worker.pop(), Some('b'));
    /// ```
    pub fn new_lifo() -> Worker<T> {
        Worker::with_flavor(Flavor::Lifo)
    }

    /// A deque whose owner pops the oldest item, like its stealers.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Worker;
    ///
    /// let worker = Worker::new_fifo();
    /// worker.push('a');
    /// worker.push('b');
    /// assert_eq!(worker.pop(), Some('a'));
    /// ```
    pub fn new_fifo() -> Worker<T> {
        Worker::with_flavor(Flavor::Fifo)
    }

    fn with_flavor(flavor: Flavor) -> Worker<T> {
        let buffer = Buffer::allocate(MIN_CAPACITY);
        Worker {
            inner: Arc::new(Inner {
                top: CachePadded::new(AtomicIsize::new(0)),
                bottom: CachePadded::new(AtomicIsize::new(0)),
                buffer: CachePadded::new(AtomicPtr::new(buffer)),
                retired: UnsafeCell::new(Vec::new()),
                flavor,
            }),
            buffer: Cell::new(buffer),
            _not_sync: PhantomData,
        }
    }

    /// A handle other threads steal through; clone it freely.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Worker;
    ///
    /// let worker = Worker::new_lifo();
    /// worker.push(5);
    /// let stealer = worker.stealer();
    /// let taken = std::thread::spawn(move || stealer.steal().success()).join().unwrap();
    /// assert_eq!(taken, Some(5));
    /// ```
    pub fn stealer(&self) -> Stealer<T> {
        Stealer {
            inner: self.inner.clone(),
        }
    }

    /// `true` if the deque holds no item (a snapshot: stealers may change it).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Worker;
    ///
    /// let worker = Worker::<u8>::new_lifo();
    /// assert!(worker.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of items (a snapshot: stealers may take some at any moment).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Worker;
    ///
    /// let worker = Worker::new_fifo();
    /// worker.push(1);
    /// worker.push(2);
    /// assert_eq!(worker.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        let bottom = self.inner.bottom.load(Ordering::Relaxed);
        let top = self.inner.top.load(Ordering::Relaxed);
        bottom.wrapping_sub(top).max(0) as usize
    }

    /// Pushes `value` at the bottom.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Worker;
    ///
    /// let worker = Worker::new_lifo();
    /// for i in 0..1000 {
    ///     worker.push(i); // grows past the initial ring
    /// }
    /// assert_eq!(worker.len(), 1000);
    /// ```
    pub fn push(&self, value: T) {
        let inner = &*self.inner;
        // Relaxed: `bottom` is written by this thread only.
        let bottom = inner.bottom.load(Ordering::Relaxed);
        // Acquire (Lê et al., Fig. 1 `push`, line 2 `load_explicit(&q->top, acquire)`):
        // pairs with the stealers' SeqCst CAS on `top`, so their copies of the slot we
        // may be about to overwrite happen before our write.
        let top = inner.top.load(Ordering::Acquire);
        let mut buffer = self.buffer.get();
        // SAFETY: the current ring is alive for as long as `inner` is.
        if bottom.wrapping_sub(top) >= unsafe { (*buffer).capacity() } as isize {
            buffer = self.grow(top, bottom, 0);
        }
        // SAFETY: `bottom` is outside `top..bottom`: no thread owns that slot; a
        // stale stealer copying it will lose its CAS (buffer.rs `write`).
        unsafe { (*buffer).write(bottom, MaybeUninit::new(value)) };
        // Release (Lê et al., Fig. 1 `push`: `atomic_thread_fence(release)` then a
        // relaxed store of `bottom`; a release store is the same edge here): publishes
        // the slot write, and any new ring, to a stealer's Acquire load of `bottom`.
        inner
            .bottom
            .store(bottom.wrapping_add(1), Ordering::Release);
    }

    /// Pops an item: the newest in a LIFO deque, the oldest in a FIFO one.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Worker;
    ///
    /// let worker = Worker::new_lifo();
    /// assert_eq!(worker.pop(), None);
    /// worker.push(1);
    /// assert_eq!(worker.pop(), Some(1));
    /// ```
    pub fn pop(&self) -> Option<T> {
        match self.inner.flavor {
            Flavor::Lifo => self.pop_lifo(),
            Flavor::Fifo => self.pop_fifo(),
        }
    }

    /// The owner's cheap emptiness test, ahead of a pop's fence or RMW: a pop on an
    /// empty deque is the common case of an idle scheduler's search (weft-pool looks at
    /// its fork-join deque before its task queue at every task switch), and the fence
    /// alone costs more than the rest of the search.
    ///
    /// Sound because only the owner moves `bottom` (its own store, so this load is
    /// exact) and `top` only grows: a `top` read late is at most the current one, so
    /// `bottom <= top` here means the deque is empty now. A stale smaller `top` only
    /// sends us down the full path, which decides properly.
    #[inline]
    fn is_empty_for_owner(&self) -> bool {
        let bottom = self.inner.bottom.load(Ordering::Relaxed);
        let top = self.inner.top.load(Ordering::Relaxed);
        bottom.wrapping_sub(top) <= 0
    }

    /// Lê et al., Fig. 1 `take`.
    fn pop_lifo(&self) -> Option<T> {
        let inner = &*self.inner;
        if self.is_empty_for_owner() {
            return None;
        }
        let bottom = inner.bottom.load(Ordering::Relaxed).wrapping_sub(1);
        let buffer = self.buffer.get();
        // The store, then the SeqCst fence (`take`, lines 3-4): the fence orders this
        // store before our load of `top`, against a stealer's fence between its load
        // of `top` and its load of `bottom`. In the fences' total order one comes
        // first: either the stealer sees the smaller `bottom`, or we see its new `top`;
        // both cannot miss each other, so the last item is never taken twice.
        //
        // Release, where the paper has relaxed (here and in both undo stores below):
        // a stealer that reads *this* `bottom` goes on to copy slots below it, written
        // by earlier pushes. C11 (2011), which the paper used, counted this later
        // store in the release sequence of the push's store; C++20, Rust and loom do
        // not (only RMWs continue a release sequence), so without Release here the
        // stealer's copy would race with the push's write. Loom finds that race
        // (model `steal_batch_into_a_deque_being_stolen_from`). Free on x86 (a plain
        // `mov`), an `stlr` on AArch64.
        inner.bottom.store(bottom, Ordering::Release);
        fence(Ordering::SeqCst);
        let top = inner.top.load(Ordering::Relaxed);
        let len = bottom.wrapping_sub(top);
        if len < 0 {
            // Empty: undo (`take`, line 15). Release: see the first store.
            inner
                .bottom
                .store(bottom.wrapping_add(1), Ordering::Release);
            return None;
        }
        if len > 0 {
            // More than one item: stealers stop at `top < bottom`, the fence above
            // guarantees they see our `bottom`, so index `bottom` is ours alone.
            // SAFETY: we own index `bottom` (invariant 3).
            return Some(unsafe { (*buffer).read(bottom).assume_init() });
        }
        // The last item: race the stealers for it with a CAS on `top` (`take`, line
        // 10: `compare_exchange_strong_explicit(.., seq_cst, relaxed)`). The copy is
        // taken first, as a stealer would, and kept only if we win.
        // SAFETY: index `bottom` was published by our own push.
        let copy = unsafe { (*buffer).read(bottom) };
        let won = inner
            .top
            .compare_exchange(
                top,
                top.wrapping_add(1),
                Ordering::SeqCst,
                Ordering::Relaxed,
            )
            .is_ok();
        // Either way the deque is now empty at `top + 1` (`take`, line 12). Release:
        // see the first store.
        inner
            .bottom
            .store(bottom.wrapping_add(1), Ordering::Release);
        // SAFETY: winning the CAS made index `bottom` ours; a loser forgets the bits.
        won.then(|| unsafe { copy.assume_init() })
    }

    /// FIFO: the owner takes from `top` like a stealer, but with a `fetch_add` that
    /// cannot fail, so it is wait-free.
    fn pop_fifo(&self) -> Option<T> {
        let inner = &*self.inner;
        if self.is_empty_for_owner() {
            return None;
        }
        // SeqCst RMW: ordered against the stealers' SeqCst CAS on `top`; whoever comes
        // second in `top`'s modification order sees the other's increment.
        let top = inner.top.fetch_add(1, Ordering::SeqCst);
        // Relaxed: our own store. In FIFO mode `bottom` only grows, so stealers that
        // saw an older `bottom` never claim past it.
        let bottom = inner.bottom.load(Ordering::Relaxed);
        if bottom.wrapping_sub(top) <= 0 {
            // Empty: undo. No stealer can have moved `top` from `top + 1`: that needs
            // `bottom > top + 1`, and only we push. Relaxed: no item is published.
            inner.top.store(top, Ordering::Relaxed);
            return None;
        }
        // SAFETY: the `fetch_add` claimed index `top`; the owner is the only writer,
        // so the slot still holds that item.
        Some(unsafe { (*self.buffer.get()).read(top).assume_init() })
    }

    /// Replaces the ring with one that holds at least `extra` more items than
    /// `bottom - top` (at least twice as big), copying the live items over.
    #[cold]
    #[inline(never)]
    fn grow(&self, top: isize, bottom: isize, extra: usize) -> *mut Buffer<T> {
        let old = self.buffer.get();
        // SAFETY: the current ring is alive while `inner` is.
        let old_capacity = unsafe { (*old).capacity() };
        let needed = (bottom.wrapping_sub(top).max(0) as usize) + extra;
        let capacity = (old_capacity * 2).max(needed.next_power_of_two());
        let new = Buffer::allocate(capacity);
        let mut index = top;
        while index != bottom {
            // SAFETY: indices `top..bottom` were published by our pushes; bits are
            // copied, and whoever claims an index reads whichever ring it loaded: both
            // hold the same bits, since neither slot is written again until `top` has
            // passed the index.
            unsafe { (*new).write(index, (*old).read(index)) };
            index = index.wrapping_add(1);
        }
        // Release (Lê et al., Fig. 1 `resize`: the new array is published before the
        // `bottom` store that makes items in it visible): pairs with a stealer's
        // Acquire load of `buffer` (the paper's `consume`), which comes after its
        // Acquire load of `bottom`, so it finds the copied bits.
        self.inner.buffer.store(new, Ordering::Release);
        self.buffer.set(new);
        // Retire, don't free: a stealer may have loaded `old` and still be copying
        // from it. Freeing here needs epoch reclamation (`crate::epoch`, when it
        // lands): pin in `steal`, `defer_destroy(old)` here. That bounds memory by
        // the live rings instead of < 2x the largest, at the price of a pin (a
        // thread-local fence) on every steal; kept simple until measured.
        self.inner.retired.with_mut(|retired| {
            // SAFETY: only the owner touches `retired` while handles exist.
            unsafe { (*retired).push(old) }
        });
        new
    }

    /// Makes room for `extra` more items without growing during the copy.
    fn reserve(&self, extra: usize) -> *mut Buffer<T> {
        let inner = &*self.inner;
        let bottom = inner.bottom.load(Ordering::Relaxed);
        // Acquire: as in `push`.
        let top = inner.top.load(Ordering::Acquire);
        let buffer = self.buffer.get();
        let len = bottom.wrapping_sub(top).max(0) as usize;
        // SAFETY: the current ring is alive while `inner` is.
        if len + extra > unsafe { (*buffer).capacity() } {
            self.grow(top, bottom, extra)
        } else {
            buffer
        }
    }
}

impl<T> fmt::Debug for Worker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("flavor", &self.inner.flavor)
            .field("len", &self.len())
            .finish()
    }
}

/// A handle to steal the oldest items of a [`Worker`]'s deque, from any thread.
///
/// # Progress
///
/// Lock-free: every operation finishes in a bounded number of its own steps; a
/// [`Steal::Retry`] means another thread took an item in the meantime.
///
/// # Examples
///
/// ```
/// use weft_lockfree::deque::{Steal, Worker};
///
/// let worker = Worker::new_lifo();
/// for i in 0..10 {
///     worker.push(i);
/// }
/// let mine = Worker::new_lifo();
/// let stealer = worker.stealer();
/// assert_eq!(stealer.steal_batch_and_pop(&mine), Steal::Success(0));
/// assert_eq!(mine.len() + worker.len(), 9);
/// ```
pub struct Stealer<T> {
    inner: Arc<Inner<T>>,
}

// SAFETY: stealers move `T`s out to their own thread (`T: Send`); all their access to
// the shared state is through atomics, and slot bits become a `T` only for the thread
// that claimed the index.
unsafe impl<T: Send> Send for Stealer<T> {}
// SAFETY: as above; `&Stealer` allows only `steal*`, `len` and `is_empty`.
unsafe impl<T: Send> Sync for Stealer<T> {}

impl<T> Clone for Stealer<T> {
    fn clone(&self) -> Stealer<T> {
        Stealer {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Stealer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stealer").field("len", &self.len()).finish()
    }
}

impl<T> Stealer<T> {
    /// `true` if the deque looked empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Worker;
    ///
    /// let worker = Worker::<i32>::new_lifo();
    /// assert!(worker.stealer().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of items the deque looked to hold.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::Worker;
    ///
    /// let worker = Worker::new_lifo();
    /// worker.push(1);
    /// assert_eq!(worker.stealer().len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        // Acquire/SeqCst as in `steal`, so the snapshot is one `steal` could see.
        let top = self.inner.top.load(Ordering::Acquire);
        fence(Ordering::SeqCst);
        let bottom = self.inner.bottom.load(Ordering::Acquire);
        bottom.wrapping_sub(top).max(0) as usize
    }

    /// Takes the oldest item (Lê et al., Fig. 1 `steal`).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::{Steal, Worker};
    ///
    /// let worker = Worker::new_lifo();
    /// let stealer = worker.stealer();
    /// assert_eq!(stealer.steal(), Steal::<i32>::Empty);
    /// worker.push(1);
    /// assert_eq!(stealer.steal(), Steal::Success(1));
    /// ```
    pub fn steal(&self) -> Steal<T> {
        let inner = &*self.inner;
        // Acquire (`steal`, line 2): pairs with the SeqCst CAS (or FIFO `fetch_add`)
        // that produced this `top`, so the slot copy below is not from before that
        // claim's own reads.
        let top = inner.top.load(Ordering::Acquire);
        // SeqCst fence (`steal`, line 3): pairs with the owner's fence in `pop_lifo`
        // (see there): we see its decremented `bottom` or it sees our CAS.
        fence(Ordering::SeqCst);
        // Acquire (`steal`, line 4): pairs with the Release store in `push`, making
        // the slot write (and any newer ring) visible.
        let bottom = inner.bottom.load(Ordering::Acquire);
        if bottom.wrapping_sub(top) <= 0 {
            return Steal::Empty;
        }
        // Acquire (the paper's `consume`, `steal` line 6): pairs with the Release
        // store in `grow`. Loaded after `bottom`, so a ring that holds index `top`.
        let buffer = inner.buffer.load(Ordering::Acquire);
        // Copy first, claim second: once `top` moves, the owner may reuse the slot.
        // SAFETY: index `top < bottom` was published; the ring outlives `inner`'s
        // handles (retired, never freed early); the copy stays `MaybeUninit` unless
        // the CAS below wins.
        let copy = unsafe { (*buffer).read(top) };
        // SeqCst CAS (`steal`, line 8): the single point where index `top` changes
        // hands; it races the owner's CAS on the last item and other stealers.
        if inner
            .top
            .compare_exchange(
                top,
                top.wrapping_add(1),
                Ordering::SeqCst,
                Ordering::Relaxed,
            )
            .is_err()
        {
            // Lost: someone else owns the item; the copy is forgotten, never dropped.
            return Steal::Retry;
        }
        // SAFETY: the CAS made index `top` ours, and the copy was made while it was
        // still live at `top` (no writer touches a slot between `top` and `bottom`).
        Steal::Success(unsafe { copy.assume_init() })
    }

    /// Moves up to half the items (at most 32) into `dest`, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::{Steal, Worker};
    ///
    /// let worker = Worker::new_fifo();
    /// for i in 0..8 {
    ///     worker.push(i);
    /// }
    /// let mine = Worker::new_fifo();
    /// assert_eq!(worker.stealer().steal_batch(&mine), Steal::Success(()));
    /// assert_eq!(mine.len(), 4);
    /// assert_eq!(mine.pop(), Some(0));
    /// ```
    pub fn steal_batch(&self, dest: &Worker<T>) -> Steal<()> {
        if Arc::ptr_eq(&self.inner, &dest.inner) {
            return if dest.is_empty() {
                Steal::Empty
            } else {
                Steal::Success(())
            };
        }
        match self.steal_into(dest, false) {
            Steal::Success(_) => Steal::Success(()),
            Steal::Empty => Steal::Empty,
            Steal::Retry => Steal::Retry,
        }
    }

    /// Like [`steal_batch`](Stealer::steal_batch), but returns the oldest stolen item
    /// instead of pushing it into `dest`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::deque::{Steal, Worker};
    ///
    /// let worker = Worker::new_lifo();
    /// for i in 0..8 {
    ///     worker.push(i);
    /// }
    /// let mine = Worker::new_lifo();
    /// assert_eq!(worker.stealer().steal_batch_and_pop(&mine), Steal::Success(0));
    /// assert_eq!(mine.len(), 3);
    /// ```
    pub fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        if Arc::ptr_eq(&self.inner, &dest.inner) {
            return match dest.pop() {
                Some(value) => Steal::Success(value),
                None => Steal::Empty,
            };
        }
        match self.steal_into(dest, true) {
            Steal::Success(first) => Steal::Success(first.expect("a popped item")),
            Steal::Empty => Steal::Empty,
            Steal::Retry => Steal::Retry,
        }
    }

    /// Claims up to half the items (at most [`MAX_BATCH`]); the first goes to the
    /// caller when `pop_first`, the rest into `dest` (published with one `bottom`
    /// store). `Success` means at least one item was claimed.
    fn steal_into(&self, dest: &Worker<T>, pop_first: bool) -> Steal<Option<T>> {
        let inner = &*self.inner;
        // Same loads and fence as `steal`, for the same pairings.
        let mut top = inner.top.load(Ordering::Acquire);
        fence(Ordering::SeqCst);
        let bottom = inner.bottom.load(Ordering::Acquire);
        let len = bottom.wrapping_sub(top);
        if len <= 0 {
            return Steal::Empty;
        }
        let batch = (len as usize).div_ceil(2).min(MAX_BATCH);
        let to_dest = batch - usize::from(pop_first);
        let dest_buffer = dest.reserve(to_dest);
        // Relaxed: `dest` is ours (`&Worker` exists on one thread only).
        let dest_bottom = dest.inner.bottom.load(Ordering::Relaxed);
        let mut first = None;
        let mut moved = 0usize;

        match inner.flavor {
            Flavor::Fifo => {
                // The owner never takes from the bottom, so one CAS can claim the
                // whole range `top..top + batch`: every index in it is below the
                // `bottom` we saw, and `bottom` only grows in FIFO mode.
                // Acquire: as in `steal`.
                let buffer = inner.buffer.load(Ordering::Acquire);
                let mut index = top;
                let mut copy_first = None;
                for k in 0..batch {
                    // SAFETY: `index < bottom` was published; bits only (see `steal`).
                    let copy = unsafe { (*buffer).read(index) };
                    if pop_first && k == 0 {
                        copy_first = Some(copy);
                    } else {
                        // SAFETY: `dest_bottom + moved` is past `dest`'s published
                        // `bottom` and within the capacity reserved above.
                        unsafe {
                            (*dest_buffer).write(dest_bottom.wrapping_add(moved as isize), copy)
                        };
                        moved += 1;
                    }
                    index = index.wrapping_add(1);
                }
                // SeqCst CAS: as in `steal`; claims the whole range at once.
                if inner
                    .top
                    .compare_exchange(top, index, Ordering::SeqCst, Ordering::Relaxed)
                    .is_err()
                {
                    // Lost: the copies in `dest` lie past its `bottom`, unpublished
                    // and unowned; they are overwritten later, never dropped.
                    return Steal::Retry;
                }
                // SAFETY: the CAS made `top` ours.
                first = copy_first.map(|copy| unsafe { copy.assume_init() });
            }
            Flavor::Lifo => {
                // The owner pops from the bottom without a CAS while more than one
                // item is left, so a range claim could overlap its pops. Claim one
                // index at a time, each a full `steal` (fence, fresh `bottom`).
                for k in 0..batch {
                    if k > 0 {
                        // `top` is what our last CAS stored (a SeqCst RMW, which
                        // also acquires); re-check `bottom` after the fence.
                        fence(Ordering::SeqCst);
                        let bottom = inner.bottom.load(Ordering::Acquire);
                        if bottom.wrapping_sub(top) <= 0 {
                            break;
                        }
                    }
                    // Acquire: as in `steal`; the owner may have grown since.
                    let buffer = inner.buffer.load(Ordering::Acquire);
                    // SAFETY: `top < bottom` was published; bits only.
                    let copy = unsafe { (*buffer).read(top) };
                    if inner
                        .top
                        .compare_exchange(
                            top,
                            top.wrapping_add(1),
                            Ordering::SeqCst,
                            Ordering::Relaxed,
                        )
                        .is_err()
                    {
                        if k == 0 {
                            return Steal::Retry;
                        }
                        break;
                    }
                    top = top.wrapping_add(1);
                    if pop_first && k == 0 {
                        // SAFETY: the CAS made the index ours.
                        first = Some(unsafe { copy.assume_init() });
                    } else {
                        // SAFETY: as in the FIFO arm; the item is ours now.
                        unsafe {
                            (*dest_buffer).write(dest_bottom.wrapping_add(moved as isize), copy)
                        };
                        moved += 1;
                    }
                }
            }
        }

        if moved > 0 {
            // Release: publishes the copied slots to `dest`'s stealers, as in `push`.
            dest.inner
                .bottom
                .store(dest_bottom.wrapping_add(moved as isize), Ordering::Release);
        }
        Steal::Success(first)
    }
}

//! The raw circular array under a Chase–Lev deque: a power-of-two ring of slots that
//! hold bits, not ownership. Who owns the value in a slot is decided by the indices
//! `top`/`bottom` in `worker.rs`, never by the buffer.

use core::mem::MaybeUninit;
use core::ptr;
use weft_sync::primitive::UnsafeCell;

/// A ring of `capacity` (a power of two) uninitialised slots; logical index `i` lives
/// in slot `i mod capacity`.
pub(super) struct Buffer<T> {
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    mask: usize,
}

impl<T> Buffer<T> {
    /// A fresh buffer on the heap, as a raw pointer: buffers are shared with stealers
    /// through an `AtomicPtr` and freed only when the whole deque is dropped.
    pub(super) fn allocate(capacity: usize) -> *mut Buffer<T> {
        debug_assert!(capacity.is_power_of_two());
        let slots = (0..capacity)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect();
        Box::into_raw(Box::new(Buffer {
            slots,
            mask: capacity - 1,
        }))
    }

    pub(super) fn capacity(&self) -> usize {
        self.mask + 1
    }

    fn slot(&self, index: isize) -> &UnsafeCell<MaybeUninit<T>> {
        // Wrapping on purpose: indices are free-running counters.
        let position = (index as usize) & self.mask;
        debug_assert!(position < self.slots.len());
        // SAFETY: `mask = len - 1` with `len` a power of two, so `position < len`.
        // (The bounds check costs a compare and a branch on every push and pop.)
        unsafe { self.slots.get_unchecked(position) }
    }

    /// Stores `value`'s bits in the slot of `index`.
    ///
    /// # Safety
    ///
    /// Only the deque's owner writes, and only at an index outside `top..bottom` as it
    /// last published them, so no other thread owns the slot's current bits. A stealer
    /// may still be copying the old bits speculatively (see [`Buffer::read`]); it will
    /// then lose its CAS on `top` and discard the copy.
    pub(super) unsafe fn write(&self, index: isize, value: MaybeUninit<T>) {
        // SAFETY: the caller guarantees no thread owns the slot (see above).
        self.slot(index)
            .with_mut(|slot| unsafe { ptr::write_volatile(slot, value) });
    }

    /// Copies the bits in the slot of `index`, without taking ownership: the copy is a
    /// `MaybeUninit<T>` and must be turned into a `T` only by the thread that has just
    /// claimed `index` (the CAS on `top`, or the owner's exclusive index).
    ///
    /// # Safety
    ///
    /// `index` was published (a `Release` store of `bottom` that the caller has
    /// `Acquire`d), so the slot holds initialised bits or bits of a later push at the
    /// same slot; the caller must not use the copy unless it wins the slot.
    pub(super) unsafe fn read(&self, index: isize) -> MaybeUninit<T> {
        // SAFETY: a volatile copy of `MaybeUninit` bits; ownership is not taken here.
        // If the owner overwrites the slot concurrently (possible only once `top` has
        // moved past `index`), the copy is torn, but the caller's CAS on `top` then
        // fails and the copy is forgotten without being read as a `T` (the same
        // speculative read Chase–Lev and Lê et al. perform before their CAS).
        self.slot(index)
            .with(|slot| unsafe { ptr::read_volatile(slot) })
    }
}

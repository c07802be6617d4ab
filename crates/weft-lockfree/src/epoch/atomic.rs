//! `Atomic`, `Owned` and `Shared`: pointers that carry a tag in their alignment bits and
//! whose loads are tied to a [`Guard`]'s lifetime.
//!
//! The representation of all three is one `usize`: the address of a `T` allocated by
//! `Box`, or'ed with a tag smaller than `align_of::<T>()`. A null pointer may carry a tag.

use core::fmt;
use core::marker::PhantomData;
use core::mem;
use core::ops::{Deref, DerefMut};
use weft_sync::primitive::atomic::{AtomicUsize, Ordering};

use super::Guard;

/// Mask of the low bits a `T`-aligned address leaves free for a tag.
#[inline]
const fn tag_mask<T>() -> usize {
    mem::align_of::<T>() - 1
}

#[inline]
fn compose<T>(raw: *const T, tag: usize) -> usize {
    debug_assert_eq!(raw as usize & tag_mask::<T>(), 0, "unaligned pointer");
    (raw as usize) | (tag & tag_mask::<T>())
}

#[inline]
fn decompose<T>(data: usize) -> (*mut T, usize) {
    ((data & !tag_mask::<T>()) as *mut T, data & tag_mask::<T>())
}

mod sealed {
    pub trait Sealed {}
}

/// A pointer an [`Atomic`] can take: [`Owned`] (ownership moves into the atomic) or
/// [`Shared`] (the atomic gets another copy of a pointer already shared).
///
/// Sealed: only this module implements it.
pub trait Pointer<T>: sealed::Sealed {
    /// The tagged word, giving up ownership if `self` had any.
    fn into_usize(self) -> usize;

    /// Rebuilds the pointer from a word made by `into_usize`.
    ///
    /// # Safety
    ///
    /// `data` must come from `into_usize` of the same pointer type and must not be used
    /// to build a second owner.
    unsafe fn from_usize(data: usize) -> Self;
}

/// An atomic, tagged pointer to a heap-allocated `T`, read through a [`Guard`].
///
/// The crossbeam-epoch `Atomic`: loads return a [`Shared`] bound to the guard, so the
/// pointee cannot be reclaimed while the `Shared` is usable.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::Ordering::{Acquire, Release};
/// use weft_lockfree::epoch::{self, Atomic, Owned};
///
/// let atomic = Atomic::new(1);
/// let guard = epoch::pin();
/// let old = atomic.swap(Owned::new(2), Release, &guard);
/// // SAFETY: `old` was unlinked by the swap above, so no new reader can reach it.
/// unsafe { guard.defer_destroy(old) };
/// // SAFETY: the guard keeps the current value alive.
/// assert_eq!(unsafe { atomic.load(Acquire, &guard).deref() }, &2);
/// drop(guard);
/// // SAFETY: no other thread can reach `atomic` any more.
/// drop(unsafe { atomic.into_owned() });
/// ```
pub struct Atomic<T> {
    data: AtomicUsize,
    _marker: PhantomData<*mut T>,
}

// SAFETY: an `Atomic<T>` hands out `&T` to several threads (needs `Sync`) and lets any
// thread take ownership of the `T` (needs `Send`), like `Arc<Mutex<..>>`-free sharing.
unsafe impl<T: Send + Sync> Send for Atomic<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Atomic<T> {}

/// The error of [`Atomic::compare_exchange`]: the value found, and the new pointer
/// given back to the caller (so an `Owned` is not lost).
pub struct CompareExchangeError<'g, T, P: Pointer<T>> {
    /// The value the atomic held instead of `current`.
    pub current: Shared<'g, T>,
    /// The pointer that was not stored.
    pub new: P,
}

impl<T, P: Pointer<T> + fmt::Debug> fmt::Debug for CompareExchangeError<'_, T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompareExchangeError")
            .field("current", &self.current)
            .field("new", &self.new)
            .finish()
    }
}

impl<T> Atomic<T> {
    /// A null pointer (tag 0).
    #[cfg(not(loom))]
    pub const fn null() -> Self {
        Self {
            data: AtomicUsize::new(0),
            _marker: PhantomData,
        }
    }

    /// A null pointer (tag 0).
    #[cfg(loom)]
    pub fn null() -> Self {
        Self {
            data: AtomicUsize::new(0),
            _marker: PhantomData,
        }
    }

    /// Allocates `value` on the heap and points at it.
    pub fn new(value: T) -> Self {
        Self::from(Owned::new(value))
    }

    /// Loads the pointer; the result is valid for as long as `guard` is.
    pub fn load<'g>(&self, ord: Ordering, _guard: &'g Guard) -> Shared<'g, T> {
        Shared::from_data(self.data.load(ord))
    }

    /// Stores `new`, dropping nothing: the old value, if any, is the caller's to retire.
    pub fn store<P: Pointer<T>>(&self, new: P, ord: Ordering) {
        self.data.store(new.into_usize(), ord);
    }

    /// Stores `new` and returns the previous pointer.
    pub fn swap<'g, P: Pointer<T>>(
        &self,
        new: P,
        ord: Ordering,
        _guard: &'g Guard,
    ) -> Shared<'g, T> {
        Shared::from_data(self.data.swap(new.into_usize(), ord))
    }

    /// Stores `new` if the atomic still holds `current` (pointer and tag).
    ///
    /// # Errors
    ///
    /// If the atomic held something else, returns that value and gives `new` back.
    pub fn compare_exchange<'g, P: Pointer<T>>(
        &self,
        current: Shared<'_, T>,
        new: P,
        success: Ordering,
        failure: Ordering,
        _guard: &'g Guard,
    ) -> Result<Shared<'g, T>, CompareExchangeError<'g, T, P>> {
        let new = new.into_usize();
        match self
            .data
            .compare_exchange(current.data, new, success, failure)
        {
            Ok(_) => Ok(Shared::from_data(new)),
            Err(found) => Err(CompareExchangeError {
                current: Shared::from_data(found),
                // SAFETY: `new` came from `into_usize` just above and was not stored.
                new: unsafe { P::from_usize(new) },
            }),
        }
    }

    /// Like [`compare_exchange`](Self::compare_exchange), but may fail spuriously;
    /// cheaper in a retry loop on some platforms.
    ///
    /// # Errors
    ///
    /// As `compare_exchange`, plus spurious failures.
    pub fn compare_exchange_weak<'g, P: Pointer<T>>(
        &self,
        current: Shared<'_, T>,
        new: P,
        success: Ordering,
        failure: Ordering,
        _guard: &'g Guard,
    ) -> Result<Shared<'g, T>, CompareExchangeError<'g, T, P>> {
        let new = new.into_usize();
        match self
            .data
            .compare_exchange_weak(current.data, new, success, failure)
        {
            Ok(_) => Ok(Shared::from_data(new)),
            Err(found) => Err(CompareExchangeError {
                current: Shared::from_data(found),
                // SAFETY: `new` came from `into_usize` just above and was not stored.
                new: unsafe { P::from_usize(new) },
            }),
        }
    }

    /// Ors `tag` into the tag bits (the address is untouched); returns the previous value.
    pub fn fetch_or<'g>(&self, tag: usize, ord: Ordering, _guard: &'g Guard) -> Shared<'g, T> {
        Shared::from_data(self.data.fetch_or(tag & tag_mask::<T>(), ord))
    }

    /// Ands `tag` into the tag bits (the address is untouched); returns the previous value.
    pub fn fetch_and<'g>(&self, tag: usize, ord: Ordering, _guard: &'g Guard) -> Shared<'g, T> {
        Shared::from_data(self.data.fetch_and(tag | !tag_mask::<T>(), ord))
    }

    /// Xors `tag` into the tag bits (the address is untouched); returns the previous value.
    pub fn fetch_xor<'g>(&self, tag: usize, ord: Ordering, _guard: &'g Guard) -> Shared<'g, T> {
        Shared::from_data(self.data.fetch_xor(tag & tag_mask::<T>(), ord))
    }

    /// Takes ownership of the pointee.
    ///
    /// # Safety
    ///
    /// No other thread may use the atomic or the pointee concurrently or afterwards, and
    /// the pointer must not be null (a null one gives a dangling `Owned`).
    pub unsafe fn into_owned(self) -> Owned<T> {
        #[cfg(loom)]
        // SAFETY: the caller guarantees no concurrent access.
        let data = unsafe { self.data.unsync_load() };
        #[cfg(not(loom))]
        let data = self.data.into_inner();
        // SAFETY: the caller guarantees exclusive ownership of a non-null pointee.
        unsafe { Owned::from_usize(data) }
    }
}

impl<T> fmt::Debug for Atomic<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (raw, tag) = decompose::<T>(self.data.load(Ordering::Relaxed));
        f.debug_struct("Atomic")
            .field("raw", &raw)
            .field("tag", &tag)
            .finish()
    }
}

impl<T> Default for Atomic<T> {
    fn default() -> Self {
        Self::null()
    }
}

impl<T> From<Owned<T>> for Atomic<T> {
    fn from(owned: Owned<T>) -> Self {
        Self {
            data: AtomicUsize::new(owned.into_usize()),
            _marker: PhantomData,
        }
    }
}

impl<'g, T> From<Shared<'g, T>> for Atomic<T> {
    fn from(shared: Shared<'g, T>) -> Self {
        Self {
            data: AtomicUsize::new(shared.data),
            _marker: PhantomData,
        }
    }
}

/// An owned, heap-allocated `T` with a tag: a `Box` that can move into an [`Atomic`].
///
/// # Examples
///
/// ```
/// use weft_lockfree::epoch::{self, Owned};
///
/// let owned = Owned::new(5).with_tag(1);
/// assert_eq!((*owned, owned.tag()), (5, 1));
/// let guard = epoch::pin();
/// let shared = owned.into_shared(&guard);
/// // SAFETY: never published; this thread is the only owner.
/// drop(unsafe { shared.into_owned() });
/// ```
pub struct Owned<T> {
    data: usize,
    _marker: PhantomData<Box<T>>,
}

impl<T> Owned<T> {
    /// Allocates `value`.
    pub fn new(value: T) -> Self {
        Self::from(Box::new(value))
    }

    /// Takes ownership of a raw pointer.
    ///
    /// # Safety
    ///
    /// `raw` must come from `Box::into_raw` and have no other owner.
    pub unsafe fn from_raw(raw: *mut T) -> Self {
        Self {
            data: compose(raw, 0),
            _marker: PhantomData,
        }
    }

    /// Gives the allocation back as a `Box` (the tag is dropped).
    pub fn into_box(self) -> Box<T> {
        let (raw, _) = decompose::<T>(self.data);
        mem::forget(self);
        // SAFETY: an `Owned` is always a live `Box` allocation it alone owns.
        unsafe { Box::from_raw(raw) }
    }

    /// Turns ownership into a pointer shared for the guard's lifetime; the caller now
    /// has to publish it or free it.
    pub fn into_shared(self, _guard: &Guard) -> Shared<'_, T> {
        Shared::from_data(self.into_usize())
    }

    /// The tag.
    pub fn tag(&self) -> usize {
        decompose::<T>(self.data).1
    }

    /// The same pointer with another tag (truncated to the alignment bits).
    pub fn with_tag(self, tag: usize) -> Self {
        let (raw, _) = decompose::<T>(self.into_usize());
        Self {
            data: compose(raw, tag),
            _marker: PhantomData,
        }
    }
}

impl<T> From<Box<T>> for Owned<T> {
    fn from(boxed: Box<T>) -> Self {
        // SAFETY: straight from `Box::into_raw`.
        unsafe { Self::from_raw(Box::into_raw(boxed)) }
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        let (raw, _) = decompose::<T>(self.data);
        // SAFETY: an `Owned` is a live `Box` allocation it alone owns.
        drop(unsafe { Box::from_raw(raw) });
    }
}

impl<T> Deref for Owned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: an `Owned` is a live allocation it alone owns.
        unsafe { &*decompose::<T>(self.data).0 }
    }
}

impl<T> DerefMut for Owned<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as `deref`, and `&mut self` is exclusive.
        unsafe { &mut *decompose::<T>(self.data).0 }
    }
}

impl<T: fmt::Debug> fmt::Debug for Owned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Owned")
            .field("value", &**self)
            .field("tag", &self.tag())
            .finish()
    }
}

impl<T> sealed::Sealed for Owned<T> {}
impl<T> Pointer<T> for Owned<T> {
    fn into_usize(self) -> usize {
        let data = self.data;
        mem::forget(self);
        data
    }

    unsafe fn from_usize(data: usize) -> Self {
        Self {
            data,
            _marker: PhantomData,
        }
    }
}

/// A tagged pointer loaded from an [`Atomic`], valid while the guard `'g` lives.
///
/// `Copy`; reading the pointee is `unsafe` because only the data structure knows whether
/// the pointer was still reachable when it was loaded (the guard only keeps *reachable*
/// objects alive).
pub struct Shared<'g, T> {
    data: usize,
    _marker: PhantomData<(&'g (), *const T)>,
}

impl<T> Clone for Shared<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Shared<'_, T> {}

impl<T> PartialEq for Shared<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}
impl<T> Eq for Shared<'_, T> {}

impl<'g, T> Shared<'g, T> {
    fn from_data(data: usize) -> Self {
        Self {
            data,
            _marker: PhantomData,
        }
    }

    /// A null pointer with tag 0.
    pub fn null() -> Self {
        Self::from_data(0)
    }

    /// Whether the address (ignoring the tag) is null.
    pub fn is_null(&self) -> bool {
        self.as_raw().is_null()
    }

    /// The address without the tag.
    pub fn as_raw(&self) -> *const T {
        decompose::<T>(self.data).0
    }

    /// The tag.
    pub fn tag(&self) -> usize {
        decompose::<T>(self.data).1
    }

    /// The same pointer with another tag (truncated to the alignment bits).
    pub fn with_tag(&self, tag: usize) -> Self {
        Self::from_data(compose(self.as_raw(), tag))
    }

    /// The pointee, or `None` for null.
    ///
    /// # Safety
    ///
    /// The pointer must be null or point at a `T` that was reachable from the data
    /// structure while `'g`'s guard was pinned (so it is not reclaimed before `'g` ends),
    /// and no one may hold `&mut` to it.
    pub unsafe fn as_ref(&self) -> Option<&'g T> {
        // SAFETY: the caller's contract.
        unsafe { self.as_raw().as_ref() }
    }

    /// The pointee.
    ///
    /// # Safety
    ///
    /// As [`as_ref`](Self::as_ref), and the pointer must not be null.
    pub unsafe fn deref(&self) -> &'g T {
        // SAFETY: the caller's contract.
        unsafe { &*self.as_raw() }
    }

    /// Takes ownership of the pointee.
    ///
    /// # Safety
    ///
    /// The pointer must be non-null, and no other thread may use it now or later (it was
    /// never published, or it is unreachable and no guard pinned before it was unlinked
    /// is still alive).
    pub unsafe fn into_owned(self) -> Owned<T> {
        debug_assert!(!self.is_null(), "into_owned of a null pointer");
        // SAFETY: the caller's contract.
        unsafe { Owned::from_usize(self.data) }
    }
}

impl<T> fmt::Debug for Shared<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("raw", &self.as_raw())
            .field("tag", &self.tag())
            .finish()
    }
}

impl<T> Default for Shared<'_, T> {
    fn default() -> Self {
        Self::null()
    }
}

impl<T> sealed::Sealed for Shared<'_, T> {}
impl<T> Pointer<T> for Shared<'_, T> {
    fn into_usize(self) -> usize {
        self.data
    }

    unsafe fn from_usize(data: usize) -> Self {
        Self::from_data(data)
    }
}

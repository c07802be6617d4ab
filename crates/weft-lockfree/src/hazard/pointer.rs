//! `HazardPointer`: one owned hazard slot, and the publish / re-validate loop.

use core::ptr;

use weft_sync::primitive::atomic::{AtomicPtr, Ordering, fence};

use super::domain::{Domain, HazardRecord};

/// One hazard slot of a [`Domain`]: while it protects a pointer, no `retire` in that
/// domain frees the object behind it.
///
/// Creating one takes a free slot from the domain's list of records (lock-free; a new
/// record is allocated only when every existing one is in use); dropping it clears the
/// slot and returns it for reuse. A `HazardPointer` protects one pointer at a time:
/// protecting another one, [`reset_protection`](Self::reset_protection) or dropping it
/// ends the previous protection, which is why the protecting methods take `&mut self`
/// and a reference from [`protect`](Self::protect) borrows the hazard.
///
/// Progress: [`try_protect`](Self::try_protect) and
/// [`reset_protection`](Self::reset_protection) are wait-free;
/// [`protect`](Self::protect) loops only while writers keep changing the source
/// (lock-free).
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicPtr, Ordering};
/// use weft_lockfree::hazard::{self, HazardPointer};
///
/// let shared = AtomicPtr::new(Box::into_raw(Box::new(String::from("v1"))));
///
/// let mut hazard = HazardPointer::new();
/// // SAFETY: `shared` only ever holds pointers from `Box::into_raw` that are retired
/// // into the global domain once unlinked.
/// let value = unsafe { hazard.protect(&shared) }.unwrap();
///
/// // A writer replaces and retires the old value while we still read it.
/// let old = shared.swap(Box::into_raw(Box::new(String::from("v2"))), Ordering::AcqRel);
/// // SAFETY: `old` is unlinked and retired once; `drop_box` matches `Box::into_raw`.
/// unsafe { hazard::retire(old, hazard::drop_box) };
/// hazard::Domain::global().eager_reclaim();
/// assert_eq!(value, "v1"); // still protected, so not freed
///
/// hazard.reset_protection();
/// hazard::Domain::global().eager_reclaim(); // now "v1" is freed
/// # // SAFETY: the example owns the last value.
/// # unsafe { drop(Box::from_raw(shared.load(Ordering::Relaxed))) };
/// ```
pub struct HazardPointer<'domain> {
    domain: &'domain Domain,
    record: &'domain HazardRecord,
}

impl HazardPointer<'static> {
    /// Takes a hazard slot from the [global domain](Domain::global).
    pub fn new() -> Self {
        Self::new_in_domain(Domain::global())
    }
}

impl Default for HazardPointer<'static> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'domain> HazardPointer<'domain> {
    /// Takes a hazard slot from `domain`, reusing a released one if there is one.
    pub fn new_in_domain(domain: &'domain Domain) -> Self {
        Self {
            domain,
            record: domain.acquire_record(),
        }
    }

    /// The domain this hazard belongs to (retire objects it protects there).
    pub fn domain(&self) -> &'domain Domain {
        self.domain
    }

    /// Loads `source` and protects the object it points to, returning a reference that
    /// stays valid until this hazard protects something else, is reset, or is dropped.
    /// `None` if `source` holds null.
    ///
    /// # Safety
    ///
    /// Every non-null pointer `source` ever holds points to a valid `T` that is freed
    /// only through [`Domain::retire`] on this hazard's domain, after being unlinked
    /// from `source` (the contract of `retire`). Objects must be `Sync` in practice:
    /// other threads read them concurrently.
    pub unsafe fn protect<T>(&mut self, source: &AtomicPtr<T>) -> Option<&T> {
        let pointer = self.protect_ptr(source);
        // SAFETY: `protect_ptr` published `pointer` and then saw it still in `source`
        // after a SeqCst fence, so no scan that could free it has missed our hazard
        // (see `try_protect`); the caller promised non-null values are valid `T`s
        // freed only by that domain's scans. The reference borrows `self`, so it dies
        // before the protection does.
        unsafe { pointer.as_ref() }
    }

    /// Loads `source` and protects the pointer it holds; returns it (possibly null).
    ///
    /// The pointer may be dereferenced (under the same contract as
    /// [`protect`](Self::protect)) until this hazard protects something else, is
    /// reset, or is dropped.
    pub fn protect_ptr<T>(&mut self, source: &AtomicPtr<T>) -> *mut T {
        // Relaxed: a guess only; what we use comes from the Acquire re-read in
        // `try_protect`.
        let mut pointer = source.load(Ordering::Relaxed);
        loop {
            if pointer.is_null() {
                // Nothing to protect, and nothing to validate: null is never freed.
                self.reset_protection();
                return pointer;
            }
            match self.try_protect(pointer, source) {
                Ok(protected) => return protected,
                Err(current) => pointer = current,
            }
        }
    }

    /// Protects `pointer` if `source` still holds it after the protection is published.
    ///
    /// Returns `Ok(pointer)` when it is protected (usable as with
    /// [`protect_ptr`](Self::protect_ptr)), or `Err(current)` with the value `source`
    /// holds now; after an `Err` the slot still names `pointer`, which delays its
    /// reclamation but protects nothing usable (call again or reset).
    ///
    /// # Errors
    ///
    /// `Err(current)` when `source` no longer holds `pointer`.
    pub fn try_protect<T>(
        &mut self,
        pointer: *mut T,
        source: &AtomicPtr<T>,
    ) -> Result<*mut T, *mut T> {
        // The SeqCst fence orders this publication before the re-read below, against
        // the scanner's own SeqCst fence in `Domain::reclaim` (the store-buffering
        // pairing explained there): if the scanner's fence comes first, its unlink of
        // `pointer` is visible to our re-read and we fail; if ours comes first, the
        // scanner's load of this slot sees `pointer` (or a later value of ours).
        // Release: this store also ends the previous protection; it pairs with the
        // scanner's Acquire load of the slot, so our reads of the previously protected
        // object happen-before a scan that sees the slot moved on and frees it.
        self.record.pointer.store(pointer.cast(), Ordering::Release);
        fence(Ordering::SeqCst);
        // Acquire: pairs with the Release (or AcqRel) store that put `pointer` into
        // `source`, so the object's initialization is visible to us.
        let current = source.load(Ordering::Acquire);
        if current == pointer {
            Ok(pointer)
        } else {
            Err(current)
        }
    }

    /// Ends the current protection (if any): the object may be freed by the next scan.
    pub fn reset_protection(&mut self) {
        // Release: pairs with the scanner's Acquire load of the slot in
        // `Domain::reclaim`, so our reads of the object happen-before a scan that sees
        // this null and frees it.
        self.record
            .pointer
            .store(ptr::null_mut(), Ordering::Release);
    }
}

impl Drop for HazardPointer<'_> {
    fn drop(&mut self) {
        self.reset_protection();
        self.domain.release_record(self.record);
    }
}

impl core::fmt::Debug for HazardPointer<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HazardPointer")
            // Relaxed: informational.
            .field("protected", &self.record.pointer.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

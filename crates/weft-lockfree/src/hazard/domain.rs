//! `Domain`: the list of hazard records and the retired list, and the scan that frees.
//!
//! # State
//!
//! - `records`: head of a push-only singly linked list of [`HazardRecord`]s. A record is
//!   allocated once, linked at the head with a compare-and-swap, and never unlinked or
//!   freed until the domain itself is dropped (Michael 2004, §3.2: "HP records are never
//!   removed"). So any thread may walk the list at any time without protection.
//!   `record_count` is the list's length, H in the bound.
//! - `record.active`: `true` while a [`HazardPointer`](super::HazardPointer) owns the
//!   record. Only the owner writes `record.pointer`; only `false -> true` by
//!   compare-and-swap acquires a record, only the owner's drop stores `false`.
//! - `retired`: head of a Treiber-style list of [`Retired`] nodes, pushed by `retire`,
//!   taken whole (one `swap` to null) by `reclaim`. A node on the list, or in the hands
//!   of the reclaiming thread that took it, is owned by exactly one place, so every
//!   retired object is freed exactly once.
//! - `retired_count`: incremented *before* a node is pushed and decremented only by a
//!   reclaimer for nodes it has taken, so it never underflows and never under-counts the
//!   list (it may briefly over-count by the pushes in flight).

use core::ptr;

use weft_sync::CachePadded;
use weft_sync::primitive::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering, fence};

/// Added to `2 × H` to get the reclaim threshold, so a domain with few hazards does
/// not scan on every other retire. Small under loom to keep models small.
#[cfg(not(loom))]
const THRESHOLD_SLACK: usize = 64;
#[cfg(loom)]
const THRESHOLD_SLACK: usize = 2;

/// One hazard slot: the pointer its owner protects, and whether it has an owner.
///
/// Padded so owners publishing into neighbouring records do not share a cache line.
pub(super) struct HazardRecord {
    pub(super) pointer: AtomicPtr<()>,
    pub(super) active: AtomicBool,
    /// Immutable once the record is linked into the list.
    next: *mut CachePadded<HazardRecord>,
}

// SAFETY: `next` is written only before the record is published and is read-only
// afterwards; the other fields are atomics. So `&HazardRecord` may cross threads.
unsafe impl Sync for HazardRecord {}
// SAFETY: as above; a record owns nothing through `next` (the domain frees the list).
unsafe impl Send for HazardRecord {}

/// The type-erased header of a retired object.
///
/// `reclaim` is a monomorphized function that knows the concrete [`RetiredNode<T>`]
/// around this header: it frees the node and runs the user's deleter.
#[repr(C)]
struct Retired {
    next: *mut Retired,
    /// The retired object's address, compared against the hazard pointers.
    address: usize,
    reclaim: unsafe fn(*mut Retired),
}

/// A retired object with its typed deleter; `header` first so `*mut RetiredNode<T>`
/// and `*mut Retired` are the same address (`repr(C)`).
#[repr(C)]
struct RetiredNode<T> {
    header: Retired,
    object: *mut T,
    deleter: unsafe fn(*mut T),
}

/// Frees the node and runs its deleter on the object.
///
/// # Safety
///
/// `header` came from `Box::into_raw(Box<RetiredNode<T>>)` in [`Domain::retire`], is
/// owned by the caller, and no hazard pointer protects its object.
unsafe fn reclaim_node<T>(header: *mut Retired) {
    // SAFETY: per this function's contract the header is the first field of a boxed
    // `RetiredNode<T>` (repr(C)) the caller owns.
    let node = unsafe { Box::from_raw(header.cast::<RetiredNode<T>>()) };
    // SAFETY: `retire`'s caller promised the deleter may be called once on the object
    // once no hazard protects it, which the reclaimer has just checked.
    unsafe { (node.deleter)(node.object) };
}

/// A hazard-pointer domain: a set of hazard slots and the objects retired against them.
///
/// Objects retired in a domain are freed only after a scan of *that domain's* hazard
/// slots finds them unprotected, so a reader must protect with a
/// [`HazardPointer`](super::HazardPointer) from the same domain the writer retires into.
/// Most programs use [`Domain::global`]; a data structure may own a domain of its own
/// so that its scans look only at its own readers' slots and so that dropping it frees
/// everything it retired.
///
/// # Examples
///
/// ```
/// use weft_lockfree::hazard::{Domain, HazardPointer};
/// use std::sync::atomic::AtomicPtr;
///
/// static DOMAIN: Domain = Domain::new();
///
/// let shared = AtomicPtr::new(Box::into_raw(Box::new(7_u32)));
/// let mut hazard = HazardPointer::new_in_domain(&DOMAIN);
/// // SAFETY: `shared` holds a boxed `u32`, retired into `DOMAIN` once swapped out.
/// assert_eq!(unsafe { hazard.protect(&shared) }, Some(&7));
/// hazard.reset_protection();
///
/// let old = shared.swap(std::ptr::null_mut(), std::sync::atomic::Ordering::AcqRel);
/// // SAFETY: `old` came from `Box::into_raw`, is unlinked from `shared`, and is
/// // retired once.
/// unsafe { DOMAIN.retire(old, weft_lockfree::hazard::drop_box) };
/// DOMAIN.eager_reclaim();
/// ```
pub struct Domain {
    records: AtomicPtr<CachePadded<HazardRecord>>,
    record_count: AtomicUsize,
    retired: CachePadded<AtomicPtr<Retired>>,
    retired_count: AtomicUsize,
}

impl Domain {
    /// Creates an empty domain (no hazard slots, nothing retired).
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            records: AtomicPtr::new(ptr::null_mut()),
            record_count: AtomicUsize::new(0),
            retired: CachePadded::new(AtomicPtr::new(ptr::null_mut())),
            retired_count: AtomicUsize::new(0),
        }
    }

    /// Creates an empty domain (no hazard slots, nothing retired).
    ///
    /// Not `const` under loom, whose atomics allocate model state.
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            records: AtomicPtr::new(ptr::null_mut()),
            record_count: AtomicUsize::new(0),
            retired: CachePadded::new(AtomicPtr::new(ptr::null_mut())),
            retired_count: AtomicUsize::new(0),
        }
    }

    /// The process-wide default domain, used by [`HazardPointer::new`] and [`retire`].
    ///
    /// It is never dropped: call [`eager_reclaim`](Domain::eager_reclaim) at shutdown
    /// if objects retired into it must be freed (for example to run their `Drop`).
    ///
    /// [`HazardPointer::new`]: super::HazardPointer::new
    /// [`retire`]: super::retire
    pub fn global() -> &'static Domain {
        #[cfg(not(loom))]
        {
            static GLOBAL: Domain = Domain::new();
            &GLOBAL
        }
        #[cfg(loom)]
        {
            // A fresh global per model execution, so one execution's leftovers never
            // leak into the next.
            loom::lazy_static! {
                static ref GLOBAL: Domain = Domain::new();
            }
            &GLOBAL
        }
    }

    /// The number of hazard records this domain has ever allocated (H): the most
    /// [`HazardPointer`](super::HazardPointer)s that were alive in it at once.
    pub fn hazard_count(&self) -> usize {
        // Relaxed: a statistic; the record list itself is read through `records`.
        self.record_count.load(Ordering::Relaxed)
    }

    /// The number of retired objects waiting on the retired list (an upper bound, exact
    /// when no thread is retiring or reclaiming).
    pub fn retired_count(&self) -> usize {
        // Relaxed: a statistic.
        self.retired_count.load(Ordering::Relaxed)
    }

    /// The retired-list length at which `retire` scans the hazards: `2 × H + slack`.
    ///
    /// A scan leaves at most H objects behind (each slot protects at most one), so it
    /// frees at least `H + slack`, which pays for its `O(H log H)` work: reclamation
    /// costs `O(log H)` comparisons per retired object, amortized.
    pub fn reclaim_threshold(&self) -> usize {
        2 * self.hazard_count() + THRESHOLD_SLACK
    }

    /// Acquires a hazard record: an inactive one if any, else a new one.
    ///
    /// Lock-free: the walk is bounded by H, and the push retries only when another
    /// thread pushed a record.
    pub(super) fn acquire_record(&self) -> &HazardRecord {
        // Acquire: pairs with the Release push below, so a record's fields are
        // initialized before we read them.
        let mut current = self.records.load(Ordering::Acquire);
        while !current.is_null() {
            // SAFETY: records are never freed while the domain lives (`&self`), and
            // were fully initialized before being published (Release push).
            let record: &HazardRecord = unsafe { &*current };
            // Acquire on success: pairs with the Release store of `false` by the
            // previous owner's `release_record`, so its last use of the record
            // happens-before ours. A failed attempt reads nothing.
            if !record.active.load(Ordering::Relaxed)
                && record
                    .active
                    .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return record;
            }
            current = record.next;
        }
        self.push_record()
    }

    #[cold]
    #[inline(never)]
    fn push_record(&self) -> &HazardRecord {
        let record = Box::into_raw(Box::new(CachePadded::new(HazardRecord {
            pointer: AtomicPtr::new(ptr::null_mut()),
            active: AtomicBool::new(true),
            next: ptr::null_mut(),
        })));
        // Counted before it is linked, so `reclaim_threshold` never under-counts the
        // slots a scan may find.
        self.record_count.fetch_add(1, Ordering::Relaxed);
        let mut head = self.records.load(Ordering::Relaxed);
        loop {
            // SAFETY: `record` is ours alone until the CAS below publishes it, so a unique
            // reference to it is sound.
            unsafe { (&mut *record).next = head };
            // Release: publishes the record's initialization (and `next`) to the
            // Acquire loads of `records` in `acquire_record` and `reclaim`.
            match self.records.compare_exchange_weak(
                head,
                record,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                // SAFETY: linked records live as long as the domain.
                Ok(_) => return unsafe { &*record },
                Err(actual) => head = actual,
            }
        }
    }

    /// Returns a record to the pool. The owner has already cleared its pointer.
    pub(super) fn release_record(&self, record: &HazardRecord) {
        // Release: pairs with the Acquire CAS of the next owner in `acquire_record`.
        record.active.store(false, Ordering::Release);
    }

    /// Retires `object`: `deleter(object)` runs once no hazard pointer of this domain
    /// protects it, in some later `retire` or `eager_reclaim` call (on any thread), or
    /// when the domain is dropped.
    ///
    /// When the retired list reaches [`reclaim_threshold`](Domain::reclaim_threshold),
    /// this call scans the hazard slots and frees every retired object nobody protects,
    /// which bounds the retired-but-unfreed objects by `O(H)` however long other
    /// threads stall.
    ///
    /// # Safety
    ///
    /// - `object` is no longer reachable by readers that have not already protected it:
    ///   it has been unlinked from every shared location a reader could newly load it
    ///   from (the unlinking store happens-before this call).
    /// - `object` is retired once, and nothing else frees it.
    /// - `deleter(object)` is sound to call once, on any thread (so the object must be
    ///   safe to drop on another thread), at any later time while the domain is alive
    ///   or from the domain's `Drop`. It should not panic: a panicking deleter unwinds
    ///   out of the scan and leaks the rest of the batch that scan took (leaks, never
    ///   frees twice). It may itself retire into this domain.
    pub unsafe fn retire<T>(&self, object: *mut T, deleter: unsafe fn(*mut T)) {
        let node = Box::into_raw(Box::new(RetiredNode {
            header: Retired {
                next: ptr::null_mut(),
                address: object as usize,
                reclaim: reclaim_node::<T>,
            },
            object,
            deleter,
        }));
        // Counted before the push: a reclaimer subtracts only what it took, so the
        // count never underflows.
        let count = self.retired_count.fetch_add(1, Ordering::Relaxed) + 1;
        // SAFETY: the node is ours until `push_retired` publishes it; `RetiredNode` is
        // repr(C) with the header first.
        unsafe { self.push_retired(node.cast::<Retired>(), node.cast::<Retired>()) };
        if count >= self.reclaim_threshold() {
            self.reclaim();
        }
    }

    /// Pushes the chain `first ..= last` (linked through `next`) onto the retired list.
    ///
    /// # Safety
    ///
    /// The caller owns every node of the chain, and `last` is reachable from `first`.
    unsafe fn push_retired(&self, first: *mut Retired, last: *mut Retired) {
        let mut head = self.retired.load(Ordering::Relaxed);
        loop {
            // SAFETY: the caller owns `last` until the CAS publishes it.
            unsafe { (*last).next = head };
            // Release: publishes the nodes (and, through the retirer's program order,
            // the unlinking of their objects) to the Acquire `swap` in `reclaim`.
            match self.retired.compare_exchange_weak(
                head,
                first,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => head = actual,
            }
        }
    }

    /// Scans the hazard slots now and frees every retired object nobody protects,
    /// however short the retired list is.
    ///
    /// For tests, and for shutdown with [`Domain::global`] (which is never dropped).
    /// Objects protected right now stay retired for a later scan.
    pub fn eager_reclaim(&self) {
        self.reclaim();
    }

    /// Michael 2004, Fig. 3 `Scan`, on one shared retired list instead of one per thread.
    fn reclaim(&self) {
        // Acquire: pairs with the Release pushes of `push_retired`: the nodes, and each
        // retirer's unlinking of its object, happen-before the rest of this scan.
        let mut taken = self.retired.swap(ptr::null_mut(), Ordering::Acquire);
        if taken.is_null() {
            return;
        }

        // The subtle ordering (Michael 2004, §3.2, the "validate" step): a reader
        // publishes its hazard (store H) then re-reads the source (load S); the writer
        // unlinks (store S) then, here, reads the hazards (load H). That is the
        // store-buffering shape, which only a SeqCst fence on *both* sides forbids from
        // ending with both loads seeing old values. This fence pairs with the one in
        // `HazardPointer::try_protect`: whichever comes first in the single total order
        // of SeqCst fences, either the reader's re-read sees the unlink (it retries
        // and never uses the object) or the loads below see its hazard (we keep the
        // object). The unlink itself happens-before this fence through the Acquire
        // swap above, even when another thread did the unlinking.
        fence(Ordering::SeqCst);

        let mut protected = Vec::new();
        // Acquire: pairs with the Release push in `push_record`.
        let mut current = self.records.load(Ordering::Acquire);
        while !current.is_null() {
            // SAFETY: records live as long as the domain.
            let record: &HazardRecord = unsafe { &*current };
            // Ordered after the fence above, which is what the validate argument needs.
            // Acquire: pairs with the Release stores of `try_protect` and
            // `reset_protection`: when we see a slot that no longer names an object,
            // the reader's last reads of that object happen-before we free it.
            let pointer = record.pointer.load(Ordering::Acquire);
            if !pointer.is_null() {
                protected.push(pointer as usize);
            }
            current = record.next;
        }
        protected.sort_unstable();

        let mut freed = 0;
        let mut kept_first: *mut Retired = ptr::null_mut();
        let mut kept_last: *mut Retired = ptr::null_mut();
        while !taken.is_null() {
            let node = taken;
            // SAFETY: we own every node we took with the swap.
            let (next, address, reclaim) =
                unsafe { ((*node).next, (*node).address, (*node).reclaim) };
            taken = next;
            if protected.binary_search(&address).is_ok() {
                // SAFETY: we own `node`; it becomes the new head of the kept chain.
                unsafe { (*node).next = kept_first };
                if kept_last.is_null() {
                    kept_last = node;
                }
                kept_first = node;
            } else {
                freed += 1;
                // SAFETY: we own `node`, it was built by `retire` (the contract of
                // `reclaim_node`), and the scan found no hazard on its object.
                unsafe { reclaim(node) };
            }
        }
        if !kept_first.is_null() {
            // SAFETY: we own the kept chain, and `kept_last` ends it.
            unsafe { self.push_retired(kept_first, kept_last) };
        }
        // After the frees: the count stays an upper bound on the list plus the nodes
        // this scan is still holding.
        self.retired_count.fetch_sub(freed, Ordering::Relaxed);
    }
}

impl Default for Domain {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Domain {
    fn drop(&mut self) {
        // `&mut self`: no `HazardPointer` borrows this domain any more (they hold
        // `&Domain`), so nothing is protected and every retired object may be freed.
        let mut taken = self.retired.swap(ptr::null_mut(), Ordering::Acquire);
        while !taken.is_null() {
            // SAFETY: exclusive access; every node was built by `retire`.
            let next = unsafe { (*taken).next };
            // SAFETY: as above, and no hazard can protect anything now.
            unsafe { ((*taken).reclaim)(taken) };
            taken = next;
        }
        let mut record = self.records.swap(ptr::null_mut(), Ordering::Acquire);
        while !record.is_null() {
            // SAFETY: exclusive access; every record came from `Box::into_raw`.
            let boxed = unsafe { Box::from_raw(record) };
            record = boxed.next;
        }
    }
}

impl core::fmt::Debug for Domain {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Domain")
            .field("hazard_count", &self.hazard_count())
            .field("retired_count", &self.retired_count())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as StdAtomicUsize;

    static DROPS: StdAtomicUsize = StdAtomicUsize::new(0);

    unsafe fn count_drop(object: *mut u64) {
        // SAFETY: the tests retire only `Box::into_raw` pointers, once each.
        drop(unsafe { Box::from_raw(object) });
        DROPS.fetch_add(1, Ordering::Relaxed);
    }

    // One test, so the shared counter sees no other test's drops.
    #[test]
    fn retire_scans_at_the_threshold_and_drop_frees_the_rest() {
        let domain = Domain::new();
        assert_eq!(domain.reclaim_threshold(), THRESHOLD_SLACK);
        for i in 0..THRESHOLD_SLACK - 1 {
            // SAFETY: a fresh box, never shared, retired once.
            unsafe { domain.retire(Box::into_raw(Box::new(i as u64)), count_drop) };
        }
        assert_eq!(
            DROPS.load(Ordering::Relaxed),
            0,
            "no scan below the threshold"
        );
        assert_eq!(domain.retired_count(), THRESHOLD_SLACK - 1);
        // SAFETY: as above.
        unsafe { domain.retire(Box::into_raw(Box::new(0)), count_drop) };
        assert_eq!(
            DROPS.load(Ordering::Relaxed),
            THRESHOLD_SLACK,
            "the retire at the threshold scans"
        );
        assert_eq!(domain.retired_count(), 0);

        for i in 0..5 {
            // SAFETY: as above.
            unsafe { domain.retire(Box::into_raw(Box::new(i)), count_drop) };
        }
        drop(domain);
        assert_eq!(
            DROPS.load(Ordering::Relaxed),
            THRESHOLD_SLACK + 5,
            "drop frees the rest"
        );
    }
}

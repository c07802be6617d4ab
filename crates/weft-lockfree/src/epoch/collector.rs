//! The collector: the global epoch, the registry of participants (`Local`s), their bags
//! of deferred functions, and the global queue of sealed bags.
//!
//! # State and who may touch it
//!
//! 1. `Global::epoch` only grows, by one, by a CAS in `try_advance` after every pinned
//!    `Local` was seen at the current epoch.
//! 2. `Local::epoch` is written only by the `Local`'s owner: `0` when unpinned,
//!    `epoch << 1 | 1` when pinned at `epoch`. Other threads only read it.
//! 3. `Global::locals` is a push-only list; a record is never unlinked or freed while the
//!    `Global` lives. A thread that exits flushes its bag and clears `in_use`; the next
//!    thread to register claims the record with a CAS on `in_use`. So the list is as long
//!    as the largest number of threads ever registered at once.
//! 4. The owner-only fields (`guard_count`, `pin_count`, `bag`, `release_on_unpin`) are
//!    touched only by the thread that holds `in_use`; ownership passes by the `in_use`
//!    Release store (`release`) / Acquire CAS (`register`).
//! 5. `Global::garbage` holds three lists of sealed bags, a bag sealed at epoch `e` in
//!    list `e % 3`. Each list has two operations only: push (CAS on the head) and
//!    take-all (swap with null). Neither compares a pointer that could have been freed
//!    and reused, so the lists have no ABA problem and need no reclamation.
//! 6. At epoch `g`, list `(g + 1) % 3` holds the bags sealed at `g - 2`, `g - 5`, ...:
//!    expired ones. `collect` takes only that list, so it never walks (while pinned,
//!    holding back the epoch) the bags that cannot be freed yet. It still checks each
//!    bag's epoch, because a bag sealed just now, at `g + 1`, may land in the same list;
//!    such a bag is pushed back. So the lists are a speed-up, not part of the safety
//!    argument.

use core::cell::Cell;
use core::ptr;
use weft_sync::CachePadded;
use weft_sync::primitive::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering, fence};
use weft_sync::primitive::{Arc, UnsafeCell};

use super::Guard;

/// Deferred functions a thread gathers before sealing them into the global queue.
/// Tiny under loom so that models exercise sealing.
const BAG_CAPACITY: usize = if cfg!(loom) { 2 } else { 64 };

/// Every this many outermost pins, a thread tries to advance the epoch and collect (at
/// the unpin), so garbage is freed even by threads that only read. Never under loom (models call
/// `flush`), to keep the state space small.
const PINS_BETWEEN_COLLECT: usize = if cfg!(loom) { usize::MAX } else { 128 };

/// Epochs are compared modulo `2^(usize::BITS - 1)`, the width `Local::epoch` keeps.
const EPOCH_MASK: usize = usize::MAX >> 1;

/// A type-erased function to run once no thread can still see what it frees.
pub(crate) struct Deferred {
    call: unsafe fn(*mut ()),
    data: *mut (),
}

// SAFETY: `Deferred`s are only built by `Guard::defer*`, whose contracts require the
// function to be safe to run on another thread.
unsafe impl Send for Deferred {}

impl Deferred {
    /// Boxes a closure (one allocation; `destroy` avoids it for the common case).
    pub(crate) fn from_closure<F: FnOnce()>(f: F) -> Self {
        unsafe fn call<F: FnOnce()>(data: *mut ()) {
            // SAFETY: `data` is the `Box<F>` made below, run at most once.
            let f = unsafe { Box::from_raw(data.cast::<F>()) };
            f();
        }
        Self {
            call: call::<F>,
            data: Box::into_raw(Box::new(f)).cast(),
        }
    }

    /// Drops the `Box<T>` at `raw`, with no allocation of its own.
    pub(crate) fn destroy<T>(raw: *mut T) -> Self {
        unsafe fn call<T>(data: *mut ()) {
            // SAFETY: `data` is the `Box<T>` given to `destroy`, freed at most once.
            drop(unsafe { Box::from_raw(data.cast::<T>()) });
        }
        Self {
            call: call::<T>,
            data: raw.cast(),
        }
    }

    /// Calls `call(data)` later: for allocations that are not a `Box<T>` (the map's
    /// variable-length bucket arrays), with no allocation of its own.
    pub(crate) fn from_raw(call: unsafe fn(*mut ()), data: *mut ()) -> Self {
        Self { call, data }
    }

    fn run(self) {
        // SAFETY: `call` and `data` were made together, and `self` is consumed.
        unsafe { (self.call)(self.data) }
    }
}

/// Deferred functions, run when the bag is dropped.
struct Bag {
    items: Vec<Deferred>,
}

impl Default for Bag {
    /// An empty bag with room for `BAG_CAPACITY` items: one allocation per bag, not one
    /// per doubling while it fills.
    fn default() -> Self {
        Self {
            items: Vec::with_capacity(BAG_CAPACITY),
        }
    }
}

impl Bag {
    fn is_full(&self) -> bool {
        self.items.len() >= BAG_CAPACITY
    }
}

impl Drop for Bag {
    fn drop(&mut self) {
        // If one destructor panics the rest still run: they are dropped by the `Vec`
        // without being called, which leaks their objects rather than aborting.
        for deferred in self.items.drain(..) {
            deferred.run();
        }
    }
}

/// A bag closed at `epoch`: everything in it was unlinked before the epoch was read.
struct SealedBag {
    epoch: usize,
    /// Run when the sealed bag is dropped.
    #[allow(dead_code)]
    bag: Bag,
    next: *mut SealedBag,
}

/// The shared half of the collector.
pub(crate) struct Global {
    epoch: CachePadded<AtomicUsize>,
    locals: AtomicPtr<Local>,
    garbage: [CachePadded<AtomicPtr<SealedBag>>; 3],
}

// SAFETY: the raw pointers are to records owned by `Global` (see the module doc).
unsafe impl Send for Global {}
// SAFETY: as above; all shared fields are atomics.
unsafe impl Sync for Global {}

impl Global {
    pub(crate) fn new() -> Self {
        Self {
            epoch: CachePadded::new(AtomicUsize::new(0)),
            locals: AtomicPtr::new(ptr::null_mut()),
            garbage: [(); 3].map(|()| CachePadded::new(AtomicPtr::new(ptr::null_mut()))),
        }
    }

    /// Claims a free `Local` record, or appends a new one.
    pub(crate) fn register(global: &Arc<Global>) -> LocalHandle {
        // Acquire: pairs with the Release CAS that published each record, so its
        // `next` and initial fields are visible.
        let mut current = global.locals.load(Ordering::Acquire);
        // SAFETY: records are never freed while the `Global` lives (invariant 3).
        while let Some(local) = unsafe { current.as_ref() } {
            // Acquire: pairs with the Release store in `release`; the previous owner's
            // writes to the owner-only fields happen-before ours.
            if !local.in_use.load(Ordering::Relaxed)
                && local
                    .in_use
                    .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return LocalHandle::new(local, global);
            }
            current = local.next;
        }
        let local = Box::into_raw(Box::new(Local::new(&**global)));
        let mut head = global.locals.load(Ordering::Relaxed);
        loop {
            // SAFETY: `local` is not published yet; this thread owns it.
            unsafe { (*local).next = head };
            // Release: publishes the record's fields to `register`'s and
            // `try_advance`'s Acquire loads of the head.
            match global.locals.compare_exchange_weak(
                head,
                local,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(found) => head = found,
            }
        }
        // SAFETY: just published; records live as long as the `Global`.
        LocalHandle::new(unsafe { &*local }, global)
    }

    /// Advances the epoch if every pinned participant has seen the current one; returns
    /// the epoch as it is after the attempt.
    fn try_advance(&self) -> usize {
        // Acquire: pairs with the AcqRel CAS below, so a thread freeing by this value
        // happens-after every unpin the advancer saw (the chain `unpin` Release ->
        // advancer's Acquire load of it -> its CAS -> this load).
        let epoch = self.epoch.load(Ordering::Acquire);
        // SeqCst: ordered with the fence in `Local::pin` (see `epoch/README.md`): either
        // we see a pinning thread's epoch, or it sees the unlinks made before this point.
        fence(Ordering::SeqCst);
        let mut current = self.locals.load(Ordering::Acquire);
        // SAFETY: records are never freed while the `Global` lives (invariant 3).
        while let Some(local) = unsafe { current.as_ref() } {
            // Acquire: pairs with the Release store in `Local::unpin` (and the
            // pinning swap, a read-modify-write in its release sequence): what an
            // unpinned thread read while pinned happens-before the advance, hence
            // before any free it allows. An Acquire load per record rather than one
            // Acquire fence after the loop: the same edge, and one that
            // ThreadSanitizer (which does not model fences) can see; on x86-64 an
            // Acquire load is a plain load.
            let state = local.epoch.load(Ordering::Acquire);
            if state & 1 == 1 && state >> 1 != epoch & EPOCH_MASK {
                return epoch;
            }
            current = local.next;
        }
        match self.epoch.compare_exchange(
            epoch,
            epoch.wrapping_add(1),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => epoch.wrapping_add(1),
            Err(found) => found,
        }
    }

    /// Seals `bag` with the current epoch and pushes it on the garbage list.
    fn push_bag(&self, bag: Bag) {
        // SeqCst: the unlinks of everything in the bag come before this epoch read in
        // the single total order, so a thread pinned later than `epoch + 1` cannot
        // still see them.
        fence(Ordering::SeqCst);
        let epoch = self.epoch.load(Ordering::Relaxed);
        let sealed = Box::into_raw(Box::new(SealedBag {
            epoch,
            bag,
            next: ptr::null_mut(),
        }));
        self.push_sealed(sealed);
    }

    fn garbage_list(&self, epoch: usize) -> &AtomicPtr<SealedBag> {
        &self.garbage[(epoch & EPOCH_MASK) % 3]
    }

    /// Pushes one sealed bag on the list of its epoch.
    fn push_sealed(&self, sealed: *mut SealedBag) {
        // SAFETY: the bag is owned by this thread until the CAS publishes it.
        let list = self.garbage_list(unsafe { (*sealed).epoch });
        let mut head = list.load(Ordering::Relaxed);
        loop {
            // SAFETY: as above.
            unsafe { (*sealed).next = head };
            // Release: publishes the bag's contents to the Acquire swap in `collect`.
            match list.compare_exchange_weak(head, sealed, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(found) => head = found,
            }
        }
    }

    /// Tries to advance the epoch, then runs the sealed bags that have expired (at least
    /// two epochs old; invariant 6).
    pub(crate) fn collect(&self) {
        let epoch = self.try_advance();
        // Acquire: pairs with the Release CAS in `push_sealed`.
        let mut current = self
            .garbage_list(epoch.wrapping_add(1))
            .swap(ptr::null_mut(), Ordering::Acquire);
        while !current.is_null() {
            // SAFETY: the swap made this thread the only owner of the whole chain.
            let sealed = unsafe { Box::from_raw(current) };
            current = sealed.next;
            if epoch.wrapping_sub(sealed.epoch) & EPOCH_MASK >= 2 {
                // Every thread pinned when the bag was sealed has unpinned since.
                drop(sealed);
            } else {
                self.push_sealed(Box::into_raw(sealed));
            }
        }
    }
}

impl Drop for Global {
    fn drop(&mut self) {
        // No handle is left (each holds an `Arc<Global>`), so nothing is pinned and
        // everything can run and be freed.
        // Relaxed: `&mut self` (the last `Arc` dropped) already synchronizes.
        let mut local = self.locals.load(Ordering::Relaxed);
        while !local.is_null() {
            // SAFETY: records were made by `Box::into_raw` in `register`, freed once here.
            let record = unsafe { Box::from_raw(local) };
            local = record.next;
        }
        for list in &self.garbage {
            let mut sealed = list.load(Ordering::Relaxed);
            while !sealed.is_null() {
                // SAFETY: bags were made by `Box::into_raw`; `&mut self` owns the lists.
                let bag = unsafe { Box::from_raw(sealed) };
                sealed = bag.next;
            }
        }
    }
}

/// Stores a pinned state, then a `SeqCst` fence: the announcement is ordered before
/// every load the guard makes, and against the fence in `try_advance` (see
/// `epoch/README.md`).
#[inline]
fn announce_and_fence(epoch: &AtomicUsize, state: usize) {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    {
        // On x86-64 a locked read-modify-write (`xchg`) is a full barrier, like `mfence`
        // but cheaper; the compiler fence keeps the compiler from moving later loads
        // above it. This reasons about the hardware, not the language model, which is
        // why loom and other targets take the portable branch.
        epoch.swap(state, Ordering::SeqCst);
        core::sync::atomic::compiler_fence(Ordering::SeqCst);
    }
    #[cfg(not(all(target_arch = "x86_64", not(loom))))]
    {
        epoch.store(state, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }
}

/// One participant's record. Shared (its `epoch` is read by everyone), owned by one
/// thread at a time.
pub(crate) struct Local {
    epoch: CachePadded<AtomicUsize>,
    in_use: AtomicBool,
    next: *mut Local,
    global: *const Global,
    guard_count: Cell<usize>,
    pin_count: Cell<usize>,
    collect_pending: Cell<bool>,
    release_on_unpin: Cell<bool>,
    bag: UnsafeCell<Bag>,
}

// SAFETY: other threads touch only `epoch`, `in_use` and `next` (immutable once
// published); the `Cell`s and the bag belong to the `in_use` owner (invariant 4).
unsafe impl Sync for Local {}

impl Local {
    fn new(global: *const Global) -> Self {
        Self {
            epoch: CachePadded::new(AtomicUsize::new(0)),
            in_use: AtomicBool::new(true),
            next: ptr::null_mut(),
            global,
            guard_count: Cell::new(0),
            pin_count: Cell::new(0),
            collect_pending: Cell::new(false),
            release_on_unpin: Cell::new(false),
            bag: UnsafeCell::new(Bag::default()),
        }
    }

    #[inline]
    fn global(&self) -> &Global {
        // SAFETY: a `Local` is used only through a `LocalHandle` (which holds an
        // `Arc<Global>`) or a guard made from one, so the `Global` is alive.
        unsafe { &*self.global }
    }

    /// Pins; only the owner thread calls this.
    #[inline]
    pub(crate) fn pin(&self) -> Guard {
        let count = self.guard_count.get();
        self.guard_count
            .set(count.checked_add(1).expect("guard count overflow"));
        let guard = Guard::from_local(self);
        if count == 0 {
            let global = self.global();
            let epoch = global.epoch.load(Ordering::Relaxed);
            announce_and_fence(&self.epoch, (epoch & EPOCH_MASK) << 1 | 1);
            self.pin_count.set(self.pin_count.get().wrapping_add(1));
        }
        guard
    }

    /// Unpins one guard; the outermost unpin announces it.
    #[inline]
    pub(crate) fn unpin(&self) {
        let count = self.guard_count.get();
        self.guard_count.set(count - 1);
        if count == 1 {
            // Release: every read made under the guard happens-before the Acquire load
            // of an advancer that sees this store, hence before any free it allows.
            self.epoch.store(0, Ordering::Release);
            // Collect only now, unpinned: a thread that frees a long list while pinned
            // holds the epoch back for everyone, so garbage piles up faster than it is
            // freed. Unpinned, it blocks no one, and destructors that pin nest properly.
            if self.collect_pending.get()
                || self.pin_count.get().is_multiple_of(PINS_BETWEEN_COLLECT)
                || self.release_on_unpin.get()
            {
                self.after_unpin_slow();
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn after_unpin_slow(&self) {
        if self.collect_pending.replace(false)
            || self.pin_count.get().is_multiple_of(PINS_BETWEEN_COLLECT)
        {
            self.global().collect();
        }
        if self.release_on_unpin.get() {
            self.release();
        }
    }

    /// Re-announces the current epoch if this is the only guard (`Guard::repin`).
    pub(crate) fn repin(&self) {
        if self.guard_count.get() == 1 {
            let epoch = self.global().epoch.load(Ordering::Relaxed);
            let state = (epoch & EPOCH_MASK) << 1 | 1;
            if self.epoch.load(Ordering::Relaxed) != state {
                // Release: as in `unpin`, for the reads made before the repin.
                self.epoch.store(state, Ordering::Release);
                // SeqCst: as in `pin`.
                fence(Ordering::SeqCst);
            }
        }
    }

    /// Adds `deferred` to this thread's bag; a full bag is sealed and pushed to the
    /// global lists at once, and collected at the next unpin.
    pub(crate) fn defer(&self, deferred: Deferred) {
        let full = self.bag.with_mut(|bag| {
            // SAFETY: the bag belongs to the owner thread, which is running this; no
            // other borrow is live (deferred functions never run from this bag in place).
            let bag = unsafe { &mut *bag };
            bag.items.push(deferred);
            bag.is_full()
        });
        if full {
            self.seal_bag();
            self.collect_pending.set(true);
        }
    }

    /// Seals this thread's bag (if not empty) and collects.
    pub(crate) fn flush(&self) {
        self.seal_bag();
        self.global().collect();
    }

    fn seal_bag(&self) {
        let bag = self.bag.with_mut(|bag| {
            // SAFETY: owner-only, as in `defer`.
            let bag = unsafe { &mut *bag };
            // An empty bag stays (no fresh allocation for nothing).
            (!bag.items.is_empty()).then(|| core::mem::take(bag))
        });
        if let Some(bag) = bag {
            self.global().push_bag(bag);
        }
    }

    /// Hands the record back to the pool: its garbage goes to the global queue, then
    /// `in_use` is cleared.
    fn release(&self) {
        debug_assert_eq!(self.guard_count.get(), 0);
        self.seal_bag();
        self.release_on_unpin.set(false);
        // Release: pairs with the Acquire CAS in `register` (invariant 4).
        self.in_use.store(false, Ordering::Release);
    }

    pub(crate) fn is_pinned(&self) -> bool {
        self.guard_count.get() > 0
    }
}

/// A thread's claim on a `Local` record, kept in a thread-local.
pub(crate) struct LocalHandle {
    local: *const Local,
    /// Keeps the `Global` alive while the record is in use (under loom the collector is
    /// dropped at the end of each execution, before the main thread's thread-locals).
    _global: Arc<Global>,
}

impl LocalHandle {
    fn new(local: &Local, global: &Arc<Global>) -> Self {
        Self {
            local,
            _global: Arc::clone(global),
        }
    }

    #[inline]
    pub(crate) fn local(&self) -> &Local {
        // SAFETY: the record lives as long as the `Global` this handle keeps alive.
        unsafe { &*self.local }
    }

    /// Gives up the handle without releasing the record until its last guard unpins
    /// (for a pin made after this thread's thread-locals were destroyed). Leaks one
    /// reference to the `Global`, which is the `'static` default collector.
    pub(crate) fn into_released_on_unpin(self) -> *const Local {
        let local = self.local;
        self.local().release_on_unpin.set(true);
        core::mem::forget(self);
        local
    }
}

impl Drop for LocalHandle {
    fn drop(&mut self) {
        let local = self.local();
        if local.guard_count.get() == 0 {
            local.release();
        } else {
            // A guard outlives the thread-local (kept in another thread-local): the last
            // unpin releases the record.
            local.release_on_unpin.set(true);
        }
    }
}

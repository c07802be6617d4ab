//! `Table`: one generation of buckets, and the cooperative migration into the next.
//!
//! A resize allocates the next table with every bucket `UNINIT` and links it from the
//! current one (`next`). Writers then migrate the old table in chunks of [`CHUNK`]
//! buckets, claimed with a `fetch_add` on `claimed` (the cooperative transfer of Java's
//! `ConcurrentHashMap`): each bucket is frozen (`MOVED`) and the buckets derived from it
//! in the next table are built from the frozen snapshot. A writer that meets a frozen
//! bucket before its chunk is done builds the derived bucket itself, so no one ever
//! waits for a migrator (Liu, Zhang and Spear's lazy bucket initialization). Whoever
//! completes the last chunk swings the map's root to the next table and retires this
//! one.
//!
//! Tables only grow, by doubling, so bucket `i` of a table of `n` buckets feeds buckets
//! `i`, `i + n`, ... of the next: the ones whose index agrees with `i` on the low bits.

use core::ptr;
use weft_sync::CachePadded;
use weft_sync::primitive::atomic::{AtomicPtr, AtomicUsize, Ordering};

use super::bucket::{self, ARRAY, Entry, MOVED, Slot, Snapshot, UNINIT};
use crate::epoch::Guard;

/// Buckets a migrator claims at a time: enough to amortize the claim, few enough that
/// one writer's share of the work stays short. One under loom, so models see chunks
/// interleave.
pub(super) const CHUNK: usize = if cfg!(loom) { 1 } else { 64 };

pub(super) struct Table {
    buckets: Box<[AtomicUsize]>,
    mask: usize,
    /// The table this one migrates into; null until a resize starts. Set once.
    next: AtomicPtr<Table>,
    /// The next bucket index to hand to a migrator (may run past the length).
    claimed: CachePadded<AtomicUsize>,
    /// Buckets fully migrated (frozen, and every derived bucket built).
    migrated: CachePadded<AtomicUsize>,
}

impl Table {
    /// A table of `len` (a power of two) buckets, each holding `initial` (`0` for a
    /// root table, `UNINIT` for a migration target).
    pub(super) fn new(len: usize, initial: usize) -> Self {
        debug_assert!(len.is_power_of_two());
        Self {
            buckets: (0..len).map(|_| AtomicUsize::new(initial)).collect(),
            mask: len - 1,
            next: AtomicPtr::new(ptr::null_mut()),
            claimed: CachePadded::new(AtomicUsize::new(0)),
            migrated: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.mask + 1
    }

    #[inline]
    pub(super) fn mask(&self) -> usize {
        self.mask
    }

    /// The bucket `hash` maps to.
    #[inline]
    pub(super) fn bucket(&self, hash: u64) -> &AtomicUsize {
        let index = hash as usize & self.mask;
        // SAFETY: `index <= mask == buckets.len() - 1`.
        unsafe { self.buckets.get_unchecked(index) }
    }

    /// Bucket `index`.
    #[inline]
    pub(super) fn at(&self, index: usize) -> &AtomicUsize {
        &self.buckets[index]
    }

    /// The table this one migrates into, if a resize has started.
    #[inline]
    pub(super) fn next<'g>(&self, _guard: &'g Guard) -> Option<&'g Table> {
        // Acquire: pairs with the Release CAS in `start_resize`, so the next table's
        // buckets (all `UNINIT`) are initialized for us.
        let next = self.next.load(Ordering::Acquire);
        // SAFETY: a linked table is retired only after it became root and then was
        // migrated out of in turn, which happens after this table was unlinked from the
        // root; the guard was pinned while this table was reachable, so `next` is not
        // freed before `'g` ends.
        unsafe { next.as_ref() }
    }

    /// The next table of a table known to be migrating (it has a frozen bucket).
    #[inline]
    pub(super) fn next_of_frozen<'g>(&self, guard: &'g Guard) -> &'g Table {
        self.next(guard)
            .expect("a frozen bucket's table links its successor")
    }

    /// Links `next` as the migration target, unless a resize already started.
    /// Returns whether this call started it.
    pub(super) fn start_resize(&self, next: Box<Table>) -> bool {
        let next = Box::into_raw(next);
        // Release: publishes the new table's buckets to `next`'s Acquire load.
        match self
            .next
            .compare_exchange(ptr::null_mut(), next, Ordering::AcqRel, Ordering::Relaxed)
        {
            Ok(_) => true,
            Err(_) => {
                // SAFETY: not published; this thread still owns it.
                drop(unsafe { Box::from_raw(next) });
                false
            }
        }
    }

    /// Indices of `next`'s buckets fed by bucket `index` of this table.
    #[inline]
    pub(super) fn derived(&self, next: &Table, index: usize) -> impl Iterator<Item = usize> {
        (index..next.len()).step_by(self.len())
    }

    /// Whether every bucket has been migrated (so the next table is complete).
    fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Acquire) == self.len()
    }

    /// Migrates one chunk into `next`, if any is left to claim. Returns `true` if this
    /// call finished the last chunk (the caller then swings the root).
    pub(super) fn migrate_chunk<K, V>(&self, next: &Table) -> bool {
        // Relaxed: the claim only divides the work; the buckets' own read-modify-writes
        // order the data.
        let start = self.claimed.fetch_add(CHUNK, Ordering::Relaxed);
        if start >= self.len() {
            return false;
        }
        let end = (start + CHUNK).min(self.len());
        for index in start..end {
            let frozen = Self::freeze::<K, V>(&self.buckets[index]);
            for derived in self.derived(next, index) {
                next.build_bucket::<K, V>(derived, frozen);
            }
        }
        // AcqRel: the release sequence of `migrated` carries every migrator's builds to
        // the thread that sees the count complete, and from it (through the root's
        // Release CAS) to readers of the new root.
        let done = self.migrated.fetch_add(end - start, Ordering::AcqRel) + (end - start);
        done == self.len()
    }

    /// Freezes `bucket` and returns its frozen word: `MOVED` or'ed into an empty word
    /// or an array, or a one-slot array replacing a bare entry (bucket invariant 6).
    /// Lock-free: the CAS fails only if a writer's CAS succeeded.
    pub(super) fn freeze<K, V>(bucket: &AtomicUsize) -> usize {
        loop {
            // Acquire: as in `HashMap::find`; we may read the entry's hash.
            let word = bucket.load(Ordering::Acquire);
            debug_assert_eq!(word & MOVED, 0, "a bucket is claimed once");
            let frozen = if word != 0 && word & ARRAY == 0 {
                // SAFETY: a live bare entry, loaded under the migrator's guard.
                let entry = unsafe { &*(word as *const Entry<K, V>) };
                bucket::build_array(1, [Slot::new(entry, entry.hash)].into_iter()) | MOVED
            } else {
                word | MOVED
            };
            // AcqRel: Release publishes the one-slot array, and hands a reader that sees
            // `MOVED` our earlier Acquire of `next` (so the reader finds it linked).
            match bucket.compare_exchange(word, frozen, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return frozen,
                Err(_) => {
                    if word & ARRAY == 0 {
                        // SAFETY: our one-slot array was never published.
                        unsafe { bucket::free_container(frozen & !MOVED) };
                    }
                }
            }
        }
    }

    /// Builds bucket `index` of this (migration target) table from `frozen`, the frozen
    /// word of its source bucket, unless someone already did.
    pub(super) fn build_bucket<K, V>(&self, index: usize, frozen: usize) {
        let bucket = &self.buckets[index];
        // Acquire: if someone built it, we may go on to use their snapshot.
        if bucket.load(Ordering::Acquire) != UNINIT {
            return;
        }
        // SAFETY: a frozen word's snapshot stays alive with its table, which the
        // caller's guard keeps alive; `& !MOVED` gives the content word.
        let source = unsafe { Snapshot::<K, V>::decode(frozen & !MOVED) };
        let word = source.split(self.mask, index);
        // Release: publishes the new array to readers' Acquire loads of the bucket.
        if bucket
            .compare_exchange(UNINIT, word, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: our array was never published.
            unsafe { bucket::free_container(word) };
        }
    }

    /// Migrates every chunk still unclaimed (single-threaded teardown: the caller has
    /// exclusive access, so no claimed chunk is left half done).
    pub(super) fn migrate_all<K, V>(&self, next: &Table) {
        while !self.is_migrated() {
            self.migrate_chunk::<K, V>(next);
        }
    }
}

/// A migrator stopped half way through its chunk, for tests.
#[cfg(all(test, not(loom)))]
impl Table {
    /// Claims the first chunk and freezes only its bucket 0, then "stalls".
    pub(super) fn stall_first_chunk<K, V>(&self) -> usize {
        assert_eq!(self.claimed.fetch_add(CHUNK, Ordering::Relaxed), 0);
        Self::freeze::<K, V>(&self.buckets[0])
    }

    /// Finishes the stalled chunk (`frozen` is bucket 0's frozen word).
    pub(super) fn resume_first_chunk<K, V>(&self, next: &Table, frozen: usize) {
        let end = CHUNK.min(self.len());
        for index in 0..end {
            let frozen = if index == 0 {
                frozen
            } else {
                Self::freeze::<K, V>(&self.buckets[index])
            };
            for derived in self.derived(next, index) {
                next.build_bucket::<K, V>(derived, frozen);
            }
        }
        self.migrated.fetch_add(end, Ordering::AcqRel);
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        for bucket in self.buckets.iter() {
            // Relaxed: `&mut self`; the retirement (or the map's `Drop`) synchronizes.
            let word = bucket.load(Ordering::Relaxed);
            if word & MOVED != 0 {
                // SAFETY: a retired table's frozen arrays are reachable from it alone
                // (invariant 5), and it is unreachable now; the entries live on in the
                // next table and are not touched.
                unsafe { bucket::free_container(word & !MOVED) };
            } else {
                // A root torn down by the map (emptied first) or an unused target.
                debug_assert!(
                    word == 0 || word == UNINIT,
                    "live bucket in a dropped table"
                );
            }
        }
    }
}

//! `Table`: one generation of buckets, and the cooperative migration into the next.
//!
//! A resize allocates the next table, twice as many buckets, all empty, and links it
//! from the current one (`next`). Writers then migrate the old table in chunks of
//! [`CHUNK`] buckets, claimed with a `fetch_add` on `claimed` (the cooperative transfer
//! of Java's `ConcurrentHashMap`). A bucket is migrated under its lock, in one go: the
//! migrator writes its entries into the two buckets derived from it in the next table,
//! which no one else can reach yet, then marks it `MOVED` (bucket invariant 2). So a
//! reader or writer that meets a `MOVED` bucket finds the derived bucket complete, and
//! one that does not meet it reads the old bucket, which is current until that store.
//! Whoever completes the last chunk swings the map's root to the next table and
//! retires this one.
//!
//! Tables only grow, by doubling, so bucket `i` of a table of `n` buckets feeds buckets
//! `i` and `i + n` of the next: the ones whose index agrees with `i` on the low bits.

use core::ptr;
use weft_sync::CachePadded;
use weft_sync::primitive::atomic::{AtomicPtr, AtomicUsize, Ordering};

use super::bucket::{self, Group, LOCKED, MOVED, SLOTS};
use crate::epoch::Guard;

/// Buckets a migrator claims at a time: enough to amortize the claim, few enough that
/// one writer's share of the work stays short. One under loom, so models see chunks
/// interleave.
pub(super) const CHUNK: usize = if cfg!(loom) { 1 } else { 64 };

pub(super) struct Table {
    groups: Box<[Group]>,
    mask: usize,
    /// The table this one migrates into; null until a resize starts. Set once.
    next: AtomicPtr<Table>,
    /// The next bucket index to hand to a migrator (may run past the length).
    claimed: CachePadded<AtomicUsize>,
    /// Buckets fully migrated (frozen, their entries written to the next table).
    migrated: CachePadded<AtomicUsize>,
}

impl Table {
    /// A table of `len` (a power of two) empty buckets.
    pub(super) fn new(len: usize) -> Self {
        debug_assert!(len.is_power_of_two());
        Self {
            groups: (0..len).map(|_| Group::new()).collect(),
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

    /// The bucket `hash` maps to.
    #[inline]
    pub(super) fn bucket(&self, hash: u64) -> &Group {
        let index = hash as usize & self.mask;
        // SAFETY: `index <= mask == groups.len() - 1`.
        unsafe { self.groups.get_unchecked(index) }
    }

    /// Bucket `index`.
    #[inline]
    pub(super) fn at(&self, index: usize) -> &Group {
        &self.groups[index]
    }
    /// The table this one migrates into, if a resize has started.
    #[inline]
    pub(super) fn next<'g>(&self, _guard: &'g Guard) -> Option<&'g Table> {
        // Acquire: pairs with the Release CAS in `start_resize`, so the next table's
        // buckets (all empty) are initialized for us.
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
            .expect("a moved bucket's table links its successor")
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
    pub(super) fn derived(&self, index: usize) -> [usize; 2] {
        [index, index + self.len()]
    }

    /// Whether every bucket has been migrated (so the next table is complete).
    fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Acquire) == self.len()
    }

    /// Migrates one chunk into `next`, if any is left to claim. Returns `true` if this
    /// call finished the last chunk (the caller then swings the root).
    ///
    /// The caller is pinned (or has exclusive access), so the entries it reads stay
    /// alive.
    pub(super) fn migrate_chunk<K, V>(&self, next: &Table) -> bool {
        // Relaxed: the claim only divides the work; the buckets' locks order the data.
        let start = self.claimed.fetch_add(CHUNK, Ordering::Relaxed);
        if start >= self.len() {
            return false;
        }
        let end = (start + CHUNK).min(self.len());
        for index in start..end {
            self.migrate_bucket::<K, V>(index, next);
        }
        // AcqRel: the release sequence of `migrated` carries every migrator's work to
        // the thread that sees the count complete, and from it (through the root's
        // Release CAS) to readers of the new root.
        let done = self.migrated.fetch_add(end - start, Ordering::AcqRel) + (end - start);
        done == self.len()
    }

    /// Moves bucket `index` into its two derived buckets of `next`, under its lock.
    fn migrate_bucket<K, V>(&self, index: usize, next: &Table) {
        let head = &self.groups[index];
        let control = bucket::lock(head).expect("a bucket is claimed for migration once");
        let [low, high] = self
            .derived(index)
            .map(|derived| Filler::new(next.at(derived)));
        let (mut low, mut high) = (low, high);
        // SAFETY: this table is alive while the caller is pinned.
        for group in unsafe { bucket::chain(head, control) } {
            for slot in &group.slots {
                // Relaxed: we hold the lock, whose Acquire made every write visible.
                let word = slot.load(Ordering::Relaxed);
                if word == 0 {
                    continue;
                }
                // SAFETY: a live bucket's entry, retired only by a lock holder (bucket
                // invariant 4), and we are pinned.
                let hash = unsafe { (*bucket::entry_of::<K, V>(word)).hash };
                if hash as usize & next.mask == index {
                    low.push(word);
                } else {
                    high.push(word);
                }
            }
        }
        // Release: publishes the derived buckets (filled with Relaxed stores, unreachable
        // until now) to whoever Acquires `MOVED`, and releases the lock.
        head.control.store(control | MOVED, Ordering::Release);
    }

    /// Migrates every chunk still unclaimed (single-threaded teardown: the caller has
    /// exclusive access, so no claimed chunk is left half done).
    pub(super) fn migrate_all<K, V>(&self, next: &Table) {
        while !self.is_migrated() {
            self.migrate_chunk::<K, V>(next);
        }
    }
}

/// Fills a derived bucket that only the migrator can reach: slot after slot, chaining
/// overflow groups as needed.
struct Filler<'t> {
    group: &'t Group,
    at: usize,
}

impl<'t> Filler<'t> {
    fn new(group: &'t Group) -> Self {
        Self { group, at: 0 }
    }

    fn push(&mut self, word: usize) {
        if self.at == SLOTS {
            let overflow: &'t Group = Box::leak(Box::new(Group::new()));
            // Relaxed: the bucket is published by the migrator's Release store of
            // `MOVED` in the source bucket; the table's `Drop` frees the group.
            self.group
                .control
                .store(overflow as *const Group as usize, Ordering::Relaxed);
            self.group = overflow;
            self.at = 0;
        }
        // Relaxed: as above.
        self.group.slots[self.at].store(word, Ordering::Relaxed);
        self.at += 1;
    }
}

/// A migrator that stopped half way through its chunk, for tests.
#[cfg(all(test, not(loom)))]
impl Table {
    /// Claims the first chunk and migrates only its bucket 0, then "stalls".
    pub(super) fn stall_first_chunk<K, V>(&self, next: &Table) {
        assert_eq!(self.claimed.fetch_add(CHUNK, Ordering::Relaxed), 0);
        self.migrate_bucket::<K, V>(0, next);
    }

    /// Finishes the stalled chunk.
    pub(super) fn resume_first_chunk<K, V>(&self, next: &Table) {
        let end = CHUNK.min(self.len());
        for index in 1..end {
            self.migrate_bucket::<K, V>(index, next);
        }
        self.migrated.fetch_add(end, Ordering::AcqRel);
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        for head in self.groups.iter() {
            // Relaxed: `&mut self`; the retirement (or the map's `Drop`) synchronizes.
            let control = head.control.load(Ordering::Relaxed);
            debug_assert_eq!(control & LOCKED, 0, "a dropped table's bucket is locked");
            let mut overflow = bucket::overflow_of(control).cast_mut();
            while !overflow.is_null() {
                // SAFETY: overflow groups are leaked `Box`es owned by this table alone
                // (bucket invariant 5), freed once, here; their entries are not touched.
                let group = unsafe { Box::from_raw(overflow) };
                overflow = bucket::overflow_of(group.control.load(Ordering::Relaxed)).cast_mut();
            }
        }
    }
}

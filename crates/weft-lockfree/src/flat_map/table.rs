//! `Table`: one generation of a [`FlatMap`](super::FlatMap)'s buckets, and the
//! cooperative migration into the next.
//!
//! The same migration as [`HashMap`](crate::HashMap)'s (`map/table.rs`): a resize links
//! a table of twice as many empty buckets as `next`; writers claim chunks of [`CHUNK`]
//! buckets with a `fetch_add` (Java's `ConcurrentHashMap`, JDK 8) and move each bucket
//! under its lock, copying its pairs into the two buckets derived from it (`i` and
//! `i + n`), which nobody reaches before the Release store of `MOVED` (group invariant
//! 4). Whoever completes the last chunk swings the root.
//!
//! What differs: the pairs are copied rather than shared (so the migrator rehashes each
//! key), and a replaced table is not freed but kept, owned by its successor, until the
//! map is dropped. Tables double, so the old ones together are smaller than the
//! current one; keeping them is what lets reads go without an epoch pin.

use core::ptr;
use weft_sync::CachePadded;
use weft_sync::primitive::atomic::{AtomicPtr, AtomicUsize, Ordering};

use super::Plain;
use super::group::{self, Group, OCCUPIED, SLOTS};

/// Buckets a migrator claims at a time. One under loom, so models see chunks
/// interleave.
pub(super) const CHUNK: usize = if cfg!(loom) { 1 } else { 64 };

pub(super) struct Table<K, V> {
    groups: Box<[Group<K, V>]>,
    mask: usize,
    /// The table this one migrates into; null until a resize starts. Set once.
    next: AtomicPtr<Table<K, V>>,
    /// The table this one replaced, owned by this one (null for the first).
    previous: *mut Table<K, V>,
    /// The next bucket index to hand to a migrator (may run past the length).
    claimed: CachePadded<AtomicUsize>,
    /// Buckets fully migrated.
    migrated: CachePadded<AtomicUsize>,
}

impl<K: Plain, V: Plain> Table<K, V> {
    /// A table of `len` (a power of two) empty buckets, owning `previous`.
    pub(super) fn new(len: usize, previous: *mut Table<K, V>) -> Self {
        debug_assert!(len.is_power_of_two());
        Self {
            groups: Group::boxed_slice(len),
            mask: len - 1,
            next: AtomicPtr::new(ptr::null_mut()),
            previous,
            claimed: CachePadded::new(AtomicUsize::new(0)),
            migrated: CachePadded::new(AtomicUsize::new(0)),
        }
    }
}

impl<K, V> Table<K, V> {
    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        self.mask + 1
    }

    /// The head group of the bucket `hash` maps to.
    #[inline(always)]
    pub(super) fn bucket(&self, hash: u64) -> &Group<K, V> {
        let index = hash as usize & self.mask;
        // SAFETY: `index <= mask == groups.len() - 1`.
        unsafe { self.groups.get_unchecked(index) }
    }

    /// The head group of bucket `index`.
    #[inline]
    pub(super) fn at(&self, index: usize) -> &Group<K, V> {
        &self.groups[index]
    }

    /// The table this one migrates into, if a resize has started.
    #[inline]
    pub(super) fn next(&self) -> Option<&Table<K, V>> {
        // Acquire: pairs with the Release CAS in `start_resize`, so the next table's
        // buckets (all empty) are initialized for us.
        let next = self.next.load(Ordering::Acquire);
        // SAFETY: tables are freed only when the map is dropped, and the caller
        // borrows the map (through `self`, which it reached from the map).
        unsafe { next.as_ref() }
    }

    /// The next table of a table known to be migrating (it has a moved bucket).
    #[inline]
    pub(super) fn next_of_moved(&self) -> &Table<K, V> {
        self.next()
            .expect("a moved bucket's table links its successor")
    }

    /// The last table of the chain from `self` (the one a resize is filling, if any).
    pub(super) fn newest(&self) -> &Table<K, V> {
        let mut table = self;
        while let Some(next) = table.next() {
            table = next;
        }
        table
    }

    /// Takes ownership of the table at `raw` back (to drop it).
    ///
    /// # Safety
    ///
    /// `raw` came from `Box::into_raw` of a table no one else can reach or free.
    pub(super) unsafe fn from_raw(raw: *mut Table<K, V>) -> Box<Table<K, V>> {
        // SAFETY: the caller's contract.
        unsafe { Box::from_raw(raw) }
    }
}

impl<K: Plain, V: Plain> Table<K, V> {
    /// Links a table twice this one's size as the migration target, unless a resize
    /// already started.
    pub(super) fn start_resize(&self) {
        if !self.next.load(Ordering::Relaxed).is_null() {
            return;
        }
        let this = (self as *const Self).cast_mut();
        let next = Box::into_raw(Box::new(Table::new(self.len() * 2, this)));
        // Release: publishes the new table's buckets to `next`'s Acquire loads.
        if self
            .next
            .compare_exchange(ptr::null_mut(), next, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            // SAFETY: not published; this thread still owns it. Clear the back link
            // first so its drop does not free us.
            let mut lost = unsafe { Box::from_raw(next) };
            lost.previous = ptr::null_mut();
        }
    }

    /// Migrates one chunk into `next`, if any is left to claim, hashing keys with
    /// `hash`. Returns `true` if this call finished the last chunk (the caller then
    /// swings the root).
    pub(super) fn migrate_chunk(&self, next: &Table<K, V>, hash: &impl Fn(&K) -> u64) -> bool {
        // Relaxed: the claim only divides the work; the buckets' locks order the data.
        let start = self.claimed.fetch_add(CHUNK, Ordering::Relaxed);
        if start >= self.len() {
            return false;
        }
        let end = (start + CHUNK).min(self.len());
        for index in start..end {
            self.migrate_bucket(index, next, hash);
        }
        // AcqRel: the release sequence of `migrated` carries every migrator's work to
        // the thread that sees the count complete, and from it (through the root's
        // Release CAS) to readers of the new root.
        let done = self.migrated.fetch_add(end - start, Ordering::AcqRel) + (end - start);
        done == self.len()
    }

    /// Moves bucket `index` into its two derived buckets of `next`, under its lock.
    fn migrate_bucket(&self, index: usize, next: &Table<K, V>, hash: &impl Fn(&K) -> u64) {
        let head = &self.groups[index];
        let version = group::lock(head).expect("a bucket is claimed for migration once");
        let mut low = Filler::new(next.at(index));
        let mut high = Filler::new(next.at(index + self.len()));
        let mut group = head;
        loop {
            // Relaxed: under the lock, whose Acquire made every write visible.
            let link = group.link.load(Ordering::Relaxed);
            for slot in 0..SLOTS {
                if link & OCCUPIED & (1 << slot) == 0 {
                    continue;
                }
                let pair = group.pair(slot);
                let (key, value) = (pair.key.load(), pair.value.load());
                if hash(&key) as usize & next.mask == index {
                    low.push(&key, &value);
                } else {
                    high.push(&key, &value);
                }
            }
            // SAFETY: loaded under the lock from a group of this table, which lives as
            // long as the map the caller borrows.
            match unsafe { group::next_group(link) } {
                Some(overflow) => group = overflow,
                None => break,
            }
        }
        group::unlock_moved(head, version);
    }
}

/// Fills a derived bucket that only the migrator can reach.
struct Filler<'t, K, V> {
    group: &'t Group<K, V>,
    at: usize,
}

impl<'t, K: Plain, V: Plain> Filler<'t, K, V> {
    fn new(group: &'t Group<K, V>) -> Self {
        Self { group, at: 0 }
    }

    fn push(&mut self, key: &K, value: &V) {
        if self.at == SLOTS {
            // The Release link store is more than needed here (the bucket is published
            // by `MOVED`), and harmless.
            let overflow: &'t Group<K, V> = self.group.append(key, value);
            self.group = overflow;
            self.at = 1;
            return;
        }
        let pair = self.group.pair(self.at);
        pair.key.store(key);
        pair.value.store(value);
        group::occupy(self.group, self.at);
        self.at += 1;
    }
}

impl<K, V> Drop for Table<K, V> {
    fn drop(&mut self) {
        for head in self.groups.iter() {
            group::free_chain(head);
        }
        // Free the older tables iteratively, not by recursion.
        let mut previous = core::mem::replace(&mut self.previous, ptr::null_mut());
        while !previous.is_null() {
            // SAFETY: each table owns its predecessor alone; taking the link out of it
            // before it drops keeps it from freeing the rest again.
            let mut table = unsafe { Box::from_raw(previous) };
            previous = core::mem::replace(&mut table.previous, ptr::null_mut());
        }
    }
}

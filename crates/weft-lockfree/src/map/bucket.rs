//! The bucket word and the immutable snapshots it points at: nothing, one entry, or an
//! array of `(hash, entry)` slots. The raw layer of the map: everything here is a
//! word, a pointer or an allocation; the safe handles are in `mod.rs`.
//!
//! # The bucket word
//!
//! ```text
//!  63 ..................................... 3     2        1       0
//! +------------------------------------------+--------+-------+-------+
//! |            address (8-aligned)           | UNINIT | MOVED | ARRAY |
//! +------------------------------------------+--------+-------+-------+
//! ```
//!
//! - `0`: the bucket is empty.
//! - an address, no tag: the bucket's only [`Entry`].
//! - an address with `ARRAY`: an array of two or more slots (layout below).
//! - `MOVED` or'ed into any of those: the bucket is *frozen*. Its snapshot is its last;
//!   the keys live on in the next table, in the buckets derived from this one.
//! - exactly `UNINIT`: a bucket of a table being migrated into that has not been built
//!   from its frozen source yet.
//!
//! # Invariants
//!
//! 1. A snapshot (an entry, an array) is immutable once published. A write builds a new
//!    snapshot and replaces the word with one compare-and-swap; a read loads the word
//!    once and sees one consistent state of the bucket.
//! 2. `MOVED` is set once, by `fetch_or` in the migration, and never cleared; a frozen
//!    word is never replaced (every writer's CAS expects an unfrozen word).
//! 3. `UNINIT` is replaced once, by a CAS to the part of the frozen source that maps to
//!    the bucket (`split`); a bucket leaves `UNINIT` only after its source froze.
//! 4. An entry is in exactly one *live* (unfrozen, initialized) bucket, and maybe in
//!    frozen buckets of older tables too (shared, not owned). It is retired only by the
//!    writer whose CAS took it out of its live bucket, so exactly once.
//! 5. An array is owned by the one word that holds it: retired by the writer that
//!    replaced that word, or freed by the table's `Drop` if the word froze.
//! 6. A frozen word is `MOVED` alone (empty) or an array, never a bare entry: freezing
//!    a one-entry bucket wraps the entry in a one-slot array. Once the buckets derived
//!    from a frozen one are built, an entry of the frozen snapshot may be removed from
//!    its new bucket and freed while the snapshot is still read (by a thread pinned
//!    later, through a derived bucket not built yet). So no one may dereference an
//!    entry of a frozen snapshot to learn where it goes: the slots carry the hashes,
//!    and only the entries that land in an *unbuilt* bucket, hence still live, are
//!    ever dereferenced (`find` compares the slot's hash first, `split` and
//!    `entries_landing_in` read only slot hashes).
//!
//! # The array layout
//!
//! One allocation of `len + 1` slots: slot 0 is a header whose `hash` is `len`; slots
//! `1..=len` are the entries with their hashes, so a lookup compares hashes without
//! touching the entries it does not want.

use core::alloc::Layout;
use core::borrow::Borrow;
use core::ptr;
use std::alloc;

use crate::epoch::Guard;

/// The word holds an array (else a single entry, or nothing).
pub(super) const ARRAY: usize = 0b001;
/// The bucket is frozen: its keys have moved to the next table.
pub(super) const MOVED: usize = 0b010;
/// The bucket of a migration target not built yet (the whole word).
pub(super) const UNINIT: usize = 0b100;
const TAGS: usize = 0b111;

/// One key and its value, immutable once published. Aligned to 8 so that the low three
/// bits of its address are free for the tags.
#[repr(align(8))]
pub(super) struct Entry<K, V> {
    pub(super) hash: u64,
    pub(super) key: K,
    pub(super) value: V,
}

/// A slot of an array: an entry and its hash (or, in slot 0, the length).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(C, align(8))]
pub(super) struct Slot {
    hash: u64,
    entry: *const (),
}

impl Slot {
    pub(super) fn new<K, V>(entry: *const Entry<K, V>, hash: u64) -> Self {
        Self {
            hash,
            entry: entry.cast(),
        }
    }
}

/// A decoded content word (neither `MOVED` nor `UNINIT`).
pub(super) enum Snapshot<'g, K, V> {
    Empty,
    One(&'g Entry<K, V>),
    Many(&'g [Slot]),
}

impl<K, V> Clone for Snapshot<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for Snapshot<'_, K, V> {}

impl<'g, K, V> Snapshot<'g, K, V> {
    /// Decodes a content word.
    ///
    /// # Safety
    ///
    /// `word` has no `MOVED`/`UNINIT` tag and was loaded from a bucket (or built and
    /// not yet freed) while a guard that outlives `'g` was pinned, so its snapshot and
    /// entries are not freed during `'g`.
    #[inline]
    pub(super) unsafe fn decode(word: usize) -> Self {
        debug_assert_eq!(word & (MOVED | UNINIT), 0, "not a content word");
        let address = word & !TAGS;
        if address == 0 {
            Snapshot::Empty
        } else if word & ARRAY == 0 {
            // SAFETY: an untagged non-null word is a published entry (caller's contract).
            Snapshot::One(unsafe { &*(address as *const Entry<K, V>) })
        } else {
            let base = address as *const Slot;
            // SAFETY: an `ARRAY` word points at a header slot followed by `len` slots,
            // immutable and alive for `'g` (caller's contract).
            unsafe {
                Snapshot::Many(core::slice::from_raw_parts(
                    base.add(1),
                    (*base).hash as usize,
                ))
            }
        }
    }

    #[inline]
    pub(super) fn len(self) -> usize {
        match self {
            Snapshot::Empty => 0,
            Snapshot::One(_) => 1,
            Snapshot::Many(slots) => slots.len(),
        }
    }

    /// The entry at `index < len`.
    #[inline]
    pub(super) fn entry(self, index: usize) -> &'g Entry<K, V> {
        match self {
            Snapshot::Empty => unreachable!("an empty bucket has no entries"),
            Snapshot::One(entry) => entry,
            // SAFETY: every slot of a published array names a live entry (invariant 4:
            // entries outlive the snapshots that hold them).
            Snapshot::Many(slots) => unsafe { &*slots[index].entry.cast::<Entry<K, V>>() },
        }
    }

    /// The slot at `index < len`.
    #[inline]
    fn slot(self, index: usize) -> Slot {
        match self {
            Snapshot::Empty => unreachable!("an empty bucket has no slots"),
            Snapshot::One(entry) => Slot::new(entry, entry.hash),
            Snapshot::Many(slots) => slots[index],
        }
    }

    /// The index and entry of `key`, if the snapshot holds it.
    #[inline]
    pub(super) fn find<Q>(self, hash: u64, key: &Q) -> Option<(usize, &'g Entry<K, V>)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        match self {
            Snapshot::Empty => None,
            Snapshot::One(entry) => {
                (entry.hash == hash && entry.key.borrow() == key).then_some((0, entry))
            }
            Snapshot::Many(slots) => slots.iter().enumerate().find_map(|(index, slot)| {
                if slot.hash != hash {
                    return None;
                }
                // SAFETY: as in `entry`.
                let entry = unsafe { &*slot.entry.cast::<Entry<K, V>>() };
                (entry.key.borrow() == key).then_some((index, entry))
            }),
        }
    }

    /// Every entry, in slot order.
    pub(super) fn entries(self) -> impl Iterator<Item = &'g Entry<K, V>> {
        (0..self.len()).map(move |index| self.entry(index))
    }

    /// The entries whose hash lands in bucket `index` of a table with `mask`, reading
    /// only the slots' hashes to choose them (invariant 6).
    pub(super) fn entries_landing_in(
        self,
        mask: usize,
        index: usize,
    ) -> impl Iterator<Item = &'g Entry<K, V>> {
        (0..self.len())
            .filter(move |&at| self.slot(at).hash as usize & mask == index)
            .map(move |at| self.entry(at))
    }

    /// A new (unpublished) word: this snapshot plus `new`.
    pub(super) fn with_added(self, new: Slot) -> usize {
        let len = self.len();
        build(len + 1, (0..len).map(|index| self.slot(index)).chain([new]))
    }

    /// A new word: this snapshot with slot `at` replaced by `new`.
    pub(super) fn with_replaced(self, at: usize, new: Slot) -> usize {
        build(
            self.len(),
            (0..self.len()).map(|index| if index == at { new } else { self.slot(index) }),
        )
    }

    /// A new word: this snapshot without slot `at`.
    pub(super) fn without(self, at: usize) -> usize {
        build(
            self.len() - 1,
            (0..self.len())
                .filter(|&index| index != at)
                .map(|index| self.slot(index)),
        )
    }

    /// A new word: the entries whose hash lands in bucket `index` of a table with `mask`.
    pub(super) fn split(self, mask: usize, index: usize) -> usize {
        let lands = |slot: &Slot| slot.hash as usize & mask == index;
        let slots = (0..self.len()).map(|at| self.slot(at));
        let len = slots.clone().filter(lands).count();
        build(len, slots.filter(lands))
    }
}

/// A word for `len` slots taken from `slots`: `0`, a bare entry, or a new array.
pub(super) fn build(len: usize, mut slots: impl Iterator<Item = Slot>) -> usize {
    match len {
        0 => 0,
        1 => {
            let slot = slots.next().expect("build: fewer slots than promised");
            debug_assert_eq!(slot.entry as usize & TAGS, 0, "unaligned entry");
            slot.entry as usize
        }
        _ => build_array(len, slots),
    }
}

/// A new array word for `len >= 1` slots taken from `slots` (a one-slot array only
/// ever appears frozen; invariant 6).
pub(super) fn build_array(len: usize, mut slots: impl Iterator<Item = Slot>) -> usize {
    debug_assert!(len >= 1);
    let layout = array_layout(len);
    // SAFETY: the layout is never zero-sized (at least two slots).
    let base = unsafe { alloc::alloc(layout) }.cast::<Slot>();
    if base.is_null() {
        alloc::handle_alloc_error(layout);
    }
    // SAFETY: `base` is a fresh allocation of `len + 1` slots.
    unsafe {
        base.write(Slot {
            hash: len as u64,
            entry: ptr::null(),
        });
        for at in 1..=len {
            base.add(at)
                .write(slots.next().expect("build: fewer slots than promised"));
        }
    }
    base as usize | ARRAY
}

fn array_layout(len: usize) -> Layout {
    Layout::array::<Slot>(len + 1).expect("bucket array too large")
}

/// Frees the array of a content word (not its entries); a no-op for other words.
///
/// # Safety
///
/// The array was never published, or no thread can reach it any more.
pub(super) unsafe fn free_container(word: usize) {
    if word & ARRAY != 0 {
        // SAFETY: the caller's contract; `ARRAY` words point at a `build` allocation.
        unsafe { free_array((word & !TAGS) as *mut ()) };
    }
}

/// Frees the array of `word` (not its entries) once no pinned thread can see it.
///
/// # Safety
///
/// `word` was just replaced in its bucket by this thread's CAS (so it is unreachable for
/// threads that pin from now on) and is retired only once (invariant 5).
pub(super) unsafe fn retire_container(word: usize, guard: &Guard) {
    if word & ARRAY != 0 {
        // SAFETY: the caller's contract; `free_array` frees a `build` allocation once.
        unsafe { guard.defer_raw(free_array, (word & !TAGS) as *mut ()) };
    }
}

/// Retires the entry at `entry` once no pinned thread can see it.
///
/// # Safety
///
/// The entry was just taken out of its live bucket by this thread's CAS (invariant 4).
pub(super) unsafe fn retire_entry<K, V>(entry: *const Entry<K, V>, guard: &Guard) {
    // SAFETY: entries are `Box` allocations (`mod.rs`), retired once (caller).
    unsafe { guard.defer_destroy_raw(entry.cast_mut()) };
}

/// Drops the entries of a content word and its array.
///
/// # Safety
///
/// The caller owns the word outright: no other thread can reach it, and the entries are
/// in no other live bucket.
pub(super) unsafe fn free_all<K, V>(word: usize) {
    // SAFETY: the caller owns the word, so the snapshot lives for this call.
    let snapshot = unsafe { Snapshot::<K, V>::decode(word) };
    for entry in snapshot.entries() {
        let entry: *const Entry<K, V> = entry;
        // SAFETY: each entry is a `Box` owned by this word alone (caller's contract).
        drop(unsafe { Box::from_raw(entry.cast_mut()) });
    }
    // SAFETY: as above.
    unsafe { free_container(word) };
}

/// # Safety
///
/// `base` is an array allocation made by `build`, freed only once.
unsafe fn free_array(base: *mut ()) {
    let base = base.cast::<Slot>();
    // SAFETY: slot 0 is the header holding the length (`build`).
    let len = unsafe { (*base).hash } as usize;
    // SAFETY: allocated by `build` with this layout.
    unsafe { alloc::dealloc(base.cast(), array_layout(len)) };
}

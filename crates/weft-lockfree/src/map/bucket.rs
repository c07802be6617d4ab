//! The bucket: one cache line holding a control word and [`SLOTS`] slot words, each
//! slot naming one immutable [`Entry`] and carrying 16 bits of its hash. The raw layer
//! of the map: everything here is a word, a pointer or an allocation; the safe handles
//! are in `mod.rs`.
//!
//! # The words
//!
//! ```text
//! control word of a bucket (and of each overflow group chained from it)
//!  63 ............................................. 6   5 .. 2     1        0
//! +-------------------------------------------------+----------+-------+--------+
//! |   address of the next overflow group (64-aligned) |    0     | MOVED | LOCKED |
//! +-------------------------------------------------+----------+-------+--------+
//!
//! slot word
//!  63 ........ 48  47 .................................................... 0
//! +--------------+---------------------------------------------------------+
//! |   hash tag   |                address of the entry                     |
//! +--------------+---------------------------------------------------------+
//! ```
//!
//! - A slot word is `0` (empty) or an entry's address with the top 16 bits of its hash
//!   (the *tag*) above it, so a lookup skips the entries it does not want without
//!   touching them: one cache line for the probe, one for the entry.
//! - `LOCKED` (head group only): a writer holds the bucket. Writers of a bucket are
//!   serialized by it; readers never look at it.
//! - `MOVED` (head group only): the bucket was migrated; its keys are in the next table,
//!   in the two buckets derived from this one. Set once, never cleared.
//! - The address: the next group of the bucket's overflow chain, or null. Overflow
//!   groups are added (under the lock) when every slot before them is full, and are
//!   freed only with their table.
//!
//! # Invariants
//!
//! 1. An entry is immutable once published; a write replaces a slot word (overwrite,
//!    insert into an empty slot, or clear to `0` on remove) with one atomic store, made
//!    while holding the bucket's `LOCKED` bit. So at every instant a key is in at most
//!    one slot of its bucket, and a key never moves between slots of a live bucket.
//! 2. `MOVED` is set by the migrator that holds the bucket's lock, after it has written
//!    every entry of the bucket into the two derived buckets of the next table, with
//!    one Release store that also releases the lock. Nobody can reach the derived
//!    buckets before that store (only a `MOVED` bucket leads to them), so the migrator
//!    builds them alone, and the migration of a bucket is atomic for everyone else.
//! 3. After `MOVED`, the bucket's slots are never written again: they keep the entries
//!    as they were, shared with the next table, which now owns them.
//! 4. An entry is owned by exactly one slot of a live bucket (maybe also named by
//!    frozen slots of older tables): it is retired only by the writer whose store took
//!    it out of that slot, so exactly once. A reader reads a bucket's slots only after
//!    a load of its control word that did not see `MOVED`; so a reader pinned after an
//!    entry's retirement never reads the frozen slot naming it (see `README.md`).
//! 5. Overflow groups belong to their table and are freed by its `Drop`, never before.

use weft_sync::Backoff;

use super::recycle;
use crate::epoch::Guard;
use weft_sync::primitive::atomic::{AtomicUsize, Ordering};

/// A writer holds the bucket (control word of a head group).
pub(super) const LOCKED: usize = 0b01;
/// The bucket's keys have moved to the next table (control word of a head group).
pub(super) const MOVED: usize = 0b10;
/// The flag bits of a control word; the rest is the overflow address.
const FLAGS: usize = 0b11_1111;

/// Slots per group: seven, so the control word and the slots fill one 64-byte cache
/// line. Two under loom, so models overflow a bucket with three keys.
pub(super) const SLOTS: usize = if cfg!(loom) { 2 } else { 7 };

/// Where the tag sits in a slot word. User-space addresses on the 64-bit targets weft
/// supports fit in 48 bits; `tag_of` checks each entry's address.
#[cfg(target_pointer_width = "64")]
const TAG_SHIFT: u32 = 48;
#[cfg(target_pointer_width = "64")]
const ADDRESS: usize = (1 << TAG_SHIFT) - 1;
#[cfg(not(target_pointer_width = "64"))]
const ADDRESS: usize = usize::MAX;

/// One key and its value, immutable once published.
///
/// Key and value first, the hash last (`repr(C)`): a lookup, whose slot tag already
/// matched, compares the key and reads the value without reading the hash, so with a
/// small key and value it touches only the entry's first bytes, which never straddle
/// two cache lines in a 16-byte aligned block (a 24-byte entry at offset 48 of a line
/// would, if the value came last). The hash is for the migration and for targets
/// without tags.
#[repr(C)]
pub(super) struct Entry<K, V> {
    pub(super) key: K,
    pub(super) value: V,
    pub(super) hash: u64,
}

impl<K, V> Entry<K, V> {
    /// Whether this entry may be the one for `hash` (its tag already matched): always
    /// where slots carry tags, else a comparison of the full hash.
    #[inline]
    pub(super) fn may_have(&self, hash: u64) -> bool {
        cfg!(target_pointer_width = "64") || self.hash == hash
    }
}

/// A head group (a bucket) or an overflow group: one cache line.
#[repr(C, align(64))]
pub(super) struct Group {
    pub(super) control: AtomicUsize,
    pub(super) slots: [AtomicUsize; SLOTS],
}

impl Group {
    pub(super) fn new() -> Self {
        Self {
            control: AtomicUsize::new(0),
            slots: core::array::from_fn(|_| AtomicUsize::new(0)),
        }
    }
}

/// The tag of `hash`, shifted into place (`0` where there are no tag bits).
#[inline]
pub(super) fn tag_of(hash: u64) -> usize {
    #[cfg(target_pointer_width = "64")]
    {
        ((hash >> TAG_SHIFT) as usize) << TAG_SHIFT
    }
    #[cfg(not(target_pointer_width = "64"))]
    {
        let _ = hash;
        0
    }
}

/// Whether the slot word `word` may name an entry whose hash has tag `tag`.
#[inline]
pub(super) fn may_match(word: usize, tag: usize) -> bool {
    word != 0 && word & !ADDRESS == tag
}

/// The entry a non-empty slot word names.
#[inline]
pub(super) fn entry_of<K, V>(word: usize) -> *const Entry<K, V> {
    (word & ADDRESS) as *const Entry<K, V>
}

/// The overflow group a control word links, if any.
#[inline]
pub(super) fn overflow_of(control: usize) -> *const Group {
    (control & !FLAGS) as *const Group
}

/// Allocates `entry` and returns its slot word.
pub(super) fn publishable<K, V>(entry: Entry<K, V>) -> usize {
    let tag = tag_of(entry.hash);
    let address = recycle::boxed(entry) as usize;
    if address & !ADDRESS != 0 {
        address_too_wide();
    }
    address | tag
}

#[cold]
#[inline(never)]
fn address_too_wide() -> ! {
    panic!("weft HashMap: an allocation above 2^48; the slot tags need 48-bit addresses")
}

/// Takes back an entry that was never published.
///
/// # Safety
///
/// `word` came from `publishable` and was never stored in a slot.
pub(super) unsafe fn unpublish<K, V>(word: usize) -> Entry<K, V> {
    // SAFETY: the caller's contract; the entry is a block only this thread knows.
    unsafe { recycle::unboxed(entry_of::<K, V>(word).cast_mut()) }
}

/// Drops the entry of a slot word at once.
///
/// # Safety
///
/// The caller owns the entry outright: no slot of a live bucket names it and no thread
/// can still read it.
pub(super) unsafe fn free_entry<K, V>(word: usize) {
    // SAFETY: the caller's contract; entries are `recycle` blocks (`publishable`).
    unsafe { recycle::dropped(entry_of::<K, V>(word).cast_mut()) };
}

/// Retires `entry` (drops it once no pinned thread can still see it).
///
/// # Safety
///
/// The caller's store just took the entry out of its live slot (invariant 4), so it
/// is unreachable for threads that pin from now on, and it is retired once.
pub(super) unsafe fn retire<K, V>(entry: *const Entry<K, V>, guard: &Guard) {
    // SAFETY: `drop_entry` frees a `publishable` entry once (the caller's contract).
    unsafe { guard.defer_raw(drop_entry::<K, V>, entry.cast_mut().cast()) };
}

/// # Safety
///
/// `data` is an entry made by `publishable` that no thread can reach, dropped once.
unsafe fn drop_entry<K, V>(data: *mut ()) {
    // SAFETY: the caller's contract; entries are `recycle` blocks (`publishable`).
    unsafe { recycle::dropped(data.cast::<Entry<K, V>>()) };
}

/// The groups of a bucket, head first, following the overflow links. `control` is a
/// value of the head's control word loaded by the caller (its link is used as is; each
/// overflow group's link is loaded when the iterator reaches it).
///
/// # Safety
///
/// The head group's table is alive for `'g` (overflow groups live as long as it).
#[inline]
pub(super) unsafe fn chain(head: &Group, control: usize) -> Chain<'_> {
    Chain {
        next: head,
        head_control: Some(control),
        _table: core::marker::PhantomData,
    }
}

/// Iterator over the groups of a bucket (see [`chain`]).
pub(super) struct Chain<'g> {
    next: *const Group,
    head_control: Option<usize>,
    _table: core::marker::PhantomData<&'g Group>,
}

impl<'g> Iterator for Chain<'g> {
    type Item = &'g Group;

    #[inline]
    fn next(&mut self) -> Option<&'g Group> {
        if self.next.is_null() {
            return None;
        }
        // SAFETY: the head, or an overflow group linked from its table (invariant 5),
        // alive for `'g` by `chain`'s contract.
        let group = unsafe { &*self.next };
        let link = match self.head_control.take() {
            Some(control) => control,
            // Acquire: pairs with the Release store that linked the next group, so its
            // slots are visible when we reach it.
            None => group.control.load(Ordering::Acquire),
        };
        self.next = overflow_of(link);
        Some(group)
    }
}

/// Takes the lock of the bucket whose head group is `head`; returns its control word
/// (unlocked value) to hand back to [`unlock`], or `None` if the bucket has `MOVED`.
///
/// A spin lock (spin, then yield): it is held only for a few stores, never while user
/// code runs (the map calls closures and `Drop`s outside it), so waiting is short
/// unless the holder was descheduled.
#[inline]
pub(super) fn lock(head: &Group) -> Option<usize> {
    // Acquire: a `MOVED` seen here publishes the derived buckets (bucket invariant 2).
    let control = head.control.load(Ordering::Acquire);
    if control & (LOCKED | MOVED) == 0
        // Acquire: pairs with the previous holder's Release `unlock` (or the migrator's
        // Release store), so its slot stores are visible to us.
        && head
            .control
            .compare_exchange_weak(control, control | LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    {
        return Some(control);
    }
    lock_slow(head)
}

#[cold]
#[inline(never)]
fn lock_slow(head: &Group) -> Option<usize> {
    let backoff = Backoff::new();
    loop {
        // Acquire: as in `lock`.
        let control = head.control.load(Ordering::Acquire);
        if control & MOVED != 0 {
            return None;
        }
        if control & LOCKED == 0
            // Acquire: as in `lock`.
            && head
                .control
                .compare_exchange_weak(control, control | LOCKED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            return Some(control);
        }
        backoff.snooze();
    }
}

/// Releases the lock, storing `control` (without `LOCKED`; maybe with a new overflow
/// link) as the head's control word.
#[inline]
pub(super) fn unlock(head: &Group, control: usize) {
    debug_assert_eq!(control & (LOCKED | MOVED), 0);
    // Release: publishes the holder's slot stores (and a new overflow group) to the next
    // holder's Acquire CAS and to readers that load the control word.
    head.control.store(control, Ordering::Release);
}

/// The overflow link of a control word replaced by `group`.
#[inline]
pub(super) fn with_overflow(control: usize, group: *const Group) -> usize {
    (control & FLAGS) | group as usize
}

//! The bucket of a [`FlatMap`](super::FlatMap): one cache line holding a version word,
//! a link word and [`SLOTS`] key/value pairs stored inline, and the seqlock that
//! guards it. The raw layer: words, pointers and the read and write protocols; the
//! safe map is in `mod.rs`.
//!
//! # The words
//!
//! ```text
//! version word (head group of a bucket only)
//!  63 ............................................ 2     1        0
//! +-----------------------------------------------+-------+--------+
//! |          counter: bumped by every write        | MOVED | LOCKED |
//! +-----------------------------------------------+-------+--------+
//!
//! link word (every group)
//!  63 ............................................. 6   5 ...... 0
//! +-------------------------------------------------+--------------+
//! |  address of the next overflow group (64-aligned) | occupied bits|
//! +-------------------------------------------------+--------------+
//! ```
//!
//! - `LOCKED`: a writer holds the bucket. It is the seqlock's "odd" state: readers
//!   that see it, or see the version change across their read, retry.
//! - `MOVED`: the bucket was migrated to the next table (into the two buckets derived
//!   from it). Set once, with the Release store that unlocks the migration; the
//!   bucket's contents are never written again.
//! - Occupied bit `i`: pair `i` of this group holds a key.
//! - The address: the next group of the bucket's overflow chain, or null. Set once
//!   (from null), under the lock, when every slot before it is full; overflow groups
//!   are freed only with their table.
//!
//! # Invariants
//!
//! 1. Every write to a bucket's groups (pairs, link words) is made by the holder of
//!    the head's `LOCKED` bit, between its lock CAS (followed by a Release fence) and
//!    its unlock (a Release store of the version, bumped if anything changed).
//! 2. A reader's copy of a bucket is used only if the version it loaded (Acquire)
//!    before copying was unlocked, not moved, and equal to the version it loads after
//!    copying (behind an Acquire fence). Then no write overlapped the copy (see
//!    `README.md`), so the copy is one the bucket held.
//! 3. A key is in at most one occupied slot of a live bucket, and stays in its slot
//!    until removed: writers never move keys between slots of a live bucket.
//! 4. `MOVED` is stored by the migrator holding the lock, after it wrote every pair
//!    into the derived buckets of the next table, which nobody reaches before that
//!    Release store (or the root's swing, later still).
//! 5. A chain is acyclic and only grows: a link's address goes from null to a fresh
//!    group once. Groups are freed with their table, and tables with the map.
//!
//! # Memory
//!
//! Pairs are stored as machine words ([`Words`]) that are only ever accessed
//! atomically (relaxed loads and stores; the seqlock supplies the ordering), so a
//! reader racing a writer is a race on atomics, not a data race. Groups are allocated
//! zeroed and never moved or copied as values, so every byte of a pair's words,
//! including the tail bytes a key or value does not fill, is initialized.

use core::borrow::Borrow;
#[cfg(loom)]
use core::marker::PhantomData;
use core::mem::{MaybeUninit, size_of};
use weft_sync::Backoff;
use weft_sync::primitive::atomic::{AtomicUsize, Ordering, fence};

use super::Plain;

/// A writer holds the bucket (version word).
pub(super) const LOCKED: usize = 0b01;
/// The bucket's keys have moved to the next table (version word).
pub(super) const MOVED: usize = 0b10;
/// What one write adds to the version's counter.
const BUMP: usize = 0b100;

/// Pairs per group: three `u64` pairs, with the two words, fill one 64-byte line.
/// Two under loom, so models overflow a bucket with three keys.
pub(super) const SLOTS: usize = if cfg!(loom) { 2 } else { 3 };

/// The occupied bits of a link word.
pub(super) const OCCUPIED: usize = (1 << SLOTS) - 1;

/// The link word's flag bits; the rest is the overflow address (groups are
/// 64-aligned).
const FLAGS: usize = 0b11_1111;

const _: () = assert!(OCCUPIED <= FLAGS);

/// One key or value, stored as machine words that are only accessed atomically.
///
/// The cell holds a [`Padded`] `T`, so it spans `T` rounded up to 8 bytes: the words
/// past the end of `T` lie inside the cell (so the pointer the words are reached
/// through covers them, and they may be written through `&self`), and hold zeros,
/// written with the rest.
#[cfg(not(loom))]
#[repr(transparent)]
pub(super) struct Words<T> {
    cell: core::cell::UnsafeCell<MaybeUninit<Padded<T>>>,
}

/// `T`, aligned (and so sized) to a multiple of 8 bytes: whole words on every target.
#[cfg(not(loom))]
#[repr(C, align(8))]
struct Padded<T>(T);

/// Under loom: a fixed two words of loom atomics (models use keys and values of at
/// most 16 bytes), so loom sees every access.
#[cfg(loom)]
pub(super) struct Words<T> {
    words: [AtomicUsize; 2],
    _type: PhantomData<T>,
}

const WORD: usize = size_of::<usize>();

impl<T: Plain> Words<T> {
    /// Words that hold a `T`.
    const COUNT: usize = size_of::<T>().div_ceil(WORD);

    #[cfg(not(loom))]
    #[inline(always)]
    fn word(&self, index: usize) -> &AtomicUsize {
        debug_assert!(index < Self::COUNT);
        // SAFETY: `index` is below `COUNT`, so the word lies inside the cell (a
        // `Padded<T>`: `size_of::<T>()` rounded up to 8, at least `COUNT` words), which
        // we may write through `&self`; it is aligned (`align(8)`), initialized (groups
        // are allocated zeroed, then written only by whole words), and only ever
        // accessed as an `AtomicUsize`.
        unsafe { AtomicUsize::from_ptr(self.cell.get().cast::<usize>().add(index)) }
    }

    #[cfg(loom)]
    #[inline(always)]
    fn word(&self, index: usize) -> &AtomicUsize {
        assert!(
            Self::COUNT <= self.words.len(),
            "loom models use keys and values of at most two words"
        );
        &self.words[index]
    }

    /// Copies the value out, word by word (Relaxed: the seqlock orders the copy; a
    /// copy that raced with a writer is discarded by the caller).
    #[inline(always)]
    pub(super) fn load(&self) -> T {
        let mut out = MaybeUninit::<T>::uninit();
        let bytes = out.as_mut_ptr().cast::<u8>();
        for index in 0..Self::COUNT {
            let word = self.word(index).load(Ordering::Relaxed);
            let len = WORD.min(size_of::<T>() - index * WORD);
            // SAFETY: `len` bytes from offset `index * WORD` lie inside `out` (the last
            // word is cut to the end of `T`), and `word` is a local.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    (&word as *const usize).cast::<u8>(),
                    bytes.add(index * WORD),
                    len,
                );
            }
        }
        // SAFETY: every byte of `out` was written above, and any bytes are a valid `T`
        // (`Plain`, rule 2), even a torn copy.
        unsafe { out.assume_init() }
    }

    /// Stores `value`, word by word (Relaxed: made under the lock, behind the writer's
    /// Release fence; see invariant 1).
    #[inline(always)]
    pub(super) fn store(&self, value: &T) {
        let bytes = (value as *const T).cast::<u8>();
        for index in 0..Self::COUNT {
            let mut word = 0usize;
            let len = WORD.min(size_of::<T>() - index * WORD);
            // SAFETY: `len` bytes from offset `index * WORD` lie inside `*value`, all
            // initialized (`Plain`, rule 1), into a local word.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    bytes.add(index * WORD),
                    (&mut word as *mut usize).cast::<u8>(),
                    len,
                );
            }
            self.word(index).store(word, Ordering::Relaxed);
        }
    }
}

/// Whether two plain values have the same bytes.
#[inline]
pub(super) fn same_bytes<T: Plain>(a: &T, b: &T) -> bool {
    // SAFETY: a `Plain` value's bytes are all initialized (rule 1), and both slices
    // cover exactly the values they borrow.
    let (a, b) = unsafe {
        (
            core::slice::from_raw_parts((a as *const T).cast::<u8>(), size_of::<T>()),
            core::slice::from_raw_parts((b as *const T).cast::<u8>(), size_of::<T>()),
        )
    };
    a == b
}

/// A key and its value, inline.
#[repr(C)]
pub(super) struct Pair<K, V> {
    pub(super) key: Words<K>,
    pub(super) value: Words<V>,
}

/// A group: a bucket's head, or one of its overflow groups.
#[repr(C, align(64))]
pub(super) struct Group<K, V> {
    /// The seqlock and state of the bucket (head group only; unused in overflow
    /// groups).
    pub(super) version: AtomicUsize,
    /// The occupied bits and the overflow link.
    pub(super) link: AtomicUsize,
    pub(super) pairs: [Pair<K, V>; SLOTS],
}

impl<K: Plain, V: Plain> Group<K, V> {
    /// `len` empty groups.
    #[cfg(not(loom))]
    pub(super) fn boxed_slice(len: usize) -> Box<[Self]> {
        assert!(len > 0, "a table has buckets");
        let layout = std::alloc::Layout::array::<Self>(len).expect("table size overflow");
        // SAFETY: `layout` has a non-zero size (`len > 0`, and a group is not empty).
        let groups = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Self>();
        if groups.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // SAFETY: allocated by the global allocator with the layout of `[Self; len]`,
        // which is what a `Box<[Self]>` of `len` frees; all zeros is an empty group
        // (version 0: unlocked, live; link 0: no pairs, no overflow; any bytes in the
        // pairs' words). (`Box::new_zeroed_slice` is newer than weft's MSRV.)
        unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(groups, len)) }
    }

    #[cfg(loom)]
    pub(super) fn boxed_slice(len: usize) -> Box<[Self]> {
        (0..len).map(|_| Self::new_loom()).collect()
    }

    /// One empty group, leaked: an overflow group, freed by its table's `Drop`.
    fn leaked() -> &'static Self {
        #[cfg(not(loom))]
        let group = {
            let layout = std::alloc::Layout::new::<Self>();
            // SAFETY: a group is not empty.
            let group = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Self>();
            if group.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            // SAFETY: allocated with `Self`'s layout, as `Box` frees it; all zeros is
            // an empty group (see `boxed_slice`).
            unsafe { Box::from_raw(group) }
        };
        #[cfg(loom)]
        let group = Box::new(Self::new_loom());
        Box::leak(group)
    }

    #[cfg(loom)]
    fn new_loom() -> Self {
        let words = || [AtomicUsize::new(0), AtomicUsize::new(0)];
        Self {
            version: AtomicUsize::new(0),
            link: AtomicUsize::new(0),
            pairs: core::array::from_fn(|_| Pair {
                key: Words {
                    words: words(),
                    _type: PhantomData,
                },
                value: Words {
                    words: words(),
                    _type: PhantomData,
                },
            }),
        }
    }

    /// A mask of the slots whose key equals `key`, occupied or not (the caller masks
    /// with the occupied bits).
    ///
    /// Every slot is compared, and the match is picked from the mask: no branch on
    /// which slot holds the key, which would be mispredicted as often as not. The keys
    /// of empty slots are stale or zero, valid `K`s all the same, and so is a torn key
    /// (`Plain`); a wrong answer from one is thrown away with the read it is part of.
    #[inline(always)]
    pub(super) fn matching<Q>(&self, key: &Q) -> usize
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let mut matches = 0;
        for (slot, pair) in self.pairs.iter().enumerate() {
            let candidate = pair.key.load();
            matches |= usize::from(candidate.borrow() == key) << slot;
        }
        matches
    }

    /// The pair at `index` (below [`SLOTS`]).
    #[inline(always)]
    pub(super) fn pair(&self, index: usize) -> &Pair<K, V> {
        &self.pairs[index]
    }
}

/// The next group of a link word, if any.
///
/// # Safety
///
/// `link` was loaded from a group of a table that is alive for `'t` (invariant 5), with
/// Acquire or under the bucket's lock, so the group it names is initialized for us.
#[inline(always)]
pub(super) unsafe fn next_group<'t, K, V>(link: usize) -> Option<&'t Group<K, V>> {
    // SAFETY: the caller's contract; a non-null address is a leaked overflow group.
    unsafe { ((link & !FLAGS) as *const Group<K, V>).as_ref() }
}

/// The overflow groups a table must free, from one head group's link (used by the
/// table's `Drop`, with exclusive access).
pub(super) fn free_chain<K, V>(head: &Group<K, V>) {
    // Relaxed: the caller has exclusive access.
    let mut next = head.link.load(Ordering::Relaxed) & !FLAGS;
    while next != 0 {
        // SAFETY: a leaked overflow group owned by this chain alone (invariant 5),
        // freed once, here.
        let group = unsafe { Box::from_raw(next as *mut Group<K, V>) };
        next = group.link.load(Ordering::Relaxed) & !FLAGS;
    }
}

/// What a seqlock read of a bucket found.
pub(super) enum Read<T> {
    /// A consistent read.
    Done(T),
    /// The bucket has moved to the next table.
    Moved,
}

/// Reads the bucket whose head is `head` under its seqlock: `scan` sees the groups of
/// the bucket (as `(group, occupied bits)`) and may stop early by returning `Some`;
/// its result is returned once the read is validated, and `scan` runs again if a
/// writer got in the way.
///
/// `scan` sees copies that may be torn while the read is not yet validated; it must
/// only copy and compare (which `Plain` makes safe), and be ready to run again.
///
/// # Safety
///
/// `head` is the head group of a bucket of a table alive for `'t`.
#[inline(always)]
pub(super) unsafe fn read<'t, K, V, T>(
    head: &'t Group<K, V>,
    mut scan: impl FnMut(&'t Group<K, V>, usize) -> Option<T>,
) -> Read<Option<T>> {
    let backoff = Backoff::new();
    loop {
        // Acquire: pairs with the Release unlock of the last writer (its pair stores
        // are then visible, so a read without a writer in between copies them), and
        // with the migrator's Release store of `MOVED` (the derived buckets are then
        // complete).
        let before = head.version.load(Ordering::Acquire);
        if before & (LOCKED | MOVED) != 0 {
            if before & MOVED != 0 {
                return Read::Moved;
            }
            backoff.snooze();
            continue;
        }
        let mut group = head;
        let found = loop {
            // Acquire: pairs with the Release store that linked an overflow group, so
            // its zeroed allocation happens before our loads of it.
            let link = group.link.load(Ordering::Acquire);
            if let Some(found) = scan(group, link & OCCUPIED) {
                break Some(found);
            }
            // SAFETY: loaded with Acquire from a group of a table alive for `'t`.
            match unsafe { next_group(link) } {
                Some(next) => group = next,
                None => break None,
            }
        };
        // Acquire fence: if any load above read a store made inside a writer's
        // critical section (after its lock CAS and Release fence), the fences
        // synchronize, the lock CAS happens before the load below, and it sees a
        // version other than `before`.
        fence(Ordering::Acquire);
        // Relaxed: ordered by the fence.
        if head.version.load(Ordering::Relaxed) == before {
            return Read::Done(found);
        }
        backoff.spin();
    }
}

/// Locks the bucket whose head is `head` for writing; returns the version to hand back
/// to [`unlock`], or `None` if the bucket has `MOVED`.
///
/// A spin lock (spin, then yield): the map holds it only for a few loads and stores,
/// never while user code other than `K::eq` runs.
#[inline]
pub(super) fn lock<K, V>(head: &Group<K, V>) -> Option<usize> {
    let backoff = Backoff::new();
    loop {
        // Acquire: a `MOVED` seen here publishes the derived buckets (invariant 4).
        let version = head.version.load(Ordering::Acquire);
        if version & MOVED != 0 {
            return None;
        }
        if version & LOCKED == 0
            // Acquire: pairs with the previous holder's Release unlock, so its stores
            // are visible to our Relaxed loads under the lock.
            && head
                .version
                .compare_exchange_weak(
                    version,
                    version | LOCKED,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            // Release fence: the seqlock's writer side. Every store we make from here
            // on is ordered after the `LOCKED` version, for a reader whose Acquire
            // fence follows a load of one of them (see `read`).
            fence(Ordering::Release);
            return Some(version);
        }
        backoff.snooze();
    }
}

/// Unlocks, bumping the version if the holder `changed` the bucket.
#[inline]
pub(super) fn unlock<K, V>(head: &Group<K, V>, version: usize, changed: bool) {
    debug_assert_eq!(version & (LOCKED | MOVED), 0);
    let version = if changed {
        version.wrapping_add(BUMP)
    } else {
        version
    };
    // Release: publishes our stores to readers' Acquire version loads and to the next
    // holder's lock CAS.
    head.version.store(version, Ordering::Release);
}

/// Unlocks a migrated bucket for good, marking it `MOVED`.
#[inline]
pub(super) fn unlock_moved<K, V>(head: &Group<K, V>, version: usize) {
    // Release: publishes the derived buckets, filled with Relaxed stores while only we
    // could reach them, to whoever Acquires `MOVED` (invariant 4).
    head.version
        .store(version.wrapping_add(BUMP) | MOVED, Ordering::Release);
}

/// Sets the occupied bit of `slot` in `group`, under the lock.
#[inline]
pub(super) fn occupy<K, V>(group: &Group<K, V>, slot: usize) {
    // Relaxed: under the lock (invariant 1).
    let link = group.link.load(Ordering::Relaxed);
    group.link.store(link | (1 << slot), Ordering::Relaxed);
}

/// Clears the occupied bit of `slot` in `group`, under the lock.
#[inline]
pub(super) fn vacate<K, V>(group: &Group<K, V>, slot: usize) {
    // Relaxed: under the lock (invariant 1).
    let link = group.link.load(Ordering::Relaxed);
    group.link.store(link & !(1 << slot), Ordering::Relaxed);
}

impl<K: Plain, V: Plain> Group<K, V> {
    /// Links a new overflow group after `self` (the last of its chain, all slots full)
    /// holding `key` and `value` in slot 0, under the lock. Returns the new group.
    pub(super) fn append(&self, key: &K, value: &V) -> &Self {
        let group = Self::leaked();
        group.pairs[0].key.store(key);
        group.pairs[0].value.store(value);
        // Relaxed: not yet reachable.
        group.link.store(1, Ordering::Relaxed);
        // Relaxed: under the lock.
        let link = self.link.load(Ordering::Relaxed);
        debug_assert_eq!(link & !FLAGS, 0, "append to the last group of a chain");
        // Release: pairs with readers' Acquire link loads (see `read`), so the group's
        // zeroed allocation and contents are visible to them.
        self.link
            .store(link | group as *const Self as usize, Ordering::Release);
        group
    }
}

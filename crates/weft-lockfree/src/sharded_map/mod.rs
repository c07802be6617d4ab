//! `ShardedMap`: a concurrent hash map split into shards, each an open-addressing
//! table with keys and values inline, behind one `weft_sync::RwLock`.
//!
//! # The design
//!
//! The map is a fixed array of shards, a power of two of them, each a
//! [`weft_sync::RwLock`] around a `hashbrown::HashTable` (the SwissTable
//! behind std's `HashMap`: groups of one-byte tags probed sixteen at a time, slots
//! inline) and padded to its own cache line pair with [`CachePadded`], so the lock
//! word and the table's header share one line and no two shards share any. This is
//! the shape of Java's segmented `ConcurrentHashMap` (JDK 5–7: lock striping, Goetz
//! et al., *Java Concurrency in Practice*, §11.4.3) and of the `dashmap` crate, built
//! on weft's own lock.
//!
//! A key is hashed once per operation, with the map's [`BuildHasher`]. The 64-bit hash
//! picks the shard and then probes that shard's table:
//!
//! ```text
//!   bits 63..=57   | 56..=57-b      | ...                 | low bits
//!   table tag (7)  | shard (b bits) | (unused until huge) | bucket index in the table
//! ```
//!
//! The table takes its one-byte tag from the top seven bits and its bucket index from
//! the low bits; the shard comes from the `b = log2(shards)` bits just below the tag,
//! so every shard sees the full variety of tags (taking the shard from the very top
//! would give all keys of a shard the same leading tag bits, and more false tag
//! matches).
//!
//! A read takes its shard's read lock (weft's `RwLock`: one load and one
//! compare-and-swap, and a `fetch_sub` to release), probes, and either copies out
//! ([`ShardedMap::get_cloned`], [`ShardedMap::contains_key`]) or keeps the lock in the
//! [`Ref`] it returns, which is what lets it hand out `&V`. A write takes the write
//! lock of its shard and changes the table in place: no allocation per write (the
//! table allocates only when it grows), no reclamation, no epoch.
//!
//! # Why slots do not keep their hash
//!
//! A slot is the key and the value, nothing else: 16 bytes for `u64` pairs. Keeping
//! the 64-bit hash beside them would let a growing table move its slots without
//! hashing any key again, but it makes each slot half as large again, and with 64 Ki
//! `u64` pairs (3 MiB of tables instead of 2, against a 2 MiB L2 per core on the
//! benchmark machine) reads on one thread were 47 M/s with the hash stored and 56 M/s
//! without. Growth is rare (each table doubles), so it rehashes instead: under the
//! shard's write lock, with the map's hasher. Every operation still hashes its own
//! key exactly once, before it takes the lock.
//!
//! # What runs under a shard's lock
//!
//! `K::eq`, always; `K::hash` of every key of a table while it grows (an insert that
//! finds it full); the closures of [`ShardedMap::update`], [`ShardedMap::remove_if`],
//! [`ShardedMap::retain`] and the [`Entry`] methods; and the destructors of the values
//! that `retain` drops and of an old value replaced through an entry. The
//! operation's own hash does not (it is computed before the lock is taken), nor do
//! the destructors of the values (and keys) that [`ShardedMap::insert`] and
//! [`ShardedMap::remove`] hand back or drop, or that [`ShardedMap::clear`] drops
//! (`clear` swaps each table out and drops it after unlocking). Code running under a
//! lock must not use the map (see the type's "Deadlocks" section).
//!
//! # Why no loom model
//!
//! The map has no atomics, `UnsafeCell`s or thread-locals of its own: every shared
//! access goes through `weft_sync::RwLock`, which has loom models in weft-sync (the
//! default shard count is cached in a std `OnceLock`, written once per process). What
//! is left to check is sequential table logic under a lock, which the unit tests do,
//! and the composition of many shards, which the stress test
//! (`tests/stress_sharded_map.rs`) does. The one `unsafe` of the module is in
//! `iter.rs` ([`IterMut`] hands out `&mut V`s into a table its items keep locked); it
//! is argued there.
//!
//! # Layout
//!
//! - `guard.rs`: [`Ref`] and [`RefMut`], a shard lock narrowed to one slot.
//! - `entry.rs`: [`Entry`], [`OccupiedEntry`], [`VacantEntry`].
//! - `iter.rs`: [`Iter`], [`IterMut`], [`IntoIter`] and their items.

mod entry;
mod guard;
mod iter;
#[cfg(all(test, not(loom)))]
mod tests;

pub use entry::{Entry, OccupiedEntry, VacantEntry};
pub use guard::{Ref, RefMut};
pub use iter::{IntoIter, Iter, IterMut, IterRef, IterRefMut};

use core::borrow::Borrow;
use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::mem;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry as TableEntry;
use std::collections::hash_map::RandomState;
use std::sync::OnceLock;
use weft_sync::{CachePadded, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// One key and its value, stored inline in a shard's table. The hash is not stored:
/// see the module's "Why slots do not keep their hash".
#[derive(Clone)]
struct Slot<K, V> {
    key: K,
    value: V,
}

/// A shard's table.
type Table<K, V> = HashTable<Slot<K, V>>;

/// A shard: its lock and its table on their own cache line(s).
type Shard<K, V> = CachePadded<RwLock<Table<K, V>>>;

/// The hash of a slot's key, for the table's growth (which rehashes every key).
#[inline]
fn slot_hasher<K: Hash, V, S: BuildHasher>(hasher: &S) -> impl Fn(&Slot<K, V>) -> u64 + '_ {
    move |slot| hasher.hash_one(&slot.key)
}

/// The bits of the hash the table takes as its tag (hashbrown's `h2`): the top seven.
const TAG_BITS: u32 = 7;

/// The most shards a map can have: the shard bits must fit below the tag.
const MAX_SHARD_BITS: u32 = 64 - TAG_BITS;

/// The default number of shards: four per hardware thread, rounded up to a power of
/// two, computed once per process (`available_parallelism` reads files on Linux).
fn default_shards() -> usize {
    static SHARDS: OnceLock<usize> = OnceLock::new();
    *SHARDS.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        threads.saturating_mul(4).next_power_of_two()
    })
}

/// A concurrent hash map of `N` shards, each a reader-writer lock around an
/// open-addressing table that stores keys and values inline.
///
/// An operation hashes its key once, picks the key's shard from the hash, takes that
/// shard's lock (read for [`get`](Self::get) and the other lookups, write for
/// [`insert`](Self::insert), [`remove`](Self::remove), [`entry`](Self::entry) and the
/// other writes) and probes the shard's table with the same hash. Operations on
/// different shards never wait for each other; on one shard, readers share and a
/// writer excludes everyone for the few loads and stores of its change.
///
/// # What it costs, and when to pick it
///
/// A lookup costs one lock round trip on the shard's line (a compare-and-swap to
/// take the read lock, a `fetch_sub` to release it) and one probe of a SwissTable:
/// the tag group and the slot, both usually in the cache lines the key's hash names.
/// A write costs the same with the write lock, and updates the slot in place: nothing
/// is allocated per write, and a replaced or removed value is handed back by value.
/// Memory is the table's: the key and the value per slot at a load factor up to 7/8,
/// plus one tag byte per slot, plus 128 bytes per shard. A table that fills up
/// doubles, rehashing its keys under its shard's write lock (the only time a key is
/// hashed again); tables never shrink, except that [`clear`](Self::clear) frees them.
///
/// Every read *writes* its shard's lock word, so on several cores reads move lock
/// lines between caches even when no writer is around. In the map benchmark (64 Ki
/// `u64` pairs, 90 % reads) one thread does about 47 M ops/s, against 26 M for
/// `HashMap`; two threads on two otherwise idle cores about 21 M, against 36 M for
/// `HashMap` and 69 M for `FlatMap`, whose reads write nothing (dashmap, built the
/// same way, does the same).
///
/// - Pick [`HashMap`](crate::HashMap) when readers must never block or wait (its
///   reads are wait-free: no lock at all, nothing written), when read-mostly traffic
///   from many cores dominates, when a held [`map::Ref`](crate::map::Ref) must stay
///   valid while writers go on (its values are immutable and reclaimed through the
///   epoch), or when one key is so hot that a shard's lock line would bounce. It pays
///   for that with an allocation per write and a second cache miss per read.
/// - Pick [`FlatMap`](crate::FlatMap) when keys and values are small plain data
///   ([`Plain`](crate::Plain)) and copies are what you want back: it is the fastest of
///   the three, reads write nothing shared, and writes update in place.
/// - Pick `ShardedMap` for everything else: keys and values that own memory or are
///   not `Copy`, values you want to borrow ([`get`](Self::get)) or mutate in place
///   ([`get_mut`](Self::get_mut), [`entry`](Self::entry), [`update`](Self::update)),
///   and in general the throughput of a well-spread lock-striped table.
///
/// # Progress
///
/// Every operation is **blocking, per shard**: it waits while another thread holds
/// its shard's lock in a conflicting mode (a [`Ref`] or an iterator item counts as a
/// held read lock; a [`RefMut`], an [`Entry`] or an [`IterMut`] item as a held write
/// lock). weft's `RwLock` prefers writers, so once a writer waits for a shard, new
/// readers of that shard wait behind it. Waiting threads spin briefly, then yield,
/// then sleep.
///
/// Each operation on one key is linearizable (it happens at one instant under its
/// shard's lock). [`len`](Self::len), [`is_empty`](Self::is_empty),
/// [`capacity`](Self::capacity), [`iter`](Self::iter), [`iter_mut`](Self::iter_mut),
/// [`retain`](Self::retain), [`clear`](Self::clear) and `Clone` visit the shards one
/// at a time, so they are not snapshots of the whole map: each shard is seen at one
/// instant, every key present throughout is seen exactly once, and keys written in
/// shards not yet (or already) visited may or may not be.
///
/// # Deadlocks
///
/// A [`Ref`], [`RefMut`], [`Entry`], or an item of [`iter`](Self::iter) or
/// [`iter_mut`](Self::iter_mut) holds its shard's lock until it is dropped. Calling
/// into the same map *on the same thread* while holding one can deadlock, if the call
/// needs the same shard (which, for a different key, happens with probability
/// 1/`shards`, so a test may pass and production hang):
///
/// - a write (`insert`, `remove`, `entry`, `get_mut`, ...) while holding any guard of
///   that shard waits for the guard forever;
/// - a read (`get`, `contains_key`, ...) while holding a `RefMut` or `Entry` of that
///   shard waits forever too, and while holding a `Ref` it waits forever as soon as
///   another thread's writer queues for that shard in between (the lock prefers
///   writers, so the second read lock waits behind it);
/// - whole-map operations (`len`, `iter`, `retain`, `clear`, `Clone`, `Debug`) visit
///   every shard, so they deadlock with any guard held on the same thread.
///
/// The same holds inside the closures of `update`, `remove_if`, `retain` and the
/// `Entry` methods, which run under the lock. What to do instead: copy the value out
/// ([`get_cloned`](Self::get_cloned)) or compute what you need and **drop the guard
/// before the next call**; use [`entry`](Self::entry) or [`update`](Self::update) for
/// a read-modify-write of one key instead of a `get` then an `insert`. Two threads can
/// also deadlock by each holding a guard and waiting for the other's shard; do not
/// hold a guard while waiting for another thread. With weft-sync's
/// `deadlock-detection` feature on, the shard locks are weft `RwLock`s like any other:
/// its wait-for check reports such a deadlock, naming the shard lock each thread waits
/// for (all shards share one lock-order class, so lock-order checking does not look
/// at guards of two shards nested).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::thread;
/// use weft_lockfree::ShardedMap;
///
/// let map = Arc::new(ShardedMap::new());
/// let writers: Vec<_> = (0..2u64)
///     .map(|t| {
///         let map = Arc::clone(&map);
///         thread::spawn(move || {
///             for i in 0..100 {
///                 map.insert(t * 100 + i, format!("value {}", t * 100 + i));
///             }
///         })
///     })
///     .collect();
/// for writer in writers {
///     writer.join().unwrap();
/// }
/// assert_eq!(map.len(), 200);
/// assert_eq!(*map.get(&42).unwrap(), "value 42");
///
/// // Mutate in place, under the shard's write lock.
/// map.get_mut(&42).unwrap().push('!');
/// assert_eq!(map.get_cloned(&42).as_deref(), Some("value 42!"));
///
/// // Read-modify-write of one key without a race between a get and an insert.
/// *map.entry(1000).or_insert_with(String::new) += "first";
/// *map.entry(1000).or_insert_with(String::new) += ", second";
/// assert_eq!(*map.get(&1000).unwrap(), "first, second");
///
/// // Drop a guard before calling into the map again: it holds its shard's lock.
/// let len = map.get(&7).map(|value| value.len()).unwrap();
/// map.insert(7, "x".repeat(len));
///
/// assert_eq!(map.remove(&42), Some((42, String::from("value 42!"))));
/// assert_eq!(map.iter().count(), 200);
/// ```
pub struct ShardedMap<K, V, S = RandomState> {
    shards: Box<[Shard<K, V>]>,
    /// `63 - log2(shards.len())`: the shift that turns the bits below the tag into a
    /// shard index (see [`ShardedMap::shard_index`]).
    shift: u32,
    hasher: S,
}

impl<K, V> ShardedMap<K, V, RandomState> {
    /// An empty map with the default hasher and the default number of shards (four
    /// per hardware thread, rounded up to a power of two).
    ///
    /// # Examples
    ///
    /// ```
    /// let map: weft_lockfree::ShardedMap<u32, String> = weft_lockfree::ShardedMap::new();
    /// assert!(map.is_empty());
    /// assert!(map.shards().is_power_of_two());
    /// ```
    pub fn new() -> Self {
        Self::with_capacity_hasher_and_shards(0, RandomState::new(), default_shards())
    }

    /// An empty map that holds at least `capacity` keys, spread evenly, before any
    /// shard's table grows.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::with_capacity(1000);
    /// assert!(map.capacity() >= 1000);
    /// map.insert("k", 1);
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_hasher_and_shards(capacity, RandomState::new(), default_shards())
    }

    /// An empty map of `shards` shards.
    ///
    /// # Panics
    ///
    /// If `shards` is not a power of two, or is above 2<sup>57</sup>.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::with_shards(8);
    /// assert_eq!(map.shards(), 8);
    /// map.insert(1, 'a');
    /// assert_eq!(map.get_cloned(&1), Some('a'));
    /// ```
    pub fn with_shards(shards: usize) -> Self {
        Self::with_capacity_hasher_and_shards(0, RandomState::new(), shards)
    }

    /// An empty map of `shards` shards that holds at least `capacity` keys, spread
    /// evenly, before any shard's table grows.
    ///
    /// # Panics
    ///
    /// If `shards` is not a power of two, or is above 2<sup>57</sup>.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: weft_lockfree::ShardedMap<u8, u8> =
    ///     weft_lockfree::ShardedMap::with_capacity_and_shards(100, 4);
    /// assert_eq!(map.shards(), 4);
    /// assert!(map.capacity() >= 100);
    /// ```
    pub fn with_capacity_and_shards(capacity: usize, shards: usize) -> Self {
        Self::with_capacity_hasher_and_shards(capacity, RandomState::new(), shards)
    }
}

impl<K, V, S> ShardedMap<K, V, S> {
    /// An empty map hashing with `hasher`, with the default number of shards.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::hash_map::DefaultHasher;
    /// use std::hash::BuildHasherDefault;
    ///
    /// let map = weft_lockfree::ShardedMap::with_hasher(BuildHasherDefault::<DefaultHasher>::default());
    /// map.insert(1, 'a');
    /// assert_eq!(map.get_cloned(&1), Some('a'));
    /// ```
    pub fn with_hasher(hasher: S) -> Self {
        Self::with_capacity_hasher_and_shards(0, hasher, default_shards())
    }

    /// An empty map hashing with `hasher` that holds at least `capacity` keys before
    /// any shard's table grows, with the default number of shards.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    ///
    /// let map = weft_lockfree::ShardedMap::with_capacity_and_hasher(64, RandomState::new());
    /// map.insert("a", 1);
    /// assert!(map.capacity() >= 64);
    /// ```
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> Self {
        Self::with_capacity_hasher_and_shards(capacity, hasher, default_shards())
    }

    /// An empty map of `shards` shards hashing with `hasher` that holds at least
    /// `capacity` keys, spread evenly, before any shard's table grows.
    ///
    /// # Panics
    ///
    /// If `shards` is not a power of two, or is above 2<sup>57</sup>.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    ///
    /// let map = weft_lockfree::ShardedMap::with_capacity_hasher_and_shards(0, RandomState::new(), 1);
    /// map.insert('a', 1);
    /// assert_eq!((map.shards(), map.len()), (1, 1));
    /// ```
    #[track_caller]
    pub fn with_capacity_hasher_and_shards(capacity: usize, hasher: S, shards: usize) -> Self {
        assert!(
            shards.is_power_of_two() && shards.trailing_zeros() <= MAX_SHARD_BITS,
            "ShardedMap: the number of shards must be a power of two up to 2^57, not {shards}"
        );
        let per_shard = capacity.div_ceil(shards);
        Self {
            shards: (0..shards)
                .map(|_| CachePadded::new(RwLock::new(HashTable::with_capacity(per_shard))))
                .collect(),
            shift: 63 - shards.trailing_zeros(),
            hasher,
        }
    }

    /// The map's hasher.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::hash::BuildHasher;
    ///
    /// let map: weft_lockfree::ShardedMap<u8, u8> = weft_lockfree::ShardedMap::new();
    /// let _same_every_time = map.hasher().hash_one(1u8);
    /// ```
    pub fn hasher(&self) -> &S {
        &self.hasher
    }

    /// The number of shards, fixed at construction.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: weft_lockfree::ShardedMap<u8, u8> = weft_lockfree::ShardedMap::with_shards(16);
    /// assert_eq!(map.shards(), 16);
    /// ```
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// The number of keys: the sum of the shards' counts, each read under its lock in
    /// turn. It is exact when no write runs meanwhile; otherwise it is a snapshot of
    /// each shard at a different instant, so it may count a key moved between shards
    /// (removed from one, inserted in another) twice or never.
    ///
    /// # Deadlocks
    ///
    /// Read-locks every shard in turn: do not call it while holding a guard.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::new();
    /// map.insert(1, 1);
    /// map.insert(2, 2);
    /// assert_eq!(map.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| shard.read().len()).sum()
    }

    /// Whether the map holds no key, with [`len`](Self::len)'s caveats (it stops at
    /// the first shard that holds one).
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::new();
    /// assert!(map.is_empty());
    /// map.insert((), ());
    /// assert!(!map.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|shard| shard.read().is_empty())
    }

    /// How many keys the map holds before some shard's table must grow, assuming they
    /// spread evenly: the sum of the shards' capacities, read like [`len`](Self::len).
    ///
    /// # Examples
    ///
    /// ```
    /// let map: weft_lockfree::ShardedMap<u32, u32> = weft_lockfree::ShardedMap::with_capacity(500);
    /// assert!(map.capacity() >= 500);
    /// ```
    pub fn capacity(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.read().capacity())
            .sum()
    }

    /// Iterates over the entries, one shard at a time.
    ///
    /// The iterator read-locks a shard, yields its entries, and unlocks it when it
    /// moves to the next; each [`IterRef`] it yields keeps its shard read-locked too,
    /// until dropped. So the iteration is not a snapshot: each shard is seen at one
    /// instant, and writes to other shards go on meanwhile (see the type's
    /// "Progress"). The order is unspecified.
    ///
    /// # Deadlocks
    ///
    /// Do not write to the map while iterating on the same thread (see the type's
    /// "Deadlocks"); collect what to change first, or use [`retain`](Self::retain) or
    /// [`iter_mut`](Self::iter_mut).
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::new();
    /// for i in 0..10 {
    ///     map.insert(i, i * i);
    /// }
    /// let sum: u32 = map.iter().map(|entry| *entry.value()).sum();
    /// assert_eq!(sum, 285);
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter::new(&self.shards)
    }

    /// Iterates over the entries with mutable access to the values, one shard at a
    /// time: like [`iter`](Self::iter), with write locks. Each shard is write-locked
    /// while the iterator, or any [`IterRefMut`] it yielded from that shard, is alive.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::new();
    /// for i in 0..10 {
    ///     map.insert(i, i);
    /// }
    /// for mut entry in map.iter_mut() {
    ///     *entry *= 2;
    /// }
    /// assert_eq!(map.get_cloned(&9), Some(18));
    /// ```
    pub fn iter_mut(&self) -> IterMut<'_, K, V> {
        IterMut::new(&self.shards)
    }

    /// Removes every entry, one shard at a time (see the type's "Progress"). Each
    /// shard's table is swapped for an empty one under the lock and dropped after the
    /// lock is released, so the entries' destructors run unlocked, and the tables'
    /// memory is freed.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::new();
    /// map.insert(1, String::from("one"));
    /// map.clear();
    /// assert!(map.is_empty());
    /// ```
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let table = mem::take(&mut *shard.write());
            drop(table);
        }
    }
}

impl<K, V, S> ShardedMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// The key's hash: computed once per operation, outside every lock.
    #[inline]
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The shard index of `hash`: the `log2(shards)` bits just below the table's tag.
    /// Shifting by one and then by `shift` (`63 - log2(shards)`) keeps both shifts
    /// under 64, so a single shard needs no special case.
    #[inline]
    fn shard_index(&self, hash: u64) -> usize {
        (((hash << TAG_BITS) >> 1) >> self.shift) as usize
    }

    #[inline]
    fn shard(&self, hash: u64) -> &RwLock<Table<K, V>> {
        &self.shards[self.shard_index(hash)]
    }

    /// Returns a guard that holds the key's shard read-locked and derefs to the value.
    ///
    /// # Deadlocks
    ///
    /// Drop the [`Ref`] before calling into the map again on this thread (see the
    /// type's "Deadlocks"); [`get_cloned`](Self::get_cloned) holds nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::new();
    /// map.insert("a", vec![1, 2]);
    /// assert_eq!(map.get("a").map(|v| v.len()), Some(2));
    /// assert!(map.get("b").is_none());
    /// ```
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<Ref<'_, K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let table = self.shard(hash).read();
        RwLockReadGuard::try_map(table, |table| {
            table.find(hash, |slot| slot.key.borrow() == key)
        })
        .ok()
        .map(Ref::new)
    }

    /// Returns a guard that holds the key's shard write-locked and derefs mutably to
    /// the value.
    ///
    /// # Deadlocks
    ///
    /// As for [`get`](Self::get): drop the [`RefMut`] before calling into the map again.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::new();
    /// map.insert(1, vec![1]);
    /// map.get_mut(&1).unwrap().push(2);
    /// assert_eq!(map.get_cloned(&1), Some(vec![1, 2]));
    /// ```
    #[inline]
    pub fn get_mut<Q>(&self, key: &Q) -> Option<RefMut<'_, K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let table = self.shard(hash).write();
        RwLockWriteGuard::try_map(table, |table| {
            table.find_mut(hash, |slot| slot.key.borrow() == key)
        })
        .ok()
        .map(RefMut::new)
    }

    /// Returns a clone of the value of `key`, made under the shard's read lock; no
    /// guard is held afterwards.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::new();
    /// map.insert(7, String::from("seven"));
    /// assert_eq!(map.get_cloned(&7).as_deref(), Some("seven"));
    /// ```
    #[inline]
    pub fn get_cloned<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let hash = self.hash(key);
        let table = self.shard(hash).read();
        table
            .find(hash, |slot| slot.key.borrow() == key)
            .map(|slot| slot.value.clone())
    }

    /// Whether the map holds `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::new();
    /// map.insert(1, ());
    /// assert!(map.contains_key(&1));
    /// assert!(!map.contains_key(&2));
    /// ```
    #[inline]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let table = self.shard(hash).read();
        table.find(hash, |slot| slot.key.borrow() == key).is_some()
    }

    /// Inserts `key` with `value`, returning the value it replaces, if any. The key
    /// already in the map is kept (and `key` dropped), as in std's `HashMap`. The old
    /// value is returned, not dropped under the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::new();
    /// assert_eq!(map.insert(1, "a"), None);
    /// assert_eq!(map.insert(1, "b"), Some("a"));
    /// assert_eq!(map.get_cloned(&1), Some("b"));
    /// ```
    #[inline]
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        let hash = self.hash(&key);
        let mut table = self.shard(hash).write();
        match table.entry(hash, |slot| slot.key == key, slot_hasher(&self.hasher)) {
            TableEntry::Occupied(mut occupied) => {
                Some(mem::replace(&mut occupied.get_mut().value, value))
            }
            TableEntry::Vacant(vacant) => {
                vacant.insert(Slot { key, value });
                None
            }
        }
    }

    /// Removes `key`, returning the key and value it held.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::new();
    /// map.insert(String::from("k"), 1);
    /// assert_eq!(map.remove("k"), Some((String::from("k"), 1)));
    /// assert_eq!(map.remove("k"), None);
    /// ```
    #[inline]
    pub fn remove<Q>(&self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut table = self.shard(hash).write();
        let slot = table
            .find_entry(hash, |slot| slot.key.borrow() == key)
            .ok()?
            .remove()
            .0;
        drop(table);
        Some((slot.key, slot.value))
    }

    /// Removes `key` if `condition` says so, returning the key and value it held.
    /// `condition` runs under the shard's write lock, so nothing changes the entry
    /// between the test and the removal.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::new();
    /// map.insert(1, 10);
    /// assert_eq!(map.remove_if(&1, |_, value| *value > 10), None);
    /// assert_eq!(map.remove_if(&1, |_, value| *value == 10), Some((1, 10)));
    /// assert!(map.is_empty());
    /// ```
    pub fn remove_if<Q>(&self, key: &Q, condition: impl FnOnce(&K, &V) -> bool) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut table = self.shard(hash).write();
        let entry = table
            .find_entry(hash, |slot| slot.key.borrow() == key)
            .ok()?;
        let slot = entry.get();
        if !condition(&slot.key, &slot.value) {
            return None;
        }
        let slot = entry.remove().0;
        drop(table);
        Some((slot.key, slot.value))
    }

    /// Runs `f` on the key and its value in place, under the shard's write lock, and
    /// returns what `f` returns; `None` if the key is absent. The atomic
    /// read-modify-write of one existing key (for insert-or-update, use
    /// [`entry`](Self::entry)).
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::new();
    /// map.insert("hits", 1);
    /// assert_eq!(map.update("hits", |_, hits| { *hits += 1; *hits }), Some(2));
    /// assert_eq!(map.update("misses", |_, misses| *misses), None);
    /// ```
    pub fn update<Q, R>(&self, key: &Q, f: impl FnOnce(&K, &mut V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut table = self.shard(hash).write();
        let slot = table.find_mut(hash, |slot| slot.key.borrow() == key)?;
        Some(f(&slot.key, &mut slot.value))
    }

    /// The entry of `key`, holding its shard write-locked until it is dropped or used,
    /// for an insert-or-update that no other writer can interleave with.
    ///
    /// # Deadlocks
    ///
    /// As for [`get`](Self::get): use the entry (or drop it) before calling into the
    /// map again, and do not call into the map from the closures given to it.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::sharded_map::Entry;
    ///
    /// let map = weft_lockfree::ShardedMap::new();
    /// for word in ["a", "b", "a"] {
    ///     *map.entry(word).or_insert(0) += 1;
    /// }
    /// assert_eq!(map.get_cloned("a"), Some(2));
    ///
    /// match map.entry("b") {
    ///     Entry::Occupied(entry) => assert_eq!(entry.remove(), 1),
    ///     Entry::Vacant(_) => unreachable!(),
    /// }
    /// assert!(!map.contains_key("b"));
    /// ```
    pub fn entry(&self, key: K) -> Entry<'_, K, V, S> {
        let hash = self.hash(&key);
        let table = self.shard(hash).write();
        match table.find_bucket_index(hash, |slot| slot.key == key) {
            Some(index) => Entry::Occupied(OccupiedEntry::new(table, index)),
            None => Entry::Vacant(VacantEntry::new(table, hash, key, &self.hasher)),
        }
    }

    /// Keeps only the entries for which `keep` returns `true`, one shard at a time
    /// under its write lock (see the type's "Progress"). `keep` may change the values
    /// it keeps. The entries it drops are dropped under the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::ShardedMap::new();
    /// for i in 0..10 {
    ///     map.insert(i, i);
    /// }
    /// map.retain(|key, value| {
    ///     *value *= 10;
    ///     key % 2 == 0
    /// });
    /// assert_eq!(map.len(), 5);
    /// assert_eq!(map.get_cloned(&4), Some(40));
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        for shard in self.shards.iter() {
            shard
                .write()
                .retain(|slot| keep(&slot.key, &mut slot.value));
        }
    }
}

impl<K, V> Default for ShardedMap<K, V, RandomState> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, S> fmt::Debug for ShardedMap<K, V, S>
where
    K: fmt::Debug,
    V: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for entry in self.iter() {
            map.entry(entry.key(), entry.value());
        }
        map.finish()
    }
}

impl<K, V, S> FromIterator<(K, V)> for ShardedMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher + Default,
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut map = Self::with_capacity_and_hasher(iter.size_hint().0, S::default());
        map.extend(iter);
        map
    }
}

impl<K, V, S> Extend<(K, V)> for ShardedMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        (&*self).extend(iter);
    }
}

impl<K, V, S> Extend<(K, V)> for &ShardedMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

impl<K, V, S> Clone for ShardedMap<K, V, S>
where
    K: Clone,
    V: Clone,
    S: Clone,
{
    /// Clones the map shard by shard, each under its read lock (not a snapshot of the
    /// whole map; see the type's "Progress").
    fn clone(&self) -> Self {
        Self {
            shards: self
                .shards
                .iter()
                .map(|shard| CachePadded::new(RwLock::new(shard.read().clone())))
                .collect(),
            shift: self.shift,
            hasher: self.hasher.clone(),
        }
    }
}

impl<K, V, S> IntoIterator for ShardedMap<K, V, S> {
    type Item = (K, V);
    type IntoIter = IntoIter<K, V>;

    /// Takes the entries out by value, shard by shard; no lock is taken (the map is
    /// owned).
    fn into_iter(self) -> IntoIter<K, V> {
        IntoIter::new(self.shards)
    }
}

impl<'a, K, V, S> IntoIterator for &'a ShardedMap<K, V, S> {
    type Item = IterRef<'a, K, V>;
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

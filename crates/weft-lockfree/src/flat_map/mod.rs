//! `FlatMap`: a concurrent hash map for plain-data keys and values, stored inline in
//! cache-line buckets, read by copy under a per-bucket seqlock, written in place.
//!
//! # The design
//!
//! A table is an array of 64-byte buckets. A bucket's head group holds a version word
//! (the seqlock, with a writers' lock bit and a `MOVED` bit), a link word (which slots
//! are occupied, and the address of an overflow group) and three key/value pairs
//! inline; with `u64` keys and values that is exactly one cache line, so a lookup costs
//! one miss: the line its hash names. Crowded buckets chain overflow groups of the
//! same shape; the table doubles past two keys per bucket on average, so few do.
//!
//! Reads are seqlock reads (Lamport's "concurrent reading and writing", 1977, in the
//! form of Linux's `seqlock_t`; the orderings are Boehm's, "Can seqlocks get along with
//! programming language memory models?", MSPC 2012): load the version, copy the
//! candidate pairs out with relaxed atomic word loads, fence, load the version again,
//! and use the copy only if the version did not change and was not locked. Writes take
//! the bucket's lock (a CAS on the version word, on the line the write touches anyway),
//! store the value's words in place, and unlock with the version bumped. Nothing is
//! allocated per write and nothing is reclaimed.
//!
//! Resizes are [`HashMap`](crate::HashMap)'s: the next table is linked, writers migrate
//! chunks of buckets under their locks, copying pairs into the two derived buckets,
//! and `MOVED` forwards readers and writers (Liu, Zhang and Spear, "Dynamic-Sized
//! Nonblocking Hash Tables", PODC 2014; the chunked transfer of Java's
//! `ConcurrentHashMap`). Replaced tables are kept until the map is dropped instead of
//! being reclaimed: they are together smaller than the current table (tables double),
//! and keeping them is what lets every operation go without an epoch pin.
//!
//! # Why plain data
//!
//! A seqlock reader copies data that a writer may be changing: its copy may be torn
//! (half old, half new) until the version check throws it away. That is sound only if
//! (1) the copy is made with atomic loads, so it is a race on atomics rather than a
//! data race (the map stores keys and values as machine words only ever accessed
//! atomically), (2) the copied bytes are all initialized (no padding), and (3) a torn
//! copy is still a valid value, since the reader compares a candidate key with `Eq`
//! before it can know. [`Plain`] is that contract. It also rules out handing out `&V`:
//! a reference would let a reader look at a value while a writer overwrites it, so
//! reads return copies, which for plain data are what a reference would cost anyway.
//!
//! # Layout
//!
//! - `plain.rs`: the [`Plain`] bound.
//! - `group.rs`: the bucket's words, the seqlock read, the lock: the raw layer.
//! - `table.rs`: one generation of buckets, and the chunked migration into the next.
//! - `iter.rs`: [`Iter`].
//!
//! `README.md` beside this file has the seqlock's correctness argument, the progress
//! guarantees and the measured costs.

mod group;
mod iter;
mod plain;
mod table;
#[cfg(all(test, not(loom)))]
mod tests;

pub use iter::Iter;
pub use plain::Plain;

use core::borrow::Borrow;
use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::marker::PhantomData;
use std::collections::hash_map::RandomState;
use weft_sync::primitive::atomic::{AtomicPtr, Ordering};

use crate::map::Operation;
use crate::striped::StripedCount;
use group::{Group, OCCUPIED, Pair, Read, SLOTS};
use table::Table;

/// Buckets of the smallest table. Two under loom, so a model resizes after a few keys.
const MIN_BUCKETS: usize = if cfg!(loom) { 2 } else { 16 };

/// Keys per bucket, on average, past which the table doubles: two of three slots, so
/// about one key in ten lives in an overflow group at the fullest. One under loom
/// (two slots).
const KEYS_PER_BUCKET: usize = if cfg!(loom) { 1 } else { 2 };

/// A concurrent hash map for plain-data keys and values ([`Plain`]), stored inline and
/// read by copy.
///
/// Reads ([`get`](Self::get), [`contains_key`](Self::contains_key), [`iter`](Self::iter))
/// take no lock and write nothing shared: they copy the key's bucket under its seqlock
/// and retry if a writer was inside it. Writes ([`insert`](Self::insert),
/// [`remove`](Self::remove), [`compute`](Self::compute) and its shorthands) lock one
/// bucket for a few stores and update the value in place: no allocation, no
/// reclamation, no epoch pin. The table doubles past two keys per bucket,
/// incrementally: writers move it over in chunks of buckets while reads and writes go
/// on. It never shrinks.
///
/// Pick it over [`HashMap`](crate::HashMap) when keys and values are small plain data
/// (integers, arrays of them, `#[repr(C)]` structs of them) and copies are what you
/// want back; pick `HashMap` for anything owning memory (`String`, `Vec`, `Arc`), for
/// values you want to borrow rather than copy, or for large values (a read copies the
/// whole value, and may copy it again if it raced with a writer), or
/// [`ShardedMap`](crate::ShardedMap) if readers may block for a moment.
///
/// The design and its sources are in the [module](self) documentation.
///
/// # Progress
///
/// - [`get`](Self::get), [`contains_key`](Self::contains_key): **not lock-free**, and
///   precisely: a read completes in a bounded number of its own steps (one seqlock read
///   per table it is forwarded through, each a bounded scan) unless a writer of the
///   same bucket is inside its critical section at the start of the read or enters it
///   during the read; then the read waits for it to leave (spinning, then yielding)
///   and starts over. So a read is delayed only by writers of its own bucket, each for
///   a critical section of a few loads and stores that runs no user code but `K::eq`;
///   it can starve only while writers keep re-entering that one bucket, and it is
///   blocked (not merely delayed) while such a writer is descheduled inside it. Readers
///   never delay each other or writers: they store nothing.
/// - [`iter`](Self::iter): one such read per bucket.
/// - [`insert`](Self::insert), [`remove`](Self::remove), [`compute`](Self::compute),
///   [`update`](Self::update), [`update_or_insert`](Self::update_or_insert),
///   [`get_or_insert`](Self::get_or_insert), [`clear`](Self::clear): **blocking, per
///   bucket**. A writer waits only for a writer of the same bucket or the migrator
///   moving it, and each write also migrates at most one chunk of buckets while a
///   resize is in progress. A `compute` closure runs outside the lock and runs again
///   if the key's value changed before its result could be applied.
/// - [`len`](Self::len): wait-free (a sum of per-thread stripes).
///
/// Writes and lookups are linearizable; `len` is exact when no write is in flight.
/// `iter` and `clear` are not atomic snapshots: they see each bucket at one instant,
/// so every key present throughout is seen exactly once, and keys written meanwhile
/// maybe.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::thread;
/// use weft_lockfree::FlatMap;
///
/// let map = Arc::new(FlatMap::new());
/// let writers: Vec<_> = (0..2u64)
///     .map(|t| {
///         let map = Arc::clone(&map);
///         thread::spawn(move || {
///             for i in 0..100 {
///                 map.insert(t * 100 + i, [i; 2]);
///             }
///         })
///     })
///     .collect();
/// for writer in writers {
///     writer.join().unwrap();
/// }
/// assert_eq!(map.len(), 200);
/// assert_eq!(map.get(&142), Some([42, 42]));
///
/// // Old values come back by copy.
/// assert_eq!(map.insert(142, [0, 0]), Some([42, 42]));
/// assert_eq!(map.remove(&142), Some([0, 0]));
///
/// // Read-modify-write: the closure runs outside the lock, again if it raced.
/// let hits = FlatMap::new();
/// for _ in 0..3 {
///     hits.update_or_insert(4u32, |n| n + 1, 1u64);
/// }
/// assert_eq!(hits.get(&4), Some(3));
///
/// let mut pairs: Vec<_> = map.iter().filter(|(k, _)| *k < 3).collect();
/// pairs.sort();
/// assert_eq!(pairs, [(0, [0, 0]), (1, [1, 1]), (2, [2, 2])]);
/// ```
pub struct FlatMap<K, V, S = RandomState> {
    /// The current table; never null. Swung forward by the migration's last chunk.
    root: AtomicPtr<Table<K, V>>,
    hasher: S,
    count: StripedCount,
    _marker: PhantomData<(K, V)>,
}

// SAFETY: the map owns its keys and values (plain data, copied in and out); moving it
// moves them.
unsafe impl<K: Send, V: Send, S: Send> Send for FlatMap<K, V, S> {}
// SAFETY: through `&FlatMap` threads copy keys and values in and out (`Send`) and
// compare keys in place (`Sync`); all shared words are atomics; tables are freed only
// by `Drop`.
unsafe impl<K: Send + Sync, V: Send + Sync, S: Sync> Sync for FlatMap<K, V, S> {}

impl<K: Plain, V: Plain> FlatMap<K, V, RandomState> {
    /// An empty map with the default hasher.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: weft_lockfree::FlatMap<u64, u64> = weft_lockfree::FlatMap::new();
    /// assert!(map.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_capacity_and_hasher(0, RandomState::new())
    }

    /// An empty map that holds `capacity` keys before it first resizes.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::FlatMap::with_capacity(1000);
    /// map.insert(1u32, 1.5f64);
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, RandomState::new())
    }
}

impl<K: Plain, V: Plain> Default for FlatMap<K, V, RandomState> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Plain, V: Plain, S> FlatMap<K, V, S> {
    /// An empty map hashing with `hasher`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::hash_map::DefaultHasher;
    /// use std::hash::BuildHasherDefault;
    ///
    /// let map = weft_lockfree::FlatMap::with_hasher(BuildHasherDefault::<DefaultHasher>::default());
    /// map.insert(1u8, 2u8);
    /// assert_eq!(map.get(&1), Some(2));
    /// ```
    pub fn with_hasher(hasher: S) -> Self {
        Self::with_capacity_and_hasher(0, hasher)
    }

    /// An empty map for `capacity` keys, hashing with `hasher`.
    ///
    /// # Panics
    ///
    /// If the table for `capacity` keys would have more than `usize::MAX` buckets.
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> Self {
        let buckets = capacity
            .div_ceil(KEYS_PER_BUCKET)
            .max(MIN_BUCKETS)
            .checked_next_power_of_two()
            .expect("capacity overflow");
        let table = Box::into_raw(Box::new(Table::new(buckets, core::ptr::null_mut())));
        Self {
            root: AtomicPtr::new(table),
            hasher,
            count: StripedCount::new(),
            _marker: PhantomData,
        }
    }

    /// The hasher.
    pub fn hasher(&self) -> &S {
        &self.hasher
    }

    /// The number of keys. Exact while no write is in flight; under concurrent writes,
    /// a value the map had at some point during the call, or one in between.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::FlatMap::new();
    /// map.insert(1u64, 1u64);
    /// map.insert(1, 2);
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.count.sum()
    }

    /// Whether the map has no keys (see [`len`](Self::len)).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Iterates over copies of the map's pairs, bucket by bucket.
    ///
    /// Each bucket is copied at one instant (a seqlock read), so every key present
    /// throughout the iteration is yielded exactly once, with a value it had; keys
    /// inserted or removed meanwhile may or may not be. The order is unspecified.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: weft_lockfree::FlatMap<u32, u32> = (0..10).map(|i| (i, i * i)).collect();
    /// let sum: u32 = map.iter().map(|(_, v)| v).sum();
    /// assert_eq!(sum, 285);
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter::new(self.root())
    }

    /// Removes every key. Not atomic: each bucket is cleared at one instant, so a key
    /// inserted concurrently may survive.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: weft_lockfree::FlatMap<u8, u8> = (0..10).map(|i| (i, i)).collect();
    /// map.clear();
    /// assert!(map.is_empty());
    /// assert_eq!(map.get(&3), None);
    /// ```
    pub fn clear(&self) {
        let root = self.root();
        let mut pending: Vec<(&Table<K, V>, usize)> = Vec::new();
        for index in (0..root.len()).rev() {
            pending.push((root, index));
        }
        let mut removed = 0isize;
        while let Some((table, index)) = pending.pop() {
            let head = table.at(index);
            let Some(version) = group::lock(head) else {
                let next = table.next_of_moved();
                pending.push((next, index + table.len()));
                pending.push((next, index));
                continue;
            };
            let mut cleared = 0;
            let mut group = head;
            loop {
                // Relaxed: under the lock.
                let link = group.link.load(Ordering::Relaxed);
                cleared += (link & OCCUPIED).count_ones() as isize;
                group.link.store(link & !OCCUPIED, Ordering::Relaxed);
                // SAFETY: loaded under the lock from a group of a live table.
                match unsafe { group::next_group(link) } {
                    Some(next) => group = next,
                    None => break,
                }
            }
            group::unlock(head, version, cleared != 0);
            removed += cleared;
        }
        self.count.add(-removed);
    }

    #[inline(always)]
    fn root(&self) -> &Table<K, V> {
        // Acquire: pairs with the Release CAS that swung the root (and with the
        // constructor's store, ordered by whatever shared the map), so the table is
        // initialized for us.
        let root = self.root.load(Ordering::Acquire);
        // SAFETY: the root is never null, and tables are freed only by `Drop`.
        unsafe { &*root }
    }
}

/// Where a write found its key, under the lock.
struct Found<'t, K, V> {
    group: &'t Group<K, V>,
    slot: usize,
}

impl<'t, K: Plain, V: Plain> Found<'t, K, V> {
    fn pair(&self) -> &'t Pair<K, V> {
        self.group.pair(self.slot)
    }
}

impl<K, V, S> FlatMap<K, V, S>
where
    K: Plain + Hash + Eq,
    V: Plain,
    S: BuildHasher,
{
    /// The hash of `key`: `BuildHasher::hash_one` spelled out, because it did not
    /// inline (measured: a fifth of a cached lookup's time went to the call).
    #[inline(always)]
    #[allow(clippy::manual_hash_one)]
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        use core::hash::Hasher;
        let mut hasher = self.hasher.build_hasher();
        key.hash(&mut hasher);
        hasher.finish()
    }

    /// Returns a copy of the value of `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::FlatMap::new();
    /// map.insert(7u64, [1u8, 2, 3]);
    /// assert_eq!(map.get(&7), Some([1, 2, 3]));
    /// assert_eq!(map.get(&8), None);
    /// ```
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.find(self.root(), hash, key)
    }

    /// Whether the map holds `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::FlatMap::new();
    /// map.insert(1i32, ());
    /// assert!(map.contains_key(&1));
    /// assert!(!map.contains_key(&2));
    /// ```
    #[inline]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    /// The value of `key`, looked up from `table` on: a seqlock read of its bucket,
    /// forwarded one table per resize in progress.
    #[inline(always)]
    fn find<Q>(&self, mut table: &Table<K, V>, hash: u64, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        loop {
            let head = table.bucket(hash);
            // SAFETY: `head` is a bucket of `table`, which lives as long as the map.
            let read = unsafe {
                group::read(head, |group, occupied| {
                    let matches = group.matching(key) & occupied;
                    (matches != 0)
                        .then(|| group.pair(matches.trailing_zeros() as usize).value.load())
                })
            };
            match read {
                Read::Done(found) => return found,
                Read::Moved => table = table.next_of_moved(),
            }
        }
    }

    /// Inserts `key` with `value`; returns the value it replaced, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::FlatMap::new();
    /// assert_eq!(map.insert(1u16, 10u16), None);
    /// assert_eq!(map.insert(1, 11), Some(10));
    /// assert_eq!(map.get(&1), Some(11));
    /// ```
    #[inline]
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        let hash = self.hash(&key);
        match self.write(hash, &key, Some((&key, &value)), None) {
            Ok(old) => old,
            Err(_) => unreachable!("an unconditional write applies"),
        }
    }

    /// Removes `key`; returns its value, if it was present.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::FlatMap::new();
    /// map.insert(5u64, 50u64);
    /// assert_eq!(map.remove(&5), Some(50));
    /// assert_eq!(map.remove(&5), None);
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        match self.write(hash, key, None, None) {
            Ok(old) => old,
            Err(_) => unreachable!("an unconditional write applies"),
        }
    }

    /// The general read-modify-write: `f` sees a copy of the current value of `key` (or
    /// `None`) and says what to do; returns the value the key has afterwards.
    ///
    /// `f` runs outside the bucket's lock (it may use the map). Its answer is applied
    /// only if the key still has the value `f` saw (the same bytes, or still absent);
    /// otherwise `f` runs again with the new one.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::FlatMap;
    /// use weft_lockfree::map::Operation;
    ///
    /// let map = FlatMap::new();
    /// // Count, and drop the key when the count reaches zero.
    /// let bump = |delta: i64| move |count: Option<i64>| match count.unwrap_or(0) + delta {
    ///     0 => Operation::Remove,
    ///     n => Operation::Insert(n),
    /// };
    /// assert_eq!(map.compute(7u32, bump(1)), Some(1));
    /// assert_eq!(map.compute(7, bump(1)), Some(2));
    /// assert_eq!(map.compute(7, bump(-2)), None);
    /// assert!(!map.contains_key(&7));
    /// ```
    pub fn compute<F>(&self, key: K, mut f: F) -> Option<V>
    where
        F: FnMut(Option<V>) -> Operation<V>,
    {
        let hash = self.hash(&key);
        let mut table = self.root();
        loop {
            let current = self.find(table, hash, &key);
            let new = match f(current) {
                Operation::Abort => return current,
                Operation::Remove if current.is_none() => return None,
                Operation::Remove => None,
                Operation::Insert(value) => Some(value),
            };
            let write = new.as_ref().map(|value| (&key, value));
            match self.write(hash, &key, write, Some(current)) {
                Ok(_) => return new,
                // A resize may have moved the key meanwhile; read from the root again.
                Err(()) => table = self.root(),
            }
        }
    }

    /// Replaces the value of `key` by `f(old)`, if the key is present; returns the new
    /// value. `f` may run more than once (see [`compute`](Self::compute)).
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::FlatMap::new();
    /// assert_eq!(map.update(1u64, |v: u64| v + 1), None);
    /// map.insert(1, 10);
    /// assert_eq!(map.update(1, |v| v + 1), Some(11));
    /// ```
    pub fn update<F>(&self, key: K, mut f: F) -> Option<V>
    where
        F: FnMut(V) -> V,
    {
        self.compute(key, |current| match current {
            Some(value) => Operation::Insert(f(value)),
            None => Operation::Abort,
        })
    }

    /// Replaces the value of `key` by `f(old)`, or inserts `value` if the key is absent
    /// (an upsert); returns the value now stored. `f` may run more than once.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::FlatMap::new();
    /// for _ in 0..3 {
    ///     map.update_or_insert(9u8, |n| n + 1, 1u32);
    /// }
    /// assert_eq!(map.get(&9), Some(3));
    /// ```
    pub fn update_or_insert<F>(&self, key: K, mut f: F, value: V) -> V
    where
        F: FnMut(V) -> V,
    {
        let stored = self.compute(key, |current| {
            Operation::Insert(current.map_or(value, &mut f))
        });
        stored.expect("an insert leaves a value")
    }

    /// Returns the value of `key`, inserting `value` first if the key is absent.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::FlatMap::new();
    /// assert_eq!(map.get_or_insert(1u64, 5u64), 5);
    /// assert_eq!(map.get_or_insert(1, 6), 5);
    /// ```
    pub fn get_or_insert(&self, key: K, value: V) -> V {
        let stored = self.compute(key, |current| match current {
            Some(_) => Operation::Abort,
            None => Operation::Insert(value),
        });
        stored.expect("the key is present or was inserted")
    }

    /// The write behind every writing method, on the key whose hash is `hash`: stores
    /// `new` (a key equal to `key` and its value) or, for `None`, removes the key.
    /// With `expect`, applies only if the key's value is still `expect` (bytewise;
    /// `None`: absent), else returns `Err`. Returns the value it replaced.
    #[inline]
    fn write<Q>(
        &self,
        hash: u64,
        key: &Q,
        new: Option<(&K, &V)>,
        expect: Option<Option<V>>,
    ) -> Result<Option<V>, ()>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let mut table = self.root_helping();
        let (head, version) = loop {
            let head = table.bucket(hash);
            match group::lock(head) {
                Some(version) => break (head, version),
                None => table = table.next_of_moved(),
            }
        };
        let mut free: Option<Found<'_, K, V>> = None;
        let mut found: Option<Found<'_, K, V>> = None;
        let mut group = head;
        let last = loop {
            // Relaxed: under the lock, whose Acquire made every earlier write visible.
            let link = group.link.load(Ordering::Relaxed);
            let occupied = link & OCCUPIED;
            let matches = group.matching(key) & occupied;
            if matches != 0 {
                let slot = matches.trailing_zeros() as usize;
                found = Some(Found { group, slot });
                break group;
            }
            if free.is_none() && occupied != OCCUPIED {
                let slot = (!occupied).trailing_zeros() as usize;
                free = Some(Found { group, slot });
            }
            // SAFETY: loaded under the lock from a group of a live table.
            match unsafe { group::next_group(link) } {
                Some(next) => group = next,
                None => break group,
            }
        };
        let current = found.as_ref().map(|found| found.pair().value.load());
        if let Some(expected) = expect {
            let unchanged = match (&expected, &current) {
                (None, None) => true,
                (Some(expected), Some(current)) => group::same_bytes(expected, current),
                _ => false,
            };
            if !unchanged {
                group::unlock(head, version, false);
                return Err(());
            }
        }
        match (found, new) {
            (Some(found), Some((_, value))) => {
                found.pair().value.store(value);
                group::unlock(head, version, true);
            }
            (Some(found), None) => {
                group::vacate(found.group, found.slot);
                group::unlock(head, version, true);
                self.count.add(-1);
            }
            (None, None) => group::unlock(head, version, false),
            (None, Some((key, value))) => {
                let crowded = match free {
                    Some(free) => {
                        let pair = free.pair();
                        pair.key.store(key);
                        pair.value.store(value);
                        group::occupy(free.group, free.slot);
                        !core::ptr::eq(free.group, head) || free.slot == SLOTS - 1
                    }
                    None => {
                        last.append(key, value);
                        true
                    }
                };
                group::unlock(head, version, true);
                self.count.add(1);
                if crowded {
                    self.maybe_grow(table);
                }
            }
        }
        Ok(current)
    }

    /// The root, after migrating one chunk of it if a resize is in progress.
    #[inline(always)]
    fn root_helping(&self) -> &Table<K, V> {
        let root = self.root();
        if let Some(next) = root.next() {
            self.help_migrate(root, next);
        }
        root
    }

    /// Migrates one chunk of `old` into `next`; the last chunk swings the root.
    #[cold]
    #[inline(never)]
    fn help_migrate(&self, old: &Table<K, V>, next: &Table<K, V>) {
        let hash = |key: &K| self.hash(key);
        if old.migrate_chunk(next, &hash) {
            let old = (old as *const Table<K, V>).cast_mut();
            let next = (next as *const Table<K, V>).cast_mut();
            // Release: publishes the complete table (every bucket built, carried here
            // by `migrated`'s release sequence) to `root`'s Acquire loads. The old
            // table stays owned by the new one (`previous`), for readers still in it.
            let _ = self
                .root
                .compare_exchange(old, next, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// Starts a resize of `table` if it is the root, not already resizing, and holds
    /// more than `KEYS_PER_BUCKET` keys per bucket.
    #[cold]
    #[inline(never)]
    fn maybe_grow(&self, table: &Table<K, V>) {
        if !core::ptr::eq(table, self.root()) || table.next().is_some() {
            return;
        }
        if self.len() <= table.len() * KEYS_PER_BUCKET {
            return;
        }
        table.start_resize();
        if let Some(next) = table.next() {
            self.help_migrate(table, next);
        }
    }
}

impl<K, V, S> Drop for FlatMap<K, V, S> {
    fn drop(&mut self) {
        // Relaxed: `&mut self`.
        let root = self.root.load(Ordering::Relaxed);
        // SAFETY: the root is never null; `&mut self` means no one else uses it.
        let newest = unsafe { &*root }.newest();
        // SAFETY: the newest table is owned by no other table, and frees its
        // predecessors (the root among them) as it drops.
        drop(unsafe { Table::from_raw((newest as *const Table<K, V>).cast_mut()) });
    }
}

impl<K, V, S> fmt::Debug for FlatMap<K, V, S>
where
    K: Plain + fmt::Debug,
    V: Plain + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V, S> FromIterator<(K, V)> for FlatMap<K, V, S>
where
    K: Plain + Hash + Eq,
    V: Plain,
    S: BuildHasher + Default,
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut map = Self::with_capacity_and_hasher(iter.size_hint().0, S::default());
        map.extend(iter);
        map
    }
}

impl<K, V, S> Extend<(K, V)> for FlatMap<K, V, S>
where
    K: Plain + Hash + Eq,
    V: Plain,
    S: BuildHasher,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

impl<K, V, S> Extend<(K, V)> for &FlatMap<K, V, S>
where
    K: Plain + Hash + Eq,
    V: Plain,
    S: BuildHasher,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

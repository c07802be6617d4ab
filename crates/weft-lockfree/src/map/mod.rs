//! `HashMap`: a concurrent hash map with lock-free reads, per-bucket locked writes,
//! epoch reclamation and incremental, cooperative resizing.
//!
//! # The design
//!
//! A table is an array of buckets, each one 64-byte cache line: a control word (a
//! writers' lock bit, a `MOVED` bit, a link to overflow groups) and seven slot words.
//! A slot names one immutable, heap-allocated entry `(hash, key, value)` and carries
//! the top 16 bits of its hash beside the pointer, so a lookup reads one cache line to
//! find its candidate and touches only the entry it wants: one line for the probe, one
//! for the entry. A lookup takes no lock and never retries (wait-free); a bucket whose
//! seven slots are full links an overflow group, which only crowded buckets have (the
//! table doubles past four keys per bucket on average).
//!
//! A write takes its bucket's lock (a bit in the control word, taken with one CAS,
//! spinning then yielding when held), replaces, fills or clears one slot with one
//! atomic store, and unlocks; the entry it replaced is retired through the [`epoch`]
//! (Fraser 2004), so readers holding it keep a valid, unchanged value. Values are never
//! mutated in place. Entries come from per-thread recycled blocks (`recycle.rs`).
//!
//! A resize doubles the table. Writers migrate it in chunks of buckets (the cooperative
//! transfer of Doug Lea's `java.util.concurrent.ConcurrentHashMap`, JDK 8): the
//! migrator locks a bucket, writes its entries into the two buckets derived from it in
//! the next table (which nobody can reach yet), and publishes `MOVED` with the unlock.
//! Readers and writers that see `MOVED` go forward one table. The forwarding and the
//! doubling follow Liu, Zhang and Spear, "Dynamic-Sized Nonblocking Hash Tables" (PODC
//! 2014), which this map used to implement in full (lock-free writes of immutable
//! bucket snapshots); the lock replaced the snapshots, see below.
//!
//! # Why per-bucket locks for writes
//!
//! The issue allows writes to lock if that is faster, and measured, it is: with
//! snapshots, a write copied the bucket's array of slots (an allocation and a free,
//! for two in five keys at the old load factor) and a read of a shared bucket went
//! through that array (a third cache miss). With slots updated in place, a write needs
//! the bucket to stay stable between finding the key and storing (two writers adding
//! the same key must not take two empty slots; a removal must not reopen a slot a
//! concurrent insert skipped), and the cheapest way to get that is one lock per
//! bucket: one CAS, on the cache line the write touches anyway. Lock-free per-slot CAS
//! needs keys bound to slots forever plus tombstones and a cleanup resize (Click's
//! table, papaya), which costs memory and probes. What the lock costs: a writer whose
//! bucket holder is descheduled waits (spinning, then yielding), and so does the
//! migrator; readers never do. No user code runs under the lock: the closures of
//! [`HashMap::compute`] and friends run before it, and the write applies only if the
//! key's entry is still the one they saw (else they run again, like papaya's).
//! `K::eq` does run under it, so `Eq` must not use the map.
//!
//! # Layout
//!
//! - `bucket.rs`: the bucket's words (control, slots, tags), the lock, the
//!   invariants: the raw layer.
//! - `recycle.rs`: per-thread free lists of entry blocks.
//! - `table.rs`: one generation of buckets, and the chunked migration into the next.
//! - `view.rs`: the handles a read returns: [`Ref`], [`HashMapRef`], [`Iter`].
//!
//! `README.md` beside this file has the linearizability and reclamation argument, and
//! the measured costs.

mod bucket;
mod recycle;
mod table;
mod view;

pub use view::{HashMapRef, Iter, Ref};

use core::borrow::Borrow;
use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::marker::PhantomData;
use core::ptr::NonNull;
use std::collections::hash_map::RandomState;
use weft_sync::primitive::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::epoch::{self, Guard};
use crate::striped::StripedCount;
use bucket::{Entry, Group, MOVED, SLOTS};
use table::Table;

/// Buckets of the smallest table. Two under loom, so a model resizes after a few keys.
const MIN_BUCKETS: usize = if cfg!(loom) { 2 } else { 16 };

/// Keys per bucket, on average, past which the table doubles: half the slots of a
/// bucket's cache line, so few buckets overflow. One under loom (two slots).
const KEYS_PER_BUCKET: usize = if cfg!(loom) { 1 } else { 4 };

/// A concurrent hash map whose reads never lock and never wait.
///
/// For small plain-data keys and values (integers, arrays of them) that you want back
/// by copy, [`FlatMap`](crate::FlatMap) stores them inline and is faster; this map is
/// for everything else (values that own memory, values borrowed rather than copied).
/// If readers may block for a moment, [`ShardedMap`](crate::ShardedMap) (lock-striped
/// tables, data inline) has more throughput; this map's reads never wait, and a held
/// [`Ref`] stays valid while writers go on.
///
/// Reads ([`get`](Self::get), [`contains_key`](Self::contains_key), iteration) pin an
/// epoch and load; writes ([`insert`](Self::insert), [`remove`](Self::remove),
/// [`compute`](Self::compute) and its shorthands) lock one bucket for a few stores,
/// putting a new immutable entry in place of the old. Values are never mutated in
/// place, so a [`Ref`] to a value stays valid (and unchanged) while it is held, even if
/// the key is overwritten or removed meanwhile; the value it shows is then the old one.
/// The table doubles past four keys per bucket, incrementally: writers move it over in
/// chunks of buckets while reads and writes go on. It never shrinks (like papaya's).
///
/// The design: cache-line buckets of tagged entry pointers, per-bucket locks for
/// writes, forwarding during resizes after Liu, Zhang and Spear, "Dynamic-Sized
/// Nonblocking Hash Tables" (PODC 2014), chunked cooperative migration after Java's
/// `ConcurrentHashMap`, and [`epoch`] reclamation; the [module](self) says why writes
/// lock.
///
/// # Progress
///
/// - [`get`](Self::get), [`get_cloned`](Self::get_cloned),
///   [`contains_key`](Self::contains_key), the [`HashMapRef`] reads and
///   [`len`](Self::len): **wait-free**. A lookup takes no lock and makes no retries: it
///   loads the bucket's control word, follows one forwarding hop per resize in
///   progress, and scans the bucket's slots (and its overflow groups, if any). (The
///   epoch pin is wait-free; the unpin may run deferred destructors, as everywhere in
///   [`epoch`].)
/// - Iteration: wait-free per bucket, so bounded by the table's size.
/// - [`insert`](Self::insert), [`remove`](Self::remove), [`compute`](Self::compute),
///   [`update`](Self::update), [`get_or_insert_with`](Self::get_or_insert_with) and the
///   other writes, [`retain`](Self::retain), [`clear`](Self::clear): **blocking, per
///   bucket**. A writer holds its bucket's lock for a few stores (never while user code
///   runs, except `K::eq`), and waits only for a writer of the same bucket or the
///   migrator moving it; each write also migrates at most one chunk of buckets. The
///   closure of a `compute` runs again if a write to its key raced with it.
///
/// Writes are linearizable, and so are lookups; `len` is exact when no write is in
/// flight and otherwise somewhere between. `iter`, `retain` and `clear` are not atomic
/// snapshots: they see every key present throughout exactly once, and keys written
/// concurrently maybe.
///
/// # Returned values
///
/// Values are shared with concurrent readers, so the map never hands one out by value:
/// [`insert`](Self::insert) and [`remove`](Self::remove) return the old entry as a
/// [`Ref`] (which keeps it alive by holding an epoch guard), and
/// [`get_cloned`](Self::get_cloned) clones. Hold a `Ref` briefly: while any guard is
/// held by a thread, memory retired by every thread waits.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::thread;
/// use weft_lockfree::HashMap;
///
/// let map = Arc::new(HashMap::new());
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
/// assert_eq!(map.get_cloned(&199).as_deref(), Some("value 199"));
///
/// // Entry-style updates: the closure may run again if another writer races.
/// map.update_or_insert(1000, |old: &String| format!("{old}!"), "first".to_string());
/// map.update_or_insert(1000, |old: &String| format!("{old}!"), "first".to_string());
/// assert_eq!(*map.get(&1000).unwrap(), "first!");
///
/// let old = map.remove(&42).unwrap();
/// assert_eq!((*old.key(), old.value().as_str()), (42, "value 42"));
///
/// // Iterate under one guard.
/// let pinned = map.pin();
/// assert_eq!(pinned.iter().count(), 200);
/// ```
pub struct HashMap<K, V, S = RandomState> {
    /// The current table; never null. Swung forward by the migration's last chunk.
    root: AtomicPtr<Table>,
    hasher: S,
    count: StripedCount,
    /// The map owns `K`s and `V`s (for the drop check), and its `Send`/`Sync` are
    /// spelled out below.
    _marker: PhantomData<(K, V, *const ())>,
}

// SAFETY: the map owns its keys and values; moving it moves them (`K: Send`,
// `V: Send`), and it drops them wherever it is dropped.
unsafe impl<K: Send, V: Send, S: Send> Send for HashMap<K, V, S> {}
// SAFETY: through `&HashMap` a thread reads `&K`/`&V` (`Sync`), inserts or takes out
// keys and values made or dropped on other threads (`Send`, and retired entries are
// dropped by whichever thread runs the epoch's deferred frees), and hashes with `&S`.
unsafe impl<K: Send + Sync, V: Send + Sync, S: Sync> Sync for HashMap<K, V, S> {}

/// What a [`compute`](HashMap::compute) closure asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation<V> {
    /// Store this value (inserting the key or replacing its value).
    Insert(V),
    /// Remove the key (a no-op if it is absent).
    Remove,
    /// Leave the map as it is.
    Abort,
}

/// What a write left, as an entry still protected by the caller's guard.
struct Outcome<'g, K, V> {
    new: Option<&'g Entry<K, V>>,
}

impl<K, V> HashMap<K, V, RandomState> {
    /// An empty map with the default hasher.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: weft_lockfree::HashMap<u32, u32> = weft_lockfree::HashMap::new();
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
    /// let map = weft_lockfree::HashMap::with_capacity(1000);
    /// map.insert("k", 1);
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, RandomState::new())
    }
}

impl<K, V, S> HashMap<K, V, S> {
    /// An empty map hashing with `hasher`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::hash::BuildHasherDefault;
    /// use std::collections::hash_map::DefaultHasher;
    ///
    /// let map = weft_lockfree::HashMap::with_hasher(BuildHasherDefault::<DefaultHasher>::default());
    /// map.insert(1, 'a');
    /// assert_eq!(map.get_cloned(&1), Some('a'));
    /// ```
    pub fn with_hasher(hasher: S) -> Self {
        Self::with_capacity_and_hasher(0, hasher)
    }

    /// An empty map for `capacity` keys, hashing with `hasher`.
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> Self {
        // A table is resized past `KEYS_PER_BUCKET` keys per bucket.
        let buckets = capacity
            .div_ceil(KEYS_PER_BUCKET)
            .max(MIN_BUCKETS)
            .checked_next_power_of_two()
            .expect("capacity overflow");
        let table = Box::into_raw(Box::new(Table::new(buckets)));
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
    /// let map = weft_lockfree::HashMap::new();
    /// map.insert(1, 1);
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

    /// Pins the current thread and returns a handle whose reads and iterators borrow
    /// that one guard (papaya's `pin`).
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::HashMap::new();
    /// map.insert(1, "one");
    /// let pinned = map.pin();
    /// let one: &&str = pinned.get(&1).unwrap();
    /// assert_eq!(*one, "one");
    /// ```
    pub fn pin(&self) -> HashMapRef<'_, K, V, S> {
        HashMapRef::new(self, epoch::pin())
    }

    /// Iterates over the map's entries, which stay valid while `guard` is pinned
    /// (crossbeam-skiplist's `iter`). [`pin`](Self::pin) does the same without a
    /// separate guard.
    ///
    /// Not an atomic snapshot: every key present throughout is visited exactly once;
    /// keys inserted or removed meanwhile may or may not be.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::{HashMap, epoch};
    ///
    /// let map: HashMap<u32, u32> = (0..10).map(|i| (i, i * i)).collect();
    /// let guard = epoch::pin();
    /// let sum: u32 = map.iter(&guard).map(|(_, v)| v).sum();
    /// assert_eq!(sum, 285);
    /// ```
    pub fn iter<'g>(&'g self, guard: &'g Guard) -> Iter<'g, K, V> {
        Iter::new(self.root(guard), guard)
    }

    #[inline]
    fn root<'g>(&self, _guard: &'g Guard) -> &'g Table {
        // Acquire: pairs with the Release CAS that swung the root (and with the
        // constructor's store, ordered by whatever shared the map), so the table is
        // initialized for us.
        let root = self.root.load(Ordering::Acquire);
        // SAFETY: the root is never null; an unlinked root is retired through the
        // epoch, so it outlives the guard that loaded it.
        unsafe { &*root }
    }
}

impl<K, V, S> HashMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    #[inline]
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The entry of `key`, protected by `guard`.
    #[inline]
    fn find<'g, Q>(&'g self, key: &Q, guard: &'g Guard) -> Option<&'g Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        Self::lookup(self.root(guard), hash, key, guard)
    }

    /// The entry of `key` (whose hash is `hash`), looked up from `table` on: no lock,
    /// no retry, one forwarding hop per resize in progress.
    #[inline]
    fn lookup<'g, Q>(
        mut table: &'g Table,
        hash: u64,
        key: &Q,
        guard: &'g Guard,
    ) -> Option<&'g Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let tag = bucket::tag_of(hash);
        loop {
            let head = table.bucket(hash);
            // Acquire: pairs with the Release store of `MOVED` (the derived buckets are
            // then complete) or of the last unlock (a new overflow link).
            let control = head.control.load(Ordering::Acquire);
            if control & MOVED != 0 {
                table = table.next_of_frozen(guard);
                continue;
            }
            // SAFETY: `table` is protected by `guard`.
            for group in unsafe { bucket::chain(head, control) } {
                for slot in &group.slots {
                    // Acquire: pairs with the writer's Release store of the slot, so the
                    // entry's contents are visible.
                    let word = slot.load(Ordering::Acquire);
                    if bucket::may_match(word, tag) {
                        // SAFETY: read after a control load that did not see `MOVED`,
                        // under `guard`: the entry is not freed before `'g` (bucket
                        // invariant 4).
                        let entry = unsafe { &*bucket::entry_of::<K, V>(word) };
                        if entry.may_have(hash) && entry.key.borrow() == key {
                            return Some(entry);
                        }
                    }
                }
            }
            return None;
        }
    }

    /// Returns a guard-holding reference to the value of `key`.
    ///
    /// The [`Ref`] pins the thread until it is dropped, and shows the value as it was
    /// when read, even if the key is overwritten or removed meanwhile.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::HashMap::new();
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
        let guard = epoch::pin();
        let entry = NonNull::from(self.find(key, &guard)?);
        // SAFETY: `entry` was reachable under `guard`, which moves into the `Ref`.
        Some(unsafe { Ref::new(guard, entry) })
    }

    /// Returns a clone of the value of `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::HashMap::new();
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
        let guard = epoch::pin();
        self.find(key, &guard).map(|entry| entry.value.clone())
    }

    /// Whether the map holds `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::HashMap::new();
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
        let guard = epoch::pin();
        self.find(key, &guard).is_some()
    }
}

/// Writes. Keys and values retired by a write are dropped later, by whichever thread
/// runs the epoch's deferred frees, hence `Send + 'static`.
impl<K, V, S> HashMap<K, V, S>
where
    K: Hash + Eq + Send + 'static,
    V: Send + 'static,
    S: BuildHasher,
{
    /// Inserts `key` with `value`; returns the entry it replaced, if any.
    ///
    /// The old value is shared with readers that may still hold it, so it comes back as
    /// a [`Ref`] (holding an epoch guard) rather than by value; clone it if you need to
    /// keep it.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::HashMap::new();
    /// assert!(map.insert(1, "a").is_none());
    /// let old = map.insert(1, "b").unwrap();
    /// assert_eq!(*old, "a");
    /// assert_eq!(*map.get(&1).unwrap(), "b");
    /// ```
    pub fn insert(&self, key: K, value: V) -> Option<Ref<'_, K, V>> {
        let guard = epoch::pin();
        let hash = self.hash(&key);
        let word = bucket::publishable(Entry { hash, key, value });
        // SAFETY: our own entry, not yet published, freed by no one but us.
        let key = unsafe { &(*bucket::entry_of::<K, V>(word)).key };
        let (table, mut held) = self.lock_bucket(self.root_helping(&guard), hash, &guard);
        match held.find::<K, V, K>(hash, key) {
            Some((slot, old)) => {
                // Release: publishes the new entry to readers' Acquire loads.
                slot.store(word, Ordering::Release);
                drop(held);
                let old = bucket::entry_of::<K, V>(old);
                // SAFETY: our store took `old` out of its live slot (invariant 4).
                unsafe { bucket::retire(old, &guard) };
                // SAFETY: retired through `guard`, which moves into the `Ref`.
                Some(unsafe { Ref::new(guard, NonNull::new_unchecked(old.cast_mut())) })
            }
            None => {
                let crowded = held.place(word);
                drop(held);
                self.added(table, crowded, &guard);
                None
            }
        }
    }

    /// Removes `key`; returns its entry, if it was present.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::HashMap::new();
    /// map.insert("k", 5);
    /// assert_eq!(map.remove("k").map(|r| *r), Some(5));
    /// assert!(map.remove("k").is_none());
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<Ref<'_, K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let guard = epoch::pin();
        let hash = self.hash(key);
        let (_, held) = self.lock_bucket(self.root_helping(&guard), hash, &guard);
        let (slot, word) = held.find::<K, V, Q>(hash, key)?;
        // Release: orders the removal after the lock's Acquire for later holders;
        // readers that load `0` need nothing from it.
        slot.store(0, Ordering::Release);
        drop(held);
        let removed = bucket::entry_of::<K, V>(word).cast_mut();
        // SAFETY: our store took the entry out of its live slot (invariant 4).
        unsafe { bucket::retire(removed, &guard) };
        self.count.add(-1);
        // SAFETY: retired through `guard`, which moves into the `Ref`.
        Some(unsafe { Ref::new(guard, NonNull::new_unchecked(removed)) })
    }

    /// The general write: `f` sees the current value of `key` (or `None`) and says what
    /// to do; returns the value the key has afterwards.
    ///
    /// `f` may be called more than once, each time with the then-current value, if
    /// another write to the same bucket races with this one (values it returned for the
    /// lost attempts are dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lockfree::HashMap;
    /// use weft_lockfree::map::Operation;
    ///
    /// let map = HashMap::new();
    /// // Count, and drop the key when the count reaches zero.
    /// let bump = |delta: i32| move |count: Option<&i32>| match count.copied().unwrap_or(0) + delta {
    ///     0 => Operation::Remove,
    ///     n => Operation::Insert(n),
    /// };
    /// assert_eq!(map.compute("x", bump(1)).map(|r| *r), Some(1));
    /// assert_eq!(map.compute("x", bump(1)).map(|r| *r), Some(2));
    /// assert!(map.compute("x", bump(-2)).is_none());
    /// assert!(!map.contains_key("x"));
    /// ```
    pub fn compute<F>(&self, key: K, mut f: F) -> Option<Ref<'_, K, V>>
    where
        F: FnMut(Option<&V>) -> Operation<V>,
    {
        let guard = epoch::pin();
        let outcome = self.compute_inner(key, &guard, |current, returned| {
            drop(returned);
            f(current.map(|entry| &entry.value))
        });
        let new = outcome.new.map(NonNull::from);
        // SAFETY: reachable under `guard`, which moves into the `Ref`.
        new.map(|new| unsafe { Ref::new(guard, new) })
    }

    /// Replaces the value of `key` by `f(old)`, if the key is present; returns the new
    /// value. `f` may run more than once (see [`compute`](Self::compute)).
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::HashMap::new();
    /// assert!(map.update(1, |v: &u32| v + 1).is_none());
    /// map.insert(1, 10);
    /// assert_eq!(map.update(1, |v| v + 1).map(|r| *r), Some(11));
    /// ```
    pub fn update<F>(&self, key: K, mut f: F) -> Option<Ref<'_, K, V>>
    where
        F: FnMut(&V) -> V,
    {
        self.compute(key, |current| match current {
            Some(value) => Operation::Insert(f(value)),
            None => Operation::Abort,
        })
    }

    /// Replaces the value of `key` by `f(old)`, or inserts `value` if the key is
    /// absent (an upsert); returns the value now stored. `f` may run more than once.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::HashMap::new();
    /// for _ in 0..3 {
    ///     map.update_or_insert("hits", |n| n + 1, 1);
    /// }
    /// assert_eq!(*map.get("hits").unwrap(), 3);
    /// ```
    pub fn update_or_insert<F>(&self, key: K, f: F, value: V) -> Ref<'_, K, V>
    where
        F: FnMut(&V) -> V,
    {
        self.update_or_insert_with(key, f, || value)
    }

    /// Like [`update_or_insert`](Self::update_or_insert), making the value to insert
    /// with `make` only if the key is absent (at most once).
    pub fn update_or_insert_with<F, M>(&self, key: K, mut f: F, make: M) -> Ref<'_, K, V>
    where
        F: FnMut(&V) -> V,
        M: FnOnce() -> V,
    {
        let guard = epoch::pin();
        let mut make = Some(make);
        // The made value, kept across retries (it is only made once).
        let mut made: Option<V> = None;
        let mut last_was_made = false;
        let outcome = self.compute_inner(key, &guard, |current, returned| {
            if last_was_made {
                made = returned;
            }
            match current {
                Some(entry) => {
                    last_was_made = false;
                    Operation::Insert(f(&entry.value))
                }
                None => {
                    last_was_made = true;
                    let value = made
                        .take()
                        .unwrap_or_else(|| make.take().expect("made once")());
                    Operation::Insert(value)
                }
            }
        });
        let new = NonNull::from(outcome.new.expect("an insert leaves a value"));
        // SAFETY: reachable under `guard`, which moves into the `Ref`.
        unsafe { Ref::new(guard, new) }
    }

    /// Returns the value of `key`, inserting `value` first if the key is absent
    /// (`value` is dropped if it was present).
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::HashMap::new();
    /// assert_eq!(*map.get_or_insert(1, 'a'), 'a');
    /// assert_eq!(*map.get_or_insert(1, 'b'), 'a');
    /// ```
    pub fn get_or_insert(&self, key: K, value: V) -> Ref<'_, K, V> {
        self.get_or_insert_with(key, || value)
    }

    /// Returns the value of `key`, inserting `make()` first if the key is absent.
    /// `make` runs at most once, and not at all if the key is present.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = weft_lockfree::HashMap::new();
    /// let mut calls = 0;
    /// map.get_or_insert_with("k", || { calls += 1; 1 });
    /// map.get_or_insert_with("k", || { calls += 1; 2 });
    /// assert_eq!((calls, *map.get("k").unwrap()), (1, 1));
    /// ```
    pub fn get_or_insert_with<M>(&self, key: K, make: M) -> Ref<'_, K, V>
    where
        M: FnOnce() -> V,
    {
        let guard = epoch::pin();
        if let Some(entry) = self.find(&key, &guard) {
            let entry = NonNull::from(entry);
            // SAFETY: reachable under `guard`, which moves into the `Ref`.
            return unsafe { Ref::new(guard, entry) };
        }
        let mut make = Some(make);
        let mut made: Option<V> = None;
        let outcome = self.compute_inner(key, &guard, |current, returned| {
            if returned.is_some() {
                made = returned;
            }
            match current {
                Some(_) => Operation::Abort,
                None => Operation::Insert(
                    made.take()
                        .unwrap_or_else(|| make.take().expect("made once")()),
                ),
            }
        });
        let entry = NonNull::from(outcome.new.expect("the key is present afterwards"));
        // SAFETY: reachable under `guard`, which moves into the `Ref`.
        unsafe { Ref::new(guard, entry) }
    }

    /// Keeps only the entries for which `keep` returns `true`.
    ///
    /// Bucket by bucket, not atomically: every key present throughout is offered once,
    /// or again if a concurrent write to its bucket made this one retry.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: weft_lockfree::HashMap<u32, u32> = (0..10).map(|i| (i, i)).collect();
    /// map.retain(|k, _| k % 2 == 0);
    /// assert_eq!(map.len(), 5);
    /// assert!(!map.contains_key(&3));
    /// ```
    pub fn retain<F>(&self, mut keep: F)
    where
        F: FnMut(&K, &V) -> bool,
    {
        let guard = epoch::pin();
        let root = self.root_helping(&guard);
        let mut doomed = Vec::new();
        for index in 0..root.len() {
            self.retain_bucket(root, index, &mut keep, &mut doomed, &guard);
        }
    }

    /// Removes every entry (bucket by bucket; see [`retain`](Self::retain)).
    ///
    /// # Examples
    ///
    /// ```
    /// let map: weft_lockfree::HashMap<u32, u32> = (0..10).map(|i| (i, i)).collect();
    /// map.clear();
    /// assert!(map.is_empty());
    /// ```
    pub fn clear(&self) {
        self.retain(|_, _| false);
    }

    /// Offers the entries of bucket `index` of `table` to `keep` (without the lock, so
    /// `keep` may use the map), then removes, under the lock, those it rejected that are
    /// still there.
    fn retain_bucket<F>(
        &self,
        table: &Table,
        index: usize,
        keep: &mut F,
        doomed: &mut Vec<usize>,
        guard: &Guard,
    ) where
        F: FnMut(&K, &V) -> bool,
    {
        let head = table.at(index);
        // Acquire: as in `lookup`.
        let control = head.control.load(Ordering::Acquire);
        if control & MOVED == 0 {
            doomed.clear();
            // SAFETY: `table` is protected by `guard`.
            for group in unsafe { bucket::chain(head, control) } {
                for slot in &group.slots {
                    // Acquire: as in `lookup`.
                    let word = slot.load(Ordering::Acquire);
                    if word != 0 {
                        // SAFETY: as in `lookup`.
                        let entry = unsafe { &*bucket::entry_of::<K, V>(word) };
                        if !keep(&entry.key, &entry.value) {
                            doomed.push(word);
                        }
                    }
                }
            }
            if doomed.is_empty() {
                return;
            }
            if let Some(control) = bucket::lock(head) {
                let held = Held { head, control };
                let mut removed = 0;
                for group in held.groups() {
                    for slot in &group.slots {
                        // Relaxed: we hold the lock.
                        let word = slot.load(Ordering::Relaxed);
                        if word != 0 && doomed.contains(&word) {
                            // Release: as in `remove`.
                            slot.store(0, Ordering::Release);
                            // SAFETY: our store took it out of its live slot, and the
                            // entry is retired once (invariant 4).
                            unsafe { bucket::retire(bucket::entry_of::<K, V>(word), guard) };
                            removed += 1;
                        }
                    }
                }
                drop(held);
                self.count.add(-removed);
                return;
            }
        }
        // Moved (maybe while `keep` ran): the keys are in the derived buckets now.
        let next = table.next_of_frozen(guard);
        for derived in table.derived(index) {
            self.retain_bucket(next, derived, keep, doomed, guard);
        }
    }

    /// The root, after helping the migration out of it by one chunk if one is running.
    #[inline]
    fn root_helping<'g>(&self, guard: &'g Guard) -> &'g Table {
        let root = self.root(guard);
        if let Some(next) = root.next(guard) {
            self.help_migrate(root, next, guard);
        }
        root
    }

    /// Migrates one chunk of `old` into `next`; the last chunk swings the root.
    #[cold]
    #[inline(never)]
    fn help_migrate(&self, old: &Table, next: &Table, guard: &Guard) {
        if old.migrate_chunk::<K, V>(next) {
            let old = (old as *const Table).cast_mut();
            let next = (next as *const Table).cast_mut();
            // Release: publishes the complete table (every bucket built, carried here
            // by `migrated`'s release sequence) to `root`'s Acquire loads.
            if self
                .root
                .compare_exchange(old, next, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                // SAFETY: unlinked from the root just now, by this thread alone (only
                // the thread that completed the count swings it); every thread that
                // can still reach it pinned before this point.
                unsafe { guard.defer_destroy_raw(old) };
            }
        }
    }

    /// Counts a key just added to `table`, and starts a resize if the bucket it went to
    /// was `crowded` and the table is past its load.
    #[inline]
    fn added(&self, table: &Table, crowded: bool, guard: &Guard) {
        self.count.add(1);
        if crowded {
            self.maybe_grow(table, guard);
        }
    }

    /// Starts a resize of `table` if it is the root, not already resizing, and holds
    /// more than `KEYS_PER_BUCKET` keys per bucket.
    #[cold]
    #[inline(never)]
    fn maybe_grow(&self, table: &Table, guard: &Guard) {
        if !core::ptr::eq(table, self.root(guard)) || table.next(guard).is_some() {
            return;
        }
        if self.len() <= table.len() * KEYS_PER_BUCKET {
            return;
        }
        table.start_resize(Box::new(Table::new(table.len() * 2)));
        if let Some(next) = table.next(guard) {
            self.help_migrate(table, next, guard);
        }
    }

    /// Locks the live bucket for `hash`, starting at `table`: follows moved buckets into
    /// newer tables. Returns the bucket's table and the held lock.
    #[inline]
    fn lock_bucket<'g>(
        &self,
        mut table: &'g Table,
        hash: u64,
        guard: &'g Guard,
    ) -> (&'g Table, Held<'g>) {
        loop {
            let head = table.bucket(hash);
            match bucket::lock(head) {
                Some(control) => return (table, Held { head, control }),
                None => table = table.next_of_frozen(guard),
            }
        }
    }

    /// The write loop behind `compute`: `decide` sees the current entry and, after a
    /// lost race, the value of the attempt that lost (`Some` only after it returned
    /// `Insert`).
    ///
    /// `decide` runs without the lock (it is the caller's code, which may use the map);
    /// the write then takes the lock and applies only if the key's entry is still the
    /// one `decide` saw (pointer identity: no ABA, as no entry seen under `guard` is
    /// freed and reused while it is pinned). Otherwise it starts over.
    fn compute_inner<'g, F>(&'g self, key: K, guard: &'g Guard, mut decide: F) -> Outcome<'g, K, V>
    where
        F: FnMut(Option<&'g Entry<K, V>>, Option<V>) -> Operation<V>,
    {
        let hash = self.hash(&key);
        let mut table = self.root_helping(guard);
        let mut key = key;
        let mut returned = None;
        loop {
            let current = Self::lookup(table, hash, &key, guard);
            let seen = current.map_or(core::ptr::null(), |entry| entry as *const Entry<K, V>);
            match decide(current, returned.take()) {
                Operation::Abort => {
                    return Outcome { new: current };
                }
                Operation::Remove => {
                    if current.is_none() {
                        return Outcome { new: None };
                    }
                    let (live, held) = self.lock_bucket(table, hash, guard);
                    table = live;
                    if let Some((slot, word)) = held.find::<K, V, K>(hash, &key)
                        && bucket::entry_of::<K, V>(word) == seen
                    {
                        // Release: as in `remove`.
                        slot.store(0, Ordering::Release);
                        drop(held);
                        // SAFETY: our store took it out of its live slot (invariant 4).
                        unsafe { bucket::retire(seen, guard) };
                        self.count.add(-1);
                        return Outcome { new: None };
                    }
                }
                Operation::Insert(value) => {
                    let word = bucket::publishable(Entry { hash, key, value });
                    let new = bucket::entry_of::<K, V>(word);
                    let (live, mut held) = self.lock_bucket(table, hash, guard);
                    table = live;
                    // SAFETY: our own entry, not yet published.
                    let found = held.find::<K, V, K>(hash, unsafe { &(*new).key });
                    let still =
                        found.map_or(core::ptr::null(), |(_, old)| bucket::entry_of::<K, V>(old));
                    if still == seen {
                        match found {
                            Some((slot, _)) => {
                                // Release: publishes the new entry to readers.
                                slot.store(word, Ordering::Release);
                                drop(held);
                                // SAFETY: our store took it out of its live slot.
                                unsafe { bucket::retire(seen, guard) };
                            }
                            None => {
                                let crowded = held.place(word);
                                drop(held);
                                self.added(table, crowded, guard);
                            }
                        }
                        return Outcome {
                            // SAFETY: published under `guard`; retired (if ever) only
                            // after a later write, through a guard pinned after ours
                            // began, so alive for `'g`.
                            new: Some(unsafe { &*new }),
                        };
                    }
                    drop(held);
                    // SAFETY: never published; take the key and value back.
                    let Entry { key: k, value, .. } = unsafe { bucket::unpublish::<K, V>(word) };
                    key = k;
                    returned = Some(value);
                }
            }
        }
    }
}

/// A bucket locked by this thread: unlocks (storing its maybe-updated control word)
/// when dropped, also on a panic in `K::eq`.
struct Held<'g> {
    head: &'g Group,
    /// The head's control word without `LOCKED`, as it will be stored at unlock.
    control: usize,
}

impl<'g> Held<'g> {
    fn groups(&self) -> bucket::Chain<'g> {
        // SAFETY: the head's table outlives `'g` (it was reached under a guard), and we
        // hold the lock, so `control` is the head's current link.
        unsafe { bucket::chain(self.head, self.control) }
    }

    /// The slot of `key`, and its word.
    fn find<K, V, Q>(&self, hash: u64, key: &Q) -> Option<(&'g AtomicUsize, usize)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let tag = bucket::tag_of(hash);
        for group in self.groups() {
            for slot in &group.slots {
                // Relaxed: slots are written only under the lock, whose Acquire we did.
                let word = slot.load(Ordering::Relaxed);
                if bucket::may_match(word, tag) {
                    // SAFETY: a live slot's entry; only a lock holder retires it, and
                    // the caller is pinned.
                    let entry = unsafe { &*bucket::entry_of::<K, V>(word) };
                    if entry.may_have(hash) && entry.key.borrow() == key {
                        return Some((slot, word));
                    }
                }
            }
        }
        None
    }

    /// Stores `word` in the first empty slot, adding an overflow group if every slot is
    /// taken. Returns whether the bucket is crowded (the key went to one of its last
    /// slots), the hint to check the table's load.
    fn place(&mut self, word: usize) -> bool {
        let mut last = self.head;
        let mut seen = 0;
        for group in self.groups() {
            for slot in &group.slots {
                // Relaxed: we hold the lock.
                if slot.load(Ordering::Relaxed) == 0 {
                    // Release: publishes the entry to readers' Acquire loads.
                    slot.store(word, Ordering::Release);
                    return cfg!(loom) || seen + 2 >= SLOTS;
                }
                seen += 1;
            }
            last = group;
        }
        let overflow = Box::into_raw(Box::new(Group::new()));
        // SAFETY: fresh and ours; published by the link's Release store below.
        unsafe { (*overflow).slots[0].store(word, Ordering::Relaxed) };
        if core::ptr::eq(last, self.head) {
            // Published by `unlock`'s Release store.
            self.control = bucket::with_overflow(self.control, overflow);
        } else {
            // Release: publishes the group (and its slot) to readers that follow the
            // link with an Acquire load. The table's `Drop` frees it.
            last.control.store(overflow as usize, Ordering::Release);
        }
        true
    }
}

impl Drop for Held<'_> {
    #[inline]
    fn drop(&mut self) {
        bucket::unlock(self.head, self.control);
    }
}

impl<K, V, S> Drop for HashMap<K, V, S> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other thread can reach the tables or entries.
        let guard = unsafe { epoch::unprotected() };
        let mut root = self.root(guard);
        // Finish any migration, so that the root alone holds the live buckets (the
        // older tables' frozen buckets share its entries).
        while let Some(next) = root.next(guard) {
            root.migrate_all::<K, V>(next);
            let old = (root as *const Table).cast_mut();
            // SAFETY: exclusive access; the old table is unreachable once the root
            // moves on, and its `Drop` frees only its frozen arrays.
            drop(unsafe { Box::from_raw(old) });
            self.root
                .store((next as *const Table).cast_mut(), Ordering::Relaxed);
            root = next;
        }
        for index in 0..root.len() {
            let head = root.at(index);
            // SAFETY: exclusive access; the root is alive.
            for group in unsafe { bucket::chain(head, head.control.load(Ordering::Relaxed)) } {
                for slot in &group.slots {
                    let word = slot.swap(0, Ordering::Relaxed);
                    if word != 0 {
                        // SAFETY: the root is complete and not migrating, so every
                        // entry is in exactly one of its slots, and we own them all.
                        unsafe { bucket::free_entry::<K, V>(word) };
                    }
                }
            }
        }
        // SAFETY: the root was made by `Box::into_raw` and is freed once, here.
        drop(unsafe { Box::from_raw((root as *const Table).cast_mut()) });
    }
}

impl<K, V> Default for HashMap<K, V, RandomState> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, S> fmt::Debug for HashMap<K, V, S>
where
    K: fmt::Debug,
    V: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let guard = epoch::pin();
        f.debug_map().entries(self.iter(&guard)).finish()
    }
}

impl<K, V, S> FromIterator<(K, V)> for HashMap<K, V, S>
where
    K: Hash + Eq + Send + 'static,
    V: Send + 'static,
    S: BuildHasher + Default,
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let map = Self::with_capacity_and_hasher(iter.size_hint().0, S::default());
        for (key, value) in iter {
            map.insert(key, value);
        }
        map
    }
}

impl<K, V, S> Extend<(K, V)> for HashMap<K, V, S>
where
    K: Hash + Eq + Send + 'static,
    V: Send + 'static,
    S: BuildHasher,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        (&*self).extend(iter);
    }
}

impl<K, V, S> Extend<(K, V)> for &HashMap<K, V, S>
where
    K: Hash + Eq + Send + 'static,
    V: Send + 'static,
    S: BuildHasher,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

impl<K, V, S> Clone for HashMap<K, V, S>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
    S: BuildHasher + Clone,
{
    fn clone(&self) -> Self {
        let clone = Self::with_capacity_and_hasher(self.len(), self.hasher.clone());
        let guard = epoch::pin();
        for (key, value) in self.iter(&guard) {
            clone.insert(key.clone(), value.clone());
        }
        clone
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

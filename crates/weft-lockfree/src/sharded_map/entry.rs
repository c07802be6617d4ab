//! `Entry`: a key's place in its shard's table, found under the shard's write lock
//! and kept as a bucket index, which stays valid while the lock is held (the table
//! moves slots only when it grows, and only a vacant entry's insert grows it).

use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::mem;
use std::collections::hash_map::RandomState;
use weft_sync::RwLockWriteGuard;

use super::{RefMut, Slot, Table, slot_hasher};

const HELD: &str = "an occupied entry's bucket stays full while its shard is locked";

/// A key's entry in a [`ShardedMap`](super::ShardedMap): occupied or vacant. It holds
/// the key's shard write-locked until it is dropped or turned into a [`RefMut`].
///
/// The closures given to its methods run under that lock: they must not call into
/// the same map (see the map's "Deadlocks").
///
/// # Examples
///
/// ```
/// let map = weft_lockfree::ShardedMap::new();
/// map.entry("a").or_insert(1);
/// map.entry("a").and_modify(|v| *v += 10).or_insert(0);
/// map.entry("b").and_modify(|v| *v += 10).or_insert(0);
/// assert_eq!(map.get_cloned("a"), Some(11));
/// assert_eq!(map.get_cloned("b"), Some(0));
/// ```
#[must_use = "an Entry holds its shard write-locked until dropped"]
pub enum Entry<'a, K, V, S = RandomState> {
    /// The key is in the map.
    Occupied(OccupiedEntry<'a, K, V>),
    /// The key is not in the map.
    Vacant(VacantEntry<'a, K, V, S>),
}

impl<K, V, S> Entry<'_, K, V, S> {
    /// The entry's key (the one in the map if occupied, else the one given).
    pub fn key(&self) -> &K {
        match self {
            Entry::Occupied(entry) => entry.key(),
            Entry::Vacant(entry) => entry.key(),
        }
    }
}

impl<'a, K: Hash, V, S: BuildHasher> Entry<'a, K, V, S> {
    /// The value, inserting `default` first if the key is absent.
    pub fn or_insert(self, default: V) -> RefMut<'a, K, V> {
        match self {
            Entry::Occupied(entry) => entry.into_ref(),
            Entry::Vacant(entry) => entry.insert(default),
        }
    }

    /// The value, inserting `default()` first if the key is absent. `default` runs
    /// under the shard's write lock.
    pub fn or_insert_with(self, default: impl FnOnce() -> V) -> RefMut<'a, K, V> {
        match self {
            Entry::Occupied(entry) => entry.into_ref(),
            Entry::Vacant(entry) => entry.insert(default()),
        }
    }

    /// The value, inserting `V::default()` first if the key is absent.
    pub fn or_default(self) -> RefMut<'a, K, V>
    where
        V: Default,
    {
        self.or_insert_with(V::default)
    }

    /// Runs `f` on the value if the key is present; then the entry, for chaining.
    pub fn and_modify(mut self, f: impl FnOnce(&mut V)) -> Self {
        if let Entry::Occupied(entry) = &mut self {
            f(entry.get_mut());
        }
        self
    }

    /// Sets the value, inserting the key if absent, and returns the value. A value
    /// replaced is dropped before this returns, under the lock.
    pub fn insert(self, value: V) -> RefMut<'a, K, V> {
        match self {
            Entry::Occupied(mut entry) => {
                drop(entry.insert(value));
                entry.into_ref()
            }
            Entry::Vacant(entry) => entry.insert(value),
        }
    }
}

/// The entry of a key present in the map; see [`Entry`].
#[must_use = "an OccupiedEntry holds its shard write-locked until dropped"]
pub struct OccupiedEntry<'a, K, V> {
    table: RwLockWriteGuard<'a, Table<K, V>>,
    /// The key's bucket, full while `table` is locked.
    index: usize,
}

impl<'a, K, V> OccupiedEntry<'a, K, V> {
    pub(super) fn new(table: RwLockWriteGuard<'a, Table<K, V>>, index: usize) -> Self {
        Self { table, index }
    }

    fn slot(&self) -> &Slot<K, V> {
        self.table.get_bucket(self.index).expect(HELD)
    }

    fn slot_mut(&mut self) -> &mut Slot<K, V> {
        self.table.get_bucket_mut(self.index).expect(HELD)
    }

    /// The key in the map.
    pub fn key(&self) -> &K {
        &self.slot().key
    }

    /// The value.
    pub fn get(&self) -> &V {
        &self.slot().value
    }

    /// The value, mutably.
    pub fn get_mut(&mut self) -> &mut V {
        &mut self.slot_mut().value
    }

    /// Replaces the value, returning the old one.
    pub fn insert(&mut self, value: V) -> V {
        mem::replace(self.get_mut(), value)
    }

    /// Turns the entry into a [`RefMut`] to the value, keeping the lock.
    pub fn into_ref(self) -> RefMut<'a, K, V> {
        let index = self.index;
        RefMut::new(RwLockWriteGuard::map(self.table, |table| {
            table.get_bucket_mut(index).expect(HELD)
        }))
    }

    /// Removes the entry, returning the value; the lock is released first, so the
    /// key is dropped unlocked.
    pub fn remove(self) -> V {
        self.remove_entry().1
    }

    /// Removes the entry, returning the key and the value; the lock is released first.
    pub fn remove_entry(self) -> (K, V) {
        let mut table = self.table;
        let slot = match table.get_bucket_entry(self.index) {
            Ok(entry) => entry.remove().0,
            Err(_) => unreachable!("{HELD}"),
        };
        drop(table);
        (slot.key, slot.value)
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for OccupiedEntry<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OccupiedEntry")
            .field("key", self.key())
            .field("value", self.get())
            .finish()
    }
}

/// The entry of a key absent from the map; see [`Entry`].
#[must_use = "a VacantEntry holds its shard write-locked until dropped"]
pub struct VacantEntry<'a, K, V, S = RandomState> {
    table: RwLockWriteGuard<'a, Table<K, V>>,
    hash: u64,
    key: K,
    /// For the table's growth, should this insert fill it.
    hasher: &'a S,
}

impl<'a, K, V, S> VacantEntry<'a, K, V, S> {
    pub(super) fn new(
        table: RwLockWriteGuard<'a, Table<K, V>>,
        hash: u64,
        key: K,
        hasher: &'a S,
    ) -> Self {
        Self {
            table,
            hash,
            key,
            hasher,
        }
    }

    /// The key that would be inserted.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// Gives the key back, releasing the lock.
    pub fn into_key(self) -> K {
        self.key
    }

    /// Inserts the key with `value` and returns the value, keeping the lock.
    pub fn insert(self, value: V) -> RefMut<'a, K, V>
    where
        K: Hash,
        S: BuildHasher,
    {
        let Self {
            table,
            hash,
            key,
            hasher,
        } = self;
        RefMut::new(RwLockWriteGuard::map(table, |table| {
            table
                .insert_unique(hash, Slot { key, value }, slot_hasher(hasher))
                .into_mut()
        }))
    }
}

impl<K: fmt::Debug, V, S> fmt::Debug for VacantEntry<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VacantEntry")
            .field("key", self.key())
            .finish()
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for Entry<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Occupied(entry) => f.debug_tuple("Occupied").field(entry).finish(),
            Entry::Vacant(entry) => f.debug_tuple("Vacant").field(entry).finish(),
        }
    }
}

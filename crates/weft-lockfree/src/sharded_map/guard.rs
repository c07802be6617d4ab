//! `Ref` and `RefMut`: a shard's read or write lock, narrowed to one slot with weft's
//! mapped guards, so they need no `unsafe` of their own.

use core::fmt;
use core::ops::{Deref, DerefMut};
use weft_sync::{MappedRwLockReadGuard, MappedRwLockWriteGuard};

use super::Slot;

/// A shared reference to one entry of a [`ShardedMap`](super::ShardedMap), holding its
/// shard read-locked until dropped. Derefs to the value.
///
/// Writers of that shard wait while it is held, and, since the lock prefers writers,
/// so do new readers once a writer waits: hold it briefly, and never while calling
/// into the same map (see the map's "Deadlocks").
///
/// # Examples
///
/// ```
/// let map = weft_lockfree::ShardedMap::new();
/// map.insert(1, String::from("one"));
/// let entry = map.get(&1).unwrap();
/// assert_eq!(entry.pair(), (&1, &String::from("one")));
/// assert_eq!(entry.len(), 3); // through `Deref<Target = String>`
/// ```
pub struct Ref<'a, K, V> {
    slot: MappedRwLockReadGuard<'a, Slot<K, V>>,
}

impl<'a, K, V> Ref<'a, K, V> {
    #[inline]
    pub(super) fn new(slot: MappedRwLockReadGuard<'a, Slot<K, V>>) -> Self {
        Self { slot }
    }

    /// The key.
    #[inline]
    pub fn key(&self) -> &K {
        &self.slot.key
    }

    /// The value (also what the `Ref` derefs to).
    #[inline]
    pub fn value(&self) -> &V {
        &self.slot.value
    }

    /// The key and the value.
    #[inline]
    pub fn pair(&self) -> (&K, &V) {
        (&self.slot.key, &self.slot.value)
    }
}

impl<K, V> Deref for Ref<'_, K, V> {
    type Target = V;

    #[inline]
    fn deref(&self) -> &V {
        &self.slot.value
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Ref<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ref")
            .field("key", self.key())
            .field("value", self.value())
            .finish()
    }
}

/// An exclusive reference to one entry of a [`ShardedMap`](super::ShardedMap), holding
/// its shard write-locked until dropped. Derefs (mutably) to the value; the key cannot
/// be changed.
///
/// Every other thread using that shard waits while it is held: hold it briefly, and
/// never while calling into the same map (see the map's "Deadlocks").
///
/// # Examples
///
/// ```
/// let map = weft_lockfree::ShardedMap::new();
/// map.insert("k", 1);
/// let mut entry = map.get_mut("k").unwrap();
/// *entry += 1;
/// let (key, value) = entry.pair_mut();
/// *value *= 10;
/// assert_eq!((*key, *entry.value()), ("k", 20));
/// ```
pub struct RefMut<'a, K, V> {
    slot: MappedRwLockWriteGuard<'a, Slot<K, V>>,
}

impl<'a, K, V> RefMut<'a, K, V> {
    #[inline]
    pub(super) fn new(slot: MappedRwLockWriteGuard<'a, Slot<K, V>>) -> Self {
        Self { slot }
    }

    /// The key.
    #[inline]
    pub fn key(&self) -> &K {
        &self.slot.key
    }

    /// The value.
    #[inline]
    pub fn value(&self) -> &V {
        &self.slot.value
    }

    /// The value, mutably (also what the `RefMut` derefs mutably to).
    #[inline]
    pub fn value_mut(&mut self) -> &mut V {
        &mut self.slot.value
    }

    /// The key and the value.
    #[inline]
    pub fn pair(&self) -> (&K, &V) {
        (&self.slot.key, &self.slot.value)
    }

    /// The key, and the value mutably.
    #[inline]
    pub fn pair_mut(&mut self) -> (&K, &mut V) {
        let slot = &mut *self.slot;
        (&slot.key, &mut slot.value)
    }
}

impl<K, V> Deref for RefMut<'_, K, V> {
    type Target = V;

    #[inline]
    fn deref(&self) -> &V {
        &self.slot.value
    }
}

impl<K, V> DerefMut for RefMut<'_, K, V> {
    #[inline]
    fn deref_mut(&mut self) -> &mut V {
        &mut self.slot.value
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for RefMut<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefMut")
            .field("key", self.key())
            .field("value", self.value())
            .finish()
    }
}

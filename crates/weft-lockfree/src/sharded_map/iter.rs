//! Iteration over a `ShardedMap`, one shard at a time: `Iter` (read locks, no
//! `unsafe`), `IterMut` (write locks; the module's one `unsafe`) and the owning
//! `IntoIter`.
//!
//! The items of `Iter` and `IterMut` must keep their shard locked after the iterator
//! moves on, so the iterator keeps its current shard's guard in an `Rc` and every item
//! holds a clone: the shard unlocks when the iterator has left it *and* its last item
//! is dropped. `IterRef` finds its slot again by bucket index (valid while the read
//! lock is held, since only writers move slots). `IterRefMut` cannot: handing out
//! several `&mut` slots of one table through a shared guard is what `IterMut` argues
//! below.

use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use core::slice;
use std::rc::Rc;
use weft_sync::{RwLockReadGuard, RwLockWriteGuard};

use super::{Shard, Slot, Table};

const HELD: &str = "an item's bucket stays full while its shard is locked";

/// An iterator over the entries of a [`ShardedMap`](super::ShardedMap), one shard at a
/// time; see [`ShardedMap::iter`](super::ShardedMap::iter).
#[must_use = "iterators are lazy"]
pub struct Iter<'a, K, V> {
    shards: slice::Iter<'a, Shard<K, V>>,
    /// The shard being visited, read-locked, shared with the items yielded from it.
    table: Option<Rc<RwLockReadGuard<'a, Table<K, V>>>>,
    /// The next bucket of `table` to look at.
    next_bucket: usize,
}

impl<'a, K, V> Iter<'a, K, V> {
    pub(super) fn new(shards: &'a [Shard<K, V>]) -> Self {
        Self {
            shards: shards.iter(),
            table: None,
            next_bucket: 0,
        }
    }
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = IterRef<'a, K, V>;

    fn next(&mut self) -> Option<IterRef<'a, K, V>> {
        loop {
            if let Some(table) = &self.table {
                while self.next_bucket < table.num_buckets() {
                    let index = self.next_bucket;
                    self.next_bucket += 1;
                    if table.get_bucket(index).is_some() {
                        return Some(IterRef {
                            table: Rc::clone(table),
                            index,
                        });
                    }
                }
                self.table = None;
            }
            let table = self.shards.next()?.read();
            if !table.is_empty() {
                self.table = Some(Rc::new(table));
                self.next_bucket = 0;
            }
        }
    }
}

impl<K, V> fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("shards_left", &self.shards.len())
            .finish_non_exhaustive()
    }
}

/// An entry yielded by [`Iter`]: like a [`Ref`](super::Ref), it holds its shard
/// read-locked until dropped (together with the iterator and the other items from the
/// same shard). Derefs to the value.
pub struct IterRef<'a, K, V> {
    table: Rc<RwLockReadGuard<'a, Table<K, V>>>,
    /// The entry's bucket, full while `table` is read-locked.
    index: usize,
}

impl<K, V> IterRef<'_, K, V> {
    fn slot(&self) -> &Slot<K, V> {
        self.table.get_bucket(self.index).expect(HELD)
    }

    /// The key.
    pub fn key(&self) -> &K {
        &self.slot().key
    }

    /// The value (also what the item derefs to).
    pub fn value(&self) -> &V {
        &self.slot().value
    }

    /// The key and the value.
    pub fn pair(&self) -> (&K, &V) {
        let slot = self.slot();
        (&slot.key, &slot.value)
    }
}

impl<K, V> Deref for IterRef<'_, K, V> {
    type Target = V;

    fn deref(&self) -> &V {
        self.value()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for IterRef<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IterRef")
            .field("key", self.key())
            .field("value", self.value())
            .finish()
    }
}

/// An iterator over the entries of a [`ShardedMap`](super::ShardedMap) with mutable
/// values, one shard at a time; see [`ShardedMap::iter_mut`](super::ShardedMap::iter_mut).
///
/// # Why the `unsafe` is sound
///
/// When the iterator enters a shard it takes the write lock, derives `&'a mut Table`
/// from the guard, moves the guard into an `Rc`, and iterates the table with
/// hashbrown's `IterMut`, which yields each slot once, as a distinct `&mut`. That
/// `&mut Table` outlives the guard's borrow as far as the compiler knows, so these
/// invariants carry the proof:
///
/// 1. The table is exclusively ours while the `Rc`'d guard lives: it holds the write
///    lock, and the guard itself is never dereferenced again, so the only paths to the
///    table are `slots` and the slots it yielded.
/// 2. The `Rc` lives as long as anything derived from the table: `slots` (dropped
///    before the guard: it is cleared first in `next`, and declared first, so dropped
///    first) and every [`IterRefMut`], which holds a clone.
/// 3. The table does not move or change shape meanwhile: it is inside the map's shard,
///    borrowed for `'a`, and nothing can grow or shrink it without the lock.
/// 4. Each `IterRefMut` owns its slot alone (hashbrown yields every slot once) and
///    hands out `&mut V` only through `&mut self`, so no two `&mut` to one slot exist.
#[must_use = "iterators are lazy"]
pub struct IterMut<'a, K, V> {
    shards: slice::Iter<'a, Shard<K, V>>,
    /// The slots of the shard being visited (invariant 2: declared before `table`).
    slots: Option<hashbrown::hash_table::IterMut<'a, Slot<K, V>>>,
    /// The shard being visited, write-locked, shared with the items yielded from it.
    table: Option<Rc<RwLockWriteGuard<'a, Table<K, V>>>>,
}

impl<'a, K, V> IterMut<'a, K, V> {
    pub(super) fn new(shards: &'a [Shard<K, V>]) -> Self {
        Self {
            shards: shards.iter(),
            slots: None,
            table: None,
        }
    }
}

impl<'a, K, V> Iterator for IterMut<'a, K, V> {
    type Item = IterRefMut<'a, K, V>;

    fn next(&mut self) -> Option<IterRefMut<'a, K, V>> {
        loop {
            if let (Some(slots), Some(table)) = (&mut self.slots, &self.table)
                && let Some(slot) = slots.next()
            {
                return Some(IterRefMut {
                    slot: NonNull::from(slot),
                    _table: Rc::clone(table),
                    _borrow: PhantomData,
                });
            }
            // Invariant 2: the slots go before the guard that keeps them locked.
            self.slots = None;
            self.table = None;
            let mut guard = self.shards.next()?.write();
            if guard.is_empty() {
                continue;
            }
            let table = NonNull::from(&mut *guard);
            self.table = Some(Rc::new(guard));
            // SAFETY: `table` points into the shard, which the map lends for `'a` and
            // whose write lock the guard now in `self.table` holds (invariants 1 and
            // 3); that guard stays alive while `slots` or any item from it does
            // (invariant 2).
            let table: &'a mut Table<K, V> = unsafe { &mut *table.as_ptr() };
            self.slots = Some(table.iter_mut());
        }
    }
}

impl<K, V> fmt::Debug for IterMut<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IterMut")
            .field("shards_left", &self.shards.len())
            .finish_non_exhaustive()
    }
}

/// An entry yielded by [`IterMut`]: like a [`RefMut`](super::RefMut), it holds its
/// shard write-locked until dropped (together with the iterator and the other items
/// from the same shard). Derefs mutably to the value; the key cannot be changed.
pub struct IterRefMut<'a, K, V> {
    /// This item's slot alone ([`IterMut`]'s invariant 4).
    slot: NonNull<Slot<K, V>>,
    /// Keeps the shard write-locked while `slot` is used ([`IterMut`]'s invariant 2).
    _table: Rc<RwLockWriteGuard<'a, Table<K, V>>>,
    _borrow: PhantomData<&'a mut Slot<K, V>>,
}

impl<K, V> IterRefMut<'_, K, V> {
    fn slot(&self) -> &Slot<K, V> {
        // SAFETY: the slot is this item's alone and locked while `_table` lives
        // (`IterMut`'s invariants 2 and 4); shared through `&self`.
        unsafe { self.slot.as_ref() }
    }

    fn slot_mut(&mut self) -> &mut Slot<K, V> {
        // SAFETY: as in `slot`; exclusive through `&mut self`.
        unsafe { self.slot.as_mut() }
    }

    /// The key.
    pub fn key(&self) -> &K {
        &self.slot().key
    }

    /// The value.
    pub fn value(&self) -> &V {
        &self.slot().value
    }

    /// The value, mutably (also what the item derefs mutably to).
    pub fn value_mut(&mut self) -> &mut V {
        &mut self.slot_mut().value
    }

    /// The key and the value.
    pub fn pair(&self) -> (&K, &V) {
        let slot = self.slot();
        (&slot.key, &slot.value)
    }

    /// The key, and the value mutably.
    pub fn pair_mut(&mut self) -> (&K, &mut V) {
        let slot = self.slot_mut();
        (&slot.key, &mut slot.value)
    }
}

impl<K, V> Deref for IterRefMut<'_, K, V> {
    type Target = V;

    fn deref(&self) -> &V {
        self.value()
    }
}

impl<K, V> DerefMut for IterRefMut<'_, K, V> {
    fn deref_mut(&mut self) -> &mut V {
        self.value_mut()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for IterRefMut<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IterRefMut")
            .field("key", self.key())
            .field("value", self.value())
            .finish()
    }
}

/// The entries of an owned [`ShardedMap`](super::ShardedMap), by value, shard by shard.
#[must_use = "iterators are lazy"]
pub struct IntoIter<K, V> {
    shards: std::vec::IntoIter<Shard<K, V>>,
    slots: Option<hashbrown::hash_table::IntoIter<Slot<K, V>>>,
}

impl<K, V> IntoIter<K, V> {
    pub(super) fn new(shards: Box<[Shard<K, V>]>) -> Self {
        Self {
            shards: shards.into_vec().into_iter(),
            slots: None,
        }
    }
}

impl<K, V> Iterator for IntoIter<K, V> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        loop {
            if let Some(slot) = self.slots.as_mut().and_then(Iterator::next) {
                return Some((slot.key, slot.value));
            }
            let table = self.shards.next()?.into_inner().into_inner();
            self.slots = Some(table.into_iter());
        }
    }
}

impl<K, V> fmt::Debug for IntoIter<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter")
            .field("shards_left", &self.shards.len())
            .finish_non_exhaustive()
    }
}

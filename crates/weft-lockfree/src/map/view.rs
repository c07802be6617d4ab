//! What reads hand out: [`Ref`] (one entry and the guard that keeps it alive),
//! [`HashMapRef`] (a map borrowed under one guard) and [`Iter`].

use core::borrow::Borrow;
use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;
use weft_sync::primitive::atomic::Ordering;

use super::HashMap;
use super::bucket::{self, Entry, MOVED};
use super::table::Table;
use crate::epoch::Guard;

/// A reference to an entry of a [`HashMap`], holding the epoch guard that keeps it
/// alive (dashmap's `Ref`, papaya's guarded `&V`).
///
/// Derefs to the value. The entry is immutable: a concurrent overwrite or remove makes
/// a new entry (or none), and this one keeps showing the value as it was. While the
/// `Ref` lives the thread stays pinned, which holds back reclamation for every thread,
/// so keep it short. `!Send`, like the guard.
///
/// # Examples
///
/// ```
/// let map = weft_lockfree::HashMap::new();
/// map.insert("k", 1);
/// let seen = map.get("k").unwrap();
/// map.insert("k", 2);
/// assert_eq!((*seen.key(), *seen.value()), ("k", 1));
/// assert_eq!(*map.get("k").unwrap(), 2);
/// ```
pub struct Ref<'a, K, V> {
    entry: NonNull<Entry<K, V>>,
    _guard: Guard,
    _map: PhantomData<&'a (K, V)>,
}

impl<'a, K, V> Ref<'a, K, V> {
    /// # Safety
    ///
    /// `entry` was reachable from the map (or retired through `guard`) while `guard`
    /// was pinned, and the map outlives `'a`.
    pub(super) unsafe fn new(guard: Guard, entry: NonNull<Entry<K, V>>) -> Self {
        Self {
            entry,
            _guard: guard,
            _map: PhantomData,
        }
    }

    fn entry(&self) -> &Entry<K, V> {
        // SAFETY: the guard held by `self` keeps the entry from being freed (`new`),
        // and entries are never mutated once published.
        unsafe { self.entry.as_ref() }
    }

    /// The key.
    pub fn key(&self) -> &K {
        &self.entry().key
    }

    /// The value (also what the `Ref` derefs to).
    pub fn value(&self) -> &V {
        &self.entry().value
    }

    /// The key and the value.
    pub fn pair(&self) -> (&K, &V) {
        let entry = self.entry();
        (&entry.key, &entry.value)
    }
}

impl<K, V> Deref for Ref<'_, K, V> {
    type Target = V;
    fn deref(&self) -> &V {
        self.value()
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

/// A [`HashMap`] borrowed under one epoch guard: reads return plain references that
/// live as long as the handle (papaya's `HashMapRef`). Made by [`HashMap::pin`].
///
/// Cheaper than [`HashMap::get`] in a loop (one pin for many reads); the thread stays
/// pinned until the handle drops.
///
/// # Examples
///
/// ```
/// let map: weft_lockfree::HashMap<u32, u32> = (0..4).map(|i| (i, 10 * i)).collect();
/// let pinned = map.pin();
/// let (a, b) = (pinned.get(&1).unwrap(), pinned.get(&2).unwrap());
/// assert_eq!(a + b, 30);
/// let mut keys: Vec<u32> = pinned.iter().map(|(k, _)| *k).collect();
/// keys.sort();
/// assert_eq!(keys, [0, 1, 2, 3]);
/// ```
pub struct HashMapRef<'a, K, V, S> {
    map: &'a HashMap<K, V, S>,
    guard: Guard,
}

impl<'a, K, V, S> HashMapRef<'a, K, V, S> {
    pub(super) fn new(map: &'a HashMap<K, V, S>, guard: Guard) -> Self {
        Self { map, guard }
    }

    /// The map.
    pub fn map(&self) -> &'a HashMap<K, V, S> {
        self.map
    }

    /// The guard the handle holds.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Iterates over the entries under this handle's guard (see [`HashMap::iter`]).
    pub fn iter(&self) -> Iter<'_, K, V> {
        self.map.iter(&self.guard)
    }

    /// See [`HashMap::len`].
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// See [`HashMap::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl<K, V, S> HashMapRef<'_, K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// The value of `key`, valid while the handle lives.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.find(key, &self.guard).map(|entry| &entry.value)
    }

    /// The stored key and the value of `key`.
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map
            .find(key, &self.guard)
            .map(|entry| (&entry.key, &entry.value))
    }

    /// Whether the map holds `key`.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.find(key, &self.guard).is_some()
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for HashMapRef<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'g, K, V, S> IntoIterator for &'g HashMapRef<'_, K, V, S> {
    type Item = (&'g K, &'g V);
    type IntoIter = Iter<'g, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// An iterator over a [`HashMap`]'s entries under one guard; made by
/// [`HashMap::iter`] or [`HashMapRef::iter`].
///
/// Walks the buckets of the table that was the root when it started. A bucket that
/// the migration moved is read from the newer table's buckets derived from it, so a key
/// present throughout is yielded exactly once even while the map resizes.
pub struct Iter<'g, K, V> {
    table: &'g Table,
    guard: &'g Guard,
    /// The next bucket of `table` to read.
    index: usize,
    /// The entries of the bucket being yielded, in reverse.
    pending: Vec<&'g Entry<K, V>>,
    _marker: PhantomData<&'g (K, V)>,
}

impl<'g, K, V> Iter<'g, K, V> {
    pub(super) fn new(table: &'g Table, guard: &'g Guard) -> Self {
        Self {
            table,
            guard,
            index: 0,
            pending: Vec::new(),
            _marker: PhantomData,
        }
    }

    /// Gathers the entries of bucket `index` of `table`: its slots if it is live, else
    /// those of the two buckets derived from it.
    fn gather(&mut self, table: &'g Table, index: usize) {
        let head = table.at(index);
        // Acquire: as in `HashMap::lookup`.
        let control = head.control.load(Ordering::Acquire);
        if control & MOVED != 0 {
            let next = table.next_of_frozen(self.guard);
            for derived in table.derived(index) {
                self.gather(next, derived);
            }
            return;
        }
        // SAFETY: `table` is protected by `guard`.
        for group in unsafe { bucket::chain(head, control) } {
            for slot in &group.slots {
                // Acquire: as in `HashMap::lookup`.
                let word = slot.load(Ordering::Acquire);
                if word != 0 {
                    // SAFETY: read after a control load that did not see `MOVED`, under
                    // `guard` (bucket invariant 4).
                    self.pending
                        .push(unsafe { &*bucket::entry_of::<K, V>(word) });
                }
            }
        }
    }
}

impl<'g, K, V> Iterator for Iter<'g, K, V> {
    type Item = (&'g K, &'g V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.pending.pop() {
                return Some((&entry.key, &entry.value));
            }
            if self.index == self.table.len() {
                return None;
            }
            let index = self.index;
            self.index += 1;
            self.gather(self.table, index);
        }
    }
}

impl<K, V> fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("bucket", &self.index)
            .field("buckets", &self.table.len())
            .finish()
    }
}

//! `Iter`: copies of a [`FlatMap`](super::FlatMap)'s pairs, one bucket at a time.

use core::fmt;

use super::Plain;
use super::group::{self, Read};
use super::table::Table;

/// An iterator over copies of a [`FlatMap`](super::FlatMap)'s pairs, made by
/// [`FlatMap::iter`](super::FlatMap::iter).
///
/// It reads one bucket at a time under the bucket's seqlock and yields that bucket's
/// pairs from a buffer. A bucket that has moved to a newer table is read there instead
/// (both derived buckets), so every key present throughout is yielded exactly once.
pub struct Iter<'m, K, V> {
    root: &'m Table<K, V>,
    /// The next bucket of `root` to read.
    cursor: usize,
    /// Buckets of newer tables still to read, derived from moved ones.
    pending: Vec<(&'m Table<K, V>, usize)>,
    /// The pairs of the last bucket read, not yet yielded.
    buffer: Vec<(K, V)>,
}

impl<'m, K: Plain, V: Plain> Iter<'m, K, V> {
    pub(super) fn new(root: &'m Table<K, V>) -> Self {
        Self {
            root,
            cursor: 0,
            pending: Vec::new(),
            buffer: Vec::new(),
        }
    }

    /// Reads bucket `index` of `table` into the buffer, or queues its derived buckets.
    fn read_bucket(&mut self, table: &'m Table<K, V>, index: usize) {
        let head = table.at(index);
        let buffer = &mut self.buffer;
        // SAFETY: `head` is a bucket of `table`, which lives as long as the map.
        let read = unsafe {
            group::read(head, |group, mut occupied| {
                // Each attempt starts at the head: drop what a failed attempt copied.
                if core::ptr::eq(group, head) {
                    buffer.clear();
                }
                while occupied != 0 {
                    let slot = occupied.trailing_zeros() as usize;
                    occupied &= occupied - 1;
                    let pair = group.pair(slot);
                    buffer.push((pair.key.load(), pair.value.load()));
                }
                None::<()>
            })
        };
        if let Read::Moved = read {
            self.buffer.clear();
            let next = table.next_of_moved();
            self.pending.push((next, index + table.len()));
            self.pending.push((next, index));
        }
    }
}

impl<K: Plain, V: Plain> Iterator for Iter<'_, K, V> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        loop {
            if let Some(pair) = self.buffer.pop() {
                return Some(pair);
            }
            let (table, index) = match self.pending.pop() {
                Some(bucket) => bucket,
                None if self.cursor < self.root.len() => {
                    self.cursor += 1;
                    (self.root, self.cursor - 1)
                }
                None => return None,
            };
            self.read_bucket(table, index);
        }
    }
}

impl<K, V> fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("bucket", &self.cursor)
            .field("of", &self.root.len())
            .finish_non_exhaustive()
    }
}

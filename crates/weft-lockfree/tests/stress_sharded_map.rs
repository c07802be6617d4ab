//! Stress test for `ShardedMap`: threads mixing insert, remove, remove_if, get,
//! get_mut, update, entry and iteration on one small set of overlapping keys. Every
//! value carries a count of the increments it holds and a checksum of (key, count),
//! so a reader can tell a torn or misplaced value. Each thread logs what it added and
//! what it took out (returned by a remove or an overwrite); at the end, for every key,
//! what the map holds plus everything taken out equals everything added, so nothing
//! was lost or counted twice, and every value made was dropped exactly once. Bounded
//! by iteration counts, never by timing.

#![cfg(not(loom))]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use weft_lockfree::ShardedMap;
use weft_lockfree::sharded_map::Entry;

const THREADS: usize = 4;
/// Few keys, so threads collide on keys and not only on shards.
const KEYS: u64 = 64;
const OPERATIONS: usize = if cfg!(debug_assertions) {
    200_000
} else {
    1_000_000
};

fn checksum(key: u64, count: u64) -> u64 {
    (key ^ 0x9E37_79B9_7F4A_7C15)
        .wrapping_mul(count.wrapping_add(0xD6E8_FEB8_6659_FD93))
        .rotate_left(29)
}

#[derive(Debug)]
struct Value {
    key: u64,
    /// Increments this value holds.
    count: u64,
    check: u64,
    drops: Arc<AtomicUsize>,
}

impl Value {
    fn new(key: u64, count: u64, made: &AtomicUsize, drops: &Arc<AtomicUsize>) -> Self {
        made.fetch_add(1, Ordering::Relaxed);
        Self {
            key,
            count,
            check: checksum(key, count),
            drops: Arc::clone(drops),
        }
    }

    fn increment(&mut self) {
        self.assert_consistent(self.key);
        self.count += 1;
        self.check = checksum(self.key, self.count);
    }

    fn assert_consistent(&self, key: u64) {
        assert_eq!(self.key, key, "a value under the wrong key");
        assert_eq!(self.check, checksum(self.key, self.count), "a torn value");
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        self.assert_consistent(self.key);
        // A second drop of the same value would see the poisoned check.
        self.check = !self.check;
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// What one thread did to each key: increments added, increments taken out.
struct Log {
    added: Vec<u64>,
    taken: Vec<u64>,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn worker(
    map: &ShardedMap<u64, Value>,
    seed: u64,
    made: &AtomicUsize,
    drops: &Arc<AtomicUsize>,
) -> Log {
    let mut log = Log {
        added: vec![0; KEYS as usize],
        taken: vec![0; KEYS as usize],
    };
    let mut rng = Rng(seed);
    for round in 0..OPERATIONS {
        let r = rng.next();
        let key = (r >> 8) % KEYS;
        let k = key as usize;
        match r % 16 {
            // Insert a fresh value of 1 increment; an overwritten one is taken out.
            0 => {
                log.added[k] += 1;
                if let Some(old) = map.insert(key, Value::new(key, 1, made, drops)) {
                    old.assert_consistent(key);
                    log.taken[k] += old.count;
                }
            }
            1 => {
                if let Some((removed_key, value)) = map.remove(&key) {
                    assert_eq!(removed_key, key);
                    value.assert_consistent(key);
                    log.taken[k] += value.count;
                }
            }
            2 => {
                if let Some((_, value)) = map.remove_if(&key, |_, value| value.count % 2 == 0) {
                    assert_eq!(value.count % 2, 0);
                    log.taken[k] += value.count;
                }
            }
            3..=5 => {
                let entry = map.entry(key);
                log.added[k] += 1;
                entry
                    .and_modify(Value::increment)
                    .or_insert_with(|| Value::new(key, 1, made, drops))
                    .assert_consistent(key);
            }
            6 => match map.entry(key) {
                Entry::Occupied(entry) => {
                    let value = entry.remove();
                    value.assert_consistent(key);
                    log.taken[k] += value.count;
                }
                Entry::Vacant(entry) => {
                    log.added[k] += 1;
                    drop(entry.insert(Value::new(key, 1, made, drops)));
                }
            },
            7 => {
                if map.update(&key, |_, value| value.increment()).is_some() {
                    log.added[k] += 1;
                }
            }
            8 => {
                if let Some(mut value) = map.get_mut(&key) {
                    value.increment();
                    log.added[k] += 1;
                }
            }
            // Checks only: a reader must never see a torn or misplaced value.
            _ if round % 4096 == 0 => {
                for entry in map.iter() {
                    entry.assert_consistent(*entry.key());
                }
                assert!(map.len() <= KEYS as usize);
            }
            _ => {
                if let Some(value) = map.get(&key) {
                    value.assert_consistent(key);
                    assert_eq!(*value.key(), key);
                }
            }
        }
    }
    log
}

#[test]
fn nothing_lost_duplicated_or_torn() {
    let made = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    // Few shards so that threads also meet on the shard locks of different keys.
    let map = Arc::new(ShardedMap::with_shards(4));
    let logs: Vec<Log> = (0..THREADS)
        .map(|t| {
            let (map, made, drops) = (Arc::clone(&map), Arc::clone(&made), Arc::clone(&drops));
            thread::spawn(move || worker(&map, 0x1234_5678 + t as u64 * 0x9E37, &made, &drops))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().unwrap())
        .collect();

    for key in 0..KEYS {
        let k = key as usize;
        let added: u64 = logs.iter().map(|log| log.added[k]).sum();
        let taken: u64 = logs.iter().map(|log| log.taken[k]).sum();
        let held = map.get(&key).map_or(0, |value| {
            value.assert_consistent(key);
            value.count
        });
        assert_eq!(
            held + taken,
            added,
            "key {key}: increments lost or duplicated"
        );
    }
    assert_eq!(map.iter().count(), map.len());

    let map = Arc::into_inner(map).unwrap();
    let left = map.len();
    assert_eq!(
        made.load(Ordering::Relaxed) - drops.load(Ordering::Relaxed),
        left,
        "values dropped other than once"
    );
    drop(map);
    assert_eq!(made.load(Ordering::Relaxed), drops.load(Ordering::Relaxed));
}

#[test]
fn many_shards_many_keys_exact_contents() {
    // Disjoint key ranges per thread, growing every shard's table from empty while
    // the others write; then the exact contents, through `iter`, `into_iter` and `len`.
    const PER_THREAD: u64 = if cfg!(debug_assertions) {
        20_000
    } else {
        100_000
    };
    let map = Arc::new(ShardedMap::new());
    let writers: Vec<_> = (0..THREADS as u64)
        .map(|t| {
            let map = Arc::clone(&map);
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let key = t * PER_THREAD + i;
                    assert!(map.insert(key, key.to_string()).is_none());
                    if i % 3 == 0 {
                        assert_eq!(map.remove(&key), Some((key, key.to_string())));
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let expected =
        (0..THREADS as u64 * PER_THREAD).filter(|key| !(key % PER_THREAD).is_multiple_of(3));
    assert_eq!(map.len(), expected.clone().count());
    let mut seen = vec![false; THREADS * PER_THREAD as usize];
    for entry in map.iter() {
        assert_eq!(*entry.value(), entry.key().to_string());
        assert!(!std::mem::replace(&mut seen[*entry.key() as usize], true));
    }
    for key in expected.clone() {
        assert!(seen[key as usize], "key {key} missing");
    }
    let map = Arc::into_inner(map).unwrap();
    let mut keys: Vec<u64> = map.into_iter().map(|(key, _)| key).collect();
    keys.sort_unstable();
    assert!(keys.into_iter().eq(expected));
}

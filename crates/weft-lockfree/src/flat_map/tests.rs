//! Unit tests of `FlatMap`: single-threaded semantics, overflow chains, resizes
//! (including one left half done), odd key and value sizes.

use core::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;

use super::*;

/// Sends every key to bucket 0 of every table: all keys share one overflow chain.
#[derive(Default, Clone)]
struct Collide;

impl BuildHasher for Collide {
    type Hasher = ZeroHasher;
    fn build_hasher(&self) -> ZeroHasher {
        ZeroHasher
    }
}

struct ZeroHasher;

impl Hasher for ZeroHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, _: &[u8]) {}
}

#[test]
fn insert_get_overwrite_remove() {
    let map = FlatMap::new();
    assert_eq!(map.get(&1u64), None);
    assert_eq!(map.insert(1u64, 10u64), None);
    assert_eq!(map.insert(2, 20), None);
    assert_eq!(map.insert(1, 11), Some(10));
    assert_eq!(map.len(), 2);
    assert_eq!(map.get(&1), Some(11));
    assert_eq!(map.remove(&1), Some(11));
    assert_eq!(map.remove(&1), None);
    assert_eq!(map.get(&1), None);
    assert_eq!(map.get(&2), Some(20));
    assert_eq!(map.len(), 1);
    // A removed key's slot is reused.
    assert_eq!(map.insert(1, 12), None);
    assert_eq!(map.get(&1), Some(12));
    assert_eq!(map.len(), 2);
}

#[test]
fn grows_through_many_resizes_and_keeps_every_key() {
    let map = FlatMap::new();
    for key in 0..50_000u64 {
        assert_eq!(map.insert(key, !key), None);
    }
    assert_eq!(map.len(), 50_000);
    assert!(map.root().len() >= 50_000 / KEYS_PER_BUCKET);
    for key in 0..50_000u64 {
        assert_eq!(map.get(&key), Some(!key), "key {key}");
    }
    for key in (0..50_000u64).step_by(2) {
        assert_eq!(map.remove(&key), Some(!key));
    }
    assert_eq!(map.len(), 25_000);
    for key in 0..50_000u64 {
        let expected = (key % 2 == 1).then_some(!key);
        assert_eq!(map.get(&key), expected);
    }
}

#[test]
fn one_crowded_bucket_chains_overflow_groups() {
    let map = FlatMap::with_hasher(Collide);
    for key in 0..40u32 {
        map.insert(key, key * 3);
    }
    assert_eq!(map.len(), 40);
    for key in 0..40u32 {
        assert_eq!(map.get(&key), Some(key * 3));
    }
    // Remove from the middle of the chain, then refill the holes.
    for key in (0..40u32).filter(|k| k % 3 == 0) {
        assert_eq!(map.remove(&key), Some(key * 3));
    }
    for key in 0..40u32 {
        assert_eq!(map.get(&key), (key % 3 != 0).then_some(key * 3));
    }
    for key in 100..114u32 {
        map.insert(key, key);
    }
    let mut all: Vec<_> = map.iter().collect();
    all.sort();
    let mut expected: Vec<_> = (0..40u32)
        .filter(|k| k % 3 != 0)
        .map(|k| (k, k * 3))
        .chain((100..114).map(|k| (k, k)))
        .collect();
    expected.sort();
    assert_eq!(all, expected);
    assert_eq!(map.len(), expected.len());
}

#[test]
fn small_and_odd_sized_keys_and_values() {
    let map: FlatMap<u8, [u8; 3]> = FlatMap::new();
    for key in 0..=255u8 {
        map.insert(key, [key, key.wrapping_add(1), key.wrapping_mul(7)]);
    }
    for key in 0..=255u8 {
        assert_eq!(
            map.get(&key),
            Some([key, key.wrapping_add(1), key.wrapping_mul(7)])
        );
    }

    let big: FlatMap<[u64; 3], [u32; 9]> = FlatMap::new();
    for i in 0..1000u64 {
        big.insert([i, i + 1, i + 2], [i as u32; 9]);
    }
    for i in 0..1000u64 {
        assert_eq!(big.get(&[i, i + 1, i + 2]), Some([i as u32; 9]));
    }

    // 16-byte aligned keys and values: the pairs keep their alignment.
    let wide: FlatMap<u128, i128> = FlatMap::new();
    for i in 0..500u128 {
        wide.insert(i << 64 | i, -(i as i128));
    }
    for i in 0..500u128 {
        assert_eq!(wide.get(&(i << 64 | i)), Some(-(i as i128)));
    }

    let set: FlatMap<i16, ()> = (0..100).map(|k| (k, ())).collect();
    assert_eq!(set.len(), 100);
    assert!(set.contains_key(&42));
    assert!(!set.contains_key(&100));
}

#[test]
fn compute_and_shorthands() {
    let map: FlatMap<u32, u64> = FlatMap::new();
    assert_eq!(map.update(1, |v| v + 1), None);
    assert_eq!(map.get_or_insert(1, 5), 5);
    assert_eq!(map.get_or_insert(1, 6), 5);
    assert_eq!(map.update(1, |v| v + 1), Some(6));
    assert_eq!(map.update_or_insert(2, |v| v * 2, 7), 7);
    assert_eq!(map.update_or_insert(2, |v| v * 2, 7), 14);
    assert_eq!(map.compute(2, |_| Operation::Abort), Some(14));
    assert_eq!(map.compute(2, |_| Operation::Remove), None);
    assert_eq!(map.compute(3, |_| Operation::Remove), None);
    assert_eq!(map.len(), 1);
}

#[test]
fn compute_retries_when_the_value_changed_under_it() {
    let map: FlatMap<u32, u64> = FlatMap::new();
    map.insert(1, 0);
    let mut calls = 0;
    let result = map.compute(1, |current| {
        calls += 1;
        if calls == 1 {
            // A write the closure's answer must not overwrite.
            map.insert(1, 100);
        }
        Operation::Insert(current.unwrap() + 1)
    });
    assert_eq!(calls, 2);
    assert_eq!(result, Some(101));
    assert_eq!(map.get(&1), Some(101));
}

#[test]
fn clear_empties_every_table() {
    let map: FlatMap<u64, u64> = (0..5000).map(|k| (k, k)).collect();
    map.clear();
    assert!(map.is_empty());
    assert_eq!(map.iter().count(), 0);
    map.insert(3, 4);
    assert_eq!(map.get(&3), Some(4));
    assert_eq!(map.len(), 1);
}

#[test]
fn reads_writes_and_iteration_through_a_half_done_resize() {
    let map: FlatMap<u64, u64, BuildHasherDefault<std::hash::DefaultHasher>> =
        FlatMap::with_capacity_and_hasher(4 * table::CHUNK, BuildHasherDefault::default());
    let root = map.root();
    assert!(root.len() > table::CHUNK);
    let buckets = root.len() as u64;
    for key in 0..buckets {
        map.insert(key, key);
    }
    assert!(core::ptr::eq(map.root(), root), "no resize yet");
    // Link the next table and move one chunk, as a writer that stalls would leave it.
    root.start_resize();
    let next = root.next().unwrap();
    let hash = |key: &u64| map.hasher().hash_one(key);
    if root.migrate_chunk(next, &hash) {
        panic!("one chunk finished the migration of {buckets} buckets");
    }
    assert!(core::ptr::eq(map.root(), root));
    for key in 0..buckets {
        assert_eq!(map.get(&key), Some(key));
    }
    let mut seen: Vec<_> = map.iter().map(|(k, _)| k).collect();
    seen.sort();
    assert_eq!(seen, (0..buckets).collect::<Vec<_>>());
    // Writes land in whichever table holds the key's live bucket, and help.
    for key in 0..buckets {
        map.insert(key, key + 1);
    }
    for key in 0..buckets {
        assert_eq!(map.get(&key), Some(key + 1));
    }
    assert_eq!(map.len() as u64, buckets);
}

#[test]
fn concurrent_writers_on_disjoint_keys_and_shared_counters() {
    let map = Arc::new(FlatMap::<u64, u64>::new());
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let map = Arc::clone(&map);
            thread::spawn(move || {
                for i in 0..2000 {
                    map.insert(t * 10_000 + i, i);
                    map.update_or_insert(u64::MAX - (i % 8), |n| n + 1, 1);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let all: BTreeMap<u64, u64> = map.iter().collect();
    assert_eq!(all.len(), 4 * 2000 + 8);
    assert_eq!(map.len(), all.len());
    for t in 0..4u64 {
        for i in 0..2000 {
            assert_eq!(all[&(t * 10_000 + i)], i);
        }
    }
    let counted: u64 = (0..8).map(|i| all[&(u64::MAX - i)]).sum();
    assert_eq!(counted, 4 * 2000);
}

#[test]
fn debug_lists_the_pairs() {
    let map = FlatMap::new();
    map.insert(1u8, 2u8);
    assert_eq!(format!("{map:?}"), "{1: 2}");
}

//! Unit tests of `ShardedMap`: every operation, the entry paths, what the guards hold
//! (checked by what other threads can observe, never by timing), iteration counts,
//! and every destructor run exactly once.

use super::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;

/// A value that counts its drops, and is made only through `Counted::new`, which
/// counts makes.
#[derive(Debug)]
struct Counted {
    id: u64,
    drops: Arc<AtomicUsize>,
}

impl Counted {
    fn new(id: u64, drops: &Arc<AtomicUsize>) -> Self {
        Self {
            id,
            drops: Arc::clone(drops),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

fn drops() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn dropped(drops: &AtomicUsize) -> usize {
    drops.load(Ordering::Relaxed)
}

/// Polls until `done`, yielding between polls: for conditions another thread makes
/// true eventually. Never asserts on elapsed time.
fn wait_until(mut done: impl FnMut() -> bool) {
    while !done() {
        thread::yield_now();
    }
}

/// The map's contents, sorted, through `iter`.
fn contents<K: Ord + Clone, V: Clone>(map: &ShardedMap<K, V>) -> BTreeMap<K, V> {
    map.iter()
        .map(|entry| (entry.key().clone(), entry.value().clone()))
        .collect()
}

#[test]
fn insert_get_overwrite() {
    let map = ShardedMap::new();
    assert_eq!(map.insert(1, "a"), None);
    assert_eq!(*map.get(&1).unwrap(), "a");
    assert_eq!(map.insert(1, "b"), Some("a"));
    assert_eq!(*map.get(&1).unwrap(), "b");
    assert_eq!(map.len(), 1);
    assert!(map.get(&2).is_none());
}

#[test]
fn insert_keeps_the_key_already_in_the_map() {
    // Keys equal under `Eq` but told apart by a payload it ignores.
    #[derive(Debug, Clone)]
    struct Tagged(u32, &'static str);
    impl PartialEq for Tagged {
        fn eq(&self, other: &Self) -> bool {
            self.0 == other.0
        }
    }
    impl Eq for Tagged {}
    impl Hash for Tagged {
        fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
            self.0.hash(state);
        }
    }
    let map = ShardedMap::new();
    map.insert(Tagged(1, "first"), 1);
    map.insert(Tagged(1, "second"), 2);
    let entry = map.get(&Tagged(1, "lookup")).unwrap();
    assert_eq!((entry.key().1, *entry.value()), ("first", 2));
}

#[test]
fn borrowed_lookups_get_cloned_and_contains_key() {
    let map = ShardedMap::new();
    map.insert(String::from("k"), vec![1, 2, 3]);
    assert_eq!(map.get_cloned("k"), Some(vec![1, 2, 3]));
    assert_eq!(map.get_cloned("x"), None);
    assert!(map.contains_key("k"));
    assert!(!map.contains_key("x"));
    assert_eq!(
        map.get("k").unwrap().pair(),
        (&String::from("k"), &vec![1, 2, 3])
    );
}

#[test]
fn get_mut_changes_the_value_in_place() {
    let map = ShardedMap::new();
    map.insert("k", vec![1]);
    {
        let mut entry = map.get_mut("k").unwrap();
        entry.push(2);
        entry.value_mut().push(3);
        let (key, value) = entry.pair_mut();
        value.push(key.len());
        assert_eq!(entry.pair(), (&"k", &vec![1, 2, 3, 1]));
        assert_eq!(*entry.key(), "k");
    }
    assert_eq!(map.get_cloned("k"), Some(vec![1, 2, 3, 1]));
    assert!(map.get_mut("absent").is_none());
}

#[test]
fn remove_returns_the_pair() {
    let map = ShardedMap::new();
    map.insert(5, 50);
    assert_eq!(map.remove(&5), Some((5, 50)));
    assert_eq!(map.remove(&5), None);
    assert!(map.is_empty());
    assert!(!map.contains_key(&5));
}

#[test]
fn remove_if_tests_under_the_lock() {
    let map = ShardedMap::new();
    map.insert(1, 10);
    assert_eq!(map.remove_if(&1, |_, value| *value > 10), None);
    assert_eq!(map.get_cloned(&1), Some(10));
    assert_eq!(
        map.remove_if(&1, |key, value| *key == 1 && *value == 10),
        Some((1, 10))
    );
    assert_eq!(map.remove_if(&1, |_, _| true), None);
    assert!(map.is_empty());
}

#[test]
fn update_present_and_absent() {
    let map = ShardedMap::new();
    map.insert("hits", 1);
    assert_eq!(
        map.update("hits", |key, hits| {
            *hits += key.len();
            *hits
        }),
        Some(5)
    );
    let mut ran = false;
    assert_eq!(map.update("misses", |_, _| ran = true), None);
    assert!(!ran);
    assert_eq!(map.get_cloned("hits"), Some(5));
    assert!(!map.contains_key("misses"));
}

#[test]
fn entry_or_insert_paths() {
    let map = ShardedMap::new();
    assert_eq!(*map.entry("a").or_insert(1), 1);
    assert_eq!(*map.entry("a").or_insert(2), 1);

    let mut calls = 0;
    *map.entry("b").or_insert_with(|| {
        calls += 1;
        10
    }) += 1;
    drop(map.entry("b").or_insert_with(|| {
        calls += 1;
        20
    }));
    assert_eq!((calls, map.get_cloned("b")), (1, Some(11)));

    drop(map.entry("c").or_default());
    *map.entry("c").or_default() += 7;
    assert_eq!(map.get_cloned("c"), Some(7));
    assert_eq!(map.len(), 3);
}

#[test]
fn entry_and_modify_insert_and_key() {
    let map = ShardedMap::new();
    drop(map.entry("a").and_modify(|v| *v += 1).or_insert(0));
    drop(map.entry("a").and_modify(|v| *v += 1).or_insert(0));
    assert_eq!(map.get_cloned("a"), Some(1));

    assert_eq!(map.entry("a").key(), &"a");
    assert_eq!(map.entry("z").key(), &"z");
    assert!(
        !map.contains_key("z"),
        "a vacant entry dropped inserts nothing"
    );

    assert_eq!(*map.entry("a").insert(100), 100);
    assert_eq!(*map.entry("n").insert(5), 5);
    assert_eq!(map.get_cloned("a"), Some(100));
    assert_eq!(map.get_cloned("n"), Some(5));
}

#[test]
fn occupied_entry_operations() {
    let map = ShardedMap::new();
    map.insert(String::from("k"), 1);
    let Entry::Occupied(mut entry) = map.entry(String::from("k")) else {
        panic!("k is present");
    };
    assert_eq!((entry.key().as_str(), *entry.get()), ("k", 1));
    *entry.get_mut() += 1;
    assert_eq!(entry.insert(10), 2);
    let mut value = entry.into_ref();
    *value += 1;
    assert_eq!(value.pair(), (&String::from("k"), &11));
    drop(value);

    let Entry::Occupied(entry) = map.entry(String::from("k")) else {
        panic!("k is present");
    };
    assert_eq!(entry.remove(), 11);
    assert!(map.is_empty());

    map.insert(String::from("j"), 3);
    let Entry::Occupied(entry) = map.entry(String::from("j")) else {
        panic!("j is present");
    };
    assert_eq!(entry.remove_entry(), (String::from("j"), 3));
    assert!(map.is_empty());
}

#[test]
fn vacant_entry_operations() {
    let map = ShardedMap::new();
    let Entry::Vacant(entry) = map.entry(String::from("v")) else {
        panic!("v is absent");
    };
    assert_eq!(entry.key(), "v");
    assert_eq!(entry.into_key(), "v");
    assert!(map.is_empty());

    let Entry::Vacant(entry) = map.entry(String::from("v")) else {
        panic!("v is absent");
    };
    let mut value = entry.insert(vec![1]);
    value.push(2);
    drop(value);
    assert_eq!(map.get_cloned("v"), Some(vec![1, 2]));
}

#[test]
fn entries_survive_growth_of_their_shard() {
    // One shard, many vacant-entry inserts: the table grows under `insert_unique`,
    // and the `RefMut` each returns must name the slot it just filled.
    let map = ShardedMap::with_shards(1);
    for i in 0..1000u32 {
        let value = map.entry(i).or_insert(i * 2);
        assert_eq!((*value.key(), *value), (i, i * 2));
    }
    for i in 0..1000u32 {
        assert_eq!(map.get_cloned(&i), Some(i * 2));
    }
}

#[test]
fn retain_keeps_and_changes() {
    let map = ShardedMap::new();
    for i in 0..100 {
        map.insert(i, i);
    }
    map.retain(|key, value| {
        *value *= 10;
        key % 3 == 0
    });
    assert_eq!(map.len(), 34);
    let expected: BTreeMap<_, _> = (0..100)
        .filter(|i| i % 3 == 0)
        .map(|i| (i, i * 10))
        .collect();
    assert_eq!(contents(&map), expected);
}

#[test]
fn clear_len_is_empty_capacity() {
    let map = ShardedMap::with_capacity_and_shards(1000, 4);
    assert!(map.capacity() >= 1000);
    assert!(map.is_empty());
    for i in 0..500 {
        map.insert(i, i);
    }
    assert_eq!(map.len(), 500);
    assert!(!map.is_empty());
    map.clear();
    assert!(map.is_empty());
    assert_eq!(map.len(), 0);
    assert_eq!(map.capacity(), 0, "clear frees the tables");
    map.insert(1, 1);
    assert_eq!(map.len(), 1);
}

#[test]
fn shard_counts_and_the_single_shard_edge() {
    assert!(ShardedMap::<u8, u8>::new().shards().is_power_of_two());
    assert_eq!(ShardedMap::<u8, u8>::default().shards(), default_shards());
    let expected = (4 * thread::available_parallelism().map_or(1, |n| n.get())).next_power_of_two();
    assert_eq!(default_shards(), expected);
    // One shard: the shard index must be 0 for every hash (both shifts stay < 64).
    let map = ShardedMap::with_shards(1);
    for i in 0..100 {
        map.insert(i, i);
    }
    assert_eq!(map.shards[0].read().len(), 100);
    assert_eq!(map.shard_index(u64::MAX), 0);
}

#[test]
fn keys_spread_over_every_shard_from_the_bits_below_the_tag() {
    let map = ShardedMap::with_shards(16);
    for i in 0..16_000 {
        map.insert(i, ());
    }
    for (index, shard) in map.shards.iter().enumerate() {
        let len = shard.read().len();
        assert!((500..1500).contains(&len), "shard {index} holds {len} keys");
    }
    // The shard is bits 56..=53 for 16 shards; the top seven bits (the tag) do not count.
    assert_eq!(map.shard_index(0xFE00_0000_0000_0000), 0);
    assert_eq!(map.shard_index(0x01E0_0000_0000_0000), 15);
    assert_eq!(map.shard_index(0x0100_0000_0000_0000), 8);
    assert_eq!(map.shard_index(0x0020_0000_0000_0000), 1);
    assert_eq!(map.shard_index(0x001F_FFFF_FFFF_FFFF), 0);
}

#[test]
#[should_panic(expected = "power of two")]
fn shards_must_be_a_power_of_two() {
    let _ = ShardedMap::<u8, u8>::with_shards(12);
}

#[test]
#[should_panic(expected = "power of two")]
fn zero_shards_panics() {
    let _ = ShardedMap::<u8, u8>::with_shards(0);
}

#[test]
fn iter_sees_every_entry_once() {
    for shards in [1, 2, 64] {
        let map = ShardedMap::with_shards(shards);
        assert_eq!(map.iter().count(), 0);
        for i in 0..1000u32 {
            map.insert(i, i + 1);
        }
        let mut seen = vec![0u32; 1000];
        for entry in map.iter() {
            assert_eq!(*entry, entry.key() + 1);
            seen[*entry.key() as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n == 1), "{shards} shards");
        assert_eq!((&map).into_iter().count(), 1000);
    }
}

#[test]
fn iter_items_stay_valid_after_the_iterator_moves_on() {
    let map = ShardedMap::with_shards(8);
    for i in 0..100 {
        map.insert(i, i.to_string());
    }
    let items: Vec<_> = map.iter().collect();
    assert_eq!(items.len(), 100);
    for item in &items {
        assert_eq!(*item.value(), item.key().to_string());
        assert_eq!(item.pair().1.parse::<i32>().unwrap(), *item.key());
    }
    drop(items);
    // Every shard was released: writes go through.
    for i in 0..100 {
        map.insert(i, String::new());
    }
    assert!(map.iter().all(|item| item.is_empty()));
}

#[test]
fn iter_mut_changes_every_value_once() {
    let map = ShardedMap::with_shards(4);
    assert_eq!(map.iter_mut().count(), 0);
    for i in 0..500u64 {
        map.insert(i, i);
    }
    let mut visits = 0;
    for mut entry in map.iter_mut() {
        let key = *entry.key();
        *entry += 1000;
        let (k, value) = entry.pair_mut();
        *value += k;
        assert_eq!(*entry.value(), 2 * key + 1000);
        visits += 1;
    }
    assert_eq!(visits, 500);
    // Items kept past the iterator keep their `&mut` valid.
    let mut items: Vec<_> = map.iter_mut().collect();
    for item in &mut items {
        *item.value_mut() = 0;
    }
    drop(items);
    assert!(map.iter().all(|entry| *entry == 0));
    assert_eq!(map.len(), 500);
}

#[test]
fn into_iter_takes_every_entry_and_drops_the_rest() {
    let drops = drops();
    let map = ShardedMap::with_shards(4);
    for i in 0..100 {
        map.insert(i, Counted::new(i, &drops));
    }
    let mut taken = BTreeMap::new();
    let mut iter = map.into_iter();
    for _ in 0..40 {
        let (key, value) = iter.next().unwrap();
        assert_eq!(key, value.id);
        taken.insert(key, value);
    }
    drop(iter);
    assert_eq!(dropped(&drops), 60);
    drop(taken);
    assert_eq!(dropped(&drops), 100);

    let map: ShardedMap<_, _> = (0..50).map(|i| (i, i)).collect();
    let all: BTreeMap<_, _> = map.into_iter().collect();
    assert_eq!(all, (0..50).map(|i| (i, i)).collect());
}

#[test]
fn extend_from_iter_debug_default_clone() {
    let mut map: ShardedMap<u32, String> = ShardedMap::default();
    map.extend([(1, String::from("one")), (2, String::from("two"))]);
    (&map).extend([(3, String::from("three"))]);
    assert_eq!(map.len(), 3);

    let copy = map.clone();
    map.insert(1, String::from("uno"));
    map.remove(&2);
    assert_eq!(copy.get_cloned(&1).as_deref(), Some("one"));
    assert_eq!(copy.len(), 3);
    assert_eq!(copy.shards(), map.shards());

    let single: ShardedMap<u32, u32> = [(7, 8)].into_iter().collect();
    assert_eq!(format!("{single:?}"), "{7: 8}");
    assert_eq!(
        format!("{:?}", single.get(&7).unwrap()),
        "Ref { key: 7, value: 8 }"
    );
    assert_eq!(
        format!("{:?}", single.get_mut(&7).unwrap()),
        "RefMut { key: 7, value: 8 }"
    );
    assert!(format!("{:?}", single.entry(7)).starts_with("Occupied"));
    assert!(format!("{:?}", single.entry(9)).starts_with("Vacant"));
    assert!(format!("{:?}", single.iter()).starts_with("Iter"));
}

#[test]
fn a_held_ref_lets_other_readers_in() {
    // One shard, so every key shares the lock the `Ref` holds.
    let map = Arc::new(ShardedMap::with_shards(1));
    map.insert(1, String::from("one"));
    map.insert(2, String::from("two"));
    let held = map.get(&1).unwrap();
    let reader = {
        let map = Arc::clone(&map);
        thread::spawn(move || {
            let same = map.get_cloned(&1);
            let other = map.get(&2).map(|value| value.len());
            (same, other, map.contains_key(&1))
        })
    };
    // The reader finishes while `held` is still held: readers share the shard.
    let result = reader.join().unwrap();
    assert_eq!(result, (Some(String::from("one")), Some(3), true));
    assert_eq!(*held, "one");
}

#[test]
fn a_writer_waits_until_the_ref_is_dropped() {
    let map = Arc::new(ShardedMap::with_shards(1));
    map.insert(1, 10);
    let held = map.get(&1).unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    let writer = {
        let map = Arc::clone(&map);
        thread::spawn(move || {
            let old = map.insert(2, 20);
            done_tx.send(old).unwrap();
        })
    };
    // A waiting writer shuts out new readers (the lock prefers writers): once a
    // `try_read` of the shard fails, the writer is provably waiting for `held`.
    wait_until(|| map.shards[0].try_read().is_none());
    assert!(
        done_rx.try_recv().is_err(),
        "the write went past a held Ref"
    );
    assert_eq!(*held, 10);
    drop(held);
    assert_eq!(done_rx.recv().unwrap(), None);
    writer.join().unwrap();
    assert_eq!(map.get_cloned(&2), Some(20));
}

#[test]
fn iter_items_hold_their_shard_read_locked() {
    let map = Arc::new(ShardedMap::with_shards(1));
    map.insert(1, 1);
    let item = map.iter().next().unwrap();
    let writer = {
        let map = Arc::clone(&map);
        thread::spawn(move || map.insert(1, 2))
    };
    wait_until(|| map.shards[0].try_read().is_none());
    assert_eq!(*item, 1);
    drop(item);
    assert_eq!(writer.join().unwrap(), Some(1));
    assert_eq!(map.get_cloned(&1), Some(2));
}

#[test]
fn a_reader_sees_what_a_ref_mut_wrote_before_it_dropped() {
    let map = Arc::new(ShardedMap::with_shards(1));
    map.insert(1, 0);
    let mut held = map.get_mut(&1).unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let reader = {
        let map = Arc::clone(&map);
        thread::spawn(move || {
            started_tx.send(()).unwrap();
            map.get_cloned(&1)
        })
    };
    started_rx.recv().unwrap();
    for _ in 0..100 {
        thread::yield_now();
    }
    assert!(!reader.is_finished(), "a read went past a held RefMut");
    // Written after the reader started: it can only read once `held` is dropped, so it
    // must see this.
    *held = 42;
    drop(held);
    assert_eq!(reader.join().unwrap(), Some(42));
}

#[test]
fn an_entry_holds_its_shard_write_locked() {
    let map = Arc::new(ShardedMap::with_shards(1));
    let entry = map.entry(1);
    let (started_tx, started_rx) = mpsc::channel();
    let other = {
        let map = Arc::clone(&map);
        thread::spawn(move || {
            started_tx.send(()).unwrap();
            // Either the entry's insert happened first (then this sees 1 and leaves
            // it) or this would have inserted first; only the first can happen.
            *map.entry(1).or_insert(2)
        })
    };
    started_rx.recv().unwrap();
    for _ in 0..100 {
        thread::yield_now();
    }
    assert!(!other.is_finished(), "an entry went past a held Entry");
    drop(entry.or_insert(1));
    assert_eq!(other.join().unwrap(), 1);
}

#[test]
fn guards_on_different_shards_do_not_block_each_other() {
    let map = Arc::new(ShardedMap::with_shards(64));
    for i in 0..1000u32 {
        map.insert(i, i);
    }
    let held = map.get_mut(&0).unwrap();
    let held_shard = map.shard_index(map.hash(&0u32));
    let other_key = (1..1000u32)
        .find(|key| map.shard_index(map.hash(key)) != held_shard)
        .unwrap();
    let writer = {
        let map = Arc::clone(&map);
        thread::spawn(move || map.insert(other_key, 0))
    };
    // Finishes while `held` is held.
    assert_eq!(writer.join().unwrap(), Some(other_key));
    drop(held);
}

#[test]
fn every_value_dropped_once_remove_overwrite_clear_drop() {
    let drops = drops();
    let map = ShardedMap::with_shards(4);
    for i in 0..100 {
        assert!(map.insert(i, Counted::new(i, &drops)).is_none());
    }
    assert_eq!(dropped(&drops), 0);

    // Overwrite: the old value comes back to the caller and drops there, once.
    let old = map.insert(0, Counted::new(1000, &drops)).unwrap();
    assert_eq!((old.id, dropped(&drops)), (0, 0));
    drop(old);
    assert_eq!(dropped(&drops), 1);

    // Remove.
    let (key, value) = map.remove(&1).unwrap();
    assert_eq!((key, value.id), (1, 1));
    drop(value);
    assert_eq!(dropped(&drops), 2);
    assert!(map.remove(&1).is_none());
    assert!(map.remove_if(&2, |_, _| false).is_none());
    drop(map.remove_if(&2, |_, _| true));
    assert_eq!(dropped(&drops), 3);

    // Entry replacement and removal.
    drop(map.entry(3).insert(Counted::new(3000, &drops)));
    assert_eq!(dropped(&drops), 4);
    if let Entry::Occupied(entry) = map.entry(4) {
        drop(entry.remove());
    }
    assert_eq!(dropped(&drops), 5);
    // An `or_insert` on an occupied entry drops the unused default.
    drop(map.entry(5).or_insert(Counted::new(5000, &drops)));
    assert_eq!(dropped(&drops), 6);

    // Retain drops what it removes.
    map.retain(|key, _| *key >= 10);
    assert_eq!(dropped(&drops), 6 + 7); // keys 0, 3 and 5..=9 (1, 2 and 4 are gone)
    assert_eq!(map.len(), 90);

    // Clear drops the 90 left; dropping the map drops what was inserted since.
    map.clear();
    assert_eq!(dropped(&drops), 103);
    for i in 0..50 {
        map.insert(i, Counted::new(i, &drops));
    }
    assert_eq!(map.iter().count(), 50);
    drop(map);
    // 100 + 50 values were made, plus 1000, 3000 and 5000.
    assert_eq!(dropped(&drops), 153);
}

#[test]
fn clone_clones_each_value_and_drops_are_independent() {
    let drops = drops();
    #[derive(Debug)]
    struct Cloned(Counted);
    impl Clone for Cloned {
        fn clone(&self) -> Self {
            Cloned(Counted::new(self.0.id, &self.0.drops))
        }
    }
    let map = ShardedMap::with_shards(2);
    for i in 0..10 {
        map.insert(i, Cloned(Counted::new(i, &drops)));
    }
    let copy = map.clone();
    drop(map);
    assert_eq!(dropped(&drops), 10);
    assert_eq!(copy.get(&3).unwrap().0.id, 3);
    drop(copy);
    assert_eq!(dropped(&drops), 20);
}

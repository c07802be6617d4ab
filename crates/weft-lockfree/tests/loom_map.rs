//! Loom models of `HashMap`: a reader racing a writer sees the old or the new value,
//! whole; inserts and removes racing on one key leave a consistent map; resizes racing
//! with reads and writes lose nothing; no value is used after it is freed, and every
//! value is freed exactly once.
//!
//! Under loom the smallest table has two buckets and the migration moves one bucket
//! per chunk, so a third key starts a resize that the models interleave with.
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!  cargo test --release -p weft-lockfree --test loom_map`
#![cfg(loom)]

use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use weft_lockfree::{HashMap, epoch};

/// Deterministic hashing: loom replays executions and needs the same buckets each time.
type Map = HashMap<u32, Value, BuildHasherDefault<DefaultHasher>>;

/// A value whose destruction is a tracked write: loom reports a causality violation if
/// it is not ordered after a reader's tracked read (a use after free).
struct Value {
    value: UnsafeCell<usize>,
    drops: Arc<AtomicUsize>,
}

// SAFETY: `value` is written only by `drop`, which the map and the collector order
// after every reader.
unsafe impl Sync for Value {}

impl Value {
    fn new(value: usize, drops: &Arc<AtomicUsize>) -> Self {
        Self {
            value: UnsafeCell::new(value),
            drops: Arc::clone(drops),
        }
    }

    fn read(&self) -> usize {
        // SAFETY: loom checks this read against the write in `drop`.
        self.value.with(|value| unsafe { *value })
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        // SAFETY: `&mut self`; loom checks the write against concurrent readers.
        self.value.with_mut(|value| unsafe { *value = usize::MAX });
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// Hands this thread's retired values to the collector. Under loom a thread's
/// thread-locals (and so its bag of retired objects) are destroyed only when the whole
/// execution ends, so each spawned thread flushes before it returns.
fn flush_bag() {
    epoch::pin().flush();
}

fn new_map() -> Arc<Map> {
    Arc::new(HashMap::with_hasher(BuildHasherDefault::default()))
}

/// Drops the map and runs the deferred frees; returns how many values were dropped.
fn teardown(map: Arc<Map>, drops: &AtomicUsize) -> usize {
    drop(Arc::try_unwrap(map).ok().expect("threads joined"));
    for _ in 0..3 {
        epoch::pin().flush();
    }
    drops.load(Ordering::SeqCst)
}

#[test]
fn get_sees_old_or_new_value_whole() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let map = new_map();
        map.insert(1, Value::new(10, &drops));
        let reader = {
            let map = Arc::clone(&map);
            thread::spawn(move || {
                let seen = map.get(&1).expect("key 1 is always present").read();
                assert!(seen == 10 || seen == 20, "read {seen}");
                flush_bag();
            })
        };
        let old = map.insert(1, Value::new(20, &drops)).expect("replaced");
        assert_eq!(old.read(), 10);
        drop(old);
        // Retire-and-flush while the reader may still hold its `Ref`.
        epoch::pin().flush();
        reader.join().unwrap();
        assert_eq!(map.get(&1).unwrap().read(), 20);
        assert_eq!(teardown(map, &drops), 2);
    });
}

#[test]
fn insert_and_remove_race_on_one_key() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let map = new_map();
        let remover = {
            let map = Arc::clone(&map);
            thread::spawn(move || {
                let removed = map.remove(&7).map(|removed| removed.read());
                flush_bag();
                removed
            })
        };
        let replaced = map.insert(7, Value::new(70, &drops)).map(|r| r.read());
        assert_eq!(replaced, None, "nothing else inserts key 7");
        let removed = remover.join().unwrap();
        let present = map.get(&7).map(|v| v.read());
        match removed {
            Some(value) => {
                assert_eq!(value, 70);
                assert_eq!(present, None);
                assert_eq!(map.len(), 0);
            }
            None => {
                assert_eq!(present, Some(70));
                assert_eq!(map.len(), 1);
            }
        }
        assert_eq!(teardown(map, &drops), 1);
    });
}

#[test]
fn resize_racing_with_get() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let map = new_map();
        map.insert(1, Value::new(1, &drops));
        map.insert(2, Value::new(2, &drops));
        let reader = {
            let map = Arc::clone(&map);
            thread::spawn(move || {
                assert_eq!(map.get(&1).map(|v| v.read()), Some(1));
                assert_eq!(map.get(&2).map(|v| v.read()), Some(2));
                flush_bag();
            })
        };
        // The third key starts a resize and migrates one bucket; the fourth migrates
        // the other, swings the root and retires the old table.
        map.insert(3, Value::new(3, &drops));
        map.insert(4, Value::new(4, &drops));
        epoch::pin().flush();
        reader.join().unwrap();
        for key in 1..=4 {
            assert_eq!(map.get(&key).map(|v| v.read()), Some(key as usize));
        }
        assert_eq!(teardown(map, &drops), 4);
    });
}

#[test]
fn writers_racing_through_a_resize() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let map = new_map();
        map.insert(1, Value::new(1, &drops));
        map.insert(2, Value::new(2, &drops));
        let writer = {
            let map = Arc::clone(&map);
            let drops = Arc::clone(&drops);
            thread::spawn(move || {
                // Starts the resize (third key) ...
                map.insert(3, Value::new(3, &drops));
                flush_bag();
            })
        };
        // ... while this thread overwrites and removes keys in buckets that may be
        // frozen, being built, or not migrated yet.
        let old = map.insert(1, Value::new(11, &drops)).map(|v| v.read());
        assert_eq!(old, Some(1));
        assert_eq!(map.remove(&2).map(|v| v.read()), Some(2));
        writer.join().unwrap();
        assert_eq!(map.get(&1).map(|v| v.read()), Some(11));
        assert_eq!(map.get(&2).map(|v| v.read()), None);
        assert_eq!(map.get(&3).map(|v| v.read()), Some(3));
        assert_eq!(map.len(), 2);
        assert_eq!(teardown(map, &drops), 4);
    });
}

#[test]
fn concurrent_updates_all_land() {
    loom::model(|| {
        let map: Arc<HashMap<u32, u32, BuildHasherDefault<DefaultHasher>>> =
            Arc::new(HashMap::with_hasher(BuildHasherDefault::default()));
        let other = {
            let map = Arc::clone(&map);
            thread::spawn(move || {
                map.update_or_insert(5, |n| n + 1, 1);
            })
        };
        map.update_or_insert(5, |n| n + 1, 1);
        other.join().unwrap();
        assert_eq!(map.get_cloned(&5), Some(2));
    });
}

#[test]
fn iteration_racing_with_a_resize_sees_each_key_once() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let map = new_map();
        map.insert(1, Value::new(1, &drops));
        map.insert(2, Value::new(2, &drops));
        let iterator = {
            let map = Arc::clone(&map);
            thread::spawn(move || {
                let pinned = map.pin();
                let mut keys: Vec<u32> = pinned
                    .iter()
                    .map(|(key, value)| {
                        assert_eq!(value.read(), *key as usize);
                        *key
                    })
                    .filter(|key| *key <= 2)
                    .collect();
                keys.sort_unstable();
                assert_eq!(keys, [1, 2], "keys present throughout are seen once");
                drop(pinned);
                flush_bag();
            })
        };
        map.insert(3, Value::new(3, &drops));
        map.insert(4, Value::new(4, &drops));
        iterator.join().unwrap();
        assert_eq!(teardown(map, &drops), 4);
    });
}

#[test]
fn two_writers_start_the_same_resize() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let map = new_map();
        map.insert(1, Value::new(1, &drops));
        map.insert(2, Value::new(2, &drops));
        let other = {
            let map = Arc::clone(&map);
            let drops = Arc::clone(&drops);
            thread::spawn(move || {
                map.insert(3, Value::new(3, &drops));
                flush_bag();
            })
        };
        map.insert(4, Value::new(4, &drops));
        other.join().unwrap();
        for key in 1..=4 {
            assert_eq!(map.get(&key).map(|v| v.read()), Some(key as usize));
        }
        assert_eq!(map.len(), 4);
        assert_eq!(teardown(map, &drops), 4);
    });
}

/// Keys that all land in bucket `bucket` of a table of `buckets` buckets (the models'
/// hasher is deterministic), found before the model runs.
fn keys_in_one_bucket(buckets: u64, count: usize) -> Vec<u32> {
    use std::hash::BuildHasher;
    let hasher = BuildHasherDefault::<DefaultHasher>::default();
    let home = hasher.hash_one(0u32) % buckets;
    (0u32..)
        .filter(|key| hasher.hash_one(key) % buckets == home)
        .take(count)
        .collect()
}

fn overflow_map(keys: &[u32], drops: &Arc<AtomicUsize>) -> Arc<Map> {
    // A table of eight buckets holds the models' three keys without resizing; under
    // loom a bucket has two slots, so the third key links an overflow group.
    let map: Arc<Map> = Arc::new(HashMap::with_capacity_and_hasher(
        8,
        BuildHasherDefault::default(),
    ));
    map.insert(keys[0], Value::new(0, drops));
    map.insert(keys[1], Value::new(1, drops));
    map
}

#[test]
fn a_bucket_overflowing_while_read() {
    let keys = keys_in_one_bucket(8, 3);
    loom::model(move || {
        let drops = Arc::new(AtomicUsize::new(0));
        let map = overflow_map(&keys, &drops);
        let reader = {
            let (map, keys) = (Arc::clone(&map), keys.clone());
            thread::spawn(move || {
                // Present throughout: never missed while the bucket grows a group.
                assert_eq!(map.get(&keys[1]).map(|r| r.read()), Some(1));
                if let Some(value) = map.get(&keys[2]) {
                    assert_eq!(value.read(), 2);
                }
                flush_bag();
            })
        };
        assert!(map.insert(keys[2], Value::new(2, &drops)).is_none());
        reader.join().unwrap();
        assert_eq!(map.get(&keys[2]).unwrap().read(), 2);
        assert_eq!(map.len(), 3);
        assert_eq!(teardown(map, &drops), 3);
    });
}

#[test]
fn a_bucket_overflowing_while_emptied() {
    // The third key goes to an overflow group or to the head slot the removal reopens;
    // either way it is there once, and reinserting the removed key does not duplicate.
    let keys = keys_in_one_bucket(8, 3);
    loom::model(move || {
        let drops = Arc::new(AtomicUsize::new(0));
        let map = overflow_map(&keys, &drops);
        let remover = {
            let (map, key) = (Arc::clone(&map), keys[0]);
            thread::spawn(move || {
                assert_eq!(map.remove(&key).map(|r| r.read()), Some(0));
                flush_bag();
            })
        };
        assert!(map.insert(keys[2], Value::new(2, &drops)).is_none());
        remover.join().unwrap();
        assert!(map.get(&keys[0]).is_none());
        assert_eq!(map.get(&keys[1]).unwrap().read(), 1);
        assert_eq!(map.get(&keys[2]).unwrap().read(), 2);
        assert_eq!(map.len(), 2);
        assert!(map.insert(keys[0], Value::new(3, &drops)).is_none());
        assert_eq!(map.pin().iter().count(), 3);
        assert_eq!(teardown(map, &drops), 4);
    });
}

#[test]
fn an_update_racing_an_insert_is_revalidated() {
    // `update`'s closure runs without the lock; if the insert lands between the closure
    // and the write, the write must notice (pointer identity) and run it again.
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let map = new_map();
        map.insert(5, Value::new(1, &drops));
        let runs = Arc::new(AtomicUsize::new(0));
        let updater = {
            let (map, drops, runs) = (Arc::clone(&map), Arc::clone(&drops), Arc::clone(&runs));
            thread::spawn(move || {
                let new = map
                    .update(5, |old| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        Value::new(old.read() + 100, &drops)
                    })
                    .map(|r| r.read());
                flush_bag();
                new
            })
        };
        assert!(map.insert(5, Value::new(2, &drops)).is_some());
        let updated = updater.join().unwrap();
        let last = map.get(&5).unwrap().read();
        // Either order, never an update of a value that was already replaced.
        match updated {
            Some(101) => assert_eq!(last, 2, "the update came first"),
            Some(102) => assert_eq!(last, 102, "the insert came first"),
            other => panic!("updated to {other:?}"),
        }
        // Made: 1, 2 and one value per run of the closure (a lost attempt's is dropped
        // at once); each is dropped exactly once by the end.
        let made = 2 + runs.load(Ordering::SeqCst);
        assert_eq!(teardown(map, &drops), made);
    });
}

#[test]
fn retain_racing_with_writes_keeps_the_rest() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let map = new_map();
        map.insert(1, Value::new(1, &drops));
        map.insert(2, Value::new(2, &drops));
        let writer = {
            let (map, drops) = (Arc::clone(&map), Arc::clone(&drops));
            thread::spawn(move || {
                map.insert(2, Value::new(20, &drops));
                flush_bag();
            })
        };
        // Drop odd values: key 1 goes; key 2 stays, whether retain sees 2 or 20.
        map.retain(|_, value| value.read() % 2 == 0);
        writer.join().unwrap();
        assert!(map.get(&1).is_none());
        assert_eq!(map.get(&2).unwrap().read(), 20);
        assert_eq!(map.len(), 1);
        assert_eq!(teardown(map, &drops), 3);
    });
}

//! Unit tests of `HashMap`, one or more per operation, and of resizing.

use super::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize as StdAtomicUsize;

#[test]
fn insert_get_overwrite() {
    let map = HashMap::new();
    assert!(map.insert(1, "a").is_none());
    assert_eq!(*map.get(&1).unwrap(), "a");
    let old = map.insert(1, "b").expect("replaced");
    assert_eq!(old.pair(), (&1, &"a"));
    assert_eq!(*map.get(&1).unwrap(), "b");
    assert_eq!(map.len(), 1);
    assert!(map.get(&2).is_none());
}

#[test]
fn get_cloned_and_contains_key() {
    let map = HashMap::new();
    map.insert(String::from("k"), vec![1, 2, 3]);
    assert_eq!(map.get_cloned("k"), Some(vec![1, 2, 3]));
    assert_eq!(map.get_cloned("x"), None);
    assert!(map.contains_key("k"));
    assert!(!map.contains_key("x"));
}

#[test]
fn remove_returns_the_entry() {
    let map = HashMap::new();
    map.insert(5, 50);
    let removed = map.remove(&5).expect("present");
    assert_eq!((*removed.key(), *removed), (5, 50));
    assert!(map.remove(&5).is_none());
    assert!(map.is_empty());
    assert!(!map.contains_key(&5));
}

#[test]
fn a_ref_keeps_the_old_value() {
    let map = HashMap::new();
    map.insert(1, String::from("old"));
    let seen = map.get(&1).unwrap();
    map.insert(1, String::from("new"));
    let removed = map.remove(&1).unwrap();
    assert_eq!(seen.as_str(), "old");
    assert_eq!(removed.as_str(), "new");
}

#[test]
fn compute_inserts_updates_removes_aborts() {
    let map = HashMap::new();
    let r = map.compute(1, |v| {
        assert!(v.is_none());
        Operation::Insert(10)
    });
    assert_eq!(r.map(|r| *r), Some(10));
    let r = map.compute(1, |v| Operation::Insert(v.unwrap() + 1));
    assert_eq!(r.map(|r| *r), Some(11));
    let r = map.compute(1, |_| Operation::Abort);
    assert_eq!(r.map(|r| *r), Some(11));
    assert!(map.compute(1, |_| Operation::Remove).is_none());
    assert!(map.compute(1, |_| Operation::Remove).is_none());
    assert!(map.compute(2, |_| Operation::Abort).is_none());
    assert!(map.is_empty());
}

#[test]
fn update_only_when_present() {
    let map = HashMap::new();
    assert!(map.update(1, |v: &i32| v * 2).is_none());
    assert!(map.is_empty());
    map.insert(1, 21);
    assert_eq!(map.update(1, |v| v * 2).map(|r| *r), Some(42));
}

#[test]
fn update_or_insert_counts() {
    let map = HashMap::new();
    for _ in 0..5 {
        map.update_or_insert("n", |n| n + 1, 1);
    }
    assert_eq!(*map.get("n").unwrap(), 5);
    let made = StdAtomicUsize::new(0);
    let r = map.update_or_insert_with(
        "m",
        |n| n + 1,
        || {
            made.fetch_add(1, Ordering::Relaxed);
            7
        },
    );
    assert_eq!((*r, made.load(Ordering::Relaxed)), (7, 1));
}

#[test]
fn get_or_insert_keeps_the_first() {
    let map = HashMap::new();
    assert_eq!(*map.get_or_insert(1, 'a'), 'a');
    assert_eq!(*map.get_or_insert(1, 'b'), 'a');
    let mut calls = 0;
    assert_eq!(
        *map.get_or_insert_with(1, || {
            calls += 1;
            'c'
        }),
        'a'
    );
    assert_eq!(
        *map.get_or_insert_with(2, || {
            calls += 1;
            'd'
        }),
        'd'
    );
    assert_eq!(calls, 1);
    assert_eq!(map.len(), 2);
}

#[test]
fn len_and_is_empty_track_inserts_and_removes() {
    let map = HashMap::new();
    assert!(map.is_empty());
    for i in 0..100 {
        map.insert(i, i);
    }
    for i in 0..100 {
        map.insert(i, i + 1);
    }
    assert_eq!(map.len(), 100);
    for i in 0..40 {
        map.remove(&i);
    }
    assert_eq!(map.len(), 60);
    assert!(!map.is_empty());
}

#[test]
fn grows_through_many_resizes_and_keeps_every_key() {
    let map = HashMap::new();
    let start = map.root(&epoch::pin()).len();
    for i in 0..10_000u64 {
        map.insert(i, i * 3);
    }
    let end = map.root(&epoch::pin()).len();
    assert!(end > start, "the table grew: {start} -> {end}");
    assert_eq!(map.len(), 10_000);
    for i in 0..10_000u64 {
        assert_eq!(map.get_cloned(&i), Some(i * 3), "key {i}");
    }
}

#[test]
fn with_capacity_sizes_the_table() {
    let map: HashMap<u32, u32> = HashMap::with_capacity(1000);
    let guard = epoch::pin();
    let root = map.root(&guard);
    assert!(root.len() * KEYS_PER_BUCKET >= 1000, "{}", root.len());
    assert!(root.len().is_power_of_two());
    // Holding the capacity never starts a resize.
    for i in 0..1000 {
        map.insert(i, i);
    }
    assert!(core::ptr::eq(map.root(&guard), root) && root.next(&guard).is_none());
}

#[test]
fn with_hasher_is_used() {
    use std::hash::BuildHasherDefault;
    /// A hasher that sends every key to one bucket: everything collides.
    #[derive(Default)]
    struct Constant;
    impl std::hash::Hasher for Constant {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, _bytes: &[u8]) {}
    }
    let map = HashMap::with_hasher(BuildHasherDefault::<Constant>::default());
    for i in 0..50 {
        map.insert(i, i);
    }
    for i in 0..50 {
        assert_eq!(map.get_cloned(&i), Some(i));
    }
    for i in (0..50).step_by(2) {
        assert_eq!(map.remove(&i).map(|r| *r), Some(i));
    }
    assert_eq!(map.len(), 25);
    let mut keys: Vec<_> = map.pin().iter().map(|(k, _)| *k).collect();
    keys.sort();
    assert_eq!(keys, (1..50).step_by(2).collect::<Vec<_>>());
}

#[test]
fn iter_yields_each_entry_once() {
    let map: HashMap<u32, u32> = (0..1000).map(|i| (i, i + 1)).collect();
    let guard = epoch::pin();
    let seen: BTreeMap<u32, u32> = map.iter(&guard).map(|(k, v)| (*k, *v)).collect();
    assert_eq!(seen.len(), 1000);
    assert!(seen.iter().all(|(k, v)| *v == k + 1));
    assert_eq!(map.iter(&guard).count(), 1000);
}

#[test]
fn iter_during_an_unfinished_migration() {
    let map = HashMap::new();
    // Fill until a resize has started but not finished (each write migrates one chunk).
    let mut i = 0u64;
    let guard = epoch::pin();
    while map.root(&guard).next(&guard).is_none() {
        map.insert(i, i);
        i += 1;
    }
    assert!(map.root(&guard).next(&guard).is_some());
    let mut keys: Vec<u64> = map.iter(&guard).map(|(k, _)| *k).collect();
    keys.sort();
    assert_eq!(keys, (0..i).collect::<Vec<_>>());
    for k in 0..i {
        assert_eq!(map.get_cloned(&k), Some(k));
    }
    drop(guard);
    // Dropped mid-migration: the drop test below counts that nothing leaks.
}

#[test]
fn pinned_handle_reads() {
    let map: HashMap<u32, &str> = [(1, "one"), (2, "two")].into_iter().collect();
    let pinned = map.pin();
    assert_eq!(pinned.get(&1), Some(&"one"));
    assert_eq!(pinned.get_key_value(&2), Some((&2, &"two")));
    assert!(pinned.contains_key(&2) && !pinned.contains_key(&3));
    assert_eq!((pinned.len(), pinned.is_empty()), (2, false));
    assert_eq!((&pinned).into_iter().count(), 2);
}

#[test]
fn retain_and_clear() {
    let map: HashMap<u32, u32> = (0..500).map(|i| (i, i)).collect();
    map.retain(|k, v| k % 3 == 0 && *v == *k);
    assert_eq!(map.len(), 167);
    assert!(map.contains_key(&3) && !map.contains_key(&4));
    map.clear();
    assert!(map.is_empty());
    assert_eq!(map.pin().iter().count(), 0);
    map.insert(1, 1);
    assert_eq!(map.len(), 1);
}

#[test]
fn debug_default_extend_clone() {
    let mut map: HashMap<u32, u32> = HashMap::default();
    map.extend([(1, 10)]);
    (&map).extend([(2, 20)]);
    let clone = map.clone();
    assert_eq!(clone.len(), 2);
    assert_eq!(clone.get_cloned(&2), Some(20));
    let debug = format!("{map:?}");
    assert!(
        debug.contains("1: 10") && debug.contains("2: 20"),
        "{debug}"
    );
    assert_eq!(
        format!("{:?}", map.get(&1).unwrap()),
        "Ref { key: 1, value: 10 }"
    );
}

#[test]
fn send_and_sync_as_documented() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<HashMap<String, Vec<u8>>>();
    send_sync::<HashMap<u32, Arc<str>>>();
}

/// Counts drops of the values it makes.
#[derive(Debug)]
struct Counted(Arc<StdAtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Flushes until `drops` reaches `expected`, or gives up after a bounded number of
/// tries (other tests running in parallel may hold guards for a while). Returns the
/// final count, which the caller compares exactly: too many drops fail too.
fn flush_until(drops: &StdAtomicUsize, expected: usize) -> usize {
    for _ in 0..100_000 {
        if drops.load(Ordering::Relaxed) >= expected {
            break;
        }
        epoch::pin().flush();
        std::thread::yield_now();
    }
    drops.load(Ordering::Relaxed)
}

#[test]
fn every_value_is_dropped_exactly_once_single_threaded() {
    let drops = Arc::new(StdAtomicUsize::new(0));
    let made;
    {
        let map = HashMap::new();
        let new = || Counted(Arc::clone(&drops));
        let mut count = 0;
        for i in 0..2000u32 {
            map.insert(i, new());
            count += 1;
        }
        for i in 0..500u32 {
            map.insert(i, new()); // replaces
            count += 1;
        }
        for i in 500..900u32 {
            map.remove(&i);
        }
        map.update_or_insert(1, |_| new(), new()); // `new()` for the insert: dropped
        count += 2;
        map.get_or_insert(5000, new());
        count += 1;
        map.retain(|k, _| k % 2 == 0);
        made = count;
        // The rest are dropped with the map.
    }
    assert_eq!(flush_until(&drops, made), made);
}

#[test]
fn a_map_dropped_mid_migration_frees_everything_once() {
    let drops = Arc::new(StdAtomicUsize::new(0));
    let mut inserted = 0;
    {
        let map = HashMap::new();
        let guard = epoch::pin();
        let mut i = 0u32;
        while map.root(&guard).next(&guard).is_none() {
            map.insert(i, Counted(Arc::clone(&drops)));
            inserted += 1;
            i += 1;
        }
        drop(guard);
    }
    assert_eq!(flush_until(&drops, inserted), inserted);
}

/// Identity hashing: key k goes to bucket k mod buckets, with tag 0.
#[derive(Default)]
struct Identity(u64);

impl std::hash::Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _bytes: &[u8]) {
        unreachable!("u64 keys only")
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type IdentityMap = HashMap<u64, u64, std::hash::BuildHasherDefault<Identity>>;

#[test]
fn an_overflowing_bucket_keeps_every_key() {
    let map = IdentityMap::with_hasher(Default::default());
    let guard = epoch::pin();
    let buckets = map.root(&guard).len() as u64;
    // Three groups' worth of keys, all in bucket 0 (and all with the same tag).
    let keys: Vec<u64> = (0..3 * SLOTS as u64).map(|i| i * buckets).collect();
    for &k in &keys {
        assert!(map.insert(k, k).is_none());
    }
    for &k in &keys {
        assert_eq!(map.get_cloned(&k), Some(k));
    }
    // Holes in the head and in the overflow groups are reused, never duplicated.
    for &k in keys.iter().step_by(2) {
        assert_eq!(map.remove(&k).map(|r| *r), Some(k));
    }
    for &k in keys.iter().step_by(2) {
        assert!(map.get(&k).is_none());
        assert!(map.insert(k, k + 1).is_none());
        assert_eq!(*map.insert(k, k + 2).unwrap(), k + 1);
    }
    let mut seen: Vec<u64> = map.iter(&guard).map(|(k, _)| *k).collect();
    seen.sort();
    assert_eq!(seen, keys);
    assert_eq!(map.len(), keys.len());
}

#[test]
fn a_stalled_migration_routes_reads_and_writes() {
    let map = IdentityMap::with_hasher(Default::default());
    let guard = epoch::pin();
    let root = map.root(&guard);
    let old_len = root.len() as u64;
    // Bucket 0 feeds new buckets 0 and `old_len`; bucket 1 is left behind unmigrated.
    for k in [0, old_len, 2 * old_len, 1, 1 + old_len] {
        map.insert(k, k);
    }
    assert!(root.start_resize(Box::new(Table::new(root.len() * 2))));
    let next = root.next(&guard).unwrap();
    root.stall_first_chunk::<u64, u64>(next);
    assert_ne!(root.at(0).control.load(Ordering::Relaxed) & MOVED, 0);
    assert_eq!(root.at(1).control.load(Ordering::Relaxed) & MOVED, 0);
    // Reads of a moved bucket go forward; of an unmoved one stay.
    for k in [0, old_len, 2 * old_len, 1, 1 + old_len] {
        assert_eq!(map.get_cloned(&k), Some(k));
    }
    // Writes likewise; the moved keys landed in the two derived buckets.
    assert_eq!(map.remove(&old_len).map(|r| *r), Some(old_len));
    assert!(map.insert(3 * old_len, 7).is_none());
    assert_eq!(*map.insert(1, 10).unwrap(), 1);
    assert!(
        core::ptr::eq(map.root(&guard), root),
        "the root stays until the last chunk"
    );
    let mut seen: Vec<(u64, u64)> = map.iter(&guard).map(|(k, v)| (*k, *v)).collect();
    seen.sort();
    let expected = vec![
        (0, 0),
        (1, 10),
        (1 + old_len, 1 + old_len),
        (2 * old_len, 2 * old_len),
        (3 * old_len, 7),
    ];
    assert_eq!(seen, expected);
    root.resume_first_chunk::<u64, u64>(next);
    let mut seen: Vec<(u64, u64)> = map.iter(&guard).map(|(k, v)| (*k, *v)).collect();
    seen.sort();
    assert_eq!(seen, expected);
    assert_eq!(map.len(), expected.len());
    drop(guard);
}

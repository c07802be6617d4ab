//! Loom models of `FlatMap`'s seqlock: a read racing an overwrite returns the old or the
//! new value, never a mix of their words; inserts and removes racing on one key leave
//! a consistent map and consistent return values; a resize racing with reads and
//! writes loses nothing; racing read-modify-writes both apply.
//!
//! Values are two words (`[u64; 2]`, both words equal), so a torn copy is visible as
//! two different words. Under loom a bucket has two slots, the smallest table two
//! buckets, and the migration moves one bucket per chunk, so a third key starts a
//! resize that the models interleave with.
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!  cargo test --release -p weft-lockfree --test loom_flat_map`
#![cfg(loom)]

use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;

use loom::sync::Arc;
use loom::thread;
use weft_lockfree::FlatMap;

/// Deterministic hashing: loom replays executions and needs the same buckets each time.
type Map = FlatMap<u64, [u64; 2], BuildHasherDefault<DefaultHasher>>;

fn new_map() -> Arc<Map> {
    Arc::new(FlatMap::with_hasher(BuildHasherDefault::default()))
}

/// A value that shows tearing: both words equal.
fn value(n: u64) -> [u64; 2] {
    [n, n]
}

fn assert_whole(read: Option<[u64; 2]>) -> Option<u64> {
    read.map(|[a, b]| {
        assert_eq!(a, b, "a torn read: words of two different values");
        a
    })
}

// The racing operations run on spawned threads: loom's exploration schedules them
// against each other, and the main thread only checks the outcome after joining.

#[test]
fn get_racing_overwrites_sees_a_whole_value() {
    loom::model(|| {
        let map = new_map();
        map.insert(1, value(1));
        let reader = {
            let map = Arc::clone(&map);
            thread::spawn(move || {
                let first = assert_whole(map.get(&1)).expect("present throughout");
                let second = assert_whole(map.get(&1)).expect("present throughout");
                // Reads are linearizable, and the writer's values only grow.
                assert!(second >= first, "read {second} after {first}");
                first
            })
        };
        let writer = {
            let map = Arc::clone(&map);
            thread::spawn(move || {
                map.insert(1, value(2));
                map.insert(1, value(3));
            })
        };
        writer.join().unwrap();
        let first = reader.join().unwrap();
        assert!((1..=3).contains(&first));
        assert_eq!(map.get(&1), Some(value(3)));
    });
}

#[test]
fn insert_and_remove_racing_on_one_key_agree() {
    loom::model(|| {
        let map = new_map();
        map.insert(7, value(1));
        let remover = {
            let map = Arc::clone(&map);
            thread::spawn(move || assert_whole(map.remove(&7)))
        };
        let inserter = {
            let map = Arc::clone(&map);
            thread::spawn(move || assert_whole(map.insert(7, value(2))))
        };
        let removed = remover.join().unwrap();
        let inserted = inserter.join().unwrap();
        let last = assert_whole(map.get(&7));
        match (removed, inserted) {
            // The remove came first: the insert found the key gone and put it back.
            (Some(1), None) => assert_eq!(last, Some(2)),
            // The insert came first: the remove took its value.
            (Some(2), Some(1)) => assert_eq!(last, None),
            other => panic!("impossible outcome (removed, replaced): {other:?}"),
        }
        assert_eq!(map.len(), usize::from(last.is_some()));
    });
}

#[test]
fn resize_racing_reads_and_writes_loses_nothing() {
    loom::model(|| {
        let map = new_map();
        map.insert(0, value(10));
        map.insert(1, value(11));
        let grower = {
            let map = Arc::clone(&map);
            // Past one key per bucket: starts a resize and migrates a chunk.
            thread::spawn(move || {
                map.insert(2, value(12));
                map.insert(3, value(13));
            })
        };
        let writer = {
            let map = Arc::clone(&map);
            thread::spawn(move || {
                map.insert(0, value(20));
                assert_eq!(assert_whole(map.get(&1)), Some(11), "present throughout");
            })
        };
        grower.join().unwrap();
        writer.join().unwrap();
        let expected = [(0, 20), (1, 11), (2, 12), (3, 13)];
        for (key, n) in expected {
            assert_eq!(map.get(&key), Some(value(n)), "key {key}");
        }
        assert_eq!(map.len(), 4);
        let mut all: Vec<_> = map.iter().map(|(k, [n, _])| (k, n)).collect();
        all.sort();
        assert_eq!(all, expected);
    });
}

#[test]
fn racing_read_modify_writes_both_apply() {
    loom::model(|| {
        let map = new_map();
        let increment = || {
            let map = Arc::clone(&map);
            thread::spawn(move || {
                map.update_or_insert(5, |[n, _]| value(n + 1), value(1));
            })
        };
        let (a, b) = (increment(), increment());
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(map.get(&5), Some(value(2)));
    });
}

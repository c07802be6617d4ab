//! Stress tests for `HashMap`: writers on disjoint and on shared keys while the table
//! grows, readers that check no value is ever torn or goes back in time, iterators that
//! must see every untouched key exactly once mid-resize, exact final contents, and
//! every destructor run exactly once. Bounded by operation counts, never by timing.

#![cfg(not(loom))]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use weft_lockfree::{HashMap, epoch};

const WRITERS: u64 = 3;
const READERS: usize = 2;
/// Keys each writer owns alone.
const OWN_KEYS: u64 = if cfg!(debug_assertions) {
    10_000
} else {
    40_000
};
/// Keys every writer increments.
const SHARED_KEYS: u64 = 64;
/// Increments of each shared key by each writer.
const INCREMENTS: u64 = if cfg!(debug_assertions) { 60 } else { 300 };
/// Keys inserted before the threads start and never written again.
const STABLE_KEYS: u64 = 500;

const SHARED_BASE: u64 = 1 << 40;
const STABLE_BASE: u64 = 1 << 41;

/// A value that encodes its key, so a reader can tell a torn or misplaced value.
#[derive(Debug)]
struct Value {
    key: u64,
    round: u64,
    check: u64,
    drops: Arc<AtomicUsize>,
}

impl Value {
    fn new(key: u64, round: u64, drops: &Arc<AtomicUsize>, made: &AtomicUsize) -> Self {
        made.fetch_add(1, Ordering::Relaxed);
        Self {
            key,
            round,
            check: checksum(key, round),
            drops: Arc::clone(drops),
        }
    }

    fn assert_consistent(&self, key: u64) {
        assert_eq!(self.key, key, "a value under the wrong key");
        assert_eq!(self.check, checksum(self.key, self.round), "a torn value");
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        // A second drop of the same value would see the poisoned check.
        assert_ne!(self.check, u64::MAX, "value dropped twice");
        self.check = u64::MAX;
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

fn checksum(key: u64, round: u64) -> u64 {
    (key ^ round.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15) & !(1 << 63)
}

/// A small deterministic generator, one per thread.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn own_key(writer: u64, i: u64) -> u64 {
    writer * OWN_KEYS + i
}

/// Flushes until `drops` reaches `expected` or a bounded number of tries ran out.
fn flush_until(drops: &AtomicUsize, expected: usize) -> usize {
    // Bounded by a generous wall-clock wait, not a count of tries: the epoch advances
    // only once every pinned thread of the process (other tests run beside this one)
    // has moved on, which on a loaded machine took longer than 100,000 yields.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while drops.load(Ordering::Relaxed) < expected && std::time::Instant::now() < give_up {
        epoch::pin().flush();
        thread::yield_now();
    }
    drops.load(Ordering::Relaxed)
}

#[test]
fn writers_readers_and_iterators_while_growing() {
    let drops = Arc::new(AtomicUsize::new(0));
    let made = AtomicUsize::new(0);
    {
        // Start small, so the table resizes many times under the writers.
        let map: HashMap<u64, Value> = HashMap::new();
        for i in 0..STABLE_KEYS {
            let key = STABLE_BASE + i;
            map.insert(key, Value::new(key, 0, &drops, &made));
        }
        let writers_done = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        thread::scope(|scope| {
            for writer in 0..WRITERS {
                let (map, drops, made, writers_done) = (&map, &drops, &made, &writers_done);
                scope.spawn(move || {
                    let mut rng = Rng(0x1234_5678 + writer);
                    // Own keys: insert all, overwrite all, remove the odd ones.
                    for i in 0..OWN_KEYS {
                        let key = own_key(writer, i);
                        assert!(map.insert(key, Value::new(key, 1, drops, made)).is_none());
                    }
                    for i in 0..OWN_KEYS {
                        let key = own_key(writer, i);
                        let old = map.insert(key, Value::new(key, 2, drops, made));
                        let old = old.expect("own key present");
                        old.assert_consistent(key);
                        assert_eq!(old.round, 1);
                    }
                    for i in (1..OWN_KEYS).step_by(2) {
                        let key = own_key(writer, i);
                        let removed = map.remove(&key).expect("own key present");
                        removed.assert_consistent(key);
                        assert_eq!(removed.round, 2);
                    }
                    // Shared keys: increments that must all land.
                    for _ in 0..INCREMENTS {
                        for j in 0..SHARED_KEYS {
                            let key = SHARED_BASE + (j + rng.next()) % SHARED_KEYS;
                            map.update_or_insert_with(
                                key,
                                |old| Value::new(key, old.round + 1, drops, made),
                                || Value::new(key, 1, drops, made),
                            );
                        }
                    }
                    writers_done.fetch_add(1, Ordering::Release);
                });
            }
            for reader in 0..READERS {
                let (map, stop) = (&map, &stop);
                scope.spawn(move || {
                    let mut rng = Rng(0xABCD + reader as u64);
                    let mut last_round = vec![0u64; SHARED_KEYS as usize];
                    let mut passes = 0u32;
                    // At least a few passes (with iterations) even if the writers win the race.
                    while passes < 16 || !stop.load(Ordering::Acquire) {
                        for _ in 0..256 {
                            let r = rng.next();
                            let key = match r % 3 {
                                0 => own_key(r % WRITERS, (r >> 8) % OWN_KEYS),
                                1 => SHARED_BASE + (r >> 8) % SHARED_KEYS,
                                _ => STABLE_BASE + (r >> 8) % STABLE_KEYS,
                            };
                            match map.get(&key) {
                                Some(value) => {
                                    value.assert_consistent(key);
                                    if (SHARED_BASE..STABLE_BASE).contains(&key) {
                                        let slot = &mut last_round[(key - SHARED_BASE) as usize];
                                        assert!(value.round >= *slot, "a count went back");
                                        *slot = value.round;
                                    }
                                }
                                None => assert!(key < STABLE_BASE, "a stable key vanished"),
                            }
                        }
                        // Every few passes, iterate: every stable key exactly once.
                        passes += 1;
                        if passes.is_multiple_of(8) {
                            let pinned = map.pin();
                            let mut stable = HashSet::new();
                            for (key, value) in pinned.iter() {
                                value.assert_consistent(*key);
                                if *key >= STABLE_BASE {
                                    assert!(stable.insert(*key), "key {key} yielded twice");
                                }
                            }
                            assert_eq!(stable.len() as u64, STABLE_KEYS, "stable keys missed");
                        }
                    }
                });
            }
            // Stop the readers once the writers are done (a count, not a clock).
            while writers_done.load(Ordering::Acquire) < WRITERS as usize {
                thread::yield_now();
            }
            stop.store(true, Ordering::Release);
        });

        // Exact final contents.
        let expected_len = STABLE_KEYS + WRITERS * OWN_KEYS.div_ceil(2) + SHARED_KEYS;
        assert_eq!(map.len() as u64, expected_len);
        assert_eq!(map.pin().iter().count() as u64, expected_len);
        for writer in 0..WRITERS {
            for i in 0..OWN_KEYS {
                let key = own_key(writer, i);
                match map.get(&key) {
                    Some(value) if i % 2 == 0 => {
                        value.assert_consistent(key);
                        assert_eq!(value.round, 2);
                    }
                    None if i % 2 == 1 => {}
                    other => panic!("key {key}: {other:?}"),
                }
            }
        }
        let total: u64 = (0..SHARED_KEYS)
            .map(|j| map.get(&(SHARED_BASE + j)).map_or(0, |value| value.round))
            .sum();
        assert_eq!(total, WRITERS * INCREMENTS * SHARED_KEYS, "lost increments");
        for i in 0..STABLE_KEYS {
            assert_eq!(map.get(&(STABLE_BASE + i)).map(|v| v.round), Some(0));
        }
    }
    // The map is gone: every value made (inserted, replaced, removed, or made for a
    // lost compare-and-swap) is dropped exactly once.
    let made = made.load(Ordering::Relaxed);
    assert_eq!(flush_until(&drops, made), made);
}

#[test]
fn racing_insert_remove_on_few_keys() {
    // Heavy contention on a handful of buckets: each thread toggles keys, and counts
    // what it added and removed; the map's final length must match the balance.
    const KEYS: u64 = 8;
    const ROUNDS: u64 = if cfg!(debug_assertions) {
        20_000
    } else {
        100_000
    };
    let map: Arc<HashMap<u64, u64>> = Arc::new(HashMap::new());
    let balance: i64 = thread::scope(|scope| {
        let handles: Vec<_> = (0..3u64)
            .map(|t| {
                let map = Arc::clone(&map);
                scope.spawn(move || {
                    let mut rng = Rng(99 + t);
                    let mut balance = 0i64;
                    for _ in 0..ROUNDS {
                        let key = rng.next() % KEYS;
                        if rng.next().is_multiple_of(2) {
                            if map.insert(key, key * 7).is_none() {
                                balance += 1;
                            }
                        } else if let Some(removed) = map.remove(&key) {
                            assert_eq!(*removed, key * 7);
                            balance -= 1;
                        }
                    }
                    balance
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(map.len() as i64, balance);
    assert_eq!(map.pin().iter().count() as i64, balance);
}

#[test]
fn concurrent_retain_and_inserts() {
    // One thread clears even keys while others insert odd ones: odd keys all survive.
    const N: u64 = if cfg!(debug_assertions) {
        5_000
    } else {
        20_000
    };
    let map: HashMap<u64, u64> = (0..N).map(|i| (2 * i, i)).collect();
    thread::scope(|scope| {
        scope.spawn(|| map.retain(|k, _| k % 2 == 1));
        for t in 0..2u64 {
            let map = &map;
            scope.spawn(move || {
                for i in (t..N).step_by(2) {
                    map.insert(2 * i + 1, i);
                }
            });
        }
    });
    // Even keys were present throughout `retain`, so it saw and removed every one.
    assert_eq!(map.len() as u64, N);
    for i in 0..N {
        assert_eq!(map.get_cloned(&(2 * i + 1)), Some(i));
        assert!(!map.contains_key(&(2 * i)));
    }
}

/// Hashes a `u64` key to itself shifted into the high bits: every key lands in bucket 0
/// of every table, with tags that differ, so buckets overflow into long chains.
#[derive(Default)]
struct HighBits(u64);

impl std::hash::Hasher for HighBits {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _bytes: &[u8]) {
        unreachable!("u64 keys only")
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value << 40;
    }
}

#[test]
fn removes_and_reinserts_in_one_overflowing_bucket() {
    const THREADS: u64 = 3;
    const KEYS: u64 = 40;
    const ROUNDS: u64 = if cfg!(debug_assertions) { 100 } else { 400 };
    let drops = Arc::new(AtomicUsize::new(0));
    let made = AtomicUsize::new(0);
    {
        let map: HashMap<u64, Value, std::hash::BuildHasherDefault<HighBits>> =
            HashMap::with_hasher(Default::default());
        thread::scope(|scope| {
            for thread in 0..THREADS {
                let (map, drops, made) = (&map, &drops, &made);
                scope.spawn(move || {
                    let key = |i: u64| thread * KEYS + i;
                    for round in 0..ROUNDS {
                        for i in 0..KEYS {
                            let replaced =
                                map.insert(key(i), Value::new(key(i), round, drops, made));
                            assert!(replaced.is_none(), "key {} twice", key(i));
                        }
                        for i in 0..KEYS {
                            let value = map.get(&key(i)).expect("own key present");
                            value.assert_consistent(key(i));
                            assert_eq!(value.round, round);
                        }
                        // Remove every key but one in three, reopening slots all along
                        // the chain that the other threads' inserts race to fill.
                        for i in (0..KEYS).filter(|i| i % 3 != 0) {
                            let removed = map.remove(&key(i)).expect("own key present");
                            assert_eq!(removed.round, round);
                        }
                        for i in (0..KEYS).filter(|i| i % 3 == 0) {
                            assert!(map.remove(&key(i)).is_some());
                        }
                    }
                    for i in 0..KEYS {
                        map.insert(key(i), Value::new(key(i), ROUNDS, drops, made));
                    }
                });
            }
        });
        assert_eq!(map.len() as u64, THREADS * KEYS);
        let guard = epoch::pin();
        let mut seen = HashSet::new();
        for (key, value) in map.iter(&guard) {
            value.assert_consistent(*key);
            assert!(seen.insert(*key), "key {key} yielded twice");
        }
        assert_eq!(seen.len() as u64, THREADS * KEYS);
    }
    let made = made.load(Ordering::Relaxed);
    assert_eq!(
        flush_until(&drops, made),
        made,
        "every value dropped exactly once"
    );
}

//! Stress tests for `FlatMap`: writers overwrite and remove their own keys and
//! increment shared ones while the table grows from empty; readers check that no copy
//! is ever torn (each value encodes its key and its round) or goes back in time;
//! iterators that run meanwhile must see every untouched key exactly once; the final
//! contents are exact. Bounded by operation counts, never by timing.

#![cfg(not(loom))]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use weft_lockfree::FlatMap;

const WRITERS: u64 = 2;
const READERS: usize = 2;
/// Keys each writer owns alone.
const OWN_KEYS: u64 = if cfg!(debug_assertions) {
    3_000
} else {
    20_000
};
/// Writes each writer makes to its own keys.
const ROUNDS: u64 = OWN_KEYS * if cfg!(debug_assertions) { 4 } else { 16 };
/// Keys every writer increments.
const SHARED_KEYS: u64 = 16;
/// Increments of each shared key by each writer.
const INCREMENTS: u64 = if cfg!(debug_assertions) { 100 } else { 500 };
/// Keys inserted before the threads start and never written again.
const STABLE_KEYS: u64 = 300;

const SHARED_BASE: u64 = 1 << 40;
const STABLE_BASE: u64 = 1 << 41;

/// `[key, round, check]`: a copy mixing two writes fails the check or names another
/// key.
type Value = [u64; 3];

fn checksum(key: u64, round: u64) -> u64 {
    (key ^ 0x9E37_79B9_7F4A_7C15)
        .wrapping_mul(round | 1)
        .rotate_left(17)
}

fn value(key: u64, round: u64) -> Value {
    [key, round, checksum(key, round)]
}

/// The round a read value carries, after checking it is whole and under its own key.
fn round_of(key: u64, value: Value) -> u64 {
    let [stored_key, round, check] = value;
    assert_eq!(stored_key, key, "a value under the wrong key");
    assert_eq!(check, checksum(key, round), "a torn value: {value:?}");
    round
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

#[test]
fn racing_writers_readers_and_iterators_see_only_whole_values() {
    let map: Arc<FlatMap<u64, Value>> = Arc::new(FlatMap::new());
    for i in 0..STABLE_KEYS {
        map.insert(STABLE_BASE + i, value(STABLE_BASE + i, 0));
    }
    let done = Arc::new(AtomicBool::new(false));

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let map = Arc::clone(&map);
            thread::spawn(move || {
                // What this writer's keys hold, by its own account.
                let mut expected: HashMap<u64, u64> = HashMap::new();
                let mut rng = Rng(0x1234_5678 + writer);
                for round in 1..=ROUNDS {
                    let key = writer * OWN_KEYS + rng.next() % OWN_KEYS;
                    if rng.next().is_multiple_of(8) {
                        let old = map.remove(&key);
                        assert_eq!(old.map(|v| round_of(key, v)), expected.remove(&key));
                    } else {
                        let old = map.insert(key, value(key, round));
                        assert_eq!(old.map(|v| round_of(key, v)), expected.insert(key, round));
                    }
                    if round.is_multiple_of(ROUNDS / INCREMENTS) {
                        for shared in 0..SHARED_KEYS {
                            let key = SHARED_BASE + shared;
                            map.update_or_insert(
                                key,
                                |old| value(key, round_of(key, old) + 1),
                                value(key, 1),
                            );
                        }
                    }
                }
                expected
            })
        })
        .collect();

    let readers: Vec<_> = (0..READERS)
        .map(|reader| {
            let map = Arc::clone(&map);
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let mut rng = Rng(0xABCD_EF01 + reader as u64);
                // Shared keys only grow; a read must never see one go back.
                let mut last_shared = [0u64; SHARED_KEYS as usize];
                let mut reads = 0u64;
                while !done.load(Ordering::Relaxed) || reads < 1000 {
                    reads += 1;
                    let key = rng.next() % (WRITERS * OWN_KEYS);
                    if let Some(value) = map.get(&key) {
                        round_of(key, value);
                    }
                    let shared = (rng.next() % SHARED_KEYS) as usize;
                    let key = SHARED_BASE + shared as u64;
                    if let Some(value) = map.get(&key) {
                        let count = round_of(key, value);
                        assert!(count >= last_shared[shared], "a counter went back");
                        last_shared[shared] = count;
                    }
                    let stable = STABLE_BASE + rng.next() % STABLE_KEYS;
                    assert_eq!(map.get(&stable), Some(value(stable, 0)));
                    if reads.is_multiple_of(2000) {
                        let mut stable_seen = HashSet::new();
                        for (key, value) in map.iter() {
                            round_of(key, value);
                            if key >= STABLE_BASE {
                                assert!(stable_seen.insert(key), "key {key} seen twice");
                            }
                        }
                        assert_eq!(stable_seen.len() as u64, STABLE_KEYS);
                    }
                }
            })
        })
        .collect();

    let mut expected: HashMap<u64, u64> = HashMap::new();
    for writer in writers {
        expected.extend(writer.join().unwrap());
    }
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.join().unwrap();
    }

    for shared in 0..SHARED_KEYS {
        let key = SHARED_BASE + shared;
        let count = round_of(key, map.get(&key).unwrap());
        assert_eq!(count, WRITERS * INCREMENTS, "an increment was lost");
    }
    let mut own = 0;
    for (key, value) in map.iter() {
        let round = round_of(key, value);
        if key < SHARED_BASE {
            own += 1;
            assert_eq!(Some(&round), expected.get(&key), "key {key}");
        }
    }
    assert_eq!(own, expected.len(), "a key was lost or duplicated");
    assert_eq!(
        map.len() as u64,
        expected.len() as u64 + SHARED_KEYS + STABLE_KEYS
    );
}

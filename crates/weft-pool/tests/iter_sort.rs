//! Property tests of the parallel sorts: `par_sort*` gives exactly `sort*` (stable:
//! the same order of equal items too), `par_sort_unstable*` gives `sort_unstable*`,
//! over random lengths (0, 1, small, past the sequential cut-offs) and inputs with
//! many duplicates, runs, and reversed runs.

use proptest::prelude::*;
use weft_pool::prelude::*;

fn lengths() -> impl Strategy<Value = usize> {
    prop_oneof![
        1 => Just(0usize),
        1 => Just(1usize),
        3 => 2usize..100,
        3 => 100usize..10_000,
        2 => 10_000usize..120_000,
    ]
}

/// Keys from a narrow or a wide range, optionally presorted or reversed.
fn keys() -> impl Strategy<Value = Vec<u32>> {
    (
        lengths(),
        prop_oneof![Just(4u32), Just(1000u32), Just(u32::MAX)],
        0u8..4,
        any::<u64>(),
    )
        .prop_map(|(len, range, shape, seed)| {
            let mut state = seed | 1;
            let mut v: Vec<u32> = (0..len)
                .map(|_| {
                    // xorshift: cheap, deterministic per seed.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % u64::from(range)) as u32
                })
                .collect();
            match shape {
                1 => v.sort_unstable(),
                2 => v.sort_unstable_by(|a, b| b.cmp(a)),
                _ => {}
            }
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn par_sort_is_stable_and_equals_sort(keys in keys()) {
        // (key, original index): a stable sort by key keeps the indices increasing.
        let pairs: Vec<(u32, usize)> = keys.iter().copied().zip(0..).collect();
        let mut par = pairs.clone();
        par.par_sort_by_key(|p| p.0);
        let mut seq = pairs.clone();
        seq.sort_by_key(|p| p.0);
        prop_assert_eq!(&par, &seq);
        let mut par = pairs.clone();
        par.par_sort_by(|a, b| b.0.cmp(&a.0));
        let mut seq = pairs;
        seq.sort_by_key(|p| std::cmp::Reverse(p.0));
        prop_assert_eq!(&par, &seq);
        let mut par = keys.clone();
        par.par_sort();
        let mut seq = keys;
        seq.sort();
        prop_assert_eq!(par, seq);
    }

    #[test]
    fn par_sort_unstable_equals_sort_unstable(keys in keys()) {
        let mut par = keys.clone();
        par.par_sort_unstable();
        let mut seq = keys.clone();
        seq.sort_unstable();
        prop_assert_eq!(&par, &seq);
        let mut par = keys.clone();
        par.par_sort_unstable_by(|a, b| b.cmp(a));
        seq.reverse();
        prop_assert_eq!(&par, &seq);
        let mut par = keys.clone();
        par.par_sort_unstable_by_key(|k| k % 7);
        let mut seq = keys;
        seq.sort_unstable_by_key(|k| k % 7);
        // Unstable: equal keys may be ordered differently, so compare keys, then the
        // multisets.
        let par_keys: Vec<u32> = par.iter().map(|k| k % 7).collect();
        let seq_keys: Vec<u32> = seq.iter().map(|k| k % 7).collect();
        prop_assert_eq!(par_keys, seq_keys);
        par.sort_unstable();
        seq.sort_unstable();
        prop_assert_eq!(par, seq);
    }
}

#[test]
fn large_sorts() {
    let mut state = 0x1234_5678_9abc_def1u64;
    let v: Vec<u64> = (0..1_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        })
        .collect();
    let mut expected = v.clone();
    expected.sort_unstable();
    let mut par = v.clone();
    par.par_sort_unstable();
    assert_eq!(par, expected);
    let mut par = v;
    par.par_sort();
    assert_eq!(par, expected);
    // All equal: the duplicate guard keeps this linear-ish rather than quadratic.
    let mut same = vec![7u8; 1_000_000];
    same.par_sort_unstable();
    assert!(same.iter().all(|&x| x == 7));
}

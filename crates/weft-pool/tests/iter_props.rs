//! Property tests: every parallel adaptor and consumer gives what its sequential
//! `Iterator` counterpart gives, over random inputs of random lengths (0, 1, small,
//! and longer than a leaf block, so splitting really happens).

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use weft_pool::prelude::*;

/// Lengths 0 and 1 often, small ones, and some past the 4096-item block.
fn lengths() -> impl Strategy<Value = usize> {
    prop_oneof![
        2 => Just(0usize),
        2 => Just(1usize),
        6 => 2usize..64,
        3 => 64usize..3000,
        2 => 3000usize..20_000,
    ]
}

fn vec_of_i64() -> impl Strategy<Value = Vec<i64>> {
    lengths().prop_flat_map(|len| proptest::collection::vec(-1000i64..1000, len))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn map_collect_keeps_order(v in vec_of_i64()) {
        let par: Vec<i64> = v.par_iter().map(|x| x * 3 - 1).collect();
        let seq: Vec<i64> = v.iter().map(|x| x * 3 - 1).collect();
        prop_assert_eq!(par, seq);
    }

    #[test]
    fn into_par_iter_by_value(v in vec_of_i64()) {
        let strings: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        let par: Vec<usize> = strings.clone().into_par_iter().map(|s| s.len()).collect();
        let seq: Vec<usize> = strings.into_iter().map(|s| s.len()).collect();
        prop_assert_eq!(par, seq);
    }

    #[test]
    fn filter_and_filter_map(v in vec_of_i64()) {
        let par: Vec<&i64> = v.par_iter().filter(|x| **x % 3 == 0).collect();
        let seq: Vec<&i64> = v.iter().filter(|x| **x % 3 == 0).collect();
        prop_assert_eq!(par, seq);
        let par: Vec<i64> = v.par_iter().filter_map(|x| (x % 2 == 0).then_some(x / 2)).collect();
        let seq: Vec<i64> = v.iter().filter_map(|x| (x % 2 == 0).then_some(x / 2)).collect();
        prop_assert_eq!(par, seq);
    }

    #[test]
    fn flat_map_and_flat_map_iter(v in vec_of_i64()) {
        let small: Vec<i64> = v.iter().map(|x| x.rem_euclid(7)).collect();
        let par: Vec<i64> = small.par_iter().flat_map(|&n| 0..n).collect();
        let seq: Vec<i64> = small.iter().flat_map(|&n| 0..n).collect();
        prop_assert_eq!(&par, &seq);
        let par: Vec<i64> = small.par_iter().flat_map_iter(|&n| 0..n).collect();
        prop_assert_eq!(par, seq);
    }

    #[test]
    fn enumerate_zip_chain_rev(v in vec_of_i64(), w in vec_of_i64()) {
        let par: Vec<(usize, &i64)> = v.par_iter().enumerate().collect();
        let seq: Vec<(usize, &i64)> = v.iter().enumerate().collect();
        prop_assert_eq!(par, seq);
        let par: Vec<(&i64, &i64)> = v.par_iter().zip(&w).collect();
        let seq: Vec<(&i64, &i64)> = v.iter().zip(&w).collect();
        prop_assert_eq!(par, seq);
        let par: Vec<i64> = v.par_iter().copied().chain(w.par_iter().copied()).collect();
        let seq: Vec<i64> = v.iter().copied().chain(w.iter().copied()).collect();
        prop_assert_eq!(par, seq);
        let par: Vec<(usize, i64)> = v.par_iter().copied().rev().enumerate().rev().collect();
        let seq: Vec<(usize, i64)> = v.iter().copied().rev().enumerate().rev().collect();
        prop_assert_eq!(par, seq);
        let par: Vec<(i64, i64)> = v.par_iter().copied().zip(w.par_iter().copied()).rev().collect();
        let seq: Vec<(i64, i64)> = v.iter().copied().zip(w.iter().copied()).rev().collect();
        prop_assert_eq!(par, seq);
    }

    #[test]
    fn unindexed_chain_keeps_order(v in vec_of_i64(), w in vec_of_i64()) {
        let par: Vec<i64> = v.par_iter().copied().filter(|x| x % 2 == 0)
            .chain(w.par_iter().copied().filter(|x| x % 3 == 0)).collect();
        let seq: Vec<i64> = v.iter().copied().filter(|x| x % 2 == 0)
            .chain(w.iter().copied().filter(|x| x % 3 == 0)).collect();
        prop_assert_eq!(par, seq);
    }

    #[test]
    fn skip_take_and_lengths(v in vec_of_i64(), n in 0usize..25_000, min in 1usize..5000, max in 1usize..5000) {
        let par: Vec<i64> = v.par_iter().copied().skip(n).collect();
        let seq: Vec<i64> = v.iter().copied().skip(n).collect();
        prop_assert_eq!(par, seq);
        let par: Vec<i64> = v.par_iter().copied().take(n).collect();
        let seq: Vec<i64> = v.iter().copied().take(n).collect();
        prop_assert_eq!(par, seq);
        let par: Vec<i64> = v.par_iter().copied().with_min_len(min).with_max_len(max).collect();
        prop_assert_eq!(&par, &v);
        let mut collected = vec![7; 3];
        v.par_iter().copied().with_max_len(max).collect_into_vec(&mut collected);
        prop_assert_eq!(&collected, &v);
        prop_assert_eq!(v.par_iter().len(), v.len());
    }

    #[test]
    fn reductions(v in vec_of_i64()) {
        prop_assert_eq!(v.par_iter().sum::<i64>(), v.iter().sum::<i64>());
        prop_assert_eq!(v.par_iter().map(|x| x % 3).product::<i64>(), v.iter().map(|x| x % 3).product::<i64>());
        prop_assert_eq!(v.par_iter().count(), v.len());
        prop_assert_eq!(v.par_iter().copied().reduce(|| 0, |a, b| a.wrapping_add(b)), v.iter().sum::<i64>());
        prop_assert_eq!(v.par_iter().copied().reduce_with(i64::max), v.iter().copied().max());
        let folded: i64 = v.par_iter().fold(|| 0i64, |acc, x| acc + x).sum();
        prop_assert_eq!(folded, v.iter().sum::<i64>());
        let folded: i64 = v.par_iter().fold_with(0i64, |acc, x| acc + x).sum();
        prop_assert_eq!(folded, v.iter().sum::<i64>());
        let filtered_count = v.par_iter().filter(|x| **x > 0).count();
        prop_assert_eq!(filtered_count, v.iter().filter(|x| **x > 0).count());
    }

    #[test]
    fn min_max_ties_match_std(v in vec_of_i64()) {
        // Keys with many ties; the index tells which of the equal items was chosen.
        let keyed: Vec<(i64, usize)> = v.iter().enumerate().map(|(i, x)| (x % 5, i)).collect();
        prop_assert_eq!(keyed.par_iter().min_by_key(|p| p.0), keyed.iter().min_by_key(|p| p.0));
        prop_assert_eq!(keyed.par_iter().max_by_key(|p| p.0), keyed.iter().max_by_key(|p| p.0));
        prop_assert_eq!(keyed.par_iter().min_by(|a, b| a.0.cmp(&b.0)), keyed.iter().min_by(|a, b| a.0.cmp(&b.0)));
        prop_assert_eq!(keyed.par_iter().max_by(|a, b| a.0.cmp(&b.0)), keyed.iter().max_by(|a, b| a.0.cmp(&b.0)));
        prop_assert_eq!(v.par_iter().min(), v.iter().min());
        prop_assert_eq!(v.par_iter().max(), v.iter().max());
    }

    #[test]
    fn searches(v in vec_of_i64(), target in -1000i64..1000) {
        let hit = |x: &&i64| (**x - target).abs() < 20;
        prop_assert_eq!(v.par_iter().find_first(hit), v.iter().find(hit));
        prop_assert_eq!(v.par_iter().find_last(hit), v.iter().rev().find(hit));
        prop_assert_eq!(v.par_iter().position_first(|x| (x - target).abs() < 20), v.iter().position(|x| (x - target).abs() < 20));
        prop_assert_eq!(v.par_iter().position_last(|x| (x - target).abs() < 20), v.iter().rposition(|x| (x - target).abs() < 20));
        let any = v.par_iter().find_any(hit);
        prop_assert_eq!(any.is_some(), v.iter().any(|x| hit(&x)));
        if let Some(found) = any {
            prop_assert!(hit(&found));
        }
        if let Some(index) = v.par_iter().position_any(|x| (x - target).abs() < 20) {
            prop_assert!((v[index] - target).abs() < 20);
        } else {
            prop_assert!(!v.iter().any(|x| (x - target).abs() < 20));
        }
        prop_assert_eq!(v.par_iter().any(|x| *x == target), v.contains(&target));
        prop_assert_eq!(v.par_iter().all(|x| *x != target), !v.contains(&target));
    }

    #[test]
    fn unindexed_searches(v in vec_of_i64(), target in -1000i64..1000) {
        // Through `filter`, so the consumers are split without indices.
        let hit = |x: &i64| (x - target).abs() < 50;
        let par = v.par_iter().copied().filter(|x| x % 2 == 0).find_first(hit);
        let seq = v.iter().copied().filter(|x| x % 2 == 0).find(hit);
        prop_assert_eq!(par, seq);
        let par = v.par_iter().copied().filter(|x| x % 2 == 0).find_last(hit);
        let seq = v.iter().copied().filter(|x| x % 2 == 0).rev().find(hit);
        prop_assert_eq!(par, seq);
    }

    #[test]
    fn collections(v in vec_of_i64()) {
        let par: HashSet<i64> = v.par_iter().copied().collect();
        prop_assert_eq!(par, v.iter().copied().collect::<HashSet<i64>>());
        let par: HashMap<i64, usize> = v.par_iter().enumerate().map(|(i, x)| (*x, i)).collect();
        // Later entries win in both.
        prop_assert_eq!(par, v.iter().enumerate().map(|(i, x)| (*x, i)).collect::<HashMap<i64, usize>>());
        let par: BTreeSet<i64> = v.par_iter().copied().collect();
        prop_assert_eq!(par, v.iter().copied().collect::<BTreeSet<i64>>());
        let par: BTreeMap<i64, usize> = v.par_iter().enumerate().map(|(i, x)| (*x, i)).collect();
        prop_assert_eq!(par, v.iter().enumerate().map(|(i, x)| (*x, i)).collect::<BTreeMap<i64, usize>>());
        let par: String = v.par_iter().map(|x| char::from(b'a' + x.rem_euclid(26) as u8)).collect();
        let seq: String = v.iter().map(|x| char::from(b'a' + x.rem_euclid(26) as u8)).collect();
        prop_assert_eq!(&par, &seq);
        let words: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        let par: String = words.par_iter().map(String::as_str).collect();
        prop_assert_eq!(par, words.concat());
        let mut extended = vec![1i64, 2];
        extended.par_extend(v.par_iter().copied().filter(|x| x % 2 == 0));
        let mut seq = vec![1i64, 2];
        seq.extend(v.iter().copied().filter(|x| x % 2 == 0));
        prop_assert_eq!(extended, seq);
    }

    #[test]
    fn hash_sources(v in vec_of_i64()) {
        let map: HashMap<i64, i64> = v.iter().map(|x| (*x, x * 2)).collect();
        prop_assert_eq!(map.par_iter().map(|(_, v)| *v).sum::<i64>(), map.values().sum::<i64>());
        let mut keys: Vec<i64> = map.clone().into_par_iter().map(|(k, _)| k).collect();
        keys.sort_unstable();
        let mut expected: Vec<i64> = map.keys().copied().collect();
        expected.sort_unstable();
        prop_assert_eq!(keys, expected);
        let mut mutable = map.clone();
        mutable.par_iter_mut().for_each(|(_, v)| *v += 1);
        prop_assert!(mutable.iter().all(|(k, v)| *v == k * 2 + 1));
        let set: HashSet<i64> = v.iter().copied().collect();
        prop_assert_eq!(set.par_iter().count(), set.len());
        prop_assert_eq!(set.clone().into_par_iter().sum::<i64>(), set.iter().sum::<i64>());
    }

    #[test]
    fn results_and_options(v in vec_of_i64()) {
        let par: Result<Vec<i64>, i64> = v.par_iter().map(|&x| if x > 990 { Err(x) } else { Ok(x) }).collect();
        match par {
            Ok(values) => prop_assert_eq!(values, v.clone()),
            Err(bad) => prop_assert!(bad > 990 && v.contains(&bad)),
        }
        let par: Option<Vec<i64>> = v.par_iter().map(|&x| (x <= 990).then_some(x)).collect();
        prop_assert_eq!(par, v.iter().map(|&x| (x <= 990).then_some(x)).collect::<Option<Vec<i64>>>());
    }

    #[test]
    fn unzip_and_partition(v in vec_of_i64()) {
        let (a, b): (Vec<i64>, Vec<usize>) = v.par_iter().enumerate().map(|(i, x)| (*x, i)).unzip();
        let (sa, sb): (Vec<i64>, Vec<usize>) = v.iter().enumerate().map(|(i, x)| (*x, i)).unzip();
        prop_assert_eq!((a, b), (sa, sb));
        let (even, odd): (Vec<i64>, Vec<i64>) = v.par_iter().copied().partition(|x| x % 2 == 0);
        let (se, so): (Vec<i64>, Vec<i64>) = v.iter().copied().partition(|x| x % 2 == 0);
        prop_assert_eq!((even, odd), (se, so));
    }

    #[test]
    fn chunks_and_mutation(mut v in vec_of_i64(), size in 1usize..300) {
        let par: Vec<i64> = v.par_chunks(size).map(|c| c.iter().sum()).collect();
        let seq: Vec<i64> = v.chunks(size).map(|c| c.iter().sum()).collect();
        prop_assert_eq!(par, seq);
        let mut expected = v.clone();
        expected.chunks_mut(size).for_each(|c| c.reverse());
        v.par_chunks_mut(size).for_each(|c| c.reverse());
        prop_assert_eq!(&v, &expected);
        v.par_iter_mut().for_each(|x| *x += 1);
        let expected: Vec<i64> = expected.iter().map(|x| x + 1).collect();
        prop_assert_eq!(v, expected);
    }

    #[test]
    fn map_with_and_map_init(v in vec_of_i64()) {
        // The state is per piece: a running count restarts in every piece, so only
        // its use as scratch (not its value) may affect the result.
        let par: Vec<i64> = v.par_iter().map_with(Vec::new(), |scratch: &mut Vec<i64>, x| {
            scratch.clear();
            scratch.push(*x);
            scratch[0] * 2
        }).collect();
        let seq: Vec<i64> = v.iter().map(|x| x * 2).collect();
        prop_assert_eq!(&par, &seq);
        let inits = std::sync::atomic::AtomicUsize::new(0);
        let par: Vec<i64> = v.par_iter().copied().filter(|x| x % 2 == 0).map_init(
            || {
                inits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                0i64
            },
            |last, x| {
                *last = x;
                x + 1
            },
        ).collect();
        let seq: Vec<i64> = v.iter().copied().filter(|x| x % 2 == 0).map(|x| x + 1).collect();
        prop_assert_eq!(par, seq);
        // One per piece, never one per item (for more than a handful of items).
        if v.len() > 1000 {
            prop_assert!(inits.into_inner() < v.len() / 2);
        }
        let par: Vec<(usize, i64)> = v.par_iter().map_init(|| 0usize, |_, x| *x).enumerate().rev().collect();
        let seq: Vec<(usize, i64)> = v.iter().copied().enumerate().rev().collect();
        prop_assert_eq!(par, seq);
    }

    #[test]
    fn inspect_and_cloned(v in vec_of_i64()) {
        let seen = std::sync::atomic::AtomicUsize::new(0);
        let par: Vec<i64> = v.par_iter().cloned().inspect(|_| {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }).collect();
        prop_assert_eq!(&par, &v);
        prop_assert_eq!(seen.into_inner(), v.len());
    }

    #[test]
    fn ranges(start in -3000i64..3000, len in lengths()) {
        let end = start + len as i64;
        prop_assert_eq!((start..end).into_par_iter().collect::<Vec<_>>(), (start..end).collect::<Vec<_>>());
        prop_assert_eq!((start..=end).into_par_iter().sum::<i64>(), (start..=end).sum::<i64>());
        prop_assert_eq!((start..end).into_par_iter().rev().skip(3).collect::<Vec<_>>(), (start..end).rev().skip(3).collect::<Vec<_>>());
        let u = len as u32;
        prop_assert_eq!((0..u).into_par_iter().map(u64::from).sum::<u64>(), (0..u).map(u64::from).sum::<u64>());
        prop_assert_eq!((0..=u).into_par_iter().len(), (0..=u).count());
    }

    #[test]
    fn chars(s in "\\PC{0,3000}") {
        let par: Vec<char> = s.par_chars().collect();
        let seq: Vec<char> = s.chars().collect();
        prop_assert_eq!(par, seq);
        prop_assert_eq!(s.par_chars().count(), s.chars().count());
    }
}

#[test]
fn extreme_ranges() {
    assert_eq!(
        (250u8..=255).into_par_iter().collect::<Vec<_>>(),
        [250, 251, 252, 253, 254, 255]
    );
    assert_eq!((i8::MIN..=i8::MAX).into_par_iter().count(), 256);
    assert_eq!(
        (i64::MAX - 2..=i64::MAX)
            .into_par_iter()
            .rev()
            .collect::<Vec<_>>(),
        [i64::MAX, i64::MAX - 1, i64::MAX - 2]
    );
    assert_eq!(
        (i64::MIN..i64::MIN + 3).into_par_iter().collect::<Vec<_>>(),
        [i64::MIN, i64::MIN + 1, i64::MIN + 2]
    );
    #[allow(clippy::reversed_empty_ranges)]
    let empty = (5..0i32).into_par_iter().count();
    assert_eq!(empty, 0);
    assert_eq!(Some(5).into_par_iter().chain(None).collect::<Vec<_>>(), [5]);
    assert_eq!(
        Some(1).par_iter().zip(&[9, 8]).collect::<Vec<_>>(),
        [(&1, &9)]
    );
}

#[test]
fn large_sum_and_collect() {
    let v: Vec<u64> = (0..2_000_000).collect();
    assert_eq!(
        v.par_iter().map(|x| x * 2).sum::<u64>(),
        2 * (2_000_000 * 1_999_999 / 2)
    );
    let doubled: Vec<u64> = v.par_iter().map(|x| x * 2).collect();
    assert!(doubled.iter().enumerate().all(|(i, &x)| x == 2 * i as u64));
    let nested: u64 = (0..100u64)
        .into_par_iter()
        .flat_map(|i| (0..10_000u64).into_par_iter().map(move |j| i * j))
        .sum();
    let expected: u64 = (0..100u64)
        .map(|i| (0..10_000u64).map(|j| i * j).sum::<u64>())
        .sum();
    assert_eq!(nested, expected);
}

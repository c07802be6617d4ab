//! Stress: many small jobs from many external threads into one pool; every result is
//! checked, nothing lost or run twice. Plus property tests of join trees.

use proptest::prelude::*;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use weft_pool::{ThreadPoolBuilder, join};

#[test]
fn many_external_threads_many_small_jobs() {
    let pool = ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let spawned_sum = AtomicU64::new(0);
    let spawned_count = AtomicUsize::new(0);
    const THREADS: u64 = 8;
    const JOBS: u64 = 1500;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let pool = &pool;
            let spawned_sum = &spawned_sum;
            let spawned_count = &spawned_count;
            s.spawn(move || {
                for i in 0..JOBS {
                    let x = t * JOBS + i;
                    match i % 4 {
                        0 => assert_eq!(pool.join(|| x * 2, || x * 3), (x * 2, x * 3)),
                        1 => assert_eq!(pool.install(|| x + 1), x + 1),
                        2 => {
                            let mut out = [0u64; 4];
                            pool.scope(|s| {
                                for (k, slot) in out.iter_mut().enumerate() {
                                    s.spawn(move |_| *slot = x + k as u64);
                                }
                            });
                            assert_eq!(out, [x, x + 1, x + 2, x + 3]);
                        }
                        _ => {
                            // From outside any pool: the global pool's join.
                            let (a, b) = join(|| x, || ());
                            spawned_count.fetch_add(1, Ordering::Relaxed);
                            spawned_sum.fetch_add(a, Ordering::Relaxed);
                            b
                        }
                    }
                }
            });
        }
    });
    let expected: u64 = (0..THREADS)
        .flat_map(|t| (0..JOBS).filter(|i| i % 4 == 3).map(move |i| t * JOBS + i))
        .sum();
    assert_eq!(
        spawned_count.load(Ordering::Relaxed),
        (THREADS * JOBS / 4) as usize
    );
    assert_eq!(spawned_sum.load(Ordering::Relaxed), expected);
}

#[test]
fn many_external_threads_spawning_static_jobs() {
    let pool = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel::<u64>();
    std::thread::scope(|s| {
        for t in 0..6u64 {
            let pool = &pool;
            let sender = sender.clone();
            s.spawn(move || {
                for i in 0..2000u64 {
                    let sender = sender.clone();
                    pool.spawn(move || sender.send(t * 10_000 + i).unwrap());
                }
            });
        }
    });
    drop(sender);
    let mut got: Vec<u64> = receiver.iter().collect();
    got.sort_unstable();
    let mut expected: Vec<u64> = (0..6u64)
        .flat_map(|t| (0..2000).map(move |i| t * 10_000 + i))
        .collect();
    expected.sort_unstable();
    assert_eq!(got, expected, "every spawned job runs exactly once");
}

#[test]
fn counting_jobs_in_a_deep_fork_join_tree() {
    let pool = ThreadPoolBuilder::new().num_threads(4).build().unwrap();
    let runs = AtomicUsize::new(0);
    fn tree(depth: u32, runs: &AtomicUsize) -> u64 {
        runs.fetch_add(1, Ordering::Relaxed);
        if depth == 0 {
            return 1;
        }
        let (a, b) = join(|| tree(depth - 1, runs), || tree(depth - 1, runs));
        a + b
    }
    for _ in 0..5 {
        runs.store(0, Ordering::Relaxed);
        assert_eq!(pool.install(|| tree(16, &runs)), 1 << 16);
        assert_eq!(runs.load(Ordering::Relaxed), (1 << 17) - 1);
    }
}

/// A random binary tree of work, summed by `join` and sequentially.
#[derive(Debug, Clone)]
enum Tree {
    Leaf(u32),
    Node(Box<Tree>, Box<Tree>),
}

fn tree_strategy() -> impl Strategy<Value = Tree> {
    let leaf = any::<u32>().prop_map(Tree::Leaf);
    leaf.prop_recursive(12, 512, 2, |inner| {
        (inner.clone(), inner).prop_map(|(a, b)| Tree::Node(Box::new(a), Box::new(b)))
    })
}

fn sum_parallel(tree: &Tree) -> u64 {
    match tree {
        Tree::Leaf(x) => u64::from(*x),
        Tree::Node(a, b) => {
            let (x, y) = join(|| sum_parallel(a), || sum_parallel(b));
            x + y
        }
    }
}

fn sum_sequential(tree: &Tree) -> u64 {
    match tree {
        Tree::Leaf(x) => u64::from(*x),
        Tree::Node(a, b) => sum_sequential(a) + sum_sequential(b),
    }
}

fn count_leaves_by_scope(tree: &Tree) -> usize {
    let count = AtomicUsize::new(0);
    fn visit<'s>(s: &weft_pool::Scope<'s>, tree: &'s Tree, count: &'s AtomicUsize) {
        match tree {
            Tree::Leaf(_) => {
                count.fetch_add(1, Ordering::Relaxed);
            }
            Tree::Node(a, b) => {
                s.spawn(move |s| visit(s, a, count));
                s.spawn(move |s| visit(s, b, count));
            }
        }
    }
    weft_pool::scope(|s| visit(s, tree, &count));
    count.into_inner()
}

fn count_leaves(tree: &Tree) -> usize {
    match tree {
        Tree::Leaf(_) => 1,
        Tree::Node(a, b) => count_leaves(a) + count_leaves(b),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn join_tree_sum_equals_sequential(tree in tree_strategy()) {
        prop_assert_eq!(sum_parallel(&tree), sum_sequential(&tree));
    }

    #[test]
    fn scope_visits_every_leaf_once(tree in tree_strategy()) {
        prop_assert_eq!(count_leaves_by_scope(&tree), count_leaves(&tree));
    }

    #[test]
    fn quicksort_by_join_sorts(mut values in proptest::collection::vec(any::<u32>(), 0..5000)) {
        fn quicksort(v: &mut [u32]) {
            if v.len() <= 16 {
                v.sort_unstable();
                return;
            }
            let pivot = v[v.len() / 2];
            let mut store = 0;
            let last = v.len() - 1;
            v.swap(v.len() / 2, last);
            for i in 0..last {
                if v[i] < pivot {
                    v.swap(i, store);
                    store += 1;
                }
            }
            v.swap(store, last);
            let (left, right) = v.split_at_mut(store);
            join(|| quicksort(left), || quicksort(&mut right[1..]));
        }
        let mut expected = values.clone();
        expected.sort_unstable();
        quicksort(&mut values);
        prop_assert_eq!(values, expected);
    }
}

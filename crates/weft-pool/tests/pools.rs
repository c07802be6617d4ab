//! Nested pools: `install` across pools, `join` inside cross-pool `install`, and calls
//! back into the first pool, without deadlock.

use std::sync::atomic::{AtomicUsize, Ordering};
use weft_pool::{ThreadPool, ThreadPoolBuilder, join};

fn pool(threads: usize, tag: &'static str) -> ThreadPool {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("{tag}-{i}"))
        .build()
        .unwrap()
}

fn thread_tag() -> String {
    std::thread::current()
        .name()
        .unwrap_or("outside")
        .split('-')
        .next()
        .unwrap()
        .to_owned()
}

fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = join(|| fib(n - 1), || fib(n - 2));
    a + b
}

#[test]
fn install_runs_on_the_target_pool() {
    let a = pool(2, "a");
    let b = pool(2, "b");
    let (outer, inner) = a.install(|| (thread_tag(), b.install(thread_tag)));
    assert_eq!(outer, "a");
    assert_eq!(inner, "b");
}

#[test]
fn install_across_pools_and_back() {
    let a = pool(1, "a");
    let b = pool(1, "b");
    // With one worker each: a's worker waits for b while b's worker calls back into a.
    // a's worker must keep running a's jobs while it waits, or this deadlocks.
    let tags = a.install(|| b.install(|| a.install(|| (thread_tag(), fib(15)))));
    assert_eq!(tags, ("a".to_owned(), 610));
}

#[test]
fn joins_inside_cross_pool_installs() {
    let a = pool(2, "a");
    let b = pool(2, "b");
    let count = AtomicUsize::new(0);
    a.install(|| {
        join(
            || {
                let x = b.install(|| fib(18));
                count.fetch_add(1, Ordering::SeqCst);
                x
            },
            || {
                let y = b.join(|| fib(17), || a.install(|| fib(16)));
                count.fetch_add(1, Ordering::SeqCst);
                y
            },
        )
    });
    assert_eq!(count.load(Ordering::SeqCst), 2);
    let results = a.install(|| {
        weft_pool::scope(|s| {
            for _ in 0..8 {
                s.spawn(|_| {
                    assert_eq!(b.install(|| fib(14)), 377);
                    count.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        count.load(Ordering::SeqCst)
    });
    assert_eq!(results, 10);
}

#[test]
fn many_threads_install_into_many_pools() {
    let pools: Vec<ThreadPool> = (0..3).map(|_| pool(2, "p")).collect();
    std::thread::scope(|s| {
        for t in 0..6 {
            let pools = &pools;
            s.spawn(move || {
                for round in 0..50 {
                    let first = &pools[(t + round) % 3];
                    let second = &pools[(t + round + 1) % 3];
                    let value = first.install(|| second.install(|| fib(10)) + fib(5));
                    assert_eq!(value, 55 + 5);
                }
            });
        }
    });
}

#[test]
fn install_from_inside_the_same_pool_runs_in_place() {
    let a = pool(2, "a");
    let (outer, inner) = a.install(|| {
        let outer = weft_pool::current_thread_index();
        (outer, a.install(weft_pool::current_thread_index))
    });
    assert_eq!(outer, inner);
}

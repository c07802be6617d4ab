//! `join` and `join_context`: results, nesting, calls from outside, migration.

use weft_pool::{ThreadPoolBuilder, join, join_context};

fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = join(|| fib(n - 1), || fib(n - 2));
    a + b
}

fn fib_sequential(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib_sequential(n - 1) + fib_sequential(n - 2)
    }
}

#[test]
fn fib_by_join_matches_sequential() {
    let pool = ThreadPoolBuilder::new().num_threads(4).build().unwrap();
    for n in [0, 1, 2, 10, 20, 24] {
        assert_eq!(pool.install(|| fib(n)), fib_sequential(n), "fib({n})");
    }
}

#[test]
fn join_from_outside_any_pool_uses_the_global_pool() {
    let (a, b) = join(weft_pool::current_thread_index, || 7);
    assert!(a.unwrap() < weft_pool::current_num_threads());
    assert_eq!(b, 7);
    assert_eq!(fib(18), fib_sequential(18));
}

fn nest(depth: usize) -> usize {
    if depth == 0 {
        return 0;
    }
    let (a, b) = join(|| nest(depth - 1), || 1);
    a + b
}

#[test]
fn joins_nested_a_thousand_deep() {
    // The default worker stack holds a thousand nested joins.
    let pool = ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    assert_eq!(pool.install(|| nest(1000)), 1000);
    // From outside, too (the outer call is injected).
    assert_eq!(nest(1000), 1000);
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<weft_pool::ThreadPool>();
    send_sync::<weft_pool::Scope<'static>>();
    send_sync::<weft_pool::ScopeFifo<'static>>();
    send_sync::<weft_pool::ThreadPoolBuildError>();
}

#[test]
fn join_borrows_and_mutates_disjoint_halves() {
    let mut data: Vec<u64> = (0..10_000).collect();
    fn double(slice: &mut [u64]) {
        if slice.len() <= 64 {
            slice.iter_mut().for_each(|x| *x *= 2);
            return;
        }
        let (left, right) = slice.split_at_mut(slice.len() / 2);
        join(|| double(left), || double(right));
    }
    let pool = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    pool.install(|| double(&mut data));
    assert!(data.iter().enumerate().all(|(i, &x)| x == 2 * i as u64));
}

#[test]
fn join_context_reports_migration() {
    let pool = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    // Inside the pool, `a` runs where the join was called: never migrated.
    let migrated_a = pool.install(|| join_context(|ctx| ctx.migrated(), |_| ()).0);
    assert!(!migrated_a);
    // `b` migrated exactly when it ran on another thread.
    for _ in 0..100 {
        let (migrated, moved) = pool.install(|| {
            let here = weft_pool::current_thread_index();
            let ((), (migrated, there)) = join_context(
                |_| std::thread::sleep(std::time::Duration::from_micros(200)),
                |ctx| (ctx.migrated(), weft_pool::current_thread_index()),
            );
            (migrated, there != here)
        });
        assert_eq!(migrated, moved);
    }
}

#[test]
fn join_on_a_pool_of_one_runs_both_sides() {
    let pool = ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    assert_eq!(pool.join(|| 1, || 2), (1, 2));
    assert_eq!(pool.install(|| fib(15)), fib_sequential(15));
}

//! Unit tests of `Barrier`: leaders, generations, threads and tasks mixed.
#![cfg(not(loom))]

mod common;

use common::block_on;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use weft_sync::Barrier;

#[test]
fn zero_and_one_never_block_and_always_lead() {
    for n in [0, 1] {
        let b = Barrier::new(n);
        for _ in 0..3 {
            assert!(b.wait().is_leader());
            assert!(block_on(b.wait_async()).is_leader());
        }
    }
}

#[test]
fn many_generations_have_exactly_one_leader_each() {
    const THREADS: usize = 4;
    const GENERATIONS: usize = 200;
    let barrier = Arc::new(Barrier::new(THREADS));
    let leaders: Arc<Vec<AtomicUsize>> =
        Arc::new((0..GENERATIONS).map(|_| AtomicUsize::new(0)).collect());
    let arrived: Arc<Vec<AtomicUsize>> =
        Arc::new((0..GENERATIONS).map(|_| AtomicUsize::new(0)).collect());
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let (barrier, leaders, arrived) = (
                Arc::clone(&barrier),
                Arc::clone(&leaders),
                Arc::clone(&arrived),
            );
            std::thread::spawn(move || {
                for g in 0..GENERATIONS {
                    arrived[g].fetch_add(1, Ordering::Relaxed);
                    // Odd threads wait as tasks: both kinds share the barrier.
                    let result = if i % 2 == 0 {
                        barrier.wait()
                    } else {
                        block_on(barrier.wait_async())
                    };
                    // Nobody leaves generation g before all arrived at it.
                    assert_eq!(arrived[g].load(Ordering::Relaxed), THREADS);
                    if result.is_leader() {
                        leaders[g].fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for (g, l) in leaders.iter().enumerate() {
        assert_eq!(l.load(Ordering::Relaxed), 1, "generation {g}");
    }
}

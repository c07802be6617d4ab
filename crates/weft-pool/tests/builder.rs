//! `ThreadPoolBuilder`: sizes, names, stack size, handlers, errors; thread indices.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use weft_pool::{ErrorKind, ThreadPoolBuilder};

/// Polls `condition` until it holds, 1 ms apart, and fails after 30,000 polls: the
/// bound only stops a broken build from hanging; it says nothing about speed.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..30_000 {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("never happened: {what}");
}

#[test]
fn start_and_exit_handlers_run_once_per_thread() {
    for threads in [1, 2, 5] {
        let started = Arc::new(AtomicUsize::new(0));
        let exited = Arc::new(AtomicUsize::new(0));
        let indices = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, e, i) = (started.clone(), exited.clone(), indices.clone());
        let pool = ThreadPoolBuilder::new()
            .num_threads(threads)
            .start_handler(move |index| {
                s.fetch_add(1, Ordering::SeqCst);
                i.lock().unwrap().push(index);
            })
            .exit_handler(move |_| {
                e.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        assert_eq!(started.load(Ordering::SeqCst), threads);
        assert_eq!(pool.join(|| 1, || 2), (1, 2));
        assert_eq!(exited.load(Ordering::SeqCst), 0);
        drop(pool);
        eventually("every worker ran its exit handler", || {
            exited.load(Ordering::SeqCst) == threads
        });
        let mut indices = indices.lock().unwrap().clone();
        indices.sort_unstable();
        assert_eq!(indices, (0..threads).collect::<Vec<_>>());
    }
}

#[test]
fn threads_get_their_names() {
    let pool = ThreadPoolBuilder::new()
        .num_threads(3)
        .thread_name(|i| format!("pool-test-{i}"))
        .build()
        .unwrap();
    let names = std::sync::Mutex::new(std::collections::BTreeSet::new());
    pool.scope(|s| {
        for _ in 0..64 {
            s.spawn(|_| {
                let name = std::thread::current().name().unwrap().to_owned();
                let index = weft_pool::current_thread_index().unwrap();
                assert_eq!(name, format!("pool-test-{index}"));
                names.lock().unwrap().insert(name);
                std::thread::sleep(Duration::from_micros(100));
            });
        }
    });
    assert!(!names.into_inner().unwrap().is_empty());
}

#[test]
fn current_thread_index_is_within_range_and_per_pool() {
    let a = ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let b = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    assert_eq!(weft_pool::current_thread_index(), None);
    assert_eq!(a.current_thread_index(), None);
    a.scope(|s| {
        for _ in 0..100 {
            s.spawn(|_| {
                let index = weft_pool::current_thread_index().unwrap();
                assert!(index < 3);
                assert_eq!(a.current_thread_index(), Some(index));
                assert_eq!(b.current_thread_index(), None);
                assert_eq!(weft_pool::current_num_threads(), 3);
            });
        }
    });
    assert_eq!(b.install(weft_pool::current_num_threads), 2);
}

#[test]
fn a_big_stack_size_is_honoured() {
    fn deep(n: u32) -> u32 {
        let buffer = std::hint::black_box([n as u8; 1024]);
        if n == 0 {
            0
        } else {
            deep(n - 1) + u32::from(buffer[1023] == n as u8)
        }
    }
    let pool = ThreadPoolBuilder::new()
        .num_threads(1)
        .stack_size(64 << 20)
        .build()
        .unwrap();
    // ~20 MB of frames: more than the default 2 MB worker stack.
    assert_eq!(pool.install(|| deep(20_000)), 20_000);
}

#[test]
fn failing_thread_spawn_is_a_typed_error() {
    let error = ThreadPoolBuilder::new()
        .num_threads(2)
        .stack_size(usize::MAX / 4)
        .build()
        .unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::IOError(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("could not start a worker thread")
    );
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn default_size_is_the_core_count() {
    let pool = ThreadPoolBuilder::new().build().unwrap();
    let expected = std::env::var("WEFT_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().unwrap().get());
    assert_eq!(pool.current_num_threads(), expected);
}

//! Panics in every position: re-thrown with their payload, after the other work
//! finished, and the pool keeps working afterwards.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use weft_pool::{ThreadPool, ThreadPoolBuilder, join, scope};

fn pool(threads: usize) -> ThreadPool {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn panic_in_a_waits_for_b_and_is_rethrown() {
    let pool = pool(2);
    for _ in 0..20 {
        let b_done = AtomicBool::new(false);
        let payload = catch_unwind(AssertUnwindSafe(|| {
            pool.join(
                || panic!("a failed"),
                || {
                    std::thread::sleep(Duration::from_millis(1));
                    b_done.store(true, Ordering::SeqCst);
                },
            )
        }))
        .unwrap_err();
        assert_eq!(message(payload), "a failed");
        assert!(
            b_done.load(Ordering::SeqCst),
            "b must finish before a's panic is re-thrown"
        );
    }
    assert_eq!(pool.join(|| 1, || 2), (1, 2));
}

#[test]
fn panic_in_b_is_rethrown_after_a() {
    let pool = pool(2);
    for _ in 0..20 {
        let a_done = AtomicBool::new(false);
        let payload = catch_unwind(AssertUnwindSafe(|| {
            pool.join(
                || {
                    std::thread::sleep(Duration::from_millis(1));
                    a_done.store(true, Ordering::SeqCst);
                },
                || panic!("b failed"),
            )
        }))
        .unwrap_err();
        assert_eq!(message(payload), "b failed");
        assert!(a_done.load(Ordering::SeqCst));
    }
}

#[test]
fn panic_in_both_rethrows_a() {
    let pool = pool(2);
    for _ in 0..20 {
        let payload = catch_unwind(AssertUnwindSafe(|| {
            pool.join(|| panic!("from a"), || panic!("from b"))
        }))
        .unwrap_err();
        assert_eq!(message(payload), "from a");
    }
}

#[test]
fn panic_deep_in_nested_joins_reaches_the_top() {
    fn nest(depth: u32) -> u32 {
        if depth == 0 {
            panic!("leaf {depth}");
        }
        let (a, b) = join(|| nest(depth - 1), || depth);
        a + b
    }
    let pool = pool(3);
    let payload = catch_unwind(AssertUnwindSafe(|| pool.install(|| nest(50)))).unwrap_err();
    assert_eq!(message(payload), "leaf 0");
}

#[test]
fn panic_in_a_scope_task_is_rethrown_after_all_tasks() {
    let pool = pool(3);
    let finished = AtomicUsize::new(0);
    let payload = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            for i in 0..50 {
                let finished = &finished;
                s.spawn(move |_| {
                    if i == 7 {
                        panic!("task 7");
                    }
                    std::thread::sleep(Duration::from_micros(200));
                    finished.fetch_add(1, Ordering::SeqCst);
                });
            }
        })
    }))
    .unwrap_err();
    assert_eq!(message(payload), "task 7");
    assert_eq!(finished.load(Ordering::SeqCst), 49);
}

#[test]
fn scope_keeps_one_payload_when_many_tasks_panic() {
    let pool = pool(2);
    let payload = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            for i in 0..20 {
                s.spawn(move |_| panic!("task {i}"));
            }
        })
    }))
    .unwrap_err();
    assert!(message(payload).starts_with("task "));
}

#[test]
fn panic_in_the_scope_body_waits_for_its_tasks() {
    let pool = pool(2);
    let finished = AtomicUsize::new(0);
    let payload = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            for _ in 0..10 {
                s.spawn(|_| {
                    std::thread::sleep(Duration::from_micros(500));
                    finished.fetch_add(1, Ordering::SeqCst);
                });
            }
            panic!("body");
        })
    }))
    .unwrap_err();
    assert_eq!(message(payload), "body");
    assert_eq!(finished.load(Ordering::SeqCst), 10);
}

#[test]
fn panic_in_a_nested_scope_propagates_outward() {
    let pool = pool(2);
    let payload = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|outer| {
            outer.spawn(|_| {
                scope(|inner| {
                    inner.spawn(|_| panic!("inner task"));
                });
                unreachable!("the inner scope re-throws");
            });
        })
    }))
    .unwrap_err();
    assert_eq!(message(payload), "inner task");
}

#[test]
fn panic_in_install_is_rethrown() {
    let pool = pool(1);
    let payload =
        catch_unwind(AssertUnwindSafe(|| pool.install(|| panic!("installed")))).unwrap_err();
    assert_eq!(message(payload), "installed");
    assert_eq!(pool.install(|| 5), 5);
}

#[test]
fn spawn_panic_goes_to_the_handler_and_the_worker_survives() {
    let (sender, receiver) = std::sync::mpsc::channel();
    let sender = std::sync::Mutex::new(sender);
    let pool = ThreadPoolBuilder::new()
        .num_threads(1)
        .panic_handler(move |payload| sender.lock().unwrap().send(message(payload)).unwrap())
        .build()
        .unwrap();
    for i in 0..5 {
        pool.spawn(move || panic!("spawned {i}"));
    }
    let mut got: Vec<String> = (0..5).map(|_| receiver.recv().unwrap()).collect();
    got.sort();
    assert_eq!(
        got,
        (0..5).map(|i| format!("spawned {i}")).collect::<Vec<_>>()
    );
    // The single worker is still alive.
    assert_eq!(pool.install(|| 2 + 2), 4);
}

#[test]
fn spawn_panic_without_handler_keeps_the_worker_alive() {
    let pool = pool(1);
    let after = Arc::new(AtomicBool::new(false));
    pool.spawn(|| panic!("nobody listens"));
    let flag = Arc::clone(&after);
    let (sender, receiver) = std::sync::mpsc::channel();
    pool.spawn(move || {
        flag.store(true, Ordering::SeqCst);
        sender.send(()).unwrap();
    });
    receiver.recv().unwrap();
    assert!(after.load(Ordering::SeqCst));
}

#[test]
fn panicking_start_handler_goes_to_the_panic_handler() {
    let reported = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&reported);
    let pool = ThreadPoolBuilder::new()
        .num_threads(2)
        .start_handler(|_| panic!("start"))
        .panic_handler(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    // `build` waits for every start handler.
    assert_eq!(reported.load(Ordering::SeqCst), 2);
    assert_eq!(pool.join(|| 1, || 1), (1, 1));
}

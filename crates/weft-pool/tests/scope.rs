//! `scope`, `scope_fifo`, `spawn`, `spawn_fifo`, `yield_now`: every task runs, borrows
//! work, scopes nest, FIFO order holds on one worker.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use weft_pool::{ThreadPoolBuilder, Yield, scope, scope_fifo};

#[test]
fn scope_runs_every_task_and_returns_the_body_result() {
    let pool = ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let count = AtomicUsize::new(0);
    let result = pool.scope(|s| {
        for _ in 0..1000 {
            s.spawn(|_| {
                count.fetch_add(1, Ordering::Relaxed);
            });
        }
        "body"
    });
    assert_eq!(result, "body");
    assert_eq!(count.load(Ordering::Relaxed), 1000);
}

#[test]
fn scope_tasks_borrow_mutably_disjoint_parts() {
    let mut data = vec![0usize; 256];
    scope(|s| {
        for (i, chunk) in data.chunks_mut(16).enumerate() {
            s.spawn(move |_| chunk.iter_mut().for_each(|x| *x = i));
        }
    });
    assert!(data.iter().enumerate().all(|(j, &x)| x == j / 16));
}

fn spawn_tree<'scope>(s: &weft_pool::Scope<'scope>, depth: u32, count: &'scope AtomicUsize) {
    count.fetch_add(1, Ordering::Relaxed);
    if depth > 0 {
        s.spawn(move |s| spawn_tree(s, depth - 1, count));
        s.spawn(move |s| spawn_tree(s, depth - 1, count));
    }
}

#[test]
fn tasks_spawn_tasks_recursively() {
    let pool = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let count = AtomicUsize::new(0);
    pool.scope(|s| spawn_tree(s, 10, &count));
    assert_eq!(count.load(Ordering::Relaxed), (1 << 11) - 1);
}

#[test]
fn scopes_spawning_scopes() {
    let pool = ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let count = AtomicUsize::new(0);
    pool.scope(|outer| {
        for _ in 0..10 {
            outer.spawn(|_| {
                scope(|inner| {
                    for _ in 0..10 {
                        inner.spawn(|_| {
                            scope(|innermost| {
                                innermost.spawn(|_| {
                                    count.fetch_add(1, Ordering::Relaxed);
                                });
                            });
                        });
                    }
                });
            });
        }
    });
    assert_eq!(count.load(Ordering::Relaxed), 100);
}

#[test]
fn scope_from_outside_the_pool_and_spawn_from_a_foreign_thread() {
    let count = AtomicUsize::new(0);
    scope(|s| {
        // A thread outside the pool spawns into the scope: the task is injected.
        std::thread::scope(|t| {
            t.spawn(|| {
                s.spawn(|_| {
                    count.fetch_add(1, Ordering::Relaxed);
                });
            });
        });
        s.spawn(|_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
    });
    assert_eq!(count.load(Ordering::Relaxed), 2);
}

#[test]
fn scope_fifo_runs_a_workers_tasks_oldest_first() {
    let pool = ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let order = Mutex::new(Vec::new());
    pool.scope_fifo(|s| {
        for i in 0..100 {
            let order = &order;
            s.spawn_fifo(move |_| order.lock().unwrap().push(i));
        }
    });
    assert_eq!(order.into_inner().unwrap(), (0..100).collect::<Vec<_>>());
}

#[test]
fn scope_lifo_runs_a_workers_tasks_newest_first() {
    let pool = ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let order = Mutex::new(Vec::new());
    pool.scope(|s| {
        for i in 0..100 {
            let order = &order;
            s.spawn(move |_| order.lock().unwrap().push(i));
        }
    });
    assert_eq!(
        order.into_inner().unwrap(),
        (0..100).rev().collect::<Vec<_>>()
    );
}

#[test]
fn scope_fifo_on_many_threads_runs_everything() {
    let pool = ThreadPoolBuilder::new().num_threads(4).build().unwrap();
    let sum = AtomicUsize::new(0);
    pool.install(|| {
        scope_fifo(|s| {
            for i in 0..2000 {
                let sum = &sum;
                s.spawn_fifo(move |s| {
                    sum.fetch_add(i, Ordering::Relaxed);
                    if i % 10 == 0 {
                        s.spawn_fifo(move |_| {
                            sum.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                });
            }
        })
    });
    assert_eq!(sum.load(Ordering::Relaxed), 1999 * 2000 / 2 + 200);
}

#[test]
fn spawn_and_spawn_fifo_run_every_job() {
    let pool = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    for i in 0..500u64 {
        let sender = sender.clone();
        if i % 2 == 0 {
            pool.spawn(move || sender.send(i).unwrap());
        } else {
            pool.spawn_fifo(move || sender.send(i).unwrap());
        }
    }
    // Spawns from inside a worker go on its deque / behind its FIFO.
    let inner = sender.clone();
    pool.install(move || {
        for i in 500..600u64 {
            let sender = inner.clone();
            if i % 2 == 0 {
                weft_pool::spawn(move || sender.send(i).unwrap());
            } else {
                weft_pool::spawn_fifo(move || sender.send(i).unwrap());
            }
        }
    });
    drop(sender);
    let mut got: Vec<u64> = receiver.iter().collect();
    got.sort_unstable();
    assert_eq!(got, (0..600).collect::<Vec<_>>());
}

#[test]
fn spawn_fifo_from_one_worker_runs_in_order() {
    let pool = ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    pool.install(|| {
        for i in 0..50 {
            let sender = sender.clone();
            weft_pool::spawn_fifo(move || sender.send(i).unwrap());
        }
    });
    drop(sender);
    assert_eq!(
        receiver.iter().collect::<Vec<_>>(),
        (0..50).collect::<Vec<_>>()
    );
}

#[test]
fn dropping_a_pool_still_runs_its_spawned_jobs() {
    let pool = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    for i in 0..100 {
        let sender = sender.clone();
        pool.spawn(move || {
            std::thread::sleep(std::time::Duration::from_micros(100));
            sender.send(i).unwrap();
        });
    }
    drop(pool);
    drop(sender);
    assert_eq!(receiver.iter().count(), 100);
}

#[test]
fn yield_now_runs_a_pending_job_or_reports_idle() {
    assert_eq!(weft_pool::yield_now(), None);
    let pool = ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let ran = AtomicUsize::new(0);
    pool.install(|| {
        scope(|s| {
            s.spawn(|_| {
                ran.fetch_add(1, Ordering::Relaxed);
            });
            // The only worker is us: the task waits on our deque until we yield.
            assert_eq!(weft_pool::yield_now(), Some(Yield::Executed));
            assert_eq!(ran.load(Ordering::Relaxed), 1);
            assert_eq!(weft_pool::yield_now(), Some(Yield::Idle));
        });
    });
}

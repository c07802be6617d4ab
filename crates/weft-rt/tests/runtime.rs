//! The runtime's behaviour: tasks complete, abort frees, panics stay in their task,
//! block_on is refused where it would stall a worker, the three flavours, LocalSet,
//! compute and spawn_blocking.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use weft_rt::{Builder, Handle, LocalSet, Runtime, RuntimeFlavor};

fn multi(threads: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(threads)
        .build()
        .unwrap()
}

/// Counts drops, to check futures are freed.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_million_tasks_all_complete() {
    let rt = multi(2);
    let done = Arc::new(AtomicUsize::new(0));
    const TASKS: usize = 1_000_000;
    rt.block_on(async {
        let mut handles = Vec::with_capacity(TASKS);
        for i in 0..TASKS {
            let done = Arc::clone(&done);
            handles.push(weft_rt::spawn(async move {
                done.fetch_add(1, Ordering::Relaxed);
                i
            }));
        }
        let mut sum = 0usize;
        for handle in handles {
            sum += handle.await.unwrap();
        }
        assert_eq!(sum, TASKS * (TASKS - 1) / 2);
    });
    assert_eq!(done.load(Ordering::SeqCst), TASKS);
}

#[test]
fn tasks_spawned_from_tasks_run_on_the_workers() {
    let rt = multi(2);
    let on_worker = rt.block_on(async {
        weft_rt::spawn(async {
            let inner = weft_rt::spawn(async { weft_pool::current_thread_index().is_some() });
            inner.await.unwrap()
        })
        .await
        .unwrap()
    });
    assert!(on_worker);
}

#[test]
fn abort_of_a_sleeping_task_frees_it() {
    let rt = multi(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(Arc::clone(&drops));
    let handle = rt.spawn(async move {
        let _guard = guard;
        weft_rt::time::sleep(Duration::from_secs(3600)).await;
    });
    // Let it start sleeping.
    rt.block_on(weft_rt::time::sleep(Duration::from_millis(20)));
    assert!(!handle.is_finished());
    handle.abort();
    let error = rt.block_on(handle).unwrap_err();
    assert!(error.is_cancelled(), "{error}");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the future was dropped once"
    );
}

#[test]
fn a_panic_is_contained_in_its_task() {
    let rt = multi(2);
    rt.block_on(async {
        let bad = weft_rt::spawn(async { panic!("boom") });
        let error = bad.await.unwrap_err();
        assert!(error.is_panic());
        assert_eq!(*error.into_panic().downcast::<&str>().unwrap(), "boom");
        // The runtime carries on.
        let good = weft_rt::spawn(async { 7 });
        assert_eq!(good.await.unwrap(), 7);
    });
}

#[test]
fn block_on_inside_spawn_blocking_works() {
    let rt = multi(2);
    let handle = rt.handle().clone();
    let value = rt.block_on(async move {
        weft_rt::spawn_blocking(move || {
            handle.block_on(async {
                weft_rt::time::sleep(Duration::from_millis(1)).await;
                weft_rt::spawn(async { 5 }).await.unwrap()
            })
        })
        .await
        .unwrap()
    });
    assert_eq!(value, 5);
}

#[test]
fn block_on_inside_a_worker_is_refused_with_the_fix_named() {
    let rt = multi(2);
    let error = rt.block_on(async {
        weft_rt::spawn(async {
            Handle::current().block_on(async {});
        })
        .await
        .unwrap_err()
    });
    let payload = error.into_panic();
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(message.contains("block_on"), "{message}");
    assert!(message.contains("spawn_blocking"), "{message}");
}

#[test]
fn yield_now_lets_other_tasks_run_on_one_worker() {
    let rt = multi(1);
    rt.block_on(async {
        let progress = Arc::new(AtomicUsize::new(0));
        let spinner = {
            let progress = Arc::clone(&progress);
            weft_rt::spawn(async move {
                // Waits for the other task only by yielding: without fairness this
                // would spin for ever on the single worker.
                let mut yields = 0u64;
                while progress.load(Ordering::SeqCst) < 100 {
                    weft_rt::yield_now().await;
                    yields += 1;
                }
                yields
            })
        };
        let counter = {
            let progress = Arc::clone(&progress);
            weft_rt::spawn(async move {
                for _ in 0..100 {
                    progress.fetch_add(1, Ordering::SeqCst);
                    weft_rt::yield_now().await;
                }
            })
        };
        counter.await.unwrap();
        assert!(spinner.await.unwrap() >= 1);
    });
}

#[test]
fn compute_runs_parallel_iterators_on_the_runtime_workers() {
    use weft_pool::prelude::*;
    let rt = multi(2);
    let (sum, on_worker) = rt.block_on(async {
        weft_rt::compute(|| {
            let sum: u64 = (1..=100_000u64).into_par_iter().map(|x| x * 2).sum();
            (sum, weft_pool::current_thread_index().is_some())
        })
        .await
        .unwrap()
    });
    assert_eq!(sum, 100_000 * 100_001);
    assert!(on_worker);
}

#[test]
fn join_inside_a_task_uses_the_same_pool() {
    let rt = multi(2);
    let threads = rt.block_on(async {
        weft_rt::spawn(async {
            let (a, b) = weft_pool::join(weft_pool::current_num_threads, || 1);
            a + b
        })
        .await
        .unwrap()
    });
    assert_eq!(threads, 3, "join saw the runtime's two workers");
}

#[test]
fn handle_try_current_outside_is_an_error() {
    let error = Handle::try_current().unwrap_err();
    assert!(error.to_string().contains("not inside a weft runtime"));
    let rt = multi(1);
    let _guard = rt.enter();
    assert_eq!(
        Handle::try_current().unwrap().runtime_flavor(),
        RuntimeFlavor::MultiThread
    );
}

#[test]
fn free_functions_outside_any_runtime_use_the_global_one() {
    let value = weft_rt::block_on(async { weft_rt::spawn(async { 11 }).await.unwrap() });
    assert_eq!(value, 11);
}

#[test]
fn current_thread_runtime_runs_tasks_inside_block_on() {
    let rt = Builder::new_current_thread().build().unwrap();
    let caller = std::thread::current().id();
    let ran_on = rt.block_on(async {
        weft_rt::spawn(async { std::thread::current().id() })
            .await
            .unwrap()
    });
    assert_eq!(ran_on, caller);
    // Spawned from another thread while the runtime waits: still runs.
    let handle = rt.handle().clone();
    let value = rt.block_on(async move {
        let task = std::thread::spawn(move || handle.spawn(async { 3 }))
            .join()
            .unwrap();
        task.await.unwrap()
    });
    assert_eq!(value, 3);
}

#[test]
fn dropping_a_current_thread_runtime_cancels_its_queued_tasks() {
    let drops = Arc::new(AtomicUsize::new(0));
    let rt = Builder::new_current_thread().build().unwrap();
    let guard = DropCounter(Arc::clone(&drops));
    let handle = rt.spawn(async move {
        let _guard = guard;
    });
    drop(rt);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let error = weft_rt::block_on(handle).unwrap_err();
    assert!(error.is_cancelled());
}

#[test]
fn local_set_runs_tasks_that_are_not_send() {
    let rt = multi(1);
    let local = LocalSet::new();
    let cell = Rc::new(Cell::new(0));
    let total = local.block_on(&rt, {
        let cell = Rc::clone(&cell);
        async move {
            let mut handles = Vec::new();
            for i in 1..=10 {
                let cell = Rc::clone(&cell);
                handles.push(weft_rt::spawn_local(async move {
                    weft_rt::yield_now().await;
                    cell.set(cell.get() + i);
                }));
            }
            for handle in handles {
                handle.await.unwrap();
            }
            cell.get()
        }
    });
    assert_eq!(total, 55);
    assert_eq!(cell.get(), 55);
}

#[test]
fn spawn_local_outside_a_local_executor_panics_clearly() {
    let payload = std::panic::catch_unwind(|| {
        drop(weft_rt::spawn_local(async {}));
    })
    .unwrap_err();
    let message = payload.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(message.contains("LocalSet"), "{message}");
}

#[test]
fn thread_per_core_keeps_tasks_on_their_core() {
    let rt = Builder::thread_per_core()
        .worker_threads(2)
        .build()
        .unwrap();
    assert_eq!(rt.handle().runtime_flavor(), RuntimeFlavor::ThreadPerCore);
    // A !Send future made on core 1.
    let handle = rt.spawn_on(1, || {
        let shared = Rc::new(Cell::new(1));
        async move {
            let inner = {
                let shared = Rc::clone(&shared);
                weft_rt::spawn_local(async move {
                    shared.set(shared.get() * 10);
                    std::thread::current().name().map(str::to_owned)
                })
            };
            let name = inner.await.unwrap();
            (
                shared.get(),
                name,
                std::thread::current().name().map(str::to_owned),
            )
        }
    });
    let (value, inner_thread, outer_thread) = rt.block_on(handle).unwrap();
    assert_eq!(value, 10);
    assert_eq!(inner_thread.as_deref(), Some("weft-rt-core-1"));
    assert_eq!(
        outer_thread, inner_thread,
        "the local task stayed on its core"
    );
    // Send tasks from outside spread over the cores.
    let names: std::collections::HashSet<_> = (0..8)
        .map(|_| rt.spawn(async { std::thread::current().name().map(str::to_owned) }))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| rt.block_on(handle).unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn thread_per_core_panics_are_contained() {
    let rt = Builder::thread_per_core()
        .worker_threads(1)
        .build()
        .unwrap();
    let error = rt
        .block_on(rt.spawn_on(0, || async { panic!("core task") }))
        .unwrap_err();
    assert!(error.is_panic());
    assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
}

#[test]
fn runtime_shutdown_cancels_later_spawns() {
    let rt = multi(1);
    let handle = rt.handle().clone();
    rt.shutdown_timeout(Duration::from_secs(5));
    let task = handle.spawn(async { 1 });
    assert!(weft_rt::block_on(task).unwrap_err().is_cancelled());
}

/// The poll budget: a task reading a socket that always has data yields after its
/// share of reads, so a task queued behind it on the same worker runs long before the
/// reader has drained the socket.
#[test]
fn a_task_that_is_always_ready_yields_to_the_others() {
    use futures_io::AsyncRead;
    use std::io::Write;
    use std::pin::Pin;
    use std::sync::atomic::AtomicBool;
    const BYTES: usize = 16 * 1024;
    let rt = multi(1);
    let (mut writer, reader) = std::os::unix::net::UnixStream::pair().unwrap();
    writer.write_all(&[7u8; BYTES]).unwrap();
    let mut reader = weft_rt::net::UnixStream::from_std(reader).unwrap();
    let other_ran = Arc::new(AtomicBool::new(false));
    let seen_at = rt.block_on(async {
        let reading = {
            let other_ran = Arc::clone(&other_ran);
            weft_rt::spawn(async move {
                let mut seen_at = None;
                for read in 0..BYTES {
                    let mut byte = [0u8; 1];
                    let n =
                        std::future::poll_fn(|cx| Pin::new(&mut reader).poll_read(cx, &mut byte))
                            .await
                            .unwrap();
                    assert_eq!((n, byte[0]), (1, 7));
                    if seen_at.is_none() && other_ran.load(Ordering::SeqCst) {
                        seen_at = Some(read);
                    }
                }
                seen_at
            })
        };
        let other = {
            let other_ran = Arc::clone(&other_ran);
            weft_rt::spawn(async move { other_ran.store(true, Ordering::SeqCst) })
        };
        other.await.unwrap();
        reading.await.unwrap()
    });
    let seen_at = seen_at.expect("the other task ran only after the reader finished");
    assert!(
        seen_at < BYTES / 2,
        "the other task waited for {seen_at} reads"
    );
}

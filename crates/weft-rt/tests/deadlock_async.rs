#![cfg(all(feature = "deadlock-detection", not(loom)))]
//! Deadlock detection among tasks, end to end on a real `Runtime`: weft-rt enters a
//! `weft_sync::deadlock::TaskScope` around every poll, so async lock and semaphore
//! waits and holds are the tasks'.
//!
//! `check` and the order log are process-wide and the tests of this file run in
//! parallel, so each test names its tasks with its own prefix, creates its own locks
//! (its own classes, at its own lines) and looks only at what names them. Nothing is
//! timed: a wait for a state is bounded by a generous number of polls and then fails
//! with a message.

use std::sync::Arc;
use std::time::Duration;
use weft_rt::{Builder, Runtime};
use weft_sync::deadlock::{self, Deadlock};
use weft_sync::{AsyncMutex, AsyncRwLock, Barrier, Semaphore};

fn runtime() -> Runtime {
    // No report on stderr from the inversions these tests make on purpose.
    deadlock::set_hook(|_| {});
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Polls `look` every millisecond until it returns something, for at most 20 s.
fn wait_for<T>(what: &str, mut look: impl FnMut() -> Option<T>) -> T {
    for _ in 0..20_000 {
        if let Some(found) = look() {
            return found;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("gave up waiting for {what}");
}

/// The deadlocks `check` finds among tasks whose names start with `prefix`.
fn deadlocks_among(prefix: &str) -> Vec<Deadlock> {
    deadlock::check()
        .into_iter()
        .filter(|d| {
            d.tasks.iter().any(|t| {
                t.task
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with(prefix))
            })
        })
        .collect()
}

/// Takes `first`, meets the other task at `both`, then awaits `second`.
async fn take_in_order(
    first: Arc<AsyncMutex<u32>>,
    second: Arc<AsyncMutex<u32>>,
    both: Arc<Barrier>,
) -> u32 {
    let mut held = first.lock().await;
    both.wait_async().await;
    let got = second.lock().await;
    *held += 1;
    *held + *got
}

#[test]
fn two_tasks_locking_in_opposite_orders_are_reported_then_resolved() {
    let rt = runtime();
    let (a, a_line) = (Arc::new(AsyncMutex::new(1)), line!());
    let (b, b_line) = (Arc::new(AsyncMutex::new(2)), line!());
    let both = Arc::new(Barrier::new(2));
    let handle = rt.handle();
    let left_at = line!() + 1;
    let left = handle.spawn_named(
        "opposite-left",
        take_in_order(Arc::clone(&a), Arc::clone(&b), Arc::clone(&both)),
    );
    let right_at = line!() + 1;
    let right = handle.spawn_named(
        "opposite-right",
        take_in_order(Arc::clone(&b), Arc::clone(&a), Arc::clone(&both)),
    );

    let found = wait_for("the two tasks to deadlock", || {
        deadlocks_among("opposite-").into_iter().next()
    });
    assert!(found.threads.is_empty(), "no thread is involved: {found}");
    assert_eq!(found.tasks.len(), 2, "{found}");
    let text = found.to_string();
    assert!(text.contains("2 tasks are blocked on each other"), "{text}");
    for (name, id, spawned_at, holds_line, waits_line) in [
        ("opposite-left", left.id(), left_at, a_line, b_line),
        ("opposite-right", right.id(), right_at, b_line, a_line),
    ] {
        let task = found
            .tasks
            .iter()
            .find(|t| t.task.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} is in the report: {found}"));
        assert_eq!(task.task.id, id.as_u64());
        assert_eq!(task.task.spawned_at.file(), file!());
        assert_eq!(task.task.spawned_at.line(), spawned_at);
        assert_eq!(task.waits_for.created_at.line(), waits_line);
        assert_eq!(task.holds.len(), 1, "{found}");
        assert_eq!(task.holds[0].created_at.line(), holds_line);
        assert_eq!(task.holds[0].acquired_at.file(), file!());
        let other = if name == "opposite-left" {
            "opposite-right"
        } else {
            "opposite-left"
        };
        assert_eq!(
            task.waits_for
                .held_by_tasks
                .iter()
                .map(|t| t.name.as_deref())
                .collect::<Vec<_>>(),
            [Some(other)],
        );
        assert!(text.contains(&format!(
            "task '{name}' (#{}, spawned at {}",
            id, task.task.spawned_at
        )));
    }
    // The opposite orders are also a lock-order inversion, with the tasks named.
    assert!(deadlock::lock_order_violations().iter().any(|inversion| {
        let lines: Vec<u32> = inversion.classes().iter().map(|c| c.line()).collect();
        lines.contains(&a_line)
            && lines.contains(&b_line)
            && inversion.cycle.iter().all(|edge| {
                edge.task
                    .as_ref()
                    .and_then(|t| t.name.as_deref())
                    .is_some_and(|n| n.starts_with("opposite-"))
            })
    }));

    // Resolve it: aborting one task drops its future, its pending acquire and its
    // guard; the other gets the lock and finishes.
    left.abort();
    let (left, right) = rt.block_on(async { (left.await, right.await) });
    assert!(left.unwrap_err().is_cancelled());
    assert_eq!(right.unwrap(), 3 + 1);
    assert!(deadlocks_among("opposite-").is_empty(), "resolved");
    assert!(a.try_lock().is_some() && b.try_lock().is_some());
}

#[test]
fn an_inversion_that_never_deadlocked_is_reported_by_the_order_check() {
    let rt = runtime();
    let (first, first_line) = (Arc::new(AsyncRwLock::new(0)), line!());
    let (second, second_line) = (Arc::new(AsyncMutex::new(0)), line!());
    let ours = |lines: [u32; 2]| -> Vec<_> {
        deadlock::lock_order_violations()
            .into_iter()
            .filter(|inversion| {
                let classes: Vec<u32> = inversion.classes().iter().map(|c| c.line()).collect();
                lines.iter().all(|line| classes.contains(line))
            })
            .collect()
    };
    let handle = rt.handle();
    let (x, y) = (Arc::clone(&first), Arc::clone(&second));
    let forward = handle.spawn_named("order-forward", async move {
        let _w = x.write().await;
        weft_rt::yield_now().await; // held across an await: on whatever worker
        *y.lock().await += 1;
    });
    rt.block_on(forward).unwrap();
    assert_eq!(ours([first_line, second_line]).len(), 0, "one order only");

    let (x, y) = (Arc::clone(&first), Arc::clone(&second));
    let backward = handle.spawn_named("order-backward", async move {
        let _m = y.lock().await;
        weft_rt::yield_now().await;
        *x.write().await += 1;
    });
    rt.block_on(backward).unwrap();
    let found = ours([first_line, second_line]);
    assert_eq!(found.len(), 1, "reported once: {found:?}");
    let names: Vec<_> = found[0]
        .cycle
        .iter()
        .map(|edge| {
            edge.task
                .as_ref()
                .and_then(|t| t.name.as_deref().map(str::to_owned))
        })
        .collect();
    assert_eq!(
        names,
        [
            Some("order-forward".to_owned()),
            Some("order-backward".to_owned())
        ]
    );
    let text = found[0].to_string();
    assert!(text.contains("task 'order-backward'"), "{text}");
    assert!(
        deadlocks_among("order-").is_empty(),
        "nothing ever blocked for good"
    );
}

#[test]
fn a_guard_held_across_awaits_without_a_cycle_is_no_deadlock() {
    let rt = runtime();
    let lock = Arc::new(AsyncMutex::new(0));
    let release = Arc::new(Semaphore::new(0));
    let handle = rt.handle();
    let holder = {
        let (lock, release) = (Arc::clone(&lock), Arc::clone(&release));
        handle.spawn_named("calm-holder", async move {
            let mut guard = lock.lock().await;
            // Held across awaits, with a contender queued behind it: waiting for the
            // holder is contention, not a deadlock, since the holder awaits no lock
            // anyone holds.
            let _go = release.acquire_async().await.unwrap();
            weft_rt::time::sleep(Duration::from_millis(1)).await;
            *guard += 1;
        })
    };
    wait_for("the holder to hold", || lock.is_locked().then_some(()));
    let contender = {
        let lock = Arc::clone(&lock);
        handle.spawn_named("calm-contender", async move {
            *lock.lock().await += 10;
        })
    };
    for _ in 0..50 {
        assert!(deadlocks_among("calm-").is_empty(), "no false positive");
        std::thread::sleep(Duration::from_millis(1));
    }
    release.add_permits(1);
    rt.block_on(async {
        holder.await.unwrap();
        contender.await.unwrap();
    });
    assert_eq!(*lock.try_lock().unwrap(), 11);
    assert!(deadlocks_among("calm-").is_empty());
}

#[test]
fn a_semaphore_deadlock_needs_every_permit_holder_stuck() {
    let rt = runtime();
    let (permits, permits_line) = (Arc::new(Semaphore::new(1)), line!());
    let lock = Arc::new(AsyncMutex::new(()));
    let both = Arc::new(Barrier::new(2));
    let handle = rt.handle();
    // "sem-permit" holds the only permit and awaits the lock; "sem-lock" holds the
    // lock and awaits a permit.
    let permit_task = {
        let (permits, lock, both) = (Arc::clone(&permits), Arc::clone(&lock), Arc::clone(&both));
        handle.spawn_named("sem-permit", async move {
            let _permit = permits.acquire_async().await.unwrap();
            both.wait_async().await;
            drop(lock.lock().await);
        })
    };
    let lock_task = {
        let (permits, lock, both) = (Arc::clone(&permits), Arc::clone(&lock), Arc::clone(&both));
        handle.spawn_named("sem-lock", async move {
            let _guard = lock.lock().await;
            both.wait_async().await;
            drop(permits.acquire_async().await.unwrap());
        })
    };
    let found = wait_for("the semaphore deadlock", || {
        deadlocks_among("sem-").into_iter().next()
    });
    let waiter = found
        .tasks
        .iter()
        .find(|t| t.task.name.as_deref() == Some("sem-lock"))
        .unwrap_or_else(|| panic!("{found}"));
    assert_eq!(waiter.waits_for.created_at.line(), permits_line);

    // Resolve it from outside: an added permit wakes "sem-lock", which takes it and
    // finishes, and so frees the lock for "sem-permit".
    permits.add_permits(1);
    rt.block_on(async {
        lock_task.await.unwrap();
        permit_task.await.unwrap();
    });
    assert!(deadlocks_among("sem-").is_empty());

    // The same knot, but a second permit is held by this thread, outside any task:
    // it may come back, so the permit waiter is not known to be stuck.
    let open = Arc::new(Semaphore::new(2));
    let outside = open.try_acquire().unwrap();
    let lock = Arc::new(AsyncMutex::new(()));
    let both = Arc::new(Barrier::new(3));
    let permit_task = {
        let (open, lock, both) = (Arc::clone(&open), Arc::clone(&lock), Arc::clone(&both));
        handle.spawn_named("open-permit", async move {
            let _permit = open.acquire_async().await.unwrap();
            both.wait_async().await;
            drop(lock.lock().await);
        })
    };
    let lock_task = {
        let (open, lock, both) = (Arc::clone(&open), Arc::clone(&lock), Arc::clone(&both));
        handle.spawn_named("open-lock", async move {
            let _guard = lock.lock().await;
            both.wait_async().await;
            drop(open.acquire_async().await.unwrap());
        })
    };
    both.wait();
    for _ in 0..50 {
        assert!(
            deadlocks_among("open-").is_empty(),
            "a permit holder is unseen"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(outside);
    rt.block_on(async {
        lock_task.await.unwrap();
        permit_task.await.unwrap();
    });
}

#[test]
fn a_knot_of_a_thread_and_a_task_is_one_deadlock() {
    let rt = runtime();
    let (a, a_line) = (Arc::new(AsyncMutex::new(0)), line!());
    let (b, b_line) = (Arc::new(AsyncMutex::new(0)), line!());
    let (task_has_b, thread_has_a) = (Arc::new(Semaphore::new(0)), Arc::new(Semaphore::new(0)));
    // The task holds `b` across an await and then awaits `a`.
    let task = {
        let (a, b) = (Arc::clone(&a), Arc::clone(&b));
        let (task_has_b, thread_has_a) = (Arc::clone(&task_has_b), Arc::clone(&thread_has_a));
        rt.handle().spawn_named("mixed-task", async move {
            let _b = b.lock().await;
            task_has_b.add_permits(1);
            drop(thread_has_a.acquire_async().await.unwrap());
            *a.lock().await += 1;
        })
    };
    // The thread holds `a` (a blocking acquisition: the thread's hold) and blocks on
    // `b`.
    let thread = {
        let (a, b) = (Arc::clone(&a), Arc::clone(&b));
        let (task_has_b, thread_has_a) = (Arc::clone(&task_has_b), Arc::clone(&thread_has_a));
        std::thread::Builder::new()
            .name("mixed-thread".into())
            .spawn(move || {
                let mut held = a.lock_blocking();
                thread_has_a.add_permits(1);
                drop(task_has_b.acquire().unwrap());
                *held += 1;
                *b.lock_blocking() += 1;
            })
            .unwrap()
    };
    let found = wait_for("the thread and the task to deadlock", || {
        deadlocks_among("mixed-").into_iter().next()
    });
    assert_eq!((found.threads.len(), found.tasks.len()), (1, 1), "{found}");
    let (thread_side, task_side) = (&found.threads[0], &found.tasks[0]);
    assert_eq!(thread_side.thread.name.as_deref(), Some("mixed-thread"));
    assert_eq!(thread_side.waits_for.created_at.line(), b_line);
    assert_eq!(
        thread_side.waits_for.held_by_tasks[0].name.as_deref(),
        Some("mixed-task")
    );
    assert_eq!(task_side.waits_for.created_at.line(), a_line);
    assert_eq!(
        task_side.waits_for.held_by[0].name.as_deref(),
        Some("mixed-thread")
    );
    assert!(
        found.to_string().contains("1 threads and 1 tasks"),
        "{found}"
    );

    // Aborting the task releases `b`; the thread goes on.
    task.abort();
    assert!(rt.block_on(task).unwrap_err().is_cancelled());
    thread.join().unwrap();
    assert!(deadlocks_among("mixed-").is_empty());
    assert_eq!((*a.try_lock().unwrap(), *b.try_lock().unwrap()), (1, 1));
}

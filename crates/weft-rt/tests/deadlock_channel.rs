#![cfg(all(feature = "deadlock-detection", not(loom)))]
//! Channel waits in the wait-for graph, end to end on a real `Runtime`: a receive
//! waits for the channel's senders, a blocked send for its receivers, each handle
//! taken to be held by the task or thread that used it last (weft-channel's
//! `deadlock-detection` feature, which weft-rt's turns on).
//!
//! As in `deadlock_async.rs`: `check` is process-wide and these tests run in
//! parallel, so each names its tasks with its own prefix and looks only at reports
//! that name them. Nothing is timed: a wait for a state is bounded by a generous
//! number of polls and then fails with a message; the "no report" tests look many
//! times while the other party is parked on something the test releases.

use std::sync::Arc;
use std::time::Duration;
use weft_channel::{Sender, bounded, unbounded};
use weft_rt::task::TaskState;
use weft_rt::{Builder, Runtime};
use weft_sync::deadlock::{self, ChannelSide, Deadlock, WaitKind};
use weft_sync::{AsyncMutex, Barrier, Semaphore};

fn runtime() -> Runtime {
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

/// The deadlocks `check` finds that name a task or thread starting with `prefix`.
fn deadlocks_among(prefix: &str) -> Vec<Deadlock> {
    let named = |name: Option<&str>| name.is_some_and(|n| n.starts_with(prefix));
    deadlock::check()
        .into_iter()
        .filter(|d| {
            d.tasks.iter().any(|t| named(t.task.name.as_deref()))
                || d.threads.iter().any(|t| named(t.thread.name.as_deref()))
        })
        .collect()
}

/// Looks 100 times, a millisecond apart, and fails if a deadlock is ever reported.
fn never_reported(prefix: &str, why: &str) {
    for _ in 0..100 {
        let found = deadlocks_among(prefix);
        assert!(found.is_empty(), "{why}: {}", found[0]);
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn two_tasks_awaiting_each_others_messages_are_one_deadlock() {
    let rt = runtime();
    let ((to_left, left_inbox), left_line) = (unbounded::<u32>(), line!());
    let ((to_right, right_inbox), right_line) = (unbounded::<u32>(), line!());
    let handle = rt.handle();
    // Each greets the other (so it has used its sender), takes the greeting, and
    // then waits for a second message that the other never sends.
    let left = handle.spawn_named("pingpong-left", async move {
        to_right.send_async(1).await.unwrap();
        let hello = left_inbox.recv_async().await.unwrap();
        let more = left_inbox.recv_async().await;
        drop(to_right);
        (hello, more.is_err())
    });
    let right = handle.spawn_named("pingpong-right", async move {
        to_left.send_async(2).await.unwrap();
        let hello = right_inbox.recv_async().await.unwrap();
        let more = right_inbox.recv_async().await;
        drop(to_left);
        (hello, more.is_err())
    });

    let found = wait_for("the two tasks to deadlock", || {
        deadlocks_among("pingpong-").into_iter().next()
    });
    assert!(found.threads.is_empty(), "{found}");
    assert_eq!(found.tasks.len(), 2, "{found}");
    let text = found.to_string();
    for (name, other, waits_line) in [
        ("pingpong-left", "pingpong-right", left_line),
        ("pingpong-right", "pingpong-left", right_line),
    ] {
        let task = found
            .tasks
            .iter()
            .find(|t| t.task.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} is in the report: {found}"));
        assert_eq!(task.waits_for.kind, WaitKind::Recv);
        assert_eq!(task.waits_for.created_at.file(), file!());
        assert_eq!(task.waits_for.created_at.line(), waits_line);
        let held_by: Vec<_> = task
            .waits_for
            .held_by_tasks
            .iter()
            .map(|t| t.name.as_deref())
            .collect();
        assert_eq!(held_by, [Some(other)], "{found}");
        assert!(
            task.channels
                .iter()
                .any(|c| c.side == ChannelSide::Senders && c.created_at.line() != waits_line),
            "it holds the other's sender: {found}"
        );
        assert!(text.contains(&format!("task '{name}'")), "{text}");
    }
    assert!(
        text.contains(&format!(
            "waits for recv on channel created at {}:{left_line}",
            file!()
        )),
        "{text}"
    );
    assert!(
        text.contains("its senders are held by task 'pingpong-"),
        "{text}"
    );

    // Aborting one drops its sender: the other's receive sees the disconnect.
    left.abort();
    assert!(rt.block_on(left).unwrap_err().is_cancelled());
    assert_eq!(rt.block_on(right).unwrap(), (1, true));
    assert!(deadlocks_among("pingpong-").is_empty(), "resolved");
}

#[test]
fn a_lock_and_a_channel_in_one_cycle_are_reported() {
    let rt = runtime();
    let (lock, lock_line) = (Arc::new(AsyncMutex::new(0)), line!());
    let ((tx, rx), channel_line) = (bounded::<u32>(4), line!());
    let both = Arc::new(Barrier::new(2));
    let handle = rt.handle();
    // "mixed-locker" holds the lock and awaits a second message; "mixed-sender" has
    // sent the first and awaits the lock.
    let locker = {
        let (lock, both) = (Arc::clone(&lock), Arc::clone(&both));
        handle.spawn_named("mixed-locker", async move {
            let mut guard = lock.lock().await;
            both.wait_async().await;
            *guard += rx.recv_async().await.unwrap();
            rx.recv_async().await.is_err()
        })
    };
    let sender = {
        let (lock, both) = (Arc::clone(&lock), Arc::clone(&both));
        handle.spawn_named("mixed-sender", async move {
            tx.send_async(5).await.unwrap();
            both.wait_async().await;
            *lock.lock().await += 1;
            drop(tx);
        })
    };
    let found = wait_for("the lock and channel deadlock", || {
        deadlocks_among("mixed-").into_iter().next()
    });
    assert_eq!(found.tasks.len(), 2, "{found}");
    let by_name = |name: &str| {
        found
            .tasks
            .iter()
            .find(|t| t.task.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} in {found}"))
    };
    let (l, s) = (by_name("mixed-locker"), by_name("mixed-sender"));
    assert_eq!(l.waits_for.kind, WaitKind::Recv);
    assert_eq!(l.waits_for.created_at.line(), channel_line);
    assert_eq!(l.holds.len(), 1, "{found}");
    assert_eq!(l.holds[0].created_at.line(), lock_line);
    assert_eq!(s.waits_for.kind, WaitKind::Lock);
    assert_eq!(s.waits_for.created_at.line(), lock_line);
    assert_eq!(
        s.channels.iter().map(|c| c.side).collect::<Vec<_>>(),
        [ChannelSide::Senders],
        "{found}"
    );
    assert!(
        found
            .to_string()
            .contains("holds     a sender of the channel created at")
    );

    sender.abort();
    assert!(rt.block_on(sender).unwrap_err().is_cancelled());
    assert!(
        rt.block_on(locker).unwrap(),
        "the receive saw the disconnect"
    );
    assert!(deadlocks_among("mixed-").is_empty());
}

#[test]
fn a_blocked_thread_and_a_task_are_one_deadlock() {
    let rt = runtime();
    let ((to_thread, thread_inbox), thread_line) = (unbounded::<u32>(), line!());
    let ((to_task, task_inbox), task_line) = (unbounded::<u32>(), line!());
    let task = rt.handle().spawn_named("blocking-task", async move {
        to_thread.send_async(1).await.unwrap();
        let _ = task_inbox.recv_async().await;
        let _ = task_inbox.recv_async().await;
        drop(to_thread);
    });
    let thread = std::thread::Builder::new()
        .name("blocking-thread".into())
        .spawn(move || {
            to_task.send(2).unwrap();
            assert_eq!(thread_inbox.recv(), Ok(1));
            // Blocks: the task never sends again, and holds the only sender.
            let second = thread_inbox.recv();
            drop(to_task);
            second.is_err()
        })
        .unwrap();
    let found = wait_for("the thread and the task to deadlock", || {
        deadlocks_among("blocking-").into_iter().next()
    });
    assert_eq!((found.threads.len(), found.tasks.len()), (1, 1), "{found}");
    let (th, ta) = (&found.threads[0], &found.tasks[0]);
    assert_eq!(th.waits_for.created_at.line(), thread_line);
    assert_eq!(
        th.waits_for.held_by_tasks[0].name.as_deref(),
        Some("blocking-task")
    );
    assert_eq!(ta.waits_for.created_at.line(), task_line);
    assert_eq!(
        ta.waits_for.held_by[0].name.as_deref(),
        Some("blocking-thread")
    );

    task.abort();
    assert!(rt.block_on(task).unwrap_err().is_cancelled());
    assert!(
        thread.join().unwrap(),
        "the blocked receive saw the disconnect"
    );
    assert!(deadlocks_among("blocking-").is_empty());
}

#[test]
fn a_cloned_sender_in_a_parked_task_keeps_the_channel_open() {
    let rt = runtime();
    let (tx, rx) = unbounded::<u32>();
    let go = Arc::new(Semaphore::new(0));
    let handle = rt.handle();
    // The clone goes to a task that will send later: it has not used it yet.
    let later = {
        let (tx, go) = (tx.clone(), Arc::clone(&go));
        handle.spawn_named("clone-later", async move {
            drop(go.acquire_async().await.unwrap());
            tx.send_async(2).await.unwrap();
        })
    };
    // The receiver also holds (and has used) the original: were the clone not
    // counted, it would look like it waits for itself.
    let receiver = handle.spawn_named("clone-receiver", async move {
        tx.send_async(1).await.unwrap();
        let first = rx.recv_async().await.unwrap();
        let second = rx.recv_async().await.unwrap();
        (first, second)
    });
    wait_for("the receiver to wait", || {
        parked_on_channel(&rt, "clone-receiver")
    });
    never_reported("clone-", "an unused clone is nobody's");
    go.add_permits(1);
    assert_eq!(rt.block_on(receiver).unwrap(), (1, 2));
    rt.block_on(later).unwrap();
}

/// Whether the task named `name` is idle, parked on a channel operation (the task
/// dump says so).
fn parked_on_channel(rt: &Runtime, name: &str) -> Option<()> {
    rt.handle()
        .dump()
        .tasks
        .iter()
        .any(|t| {
            t.name.as_deref() == Some(name)
                && t.state == TaskState::Idle
                && t.waiting_on.is_some_and(|w| w.contains("channel"))
        })
        .then_some(())
}

#[test]
fn a_sender_moved_into_a_spawned_task_after_use_is_not_the_spawners() {
    let rt = runtime();
    let go = Arc::new(Semaphore::new(0));
    let handle = rt.handle();
    let spawner = {
        let (handle, go) = (handle.clone(), Arc::clone(&go));
        handle.clone().spawn_named("moved-spawner", async move {
            let (tx, rx) = unbounded::<u32>();
            tx.send_async(1).await.unwrap(); // used here: attributed to this task...
            let helper = handle.spawn_named("moved-helper", async move {
                drop(go.acquire_async().await.unwrap());
                tx.send_async(2).await.unwrap(); // ...and moved: the spawn forgets it
            });
            let got = (
                rx.recv_async().await.unwrap(),
                rx.recv_async().await.unwrap(),
            );
            helper.await.unwrap();
            got
        })
    };
    wait_for("the spawner to wait", || {
        parked_on_channel(&rt, "moved-spawner")
    });
    never_reported("moved-", "the spawn passed the sender on");
    go.add_permits(1);
    assert_eq!(rt.block_on(spawner).unwrap(), (1, 2));
}

#[test]
fn a_sender_held_by_a_thread_or_stored_outside_any_task_keeps_the_channel_open() {
    let rt = runtime();
    let handle = rt.handle();

    // A plain thread used the sender and now blocks on something the detector does
    // not see (a std channel): it is not known to be stuck.
    let (tx, rx) = unbounded::<u32>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        tx.send(1).unwrap();
        released.recv().unwrap();
        tx.send(2).unwrap();
    });
    let lock = Arc::new(AsyncMutex::new(()));
    let receiver = {
        let lock = Arc::clone(&lock);
        handle.spawn_named("outside-thread", async move {
            let _guard = lock.lock().await;
            (
                rx.recv_async().await.unwrap(),
                rx.recv_async().await.unwrap(),
            )
        })
    };
    wait_for("the receiver to wait", || {
        parked_on_channel(&rt, "outside-thread")
    });
    never_reported("outside-", "the thread is not known to be stuck");
    release.send(()).unwrap();
    assert_eq!(rt.block_on(receiver).unwrap(), (1, 2));
    thread.join().unwrap();

    // A sender stored in shared state, never used: nobody's.
    let (tx, rx) = unbounded::<u32>();
    let stored: Arc<std::sync::Mutex<Option<Sender<u32>>>> =
        Arc::new(std::sync::Mutex::new(Some(tx)));
    let receiver = handle.spawn_named("outside-stored", async move { rx.recv_async().await });
    wait_for("the receiver to wait", || {
        parked_on_channel(&rt, "outside-stored")
    });
    never_reported("outside-", "a stored sender is nobody's");
    let tx = stored.lock().unwrap().take().unwrap();
    tx.send(3).unwrap();
    assert_eq!(rt.block_on(receiver).unwrap(), Ok(3));
}

#[test]
fn a_sender_passed_on_by_a_task_that_then_finished_keeps_the_channel_open() {
    let rt = runtime();
    let handle = rt.handle();
    let (tx, rx) = unbounded::<u32>();
    let slot: Arc<std::sync::Mutex<Option<Sender<u32>>>> = Arc::new(std::sync::Mutex::new(None));
    // The task uses the sender, parks it in shared state and finishes.
    let passer = {
        let slot = Arc::clone(&slot);
        handle.spawn_named("finished-passer", async move {
            tx.send_async(1).await.unwrap();
            *slot.lock().unwrap() = Some(tx);
        })
    };
    rt.block_on(passer).unwrap();
    // The receiver holds a lock (so it could be part of a knot) and waits for more.
    let lock = Arc::new(AsyncMutex::new(()));
    let receiver = {
        let lock = Arc::clone(&lock);
        handle.spawn_named("finished-receiver", async move {
            let _guard = lock.lock().await;
            (
                rx.recv_async().await.unwrap(),
                rx.recv_async().await.unwrap(),
            )
        })
    };
    wait_for("the receiver to wait", || {
        parked_on_channel(&rt, "finished-receiver")
    });
    never_reported("finished-", "the task that used the sender is gone");
    // A thread picks the sender up and sends.
    let tx = slot.lock().unwrap().take().unwrap();
    std::thread::spawn(move || tx.send(2).unwrap())
        .join()
        .unwrap();
    assert_eq!(rt.block_on(receiver).unwrap(), (1, 2));
}

#[test]
fn a_full_channels_sender_waiting_for_a_busy_receiver_is_no_deadlock() {
    let rt = runtime();
    let handle = rt.handle();
    let (tx, rx) = bounded::<u32>(1);
    let go = Arc::new(Semaphore::new(0));
    let lock = Arc::new(AsyncMutex::new(()));
    // The receiver has used its receiver and is busy (parked on a semaphore nobody
    // holds: it waits for a release that may come from anywhere).
    let receiver = {
        let go = Arc::clone(&go);
        handle.spawn_named("busy-receiver", async move {
            assert!(rx.try_recv().is_err());
            drop(go.acquire_async().await.unwrap());
            (
                rx.recv_async().await.unwrap(),
                rx.recv_async().await.unwrap(),
            )
        })
    };
    let sender = {
        let lock = Arc::clone(&lock);
        handle.spawn_named("busy-sender", async move {
            let _guard = lock.lock().await;
            tx.send_async(1).await.unwrap();
            tx.send_async(2).await.unwrap(); // full: waits for the receiver
        })
    };
    wait_for("the channel to fill", || {
        parked_on_channel(&rt, "busy-sender")
    });
    never_reported("busy-", "the receiver is alive and not stuck");
    go.add_permits(1);
    assert_eq!(rt.block_on(receiver).unwrap(), (1, 2));
    rt.block_on(sender).unwrap();
}

//! Task dumps: every live task with its state, spawn site, name and what it waits on,
//! per runtime, without stopping it.

#![cfg(not(loom))]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use weft_rt::task::TaskState;

fn rt() -> weft_rt::Runtime {
    weft_rt::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

fn wait_for(what: &str, done: impl Fn() -> bool) {
    for _ in 0..20_000 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("gave up waiting for {what}");
}

#[test]
fn a_dump_shows_states_names_sites_and_waits() {
    let rt = rt();
    let handle = rt.handle();
    let sleeper = handle.spawn_named("sleeper", weft_rt::time::sleep(Duration::from_secs(3600)));
    let sleeper_id = sleeper.id();
    let waiter = rt.spawn(async move {
        let _ = sleeper.await;
    });
    let spinning = Arc::new(AtomicBool::new(true));
    let started = Arc::new(AtomicBool::new(false));
    let spinner = {
        let (spinning, started) = (Arc::clone(&spinning), Arc::clone(&started));
        rt.spawn(async move {
            started.store(true, Ordering::SeqCst);
            while spinning.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        })
    };
    wait_for("the spinner to start", || started.load(Ordering::SeqCst));
    wait_for("the sleeper and waiter to park", || {
        let dump = handle.dump();
        [sleeper_id, waiter.id()].iter().all(|id| {
            dump.tasks
                .iter()
                .any(|task| task.id == *id && task.state == TaskState::Idle)
        })
    });
    let dump = handle.dump();
    let find = |id| dump.tasks.iter().find(|task| task.id == id).unwrap();
    let sleeping = find(sleeper_id);
    assert_eq!(sleeping.name.as_deref(), Some("sleeper"));
    assert_eq!(sleeping.waiting_on, Some("timer"));
    assert!(sleeping.polls >= 1);
    assert!(sleeping.location.file().ends_with("tests/dump.rs"));
    let waiting = find(waiter.id());
    assert_eq!(waiting.waiting_on, Some("another task (JoinHandle)"));
    assert_eq!(find(spinner.id()).state, TaskState::Running);
    let text = dump.to_string();
    assert!(text.contains("\"sleeper\""), "{text}");
    assert!(text.contains("waiting on timer"), "{text}");
    spinning.store(false, Ordering::SeqCst);
    rt.block_on(spinner).unwrap();
    waiter.abort();
}

#[test]
fn finished_tasks_leave_the_dump_and_runtimes_see_only_their_own() {
    let (a, b) = (rt(), rt());
    let pending = a.spawn(std::future::pending::<()>());
    wait_for("the task to be polled", || {
        a.handle()
            .dump()
            .tasks
            .iter()
            .any(|task| task.id == pending.id() && task.polls > 0)
    });
    assert!(
        !b.handle()
            .dump()
            .tasks
            .iter()
            .any(|task| task.id == pending.id())
    );
    let done = a.spawn(async { 1 });
    let id = done.id();
    assert_eq!(a.block_on(done).unwrap(), 1);
    // Once the runner has let go too (it may still hold its reference for a moment
    // after the JoinHandle read the output), the task is gone.
    wait_for("the finished task to leave", || {
        !a.handle().dump().tasks.iter().any(|task| task.id == id)
    });
    pending.abort();
    assert!(a.block_on(pending).unwrap_err().is_cancelled());
    wait_for("the aborted task to leave", || a.handle().dump().is_empty());
}

#[test]
fn sigusr1_prints_a_dump_instead_of_killing_the_process() {
    let rt = rt();
    rt.handle().dump_on_sigusr1().unwrap();
    let _task = rt
        .handle()
        .spawn_named("visible-in-the-dump", std::future::pending::<()>());
    // SAFETY: raise(3) with a signal whose handler we installed.
    assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
    // Still alive (SIGUSR1's default action would have ended the process).
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(rt.block_on(async { 2 + 2 }), 4);
}

#[test]
fn a_task_waiting_on_a_channel_says_so() {
    let rt = rt();
    let (tx, rx) = weft_channel::bounded::<u8>(1);
    let receiver = rt.spawn(async move { rx.recv_async().await });
    wait_for("the receiver to wait on the channel", || {
        rt.handle().dump().tasks.iter().any(|task| {
            task.id == receiver.id() && task.waiting_on == Some("a channel (send or receive)")
        })
    });
    tx.send(7).unwrap();
    assert_eq!(rt.block_on(receiver).unwrap().unwrap(), 7);
}

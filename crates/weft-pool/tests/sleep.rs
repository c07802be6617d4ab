//! The sleep protocol, observed from outside: idle workers really sleep (the kernel
//! reports them in state `S`), and one new job wakes one worker, not all.
//!
//! Linux only (reads `/proc/self/task/*/{comm,stat}`). No timing assertion: the
//! deadlines only keep a broken build from hanging the suite.

#![cfg(target_os = "linux")]

use std::time::Duration;
use weft_pool::{ThreadPool, ThreadPoolBuilder};

/// The scheduler state letter of every thread of this process whose name starts
/// with `prefix`.
fn thread_states(prefix: &str) -> Vec<char> {
    let mut states = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let path = entry.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // `pid (comm) S ...`: the state follows the last ')'.
        let after = &stat[stat.rfind(')').unwrap() + 1..];
        states.push(after.trim_start().chars().next().unwrap());
    }
    states
}

fn wait_until_all_asleep(prefix: &str, threads: usize) {
    // Up to 30,000 looks, 2 ms apart: the bound only stops a broken pool from hanging
    // the suite; how soon workers sleep is measured by the pool bench, not here.
    let mut states = Vec::new();
    for _ in 0..30_000 {
        states = thread_states(prefix);
        if states.len() == threads && states.iter().all(|&s| s == 'S') {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("workers {prefix}* never all slept: {states:?}");
}

fn named_pool(prefix: &'static str, threads: usize) -> ThreadPool {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("{prefix}{i}"))
        .build()
        .unwrap()
}

#[test]
fn idle_workers_fall_asleep() {
    let pool = named_pool("wsleepa", 3);
    wait_until_all_asleep("wsleepa", 3);
    // And again after a burst of work.
    let total: u64 = pool.install(|| {
        let (a, b) = weft_pool::join(|| (0..1_000_000u64).sum::<u64>(), || 1);
        a + b
    });
    assert_eq!(total, 499_999_500_001);
    wait_until_all_asleep("wsleepa", 3);
}

#[test]
fn one_new_job_wakes_one_worker() {
    let pool = named_pool("wsleepb", 4);
    for _ in 0..5 {
        wait_until_all_asleep("wsleepb", 4);
        let before = pool.wakeup_count();
        let (sender, receiver) = std::sync::mpsc::channel();
        pool.spawn(move || sender.send(weft_pool::current_thread_index()).unwrap());
        assert!(receiver.recv().unwrap().is_some());
        wait_until_all_asleep("wsleepb", 4);
        assert_eq!(
            pool.wakeup_count() - before,
            1,
            "one job must wake exactly one sleeper"
        );
    }
}

#[test]
fn a_burst_of_jobs_wakes_workers_to_share_it() {
    let pool = named_pool("wsleepc", 2);
    wait_until_all_asleep("wsleepc", 2);
    let seen = std::sync::Mutex::new(std::collections::BTreeSet::new());
    pool.scope(|s| {
        for _ in 0..200 {
            s.spawn(|_| {
                std::thread::sleep(Duration::from_micros(200));
                seen.lock()
                    .unwrap()
                    .insert(weft_pool::current_thread_index().unwrap());
            });
        }
    });
    // Not a timing claim: with 200 sleeping jobs queued, a sleeper is woken (the first
    // push wakes one), so both workers take part.
    assert_eq!(seen.into_inner().unwrap().len(), 2);
}

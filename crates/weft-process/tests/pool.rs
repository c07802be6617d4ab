//! The pool's behaviour with well-behaved tasks: results, ordering, chunking, bounds,
//! the futures helpers. `harness = false`: `main` calls `init()` first so the test
//! binary can be its own worker.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use libtest_mimic::{Arguments, Failed, Trial};
use weft_process::{ProcessError, ProcessPool, ReturnWhen};

#[weft_process::task]
fn square(x: u64) -> u64 {
    x.wrapping_mul(x)
}

#[weft_process::task]
fn checked_div(a: i64, b: i64) -> Result<i64, String> {
    a.checked_div(b).ok_or_else(|| format!("{a} / {b}"))
}

#[weft_process::task]
fn whoami() -> u32 {
    std::process::id()
}

fn pool(workers: usize) -> Result<ProcessPool, Failed> {
    ProcessPool::builder()
        .workers(workers)
        .build()
        .map_err(|error| Failed::from(format!("build: {error}")))
}

fn check(condition: bool, message: impl Into<String>) -> Result<(), Failed> {
    if condition {
        Ok(())
    } else {
        Err(Failed::from(message.into()))
    }
}

fn submit_round_trip() -> Result<(), Failed> {
    let pool = pool(2)?;
    check(matches!(pool.submit(square, 7).wait(), Ok(49)), "square(7)")?;
    match pool.submit(checked_div, (1, 0)).wait() {
        Err(ProcessError::Task(message)) => check(message == "1 / 0", message),
        other => Err(format!("expected the task's error, got {other:?}").into()),
    }?;
    check(
        matches!(pool.submit(checked_div, (9, 3)).wait(), Ok(3)),
        "9 / 3",
    )?;
    let pid = pool.submit(whoami, ()).wait().map_err(|e| e.to_string())?;
    check(pid != std::process::id(), "the task ran in this process")?;
    check(
        pool.worker_pids().contains(&pid),
        "the task ran outside the pool's workers",
    )
}

fn main() {
    weft_process::init();
    let arguments = Arguments::from_args();
    let trials = vec![Trial::test("submit_round_trip", submit_round_trip)];
    libtest_mimic::run(&arguments, trials).exit();
}

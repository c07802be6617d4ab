//! Crash isolation: tasks that abort, exit, are killed, panic or time out each give
//! their documented error, the pool keeps serving, and no child process is left;
//! workers die with their parent. `harness = false`, run one test at a time so the
//! child counts are this test's own.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use weft_process::{ProcessError, ProcessPool};

#[weft_process::task]
fn add_one(x: u64) -> u64 {
    x + 1
}

#[weft_process::task]
fn abort() {
    std::process::abort();
}

#[weft_process::task]
fn exit_with(code: i32) {
    std::process::exit(code);
}

#[weft_process::task]
fn sleep_ms(ms: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id()
}

#[weft_process::task]
fn panics(message: String) -> u64 {
    panic!("{message}");
}

/// Panics on multiples of 3.
#[weft_process::task]
fn panics_on_thirds(x: u64) -> u64 {
    assert!(!x.is_multiple_of(3), "third {x}");
    x
}

/// Dies the first time (creating `marker`), succeeds after.
#[weft_process::task]
fn die_once(marker: String) -> Result<String, String> {
    if std::fs::metadata(&marker).is_err() {
        std::fs::write(&marker, b"died").map_err(|e| e.to_string())?;
        std::process::abort();
    }
    Ok("second time".into())
}

const PARENT_MODE: &str = "WEFT_PROCESS_TEST_PARENT";

/// The processes whose parent is this one (zombies included: an unreaped child
/// still has its `/proc` entry).
fn children() -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if parent_of(pid) == Some(me) {
            found.push(pid);
        }
    }
    found
}

/// `ppid` and state from `/proc/<pid>/stat` (after the parenthesised command name,
/// which may itself contain spaces and parentheses).
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

fn parent_of(pid: u32) -> Option<u32> {
    stat(pid).map(|(_, ppid)| ppid)
}

fn check(condition: bool, message: impl Into<String>) -> Result<(), Failed> {
    if condition {
        Ok(())
    } else {
        Err(Failed::from(message.into()))
    }
}

/// Runs `body` on a fresh pool and checks that every child it started is gone
/// (reaped, not a zombie) once the pool is dropped.
fn with_pool(
    builder: weft_process::Builder,
    body: impl FnOnce(&ProcessPool) -> Result<(), Failed>,
) -> Result<(), Failed> {
    let before = children();
    check(
        before.is_empty(),
        format!("children before the test: {before:?}"),
    )?;
    let pool = builder.build().map_err(|e| e.to_string())?;
    let result = body(&pool);
    drop(pool);
    let after = children();
    result?;
    check(after.is_empty(), format!("children left behind: {after:?}"))
}

fn still_serves(pool: &ProcessPool) -> Result<(), Failed> {
    for x in 0..4 {
        let y = pool.submit(add_one, x).wait().map_err(|e| e.to_string())?;
        check(y == x + 1, "wrong result after a crash")?;
    }
    Ok(())
}

fn abort_is_worker_died() -> Result<(), Failed> {
    with_pool(ProcessPool::builder().workers(2), |pool| {
        let before = pool.worker_pids();
        let others: Vec<_> = (0..20).map(|x| pool.submit(add_one, x)).collect();
        match pool.submit(abort, ()).wait() {
            Err(ProcessError::WorkerDied {
                task,
                signal: Some(6),
                exit_code: None,
            }) => check(task == abort::NAME, task)?,
            other => return Err(format!("abort gave {other:?}").into()),
        }
        for (x, future) in others.into_iter().enumerate() {
            check(
                matches!(future.wait(), Ok(y) if y == x as u64 + 1),
                "a task submitted beside the crash failed",
            )?;
        }
        still_serves(pool)?;
        // The replacement starts in the background: wait for it, boundedly.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut after = pool.worker_pids();
        while after.len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            after = pool.worker_pids();
        }
        check(
            after.len() == 2 && after != before,
            format!("the dead worker was not replaced: {before:?} -> {after:?}"),
        )
    })
}

fn exit_is_worker_died() -> Result<(), Failed> {
    with_pool(ProcessPool::builder().workers(1), |pool| {
        match pool.submit(exit_with, 3).wait() {
            Err(ProcessError::WorkerDied {
                signal: None,
                exit_code: Some(3),
                ..
            }) => {}
            other => return Err(format!("exit(3) gave {other:?}").into()),
        }
        // exit(0) is a death too: the task never answered.
        match pool.submit(exit_with, 0).wait() {
            Err(ProcessError::WorkerDied {
                exit_code: Some(0), ..
            }) => {}
            other => return Err(format!("exit(0) gave {other:?}").into()),
        }
        still_serves(pool)
    })
}

fn sigkill_is_worker_died() -> Result<(), Failed> {
    with_pool(ProcessPool::builder().workers(1), |pool| {
        let pid = pool.worker_pids()[0];
        let future = pool.submit(sleep_ms, 20_000);
        let pid = rustix::process::Pid::from_raw(pid as i32).ok_or("pid 0")?;
        rustix::process::kill_process(pid, rustix::process::Signal::KILL)
            .map_err(|e| format!("kill: {e}"))?;
        match future.wait() {
            Err(ProcessError::WorkerDied {
                signal: Some(9), ..
            }) => {}
            other => return Err(format!("SIGKILL gave {other:?}").into()),
        }
        still_serves(pool)
    })
}

fn panic_is_panicked() -> Result<(), Failed> {
    with_pool(ProcessPool::builder().workers(1), |pool| {
        let pid = pool.worker_pids()[0];
        match pool.submit(panics, "on purpose".into()).wait() {
            Err(ProcessError::Panicked { message }) => check(message == "on purpose", message)?,
            other => return Err(format!("panic gave {other:?}").into()),
        }
        still_serves(pool)?;
        check(
            pool.worker_pids() == vec![pid],
            "a caught panic replaced the worker",
        )
    })
}

fn a_panic_in_map_fails_its_item_only() -> Result<(), Failed> {
    with_pool(ProcessPool::builder().workers(1), |pool| {
        let pid = pool.worker_pids()[0];
        // Panics first, last and back to back in one chunk, then in a second chunk.
        let inputs = [0u64, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
        let results: Vec<_> = pool.map(panics_on_thirds, inputs).chunksize(10).collect();
        check(results.len() == inputs.len(), format!("{results:?}"))?;
        for (x, result) in inputs.iter().zip(&results) {
            match result {
                Err(ProcessError::Panicked { message }) if x.is_multiple_of(3) => {
                    check(*message == format!("third {x}"), message)?
                }
                Ok(y) if !x.is_multiple_of(3) => check(y == x, format!("{x} gave {y}"))?,
                other => return Err(format!("{x} gave {other:?}").into()),
            }
        }
        still_serves(pool)?;
        check(
            pool.worker_pids() == vec![pid],
            "caught panics replaced the worker",
        )
    })
}

fn timeout_kills_the_worker() -> Result<(), Failed> {
    with_pool(ProcessPool::builder().workers(1), |pool| {
        let pid = pool.worker_pids()[0];
        let behind = pool.submit(add_one, 41);
        let slow = pool.submit_with_timeout(sleep_ms, 20_000, Duration::from_millis(200));
        match slow.wait() {
            Err(ProcessError::Timeout { task, after }) => check(
                task == sleep_ms::NAME && after == Duration::from_millis(200),
                format!("{task} {after:?}"),
            )?,
            other => return Err(format!("timeout gave {other:?}").into()),
        }
        check(
            matches!(behind.wait(), Ok(42)),
            "the task before the timeout",
        )?;
        // A task that finishes in time is unaffected.
        let quick = pool.submit_with_timeout(sleep_ms, 1, Duration::from_secs(30));
        check(quick.wait().is_ok(), "a task within its timeout")?;
        still_serves(pool)?;
        check(
            !pool.worker_pids().contains(&pid),
            "the timed-out worker is still there",
        )
    })
}

fn a_queued_task_survives_a_crash_ahead_of_it() -> Result<(), Failed> {
    with_pool(ProcessPool::builder().workers(1), |pool| {
        // With one worker, the task after the crash may already sit in the dead
        // worker's socket: it never started, so it must run on the replacement.
        for _ in 0..5 {
            let crash = pool.submit(abort, ());
            let next = pool.submit(add_one, 1);
            check(
                matches!(crash.wait(), Err(ProcessError::WorkerDied { .. })),
                "crash",
            )?;
            check(
                matches!(next.wait(), Ok(2)),
                "the task behind a crash was lost",
            )?;
        }
        Ok(())
    })
}

#[weft_process::task]
fn abort_at(x: u64, fatal: u64) -> u64 {
    if x == fatal {
        std::process::abort();
    }
    x + 1
}

fn a_crash_in_map_fails_its_chunk_only() -> Result<(), Failed> {
    with_pool(ProcessPool::builder().workers(2), |pool| {
        let results: Vec<_> = pool
            .map(abort_at, (0..40u64).map(|x| (x, 13)))
            .chunksize(4)
            .collect();
        check(results.len() == 40, "map lost items")?;
        for (x, result) in results.iter().enumerate() {
            match result {
                // Items 12..16 were one chunk, whose results died with the worker.
                Err(ProcessError::WorkerDied {
                    signal: Some(6), ..
                }) if (12..16).contains(&x) => {}
                Ok(y) if *y == x as u64 + 1 && !(12..16).contains(&x) => {}
                other => return Err(format!("item {x} gave {other:?}").into()),
            }
        }
        still_serves(pool)
    })
}

fn retries_run_a_died_task_again() -> Result<(), Failed> {
    let marker = std::env::temp_dir().join(format!("weft-process-die-once-{}", std::process::id()));
    let marker_text = marker.to_string_lossy().into_owned();
    let _ = std::fs::remove_file(&marker);
    let result = with_pool(
        ProcessPool::builder().workers(1).retries(1),
        |pool| match pool.submit(die_once, marker_text.clone()).wait() {
            Ok(text) => check(text == "second time", text),
            other => Err(format!("retried task gave {other:?}").into()),
        },
    );
    let _ = std::fs::remove_file(&marker);
    result?;
    let result = with_pool(ProcessPool::builder().workers(1), |pool| {
        match pool.submit(die_once, marker_text.clone()).wait() {
            Err(ProcessError::WorkerDied { .. }) => Ok(()),
            other => Err(format!("without retries: {other:?}").into()),
        }
    });
    let _ = std::fs::remove_file(&marker);
    result
}

fn terminate_and_kill_cancel_running_tasks() -> Result<(), Failed> {
    for terminate in [true, false] {
        with_pool(ProcessPool::builder().workers(2), |pool| {
            let running: Vec<_> = (0..4).map(|_| pool.submit(sleep_ms, 20_000)).collect();
            // Let the workers take their tasks (a task still queued is cancelled too;
            // either way the answer is Cancelled).
            std::thread::sleep(Duration::from_millis(50));
            if terminate {
                pool.terminate();
            } else {
                pool.kill();
            }
            for future in running {
                match future.wait() {
                    Err(ProcessError::Cancelled) => {}
                    other => {
                        return Err(format!(
                            "a task of a pool stopped by {} gave {other:?}",
                            if terminate { "terminate" } else { "kill" }
                        )
                        .into());
                    }
                }
            }
            check(pool.worker_pids().is_empty(), "workers after terminate")?;
            check(
                matches!(pool.submit(add_one, 1).wait(), Err(ProcessError::Shutdown)),
                "submit after terminate",
            )
        })?;
    }
    Ok(())
}

fn a_dying_initializer_breaks_the_pool() -> Result<(), Failed> {
    let before = children();
    // The initializer dies: broken at once.
    match ProcessPool::builder()
        .workers(2)
        .initializer(exit_with, 7)
        .build()
    {
        Err(ProcessError::PoolBroken { reason, .. }) => {
            check(reason.contains("initializer"), reason)?
        }
        other => return Err(format!("a dying initializer gave {other:?}").into()),
    }
    let after = children();
    check(
        after.len() <= before.len(),
        format!("children left behind: {before:?} -> {after:?}"),
    )
}

fn handles_are_send_and_sync() -> Result<(), Failed> {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ProcessPool>();
    send_sync::<weft_process::TaskFuture<u64, String>>();
    send_sync::<ProcessError<String>>();
    Ok(())
}

fn workers_die_with_their_parent() -> Result<(), Failed> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut parent = Command::new(exe)
        .env(PARENT_MODE, "1")
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = parent.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let workers: Vec<u32> = line
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect();
    let parent_pid = parent.id();
    check(
        workers.len() == 2 && workers.iter().all(|&w| parent_of(w) == Some(parent_pid)),
        format!("the parent helper reported workers {line:?}"),
    )?;
    parent.kill().map_err(|e| e.to_string())?;
    parent.wait().map_err(|e| e.to_string())?;

    // A generous bound on a wait, not a speed assertion: the workers get SIGKILL from
    // the kernel when their parent dies; here we only wait for that to be visible.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let alive: Vec<u32> = workers
            .iter()
            .copied()
            .filter(|&pid| matches!(stat(pid), Some((state, _)) if state != 'Z' && state != 'X'))
            .collect();
        if alive.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("workers {alive:?} outlived their killed parent").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The helper for `workers_die_with_their_parent`: start a pool, print its workers,
/// wait to be killed.
fn parent_mode() -> ! {
    let pool = ProcessPool::builder()
        .workers(2)
        .build()
        .expect("the parent helper's pool");
    let pids: Vec<String> = pool.worker_pids().iter().map(u32::to_string).collect();
    println!("{}", pids.join(" "));
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

fn main() {
    weft_process::init();
    if std::env::var_os(PARENT_MODE).is_some() {
        parent_mode();
    }
    let mut arguments = Arguments::from_args();
    arguments.test_threads = Some(1);
    let trials = vec![
        Trial::test("abort_is_worker_died", abort_is_worker_died),
        Trial::test("exit_is_worker_died", exit_is_worker_died),
        Trial::test("sigkill_is_worker_died", sigkill_is_worker_died),
        Trial::test("panic_is_panicked", panic_is_panicked),
        Trial::test(
            "a_panic_in_map_fails_its_item_only",
            a_panic_in_map_fails_its_item_only,
        ),
        Trial::test("timeout_kills_the_worker", timeout_kills_the_worker),
        Trial::test(
            "a_queued_task_survives_a_crash_ahead_of_it",
            a_queued_task_survives_a_crash_ahead_of_it,
        ),
        Trial::test(
            "a_crash_in_map_fails_its_chunk_only",
            a_crash_in_map_fails_its_chunk_only,
        ),
        Trial::test(
            "retries_run_a_died_task_again",
            retries_run_a_died_task_again,
        ),
        Trial::test(
            "terminate_and_kill_cancel_running_tasks",
            terminate_and_kill_cancel_running_tasks,
        ),
        Trial::test(
            "a_dying_initializer_breaks_the_pool",
            a_dying_initializer_breaks_the_pool,
        ),
        Trial::test("handles_are_send_and_sync", handles_are_send_and_sync),
        Trial::test(
            "workers_die_with_their_parent",
            workers_die_with_their_parent,
        ),
    ];
    libtest_mimic::run(&arguments, trials).exit();
}

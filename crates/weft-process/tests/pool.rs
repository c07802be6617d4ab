//! The pool with well-behaved tasks: results, ordering, chunking, laziness, the
//! futures helpers, configuration, bad input. `harness = false`: `main` calls
//! `init_with` first so this binary can be its own worker.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use weft_process::{Payload, ProcessError, ProcessPool, Registration, ReturnWhen, Task};

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

#[weft_process::task]
fn sleep_then(ms: u64, value: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    value
}

static CALLS: AtomicU64 = AtomicU64::new(0);

/// The worker's pid and how many tasks this worker ran before this one.
#[weft_process::task]
fn pid_and_call(_x: u64) -> (u32, u64) {
    (std::process::id(), CALLS.fetch_add(1, Ordering::Relaxed))
}

static GREETING: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

#[weft_process::task]
fn set_greeting(text: String) -> Result<(), String> {
    if text.is_empty() {
        return Err("empty greeting".into());
    }
    *GREETING.lock().unwrap() = text;
    Ok(())
}

#[weft_process::task]
fn greeting() -> String {
    GREETING.lock().unwrap().clone()
}

#[weft_process::task]
fn takes_byte(x: u8) -> u8 {
    x
}

#[weft_process::task]
fn blob(len: usize) -> Vec<u8> {
    vec![7; len]
}

#[weft_process::task]
fn length(text: String) -> usize {
    text.len()
}

#[weft_process::task(name = "custom::name")]
fn renamed() -> String {
    "renamed".into()
}

/// Claims `takes_byte`'s name with wider arguments: the worker cannot deserialize them.
#[derive(Clone, Copy, Debug)]
struct WideByte;

impl Task for WideByte {
    type Args = u64;
    type Output = u8;
    type Error = weft_process::NoError;
    const NAME: &'static str = takes_byte::NAME;
    fn call(_: u64) -> Result<u8, weft_process::NoError> {
        Ok(0)
    }
}

/// Registered nowhere.
#[derive(Clone, Copy, Debug)]
struct Unregistered;

impl Task for Unregistered {
    type Args = ();
    type Output = ();
    type Error = weft_process::NoError;
    const NAME: &'static str = "tests::nobody::registered::this";
    fn call(_: ()) -> Result<(), weft_process::NoError> {
        Ok(())
    }
}

/// Registered by hand, through `init_with` in `main`.
#[derive(Clone, Copy, Debug)]
struct Manual;

impl Task for Manual {
    type Args = u32;
    type Output = u32;
    type Error = weft_process::NoError;
    const NAME: &'static str = "tests::manual";
    fn call(x: u32) -> Result<u32, weft_process::NoError> {
        Ok(x + 1000)
    }
}

/// Registered by hand, through `register!`.
#[derive(Clone, Copy, Debug)]
struct ByMacro;

impl Task for ByMacro {
    type Args = String;
    type Output = String;
    type Error = weft_process::NoError;
    const NAME: &'static str = concat!(module_path!(), "::ByMacro");
    fn call(text: String) -> Result<String, weft_process::NoError> {
        Ok(text.to_uppercase())
    }
}
weft_process::register!(ByMacro);

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
    )?;
    check(
        matches!(pool.submit(renamed, ()).wait().as_deref(), Ok("renamed")),
        "a task registered under its own name",
    )?;
    check(renamed::NAME == "custom::name", "the name option")?;
    check(
        square::NAME.ends_with("::square"),
        "names are module path and function",
    )
}

fn ten_thousand_tasks_equal_sequential() -> Result<(), Failed> {
    let pool = pool(2)?;
    let inputs: Vec<u64> = (0..10_000).map(|x| x * 7919 + 3).collect();
    let expected: Vec<u64> = inputs.iter().map(|&x| square::run(x)).collect();
    let futures: Vec<_> = inputs.iter().map(|&x| pool.submit(square, x)).collect();
    let got: Result<Vec<u64>, _> = futures.into_iter().map(|future| future.wait()).collect();
    check(
        got.map_err(|e| e.to_string())? == expected,
        "submit results differ from sequential",
    )?;
    let mapped: Result<Vec<u64>, _> = pool.map(square, inputs.clone()).chunksize(64).collect();
    check(
        mapped.map_err(|e| e.to_string())? == expected,
        "map results differ from sequential",
    )
}

fn map_keeps_input_order() -> Result<(), Failed> {
    let pool = pool(2)?;
    // Chunks take different times, so they finish out of order.
    let inputs: Vec<(u64, u64)> = (0..60).map(|i| ((i * 7) % 5, i)).collect();
    let got: Result<Vec<u64>, _> = pool
        .map(sleep_then, inputs)
        .chunksize(3)
        .buffer(6)
        .collect();
    check(
        got.map_err(|e| e.to_string())? == (0..60).collect::<Vec<_>>(),
        "map reordered results",
    )?;
    let mut unordered: Vec<(usize, u64)> = pool
        .map_unordered(square, 0..500u64)
        .chunksize(16)
        .map(|(index, result)| (index, result.unwrap()))
        .collect();
    unordered.sort();
    check(
        unordered == (0..500u64).map(|x| (x as usize, x * x)).collect::<Vec<_>>(),
        "map_unordered lost, duplicated or misindexed items",
    )
}

fn chunksize_groups_inputs() -> Result<(), Failed> {
    let pool = pool(2)?;
    let results: Vec<(u32, u64)> = pool
        .map(pid_and_call, 0..200u64)
        .chunksize(10)
        .map(|result| result.unwrap())
        .collect();
    for (chunk, items) in results.chunks(10).enumerate() {
        let (pid, first) = items[0];
        for (offset, &(other_pid, call)) in items.iter().enumerate() {
            check(
                other_pid == pid && call == first + offset as u64,
                format!("chunk {chunk} did not run as one job on one worker: {items:?}"),
            )?;
        }
    }
    Ok(())
}

fn buffer_bounds_inputs_pulled() -> Result<(), Failed> {
    let pool = pool(2)?;
    let (chunksize, buffer) = (4usize, 3usize);
    let pulled = Arc::new(AtomicUsize::new(0));
    let inputs = {
        let pulled = Arc::clone(&pulled);
        (0..1_000u64).inspect(move |_| {
            pulled.fetch_add(1, Ordering::SeqCst);
        })
    };
    let map = pool.map(square, inputs).chunksize(chunksize).buffer(buffer);
    check(
        pulled.load(Ordering::SeqCst) == 0,
        "map pulled inputs before it was iterated",
    )?;
    let bound = (buffer + 1) * chunksize;
    for (consumed, result) in map.enumerate() {
        result.map_err(|e| e.to_string())?;
        let ahead = pulled.load(Ordering::SeqCst) - (consumed + 1);
        check(
            ahead <= bound,
            format!("{ahead} inputs pulled ahead of the consumer; the bound is {bound}"),
        )?;
    }
    check(
        pulled.load(Ordering::SeqCst) == 1_000,
        "not every input was pulled",
    )
}

fn as_completed_and_wait() -> Result<(), Failed> {
    let pool = pool(2)?;
    let futures: Vec<_> = (0..20u64).map(|x| pool.submit(square, x)).collect();
    let mut seen = [false; 20];
    for (index, result) in weft_process::as_completed(futures) {
        check(!seen[index], format!("index {index} twice"))?;
        seen[index] = true;
        check(
            result.map_err(|e| e.to_string())? == (index as u64).pow(2),
            "wrong result",
        )?;
    }
    check(seen.iter().all(|&s| s), "as_completed lost a future")?;

    let futures = vec![
        pool.submit(sleep_then, (0, 1)),
        pool.submit(sleep_then, (1_500, 2)),
    ];
    let done = weft_process::wait(&futures, ReturnWhen::FirstCompleted);
    check(
        done.done == vec![0] && done.not_done == vec![1],
        format!("FirstCompleted: {done:?}"),
    )?;
    let done =
        weft_process::wait_timeout(&futures, ReturnWhen::AllCompleted, Duration::from_millis(1));
    check(
        done.not_done == vec![1],
        format!("wait_timeout returned too much: {done:?}"),
    )?;
    for future in &futures[1..] {
        future.cancel();
    }
    drop(futures);

    let futures = vec![
        pool.submit(checked_div, (1, 1)),
        pool.submit(checked_div, (1, 0)),
    ];
    let done = weft_process::wait(&futures, ReturnWhen::FirstException);
    check(
        done.done.contains(&1),
        format!("FirstException returned before the error: {done:?}"),
    )?;
    let done = weft_process::wait(&futures, ReturnWhen::AllCompleted);
    check(
        done.done == vec![0, 1] && done.not_done.is_empty(),
        format!("AllCompleted: {done:?}"),
    )
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        std::thread::park();
    }
}

async fn next<S: futures_core::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

fn futures_and_streams_are_async() -> Result<(), Failed> {
    let pool = pool(2)?;
    let value = block_on(pool.submit(sleep_then, (20, 5)));
    check(matches!(value, Ok(5)), format!("awaited {value:?}"))?;
    let mut stream = pool.map(square, 0..100u64).chunksize(7);
    let collected = block_on(async {
        let mut all = Vec::new();
        while let Some(item) = next(&mut stream).await {
            all.push(item.unwrap());
        }
        all
    });
    check(
        collected == (0..100u64).map(|x| x * x).collect::<Vec<_>>(),
        "stream results",
    )
}

fn cancel_and_shutdown() -> Result<(), Failed> {
    let first = pool(1)?;
    let blocker = first.submit(sleep_then, (300, 1));
    let queued: Vec<_> = (0..3).map(|i| first.submit(sleep_then, (0, i))).collect();
    let cancelled = queued[2].cancel();
    check(cancelled, "a queued task could not be cancelled")?;
    check(
        !queued[2].cancel(),
        "cancelling twice claimed success twice",
    )?;
    first.shutdown(false, false);
    check(
        matches!(first.submit(square, 1).wait(), Err(ProcessError::Shutdown)),
        "submit after shutdown",
    )?;
    check(
        matches!(blocker.wait(), Ok(1)),
        "running task after shutdown",
    )?;
    let mut queued = queued.into_iter();
    check(
        matches!(queued.next().unwrap().wait(), Ok(0)),
        "queued task 0 after shutdown",
    )?;
    check(
        matches!(queued.next().unwrap().wait(), Ok(1)),
        "queued task 1 after shutdown",
    )?;
    check(
        matches!(queued.next().unwrap().wait(), Err(ProcessError::Cancelled)),
        "the cancelled task",
    )?;

    // A task already written to a worker (running, or queued in its socket behind
    // the running one) is no longer pending: the blocker may be (or may not yet have
    // been taken), and at most one task behind it.
    let pool = pool(1)?;
    let blocker = pool.submit(sleep_then, (200, 1));
    let queued: Vec<_> = (0..5).map(|x| pool.submit(square, x)).collect();
    pool.shutdown(true, true);
    let blocker_ran = match blocker.wait() {
        Ok(1) => true,
        Err(ProcessError::Cancelled) => false,
        other => return Err(format!("the blocker gave {other:?}").into()),
    };
    for (i, future) in queued.into_iter().enumerate() {
        match future.wait() {
            Err(ProcessError::Cancelled) => {}
            Ok(0) if i == 0 && blocker_ran => {}
            other => return Err(format!("queued task {i} gave {other:?}").into()),
        }
    }
    check(pool.worker_pids().is_empty(), "workers left after shutdown")
}

fn initializer_and_recycling() -> Result<(), Failed> {
    let pool = ProcessPool::builder()
        .workers(2)
        .initializer(set_greeting, "hello".to_string())
        .build()
        .map_err(|e| e.to_string())?;
    for _ in 0..4 {
        let text = pool
            .submit(greeting, ())
            .wait()
            .map_err(|e| e.to_string())?;
        check(
            text == "hello",
            format!("initializer did not run: {text:?}"),
        )?;
    }
    drop(pool);

    match ProcessPool::builder()
        .workers(1)
        .initializer(set_greeting, String::new())
        .build()
    {
        Err(ProcessError::PoolBroken { reason, .. }) => {
            check(reason.contains("initializer"), reason)?
        }
        other => return Err(format!("failed initializer gave {other:?}").into()),
    }

    let pool = ProcessPool::builder()
        .workers(1)
        .max_tasks_per_worker(2)
        .build()
        .map_err(|e| e.to_string())?;
    let pids: Vec<u32> = (0..6)
        .map(|_| pool.submit(whoami, ()).wait().unwrap())
        .collect();
    check(
        pids[0] == pids[1] && pids[1] != pids[2] && pids[2] == pids[3] && pids[3] != pids[4],
        format!("workers were not recycled every 2 tasks: {pids:?}"),
    )
}

fn bad_input_gives_typed_errors() -> Result<(), Failed> {
    let pool = ProcessPool::builder()
        .workers(1)
        .max_frame_size(1024)
        .build()
        .map_err(|e| e.to_string())?;
    match pool.submit(Unregistered, ()).wait() {
        Err(ProcessError::NotRegistered { name }) => check(name == Unregistered::NAME, name)?,
        other => return Err(format!("unregistered task gave {other:?}").into()),
    }
    match pool.submit(WideByte, 300).wait() {
        Err(ProcessError::Serde {
            payload: Payload::Args,
            ..
        }) => {}
        other => return Err(format!("undeserializable args gave {other:?}").into()),
    }
    match pool.submit(length, "x".repeat(2000)).wait() {
        Err(ProcessError::FrameTooLarge { size, limit }) => {
            check(size > 2000 && limit == 1024, format!("{size} {limit}"))?
        }
        other => return Err(format!("large arguments gave {other:?}").into()),
    }
    match pool.submit(blob, 5000).wait() {
        Err(ProcessError::FrameTooLarge { size, limit }) => {
            check(size > 5000 && limit == 1024, format!("{size} {limit}"))?
        }
        other => return Err(format!("large result gave {other:?}").into()),
    }
    check(
        matches!(pool.submit(blob, 10).wait(), Ok(v) if v == vec![7; 10]),
        "small blob",
    )?;
    // A map whose chunks would pass the limit closes them early; an item that can
    // never fit fails alone.
    let inputs: Vec<String> = (0..40)
        .map(|i| {
            if i == 17 {
                "y".repeat(3000)
            } else {
                "x".repeat(300)
            }
        })
        .collect();
    let results: Vec<_> = pool.map(length, inputs).chunksize(10).collect();
    for (i, result) in results.iter().enumerate() {
        match (i, result) {
            (17, Err(ProcessError::FrameTooLarge { .. })) => {}
            (17, other) => return Err(format!("oversized map item gave {other:?}").into()),
            (_, Ok(300)) => {}
            (_, other) => return Err(format!("map item {i} gave {other:?}").into()),
        }
    }
    // Results over the limit in one chunk are split across frames.
    let blobs: Vec<_> = pool.map(blob, vec![300usize; 12]).chunksize(12).collect();
    check(
        blobs.len() == 12 && blobs.iter().all(|b| matches!(b, Ok(v) if v.len() == 300)),
        "results split across frames",
    )
}

fn manual_registration() -> Result<(), Failed> {
    let pool = pool(1)?;
    check(
        matches!(pool.submit(Manual, 1).wait(), Ok(1001)),
        "init_with registration",
    )?;
    check(
        matches!(
            pool.submit(ByMacro, "abc".into()).wait().as_deref(),
            Ok("ABC")
        ),
        "register! registration",
    )
}

fn main() {
    weft_process::init_with(&[Registration::of::<Manual>()]);
    let arguments = Arguments::from_args();
    let trials = vec![
        Trial::test("submit_round_trip", submit_round_trip),
        Trial::test(
            "ten_thousand_tasks_equal_sequential",
            ten_thousand_tasks_equal_sequential,
        ),
        Trial::test("map_keeps_input_order", map_keeps_input_order),
        Trial::test("chunksize_groups_inputs", chunksize_groups_inputs),
        Trial::test("buffer_bounds_inputs_pulled", buffer_bounds_inputs_pulled),
        Trial::test("as_completed_and_wait", as_completed_and_wait),
        Trial::test(
            "futures_and_streams_are_async",
            futures_and_streams_are_async,
        ),
        Trial::test("cancel_and_shutdown", cancel_and_shutdown),
        Trial::test("initializer_and_recycling", initializer_and_recycling),
        Trial::test("bad_input_gives_typed_errors", bad_input_gives_typed_errors),
        Trial::test("manual_registration", manual_registration),
    ];
    libtest_mimic::run(&arguments, trials).exit();
}

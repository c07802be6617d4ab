//! The blocking monitor: a worker stuck in one job does not stall the jobs queued
//! behind it; the stuck job is reported; spares go away when no longer needed.
//!
//! Each test's stuck job waits for the other jobs to finish (on a channel, bounded by a
//! generous timeout), so without the monitor it would wait for ever on a one-worker
//! pool: the tests show the hand-off by completing, not by timing anything.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use weft_pool::ThreadPoolBuilder;
use weft_pool::raw::{Hint, JobRef};

const PATIENCE: Duration = Duration::from_secs(60);

fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter(|task| {
                    std::fs::read_to_string(task.path().join("comm"))
                        .is_ok_and(|name| name.trim_end().starts_with(prefix))
                })
                .count()
        })
        .unwrap_or(0)
}

fn wait_for(what: &str, done: impl Fn() -> bool) {
    for _ in 0..60_000 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("gave up waiting for {what}");
}

#[test]
fn jobs_queued_behind_a_stuck_job_run_on_a_spare_and_the_spare_retires() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let pool = {
        let reports = Arc::clone(&reports);
        ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|index| format!("monitest-{index}"))
            .blocking_threshold(Duration::from_millis(10))
            .blocked_handler(move |report| reports.lock().unwrap().push(report.clone()))
            .build()
            .unwrap()
    };
    let (release, released) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<usize>();
    pool.spawn(move || {
        // Stuck until the others have run.
        released
            .recv_timeout(PATIENCE)
            .expect("the queued jobs never ran: no hand-off");
    });
    for i in 0..20 {
        let done_tx = done_tx.clone();
        pool.spawn(move || done_tx.send(i).unwrap());
    }
    let mut done: Vec<usize> = (0..20)
        .map(|_| done_rx.recv_timeout(PATIENCE).unwrap())
        .collect();
    done.sort_unstable();
    assert_eq!(done, (0..20).collect::<Vec<_>>());
    assert_eq!(threads_named("monitest-1"), 1, "one spare ran them");
    release.send(()).unwrap();
    {
        let reports = reports.lock().unwrap();
        assert_eq!(reports.len(), 1, "reported once: {reports:?}");
        assert_eq!(reports[0].index, 0);
        assert!(reports[0].blocked_for >= Duration::from_millis(10));
        assert!(reports[0].to_string().contains("worker 0"));
    }
    wait_for("the spare to retire", || threads_named("monitest-1") == 0);
    // The pool still works, and can hand off again.
    let (release, released) = mpsc::channel::<()>();
    pool.spawn(move || released.recv_timeout(PATIENCE).unwrap());
    let (tx, rx) = mpsc::channel();
    pool.spawn(move || tx.send("again").unwrap());
    assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), "again");
    release.send(()).unwrap();
    wait_for("the second report", || reports.lock().unwrap().len() == 2);
}

/// A job in the stuck worker's LIFO slot (a task it woke just before blocking) is
/// moved out and runs.
#[test]
fn the_lifo_slot_of_a_stuck_worker_is_handed_off() {
    let pool = ThreadPoolBuilder::new()
        .num_threads(1)
        .blocking_threshold(Duration::from_millis(10))
        .blocked_handler(|_| {})
        .build()
        .unwrap();
    let handle = pool.raw_handle();
    let (tx, rx) = mpsc::channel::<&'static str>();
    let (release, released) = mpsc::channel::<()>();
    pool.spawn(move || {
        type Body = Box<dyn FnOnce() + Send>;
        unsafe fn run(data: *const ()) {
            // SAFETY: the leaked box below, run once.
            let body = unsafe { Box::from_raw(data.cast::<Body>().cast_mut()) };
            body();
        }
        let body: Box<Body> = Box::new(Box::new(move || tx.send("lifo job ran").unwrap()));
        // SAFETY: the box lives until `run`; the body does not panic.
        let job = unsafe { JobRef::from_raw_parts(Box::into_raw(body).cast_const().cast(), run) };
        handle.schedule(job, Hint::Lifo);
        released
            .recv_timeout(PATIENCE)
            .expect("the LIFO job never ran");
    });
    assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), "lifo job ran");
    release.send(()).unwrap();
}

/// Without a threshold there is no monitor: nothing is reported, no spare starts.
#[test]
fn the_monitor_is_off_by_default() {
    let pool = ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|index| format!("nomon-{index}"))
        .build()
        .unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    {
        let ran = Arc::clone(&ran);
        pool.install(move || {
            std::thread::sleep(Duration::from_millis(50));
            ran.fetch_add(1, Ordering::SeqCst);
        });
    }
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(threads_named("nomon-1"), 0);
}

//! The blocking monitor on the runtime: a task that blocks its worker does not stop
//! the timers and tasks behind it, and is reported with where it was spawned.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_rt::time::{self, MissedTickBehavior};

/// Ticks of a 10 ms interval counted while another task sleeps 500 ms in its poll,
/// on a one-worker runtime.
fn ticks_during_a_blocking_poll(threshold: Option<Duration>) -> (usize, Vec<String>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let rt = {
        let reports = Arc::clone(&reports);
        weft_rt::Builder::new_multi_thread()
            .worker_threads(1)
            .blocking_threshold(threshold)
            .on_blocked(move |report| reports.lock().unwrap().push(report.to_string()))
            .build()
            .unwrap()
    };
    let ticks = Arc::new(AtomicUsize::new(0));
    let during = rt.block_on({
        let ticks = Arc::clone(&ticks);
        async move {
            let ticker = {
                let ticks = Arc::clone(&ticks);
                weft_rt::spawn(async move {
                    let mut interval = time::interval(Duration::from_millis(10));
                    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
                    loop {
                        interval.tick().await;
                        ticks.fetch_add(1, Ordering::SeqCst);
                    }
                })
            };
            // Let the ticker start.
            while ticks.load(Ordering::SeqCst) < 2 {
                time::sleep(Duration::from_millis(1)).await;
            }
            let blocker = {
                let ticks = Arc::clone(&ticks);
                weft_rt::spawn(async move {
                    let before = ticks.load(Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(500));
                    ticks.load(Ordering::SeqCst) - before
                })
            };
            let during = blocker.await.unwrap();
            ticker.abort();
            during
        }
    });
    let reports = reports.lock().unwrap().clone();
    (during, reports)
}

#[test]
fn a_blocking_task_does_not_stop_the_timers_of_the_others() {
    let (during, reports) = ticks_during_a_blocking_poll(Some(Duration::from_millis(10)));
    // 500 ms of 10 ms ticks is 50; the hand-off takes a threshold or two.
    assert!(during >= 10, "only {during} ticks while a task blocked the worker");
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("tests/monitor.rs"), "names the spawn site: {}", reports[0]);
}

#[test]
fn without_the_monitor_the_blocked_worker_stops_its_timers() {
    let (during, reports) = ticks_during_a_blocking_poll(None);
    // The one worker is stuck: at most a tick that was already being polled.
    assert!(during <= 1, "{during} ticks without a monitor");
    assert!(reports.is_empty());
}

//! Timers: order, cancellation, timeout, interval's missed-tick behaviours; and Notify.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft_rt::sync::Notify;
use weft_rt::time::{self, MissedTickBehavior};
use weft_rt::{Builder, Runtime};

fn rt() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

#[test]
fn sleeps_complete_in_deadline_order_and_never_early() {
    // One thread: tasks woken together run in the order the timers fired.
    let rt = Builder::new_current_thread().build().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        let mut handles = Vec::new();
        for ms in [30u64, 10, 20, 0, 5] {
            let order = Arc::clone(&order);
            handles.push(weft_rt::spawn(async move {
                let start = Instant::now();
                time::sleep(Duration::from_millis(ms)).await;
                assert!(start.elapsed() >= Duration::from_millis(ms), "woke early");
                order.lock().unwrap().push(ms);
            }));
        }
        for handle in handles {
            handle.await.unwrap();
        }
    });
    assert_eq!(*order.lock().unwrap(), [0, 5, 10, 20, 30]);
}

#[test]
fn a_dropped_sleep_is_cancelled() {
    let rt = rt();
    rt.block_on(async {
        let sleep = time::sleep(Duration::from_secs(3600));
        drop(sleep);
        // A timeout around a cancelled-then-replaced sleep still fires on time.
        let result = time::timeout(Duration::from_millis(5), std::future::pending::<()>()).await;
        assert!(result.is_err());
    });
}

#[test]
fn timeout_on_a_never_ready_future_elapses_and_a_ready_one_wins() {
    let rt = rt();
    rt.block_on(async {
        let start = Instant::now();
        let error = time::timeout(Duration::from_millis(10), std::future::pending::<u8>())
            .await
            .unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(10));
        assert_eq!(error.to_string(), "deadline has elapsed");
        let io: std::io::Error = error.into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(time::timeout(Duration::ZERO, async { 4 }).await, Ok(4));
    });
}

#[test]
fn sleep_reset_moves_the_deadline() {
    let rt = rt();
    rt.block_on(async {
        let start = Instant::now();
        let mut sleep = time::sleep(Duration::from_secs(3600));
        sleep.reset(start + Duration::from_millis(5));
        (&mut sleep).await;
        assert!(sleep.is_elapsed());
        assert!(start.elapsed() >= Duration::from_millis(5));
    });
}

/// Ticks of an interval whose task is late by `late` after the first tick.
fn ticks_after_being_late(behavior: MissedTickBehavior) -> (Instant, Vec<Instant>, Instant) {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let period = Duration::from_millis(10);
        let mut interval = time::interval(period);
        interval.set_missed_tick_behavior(behavior);
        let first = interval.tick().await;
        // Late by three and a half periods.
        std::thread::sleep(period * 7 / 2);
        let resumed = Instant::now();
        let mut ticks = Vec::new();
        for _ in 0..5 {
            ticks.push(interval.tick().await);
        }
        (first, ticks, resumed)
    })
}

#[test]
fn interval_burst_catches_up_on_the_original_grid() {
    let (first, ticks, _) = ticks_after_being_late(MissedTickBehavior::Burst);
    let period = Duration::from_millis(10);
    for (k, tick) in ticks.iter().enumerate() {
        assert_eq!(
            *tick,
            first + period * (k as u32 + 1),
            "tick {k} off the grid"
        );
    }
}

#[test]
fn interval_skip_drops_missed_ticks_and_stays_on_the_grid() {
    let (first, ticks, resumed) = ticks_after_being_late(MissedTickBehavior::Skip);
    let period = Duration::from_millis(10);
    // The first tick after resuming is the missed one, fired at once.
    assert_eq!(ticks[0], first + period);
    // Then the next grid point after the resume time: nothing in between.
    let second = ticks[1];
    assert!(second > resumed, "a skipped tick was fired");
    let offset = second.duration_since(first).as_nanos() % period.as_nanos();
    assert_eq!(offset, 0, "off the grid");
    for pair in ticks[1..].windows(2) {
        assert_eq!(pair[1] - pair[0], period);
    }
}

#[test]
fn interval_delay_restarts_the_grid_from_now() {
    let (first, ticks, resumed) = ticks_after_being_late(MissedTickBehavior::Delay);
    let period = Duration::from_millis(10);
    assert_eq!(ticks[0], first + period);
    assert!(ticks[1] >= resumed + period);
    for pair in ticks[1..].windows(2) {
        assert!(pair[1] - pair[0] >= period);
    }
}

#[test]
fn notify_one_stores_a_permit_and_notify_waiters_wakes_all_current() {
    let rt = rt();
    rt.block_on(async {
        let notify = Arc::new(Notify::new());
        // Permit first, then wait: completes at once.
        notify.notify_one();
        notify.notified().await;
        // Three waiters, all released by one notify_waiters.
        let mut waiters = Vec::new();
        for _ in 0..3 {
            let notify = Arc::clone(&notify);
            waiters.push(weft_rt::spawn(async move { notify.notified().await }));
        }
        time::sleep(Duration::from_millis(10)).await;
        notify.notify_waiters();
        for waiter in waiters {
            time::timeout(Duration::from_secs(10), waiter)
                .await
                .expect("notify_waiters released every waiter")
                .unwrap();
        }
        // notify_waiters stored no permit.
        let late = time::timeout(Duration::from_millis(5), notify.notified()).await;
        assert!(late.is_err());
    });
}

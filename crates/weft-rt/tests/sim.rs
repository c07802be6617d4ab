//! The deterministic simulation: virtual time, timer order, timeouts, deadlock
//! detection, one interleaving per seed, the task API under it, and a race found by a
//! search over seeds and replayed.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_rt::sim::{self, Cause, SimError};
use weft_rt::sync::Notify;
use weft_rt::time::{self, MissedTickBehavior};
use weft_rt::{Handle, RuntimeFlavor};

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn an_hour_of_sleep_is_an_hour_of_virtual_time() {
    let rt = sim::Runtime::new(1);
    let start = rt.now();
    let (inside_start, inside_end) = rt.block_on(async {
        let start = time::now();
        time::sleep(HOUR).await;
        (start, time::now())
    });
    assert_eq!(rt.elapsed(), HOUR);
    assert_eq!(rt.now() - start, HOUR);
    assert_eq!(inside_start, start);
    assert_eq!(inside_end - inside_start, HOUR);
}

#[test]
fn timers_fire_in_deadline_order_at_their_exact_deadlines() {
    for seed in 0..20 {
        let rt = sim::Runtime::new(seed);
        let fired = Arc::new(Mutex::new(Vec::new()));
        rt.block_on(async {
            let mut tasks = Vec::new();
            for ms in [30u64, 10, 20, 0, 5, 20] {
                let fired = Arc::clone(&fired);
                tasks.push(weft_rt::spawn(async move {
                    let start = time::now();
                    time::sleep(Duration::from_millis(ms)).await;
                    fired.lock().unwrap().push((ms, time::now() - start));
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
        });
        let fired = fired.lock().unwrap();
        let order: Vec<u64> = fired.iter().map(|&(ms, _)| ms).collect();
        assert_eq!(order, [0, 5, 10, 20, 20, 30], "seed {seed}");
        for &(ms, waited) in fired.iter() {
            assert_eq!(waited, Duration::from_millis(ms), "seed {seed}");
        }
        assert_eq!(rt.elapsed(), Duration::from_millis(30));
    }
}

#[test]
fn sleep_until_reset_and_is_elapsed_read_the_virtual_clock() {
    let rt = sim::Runtime::new(2);
    rt.block_on(async {
        let start = time::now();
        let mut sleep = time::sleep(Duration::from_secs(10));
        assert_eq!(sleep.deadline(), Some(start + Duration::from_secs(10)));
        assert!(!sleep.is_elapsed());
        sleep.reset(start + Duration::from_secs(2));
        (&mut sleep).await;
        assert!(sleep.is_elapsed());
        assert_eq!(time::now() - start, Duration::from_secs(2));
        time::sleep_until(start + Duration::from_secs(5)).await;
        assert_eq!(time::now() - start, Duration::from_secs(5));
        // A deadline in the past is already due.
        time::sleep_until(start).await;
        assert_eq!(time::now() - start, Duration::from_secs(5));
    });
}

#[test]
fn a_reset_while_a_task_waits_moves_its_wake_up() {
    let rt = sim::Runtime::new(3);
    rt.block_on(async {
        let start = time::now();
        let sleep = Arc::new(Mutex::new(Some(time::sleep(HOUR))));
        let waiter = {
            let sleep = Arc::clone(&sleep);
            weft_rt::spawn(async move {
                std::future::poll_fn(|cx| {
                    let mut slot = sleep.lock().unwrap();
                    std::pin::Pin::new(slot.as_mut().unwrap()).poll(cx)
                })
                .await;
                time::now()
            })
        };
        time::sleep(Duration::from_secs(1)).await;
        // The waiter registered its waker an hour out; move it in.
        sleep
            .lock()
            .unwrap()
            .as_mut()
            .unwrap()
            .reset(start + Duration::from_secs(3));
        let woke = waiter.await.unwrap();
        assert_eq!(woke - start, Duration::from_secs(3));
    });
}

#[test]
fn timeout_runs_on_virtual_time() {
    let rt = sim::Runtime::new(4);
    rt.block_on(async {
        let start = time::now();
        let late = time::timeout(Duration::from_secs(1), time::sleep(Duration::from_secs(2))).await;
        assert!(late.is_err());
        assert_eq!(time::now() - start, Duration::from_secs(1));
        let in_time = time::timeout(Duration::from_secs(2), async {
            time::sleep(Duration::from_secs(1)).await;
            "made it"
        })
        .await;
        assert_eq!(in_time, Ok("made it"));
        assert_eq!(time::now() - start, Duration::from_secs(2));
        // A timeout that never elapses, around a future that is never ready: nothing
        // can happen, and the run says so.
    });
    let never =
        rt.try_block_on(async { time::timeout(Duration::MAX, std::future::pending::<()>()).await });
    assert!(matches!(never, Err(SimError::Deadlock { .. })));
}

#[test]
fn interval_ticks_on_the_virtual_grid() {
    let rt = sim::Runtime::new(5);
    let ticks = rt.block_on(async {
        let start = time::now();
        let mut interval = time::interval(Duration::from_millis(10));
        let mut ticks = Vec::new();
        for _ in 0..5 {
            ticks.push(interval.tick().await - start);
        }
        ticks
    });
    let expected: Vec<Duration> = (0..5).map(|i| Duration::from_millis(10 * i)).collect();
    assert_eq!(ticks, expected);
    assert_eq!(rt.elapsed(), Duration::from_millis(40));
}

#[test]
fn a_late_interval_follows_its_missed_tick_behaviour_in_virtual_time() {
    let rt = sim::Runtime::new(6);
    rt.block_on(async {
        let start = time::now();
        let mut interval = time::interval(Duration::from_millis(10));
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        interval.tick().await;
        time::sleep(Duration::from_millis(35)).await; // misses the ticks at 10, 20, 30
        assert_eq!(interval.tick().await - start, Duration::from_millis(10));
        assert_eq!(interval.tick().await - start, Duration::from_millis(40));
        assert_eq!(time::now() - start, Duration::from_millis(40));
    });
}

#[test]
fn a_forgotten_notify_is_reported_as_a_deadlock_with_its_tasks() {
    let rt = sim::Runtime::new(7);
    let error = rt
        .try_block_on(async {
            let notify = Arc::new(Notify::new());
            let waiters: Vec<_> = (0..3)
                .map(|_| {
                    let notify = Arc::clone(&notify);
                    weft_rt::spawn(async move { notify.notified().await })
                })
                .collect();
            time::sleep(Duration::from_secs(1)).await;
            for waiter in waiters {
                waiter.await.unwrap();
            }
        })
        .unwrap_err();
    match error {
        SimError::Deadlock {
            seed,
            elapsed,
            live_tasks,
            ..
        } => {
            assert_eq!(seed, 7);
            assert_eq!(elapsed, Duration::from_secs(1));
            assert_eq!(live_tasks, 3);
        }
        other => panic!("expected a deadlock, got {other:?}"),
    }
}

#[test]
#[should_panic(expected = "deadlock: all tasks are waiting and no timer is pending")]
fn block_on_panics_on_a_deadlock() {
    let rt = sim::Runtime::new(8);
    rt.block_on(std::future::pending::<()>());
}

#[test]
fn the_runtime_stays_usable_after_a_deadlock() {
    let rt = sim::Runtime::new(9);
    let notify = Arc::new(Notify::new());
    let waiter = {
        let notify = Arc::clone(&notify);
        rt.spawn(async move {
            notify.notified().await;
            "woken"
        })
    };
    assert!(matches!(
        rt.try_block_on(std::future::pending::<()>()),
        Err(SimError::Deadlock { live_tasks: 1, .. })
    ));
    notify.notify_one();
    assert_eq!(rt.block_on(waiter).unwrap(), "woken");
}

/// A run whose interleaving is recorded in order, as events.
fn interleaving(seed: u64) -> (u64, Vec<(usize, usize)>) {
    let rt = sim::Runtime::new(seed);
    let events = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        let tasks: Vec<_> = (0..4)
            .map(|task| {
                let events = Arc::clone(&events);
                weft_rt::spawn(async move {
                    for step in 0..5 {
                        events.lock().unwrap().push((task, step));
                        weft_rt::yield_now().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    let events = events.lock().unwrap().clone();
    (rt.trace_hash(), events)
}

#[test]
fn one_seed_gives_one_interleaving_and_seeds_differ() {
    for seed in [0, 1, 42, u64::MAX] {
        assert_eq!(interleaving(seed), interleaving(seed), "seed {seed}");
    }
    let hashes: HashSet<u64> = (0..32).map(|seed| interleaving(seed).0).collect();
    let orders: HashSet<Vec<(usize, usize)>> = (0..32).map(|seed| interleaving(seed).1).collect();
    // 20 steps of 4 tasks have billions of interleavings: 32 seeds should nearly all
    // differ (a collision or two would not be a bug).
    assert!(hashes.len() >= 28, "{} distinct hashes", hashes.len());
    assert!(orders.len() >= 28, "{} distinct orders", orders.len());
}

#[test]
fn the_free_functions_spawn_onto_the_simulation() {
    let rt = sim::Runtime::new(10);
    rt.block_on(async {
        assert_eq!(Handle::current().runtime_flavor(), RuntimeFlavor::Sim);
        let sent = weft_rt::spawn(async { Handle::current().runtime_flavor() });
        assert_eq!(sent.await.unwrap(), RuntimeFlavor::Sim);
        let shared = Rc::new(RefCell::new(Vec::new()));
        let local = {
            let shared = Rc::clone(&shared);
            weft_rt::spawn_local(async move {
                time::sleep(Duration::from_secs(1)).await;
                shared.borrow_mut().push("local");
            })
        };
        local.await.unwrap();
        assert_eq!(*shared.borrow(), ["local"]);
        let on_core = Handle::current().spawn_on(0, || {
            let not_send = Rc::new(5);
            async move { *not_send * 2 }
        });
        assert_eq!(on_core.await.unwrap(), 10);
    });
    assert_eq!(rt.elapsed(), Duration::from_secs(1));
}

#[test]
fn spawn_blocking_runs_inline_as_a_task() {
    let rt = sim::Runtime::new(11);
    let thread = rt.block_on(async {
        weft_rt::spawn_blocking(|| std::thread::current().id())
            .await
            .unwrap()
    });
    assert_eq!(thread, std::thread::current().id());
}

#[test]
fn join_handles_abort_and_panics_behave_as_in_the_real_runtime() {
    struct CountDrop(Arc<AtomicUsize>);
    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    let rt = sim::Runtime::new(12);
    let drops = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        // A value.
        assert_eq!(weft_rt::spawn(async { 7 }).await.unwrap(), 7);

        // Abort of a waiting task: cancelled, its future dropped.
        let guard = CountDrop(Arc::clone(&drops));
        let sleeper = weft_rt::spawn(async move {
            let _guard = guard;
            time::sleep(HOUR).await;
        });
        weft_rt::yield_now().await;
        sleeper.abort();
        let error = sleeper.await.unwrap_err();
        assert!(error.is_cancelled());
        assert_eq!(drops.load(Ordering::SeqCst), 1);

        // A panic stays in its task.
        let panicked = weft_rt::spawn(async {
            panic!("task failed on purpose");
        });
        let error = panicked.await.unwrap_err();
        assert!(error.is_panic());
        assert_eq!(
            error.into_panic().downcast_ref::<&str>(),
            Some(&"task failed on purpose")
        );

        // A detached task still runs.
        let ran = Arc::new(AtomicUsize::new(0));
        drop({
            let ran = Arc::clone(&ran);
            weft_rt::spawn(async move {
                ran.fetch_add(1, Ordering::SeqCst);
            })
        });
        time::sleep(Duration::from_millis(1)).await;
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    });
    // The aborted sleep did not hold the clock back.
    assert_eq!(rt.elapsed(), Duration::from_millis(1));
}

#[test]
fn dropping_the_runtime_cancels_the_tasks_left() {
    struct CountDrop(Arc<AtomicUsize>);
    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    let drops = Arc::new(AtomicUsize::new(0));
    let notify = Arc::new(Notify::new());
    let rt = sim::Runtime::new(13);
    let mut handles = Vec::new();
    for _ in 0..3 {
        let guard = CountDrop(Arc::clone(&drops));
        let notify = Arc::clone(&notify);
        handles.push(rt.spawn(async move {
            let _guard = guard;
            notify.notified().await; // waits for ever
        }));
    }
    let guard = CountDrop(Arc::clone(&drops));
    handles.push(rt.spawn(async move {
        let _guard = guard;
        time::sleep(HOUR).await;
    }));
    let local_guard = CountDrop(Arc::clone(&drops));
    let local = rt.spawn_local(async move {
        let _guard = local_guard;
        std::future::pending::<()>().await;
    });
    rt.block_on(async { time::sleep(Duration::from_secs(1)).await });
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(rt);
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    for handle in handles {
        assert!(handle.is_finished());
    }
    assert!(local.is_finished());
}

#[test]
fn nested_block_on_is_an_error_not_a_hang() {
    let rt = sim::Runtime::new(14);
    let inner = rt.block_on(async { rt.try_block_on(async { 1 }) });
    assert_eq!(inner, Err(SimError::Nested));
    let other = sim::Runtime::new(15);
    let inner = rt.block_on(async { other.try_block_on(async { 1 }) });
    assert_eq!(inner, Err(SimError::Nested));
}

#[test]
fn a_step_limit_catches_a_spin_waiting_for_time() {
    let rt = sim::Runtime::new(16);
    rt.set_step_limit(Some(500));
    let result = rt.try_block_on(async {
        let done = Arc::new(AtomicUsize::new(0));
        {
            let done = Arc::clone(&done);
            weft_rt::spawn(async move {
                time::sleep(Duration::from_secs(1)).await;
                done.store(1, Ordering::SeqCst);
            });
        }
        // Time stands still while this is ready: it never sees the flag.
        while done.load(Ordering::SeqCst) == 0 {
            weft_rt::yield_now().await;
        }
    });
    assert!(matches!(
        result,
        Err(SimError::StepLimit { steps: 500, elapsed, .. }) if elapsed == Duration::ZERO
    ));
}

// ---- the race ----

/// Two tasks add 1 to a shared counter with a read, an await, then a write; the
/// second makes five checks first. The update is lost only if the second reads
/// before the first has written: a few interleavings in a hundred.
fn racy_counter(rt: &sim::Runtime) -> u64 {
    rt.block_on(async {
        let counter = Arc::new(Mutex::new(0u64));
        let tasks: Vec<_> = [0, 5]
            .into_iter()
            .map(|checks| {
                let counter = Arc::clone(&counter);
                weft_rt::spawn(async move {
                    time::sleep(Duration::from_millis(10)).await;
                    for _ in 0..checks {
                        weft_rt::yield_now().await;
                    }
                    let read = *counter.lock().unwrap();
                    weft_rt::yield_now().await;
                    *counter.lock().unwrap() = read + 1;
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        *counter.lock().unwrap()
    })
}

#[test]
fn a_search_over_seeds_finds_the_lost_update_and_the_seed_replays_it() {
    let failure = sim::check(0..1000, |rt| match racy_counter(rt) {
        2 => Ok(()),
        total => Err(total),
    })
    .expect_err("no seed in 0..1000 lost an update");
    let Cause::Error(wrong_total) = failure.cause else {
        panic!("the body returned its error, it did not panic");
    };
    assert_eq!(wrong_total, 1);
    assert!(
        failure
            .to_string()
            .contains(&format!("rerun with sim::Runtime::new({})", failure.seed))
    );

    // The replay: the same interleaving (trace) and the same wrong total, twice.
    for _ in 0..2 {
        let replay = sim::Runtime::new(failure.seed);
        assert_eq!(racy_counter(&replay), wrong_total);
        assert_eq!(replay.elapsed(), Duration::from_millis(10));
        assert_eq!(replay.trace_hash(), failure.trace_hash);
        assert_eq!(replay.steps(), failure.steps);
    }

    // And some seeds pass: the bug depends on the interleaving, not on the code
    // always being wrong.
    assert!(
        (0..50).any(|seed| racy_counter(&sim::Runtime::new(seed)) == 2),
        "every seed lost an update"
    );
}

#[test]
fn check_reports_a_panicking_body_and_stops_at_the_first_failure() {
    let mut tried = Vec::new();
    let failure = sim::check(0..100, |rt| -> Result<(), String> {
        tried.push(rt.seed());
        if rt.seed() == 3 {
            rt.block_on(std::future::pending::<()>()); // a deadlock: panics
        }
        Ok(())
    })
    .unwrap_err();
    assert_eq!(tried, [0, 1, 2, 3]);
    assert_eq!(failure.seed, 3);
    match &failure.cause {
        Cause::Panic(message) => assert!(message.contains("deadlock"), "{message}"),
        other => panic!("expected a panic, got {other:?}"),
    }
    assert!(sim::check(0..10, |_rt| Ok::<(), String>(())).is_ok());
}

#[test]
fn check_env_runs_the_range_when_no_seed_is_set() {
    if std::env::var_os("WEFT_SIM_SEED").is_some() {
        return; // a replay session: the range is not what runs
    }
    let mut tried = 0;
    sim::check_env(0..5, |_rt| {
        tried += 1;
        Ok::<(), String>(())
    })
    .unwrap();
    assert_eq!(tried, 5);
}

#[test]
fn a_sleep_made_outside_the_simulation_does_not_follow_its_clock() {
    let rt = sim::Runtime::new(17);
    // Made before `block_on` runs: on the real clock, which nothing drives here.
    let outside = time::sleep(Duration::from_secs(1));
    assert!(matches!(
        rt.try_block_on(outside),
        Err(SimError::Deadlock { .. })
    ));
    // Made under `enter`: on the virtual clock.
    let inside = {
        let _guard = rt.enter();
        time::sleep(Duration::from_secs(1))
    };
    rt.block_on(inside);
    assert_eq!(rt.elapsed(), Duration::from_secs(1));
}

#[test]
fn a_sleep_too_long_to_represent_never_fires() {
    let rt = sim::Runtime::new(18);
    let result = rt.try_block_on(async {
        let sleep = time::sleep(Duration::MAX);
        assert_eq!(sleep.deadline(), None);
        sleep.await;
    });
    assert!(matches!(result, Err(SimError::Deadlock { .. })));
    assert_eq!(rt.elapsed(), Duration::ZERO);
}

/// Runs this test binary's `check_env_child` test in a child process with
/// `WEFT_SIM_SEED` set to `seed` (the variable cannot be set safely in this
/// multi-threaded process).
fn run_check_env_child(seed: &str) -> std::process::Output {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "check_env_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("WEFT_SIM_SEED", seed)
        .env("WEFT_SIM_TEST_CHILD", "1")
        .output()
        .unwrap()
}

#[test]
fn check_env_child() {
    if std::env::var_os("WEFT_SIM_TEST_CHILD").is_none() {
        return; // only meaningful as the child of the test below
    }
    let mut tried = Vec::new();
    let result = sim::check_env(0..100, |rt| {
        tried.push(rt.seed());
        Ok::<(), String>(())
    });
    println!("child tried seeds {tried:?}: {result:?}");
}

#[test]
fn check_env_replays_only_the_seed_in_the_environment() {
    let output = run_check_env_child("14");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("child tried seeds [14]: Ok(())"),
        "{stdout}"
    );

    let output = run_check_env_child("fourteen");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("WEFT_SIM_SEED=\"fourteen\" is not a seed"),
        "{stderr}"
    );
}

#[test]
fn a_task_group_under_a_deadline_runs_on_virtual_time() {
    sim::check(0..20, |rt| {
        let (result, elapsed) = rt.block_on(async {
            let start = time::now();
            let result = weft_rt::deadline(start + Duration::from_secs(5), async {
                let mut group: weft_rt::TaskGroup<u64, String> = weft_rt::TaskGroup::new();
                for secs in [1u64, 2, 60] {
                    group.spawn(async move {
                        time::sleep(Duration::from_secs(secs)).await;
                        Ok(secs)
                    });
                }
                group.join().await
            })
            .await;
            (result, time::now() - start)
        });
        // The 60 s task outlives the deadline: everything inside is cancelled at 5 s.
        match (result.is_err(), elapsed == Duration::from_secs(5)) {
            (true, true) => Ok(()),
            _ => Err(format!(
                "elapsed {elapsed:?}, timed out: {}",
                result.is_err()
            )),
        }
    })
    .unwrap();
}

//! TaskGroup and deadline: values in spawn order, the first failure cancels the rest
//! and every failure is reported, panics become errors, cancel and drop cancel, and a
//! deadline cancels the groups inside it. Every wait is bounded; nothing asserts speed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use weft_rt::time::{Instant, sleep};
use weft_rt::{Builder, Runtime, TaskGroup};

const HOUR: Duration = Duration::from_secs(3600);
/// How long a test may wait for something before it fails (not a speed bound).
const PATIENCE: Duration = Duration::from_secs(30);

fn rt() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Counts drops, to see that a task's future is gone.
struct DropGuard(Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Waits (bounded) until `counter` reaches `want`; fails the test otherwise.
async fn wait_for(counter: &AtomicUsize, want: usize, what: &str) {
    let start = Instant::now();
    while counter.load(Ordering::SeqCst) < want {
        assert!(
            start.elapsed() < PATIENCE,
            "gave up waiting for {what}: {} of {want}",
            counter.load(Ordering::SeqCst)
        );
        sleep(Duration::from_millis(1)).await;
    }
}

/// A group task that holds a guard and sleeps for an hour.
fn sleeper(
    drops: &Arc<AtomicUsize>,
    started: &Arc<AtomicUsize>,
) -> impl Future<Output = Result<u32, String>> + Send + 'static {
    let guard = DropGuard(Arc::clone(drops));
    let started = Arc::clone(started);
    async move {
        let _guard = guard;
        started.fetch_add(1, Ordering::SeqCst);
        sleep(HOUR).await;
        Ok(0)
    }
}

async fn bounded<F: Future>(future: F) -> F::Output {
    weft_rt::time::timeout(PATIENCE, future)
        .await
        .expect("the group did not finish in time")
}

#[test]
fn all_success_collects_in_spawn_order() {
    rt().block_on(async {
        let mut group: TaskGroup<usize, String> = TaskGroup::new();
        for i in 0..32 {
            // Later tasks finish first.
            group.spawn(async move {
                sleep(Duration::from_millis(((32 - i) % 8) as u64)).await;
                Ok(i * 3)
            });
        }
        assert_eq!(group.len(), 32);
        let values = bounded(group.join()).await.unwrap();
        assert_eq!(values, (0..32).map(|i| i * 3).collect::<Vec<_>>());
    });
}

#[test]
fn plain_outputs_and_awaiting_the_group() {
    rt().block_on(async {
        let mut group: TaskGroup<_> = TaskGroup::new();
        for i in 0..10u64 {
            group.spawn_infallible(async move {
                weft_rt::yield_now().await;
                i + 1
            });
        }
        let values = bounded(group.into_future()).await.unwrap();
        assert_eq!(values, (1..=10).collect::<Vec<_>>());

        let empty: TaskGroup<(), String> = TaskGroup::new();
        assert!(empty.is_empty());
        assert_eq!(empty.await.unwrap(), Vec::<()>::new());
    });
}

#[test]
fn first_error_cancels_the_rest_promptly() {
    rt().block_on(async {
        let drops = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let mut group = TaskGroup::new();
        for _ in 0..10 {
            group.spawn(sleeper(&drops, &started));
        }
        wait_for(&started, 10, "the sleepers to start").await;
        group.spawn(async { Err("broken".to_string()) });

        let error = bounded(group.join()).await.unwrap_err();
        assert_eq!(error.failures().len(), 1);
        let failure = &error.failures()[0];
        assert_eq!(failure.index(), 10);
        assert_eq!(failure.error().map(String::as_str), Some("broken"));
        assert_eq!(error.cancelled_tasks(), 10);
        assert_eq!(error.tasks(), 11);
        assert!(!error.is_cancelled());
        // `join` waited for the cancelled tasks: their futures are gone.
        assert_eq!(drops.load(Ordering::SeqCst), 10);
        assert!(error.to_string().contains("broken"), "{error}");
    });
}

#[test]
fn every_failure_is_listed() {
    rt().block_on(async {
        let drops = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(AtomicUsize::new(0));
        let mut group = TaskGroup::new();
        for _ in 0..5 {
            group.spawn(sleeper(&drops, &started));
        }
        // Three errors and a panic, all reached before the group is joined, so none
        // of them can be cancelled first (a task's `Ready` wins over a later abort).
        for i in 0..3u32 {
            let failing = Arc::clone(&failing);
            group.spawn(async move {
                failing.fetch_add(1, Ordering::SeqCst);
                Err(format!("error {i}"))
            });
        }
        {
            let failing = Arc::clone(&failing);
            group.spawn(async move {
                failing.fetch_add(1, Ordering::SeqCst);
                panic!("task exploded");
            });
        }
        wait_for(&started, 5, "the sleepers to start").await;
        wait_for(&failing, 4, "the failing tasks to run").await;

        let error = bounded(group.join()).await.unwrap_err();
        let mut errors: Vec<&str> = error
            .failures()
            .iter()
            .filter_map(|failure| failure.error().map(String::as_str))
            .collect();
        errors.sort_unstable();
        assert_eq!(errors, ["error 0", "error 1", "error 2"]);
        let panics: Vec<_> = error.failures().iter().filter(|f| f.is_panic()).collect();
        assert_eq!(panics.len(), 1);
        assert_eq!(panics[0].index(), 8);
        assert_eq!(panics[0].panic_message(), Some("task exploded"));
        assert_eq!(error.failures().len(), 4);
        assert_eq!(error.cancelled_tasks(), 5);
        assert_eq!(drops.load(Ordering::SeqCst), 5);

        let text = error.to_string();
        for needle in ["4 of 9", "error 0", "error 1", "error 2", "task exploded"] {
            assert!(text.contains(needle), "{needle:?} missing from {text:?}");
        }
        // The indices and ids are distinct.
        let mut ids: Vec<_> = error.failures().iter().map(|f| f.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 4);
    });
}

#[test]
fn a_panic_is_an_error_not_a_panic_of_the_caller() {
    rt().block_on(async {
        let drops = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let mut group = TaskGroup::new();
        group.spawn(sleeper(&drops, &started));
        let seven = Arc::new(7);
        group.spawn(async move { panic!("boom {seven}") });
        let error = bounded(group.join()).await.unwrap_err();
        assert_eq!(error.failures().len(), 1);
        let failure = error.into_failures().pop().unwrap();
        assert!(failure.is_panic());
        assert_eq!(failure.panic_message(), Some("boom 7"));
        let payload = failure.into_panic().unwrap();
        // A formatted message: the payload is a `String`.
        assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("boom 7")
        );
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn cancel_cancels_every_task() {
    rt().block_on(async {
        let drops = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let mut group = TaskGroup::new();
        for _ in 0..6 {
            group.spawn(sleeper(&drops, &started));
        }
        wait_for(&started, 6, "the sleepers to start").await;
        group.cancel();
        assert!(group.is_cancelled());
        // Spawned after the cancel: cancelled at once.
        group.spawn(sleeper(&drops, &started));

        let error = bounded(group.join()).await.unwrap_err();
        assert!(error.is_cancelled());
        assert!(error.failures().is_empty());
        assert_eq!(error.cancelled_tasks(), 7);
        assert_eq!(drops.load(Ordering::SeqCst), 7);
        assert!(error.to_string().contains("cancelled"), "{error}");
    });
}

#[test]
fn dropping_the_group_cancels_its_tasks() {
    rt().block_on(async {
        let drops = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let mut group = TaskGroup::new();
        for _ in 0..8 {
            group.spawn(sleeper(&drops, &started));
        }
        wait_for(&started, 8, "the sleepers to start").await;
        drop(group);
        wait_for(&drops, 8, "the dropped group's tasks to be dropped").await;
    });
}

#[test]
fn a_deadline_cancels_the_groups_inside_it() {
    rt().block_on(async {
        let drops = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let at = Instant::now() + Duration::from_millis(50);
        let outcome = {
            let (drops, started) = (Arc::clone(&drops), Arc::clone(&started));
            weft_rt::deadline(at, async move {
                let mut group = TaskGroup::new();
                for _ in 0..5 {
                    group.spawn(sleeper(&drops, &started));
                }
                // A nested group, inside a task of the outer one. The sleepers (and
                // their guards) are made here, so that all 8 guards exist whether or
                // not the outer task gets to run before the deadline.
                let inner_sleepers: Vec<_> = (0..3).map(|_| sleeper(&drops, &started)).collect();
                group.spawn(async move {
                    let mut inner = TaskGroup::new();
                    for sleeper in inner_sleepers {
                        inner.spawn(sleeper);
                    }
                    inner.join().await.map(|_| 0).map_err(|e| e.to_string())
                });
                // Usually all are running when the deadline passes (not required).
                wait_for(&started, 8, "the sleepers to start").await;
                group.join().await
            })
        };
        let outcome = bounded(outcome).await;
        assert!(outcome.is_err(), "an hour-long group beat a 50 ms deadline");
        wait_for(&drops, 8, "the tasks inside the deadline to be dropped").await;
    });
}

#[test]
fn a_deadline_that_is_met_gives_the_value() {
    rt().block_on(async {
        let at = Instant::now() + HOUR;
        let outcome = weft_rt::deadline(at, async {
            let mut group: TaskGroup<u8, String> = TaskGroup::new();
            group.spawn(async { Ok(1) });
            group.spawn(async { Ok(2) });
            group.join().await
        })
        .await;
        assert_eq!(outcome.unwrap().unwrap(), vec![1, 2]);
        // A ready future wins against a deadline in the past.
        let past = weft_rt::deadline(Instant::now() - Duration::from_millis(1), async { 5 });
        assert_eq!(past.await, Ok(5));
    });
}

#[test]
fn many_tasks_in_one_group() {
    rt().block_on(async {
        let mut group: TaskGroup<usize> = TaskGroup::new();
        for i in 0..10_000 {
            group.spawn_infallible(async move {
                if i % 3 == 0 {
                    weft_rt::yield_now().await;
                }
                i
            });
        }
        let values = bounded(group.join()).await.unwrap();
        assert_eq!(values.len(), 10_000);
        assert!(values.iter().enumerate().all(|(i, &v)| i == v));
    });
}

//! Admission control: a Spawner never has more than its limit of live tasks, frees a
//! slot when a task completes, panics or is aborted, and try_spawn hands the future
//! back; map_concurrent keeps order, bounds concurrency, and does not poll its input
//! while the limit is in flight. Every wait is bounded; nothing asserts speed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use weft_rt::sync::Notify;
use weft_rt::time::{Instant, sleep};
use weft_rt::{Builder, MapConcurrentExt, Runtime, Spawner};

const HOUR: Duration = Duration::from_secs(3600);
/// How long a test may wait for something before it fails (not a speed bound).
const PATIENCE: Duration = Duration::from_secs(30);

fn rt() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Waits (bounded) until `counter` reaches `want`.
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

async fn bounded<F: Future>(future: F) -> F::Output {
    weft_rt::time::timeout(PATIENCE, future)
        .await
        .expect("did not finish in time")
}

/// Tracks how many tasks are inside a section at once, and the most ever seen.
#[derive(Default)]
struct Concurrency {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Concurrency {
    async fn section(&self) {
        let inside = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(inside, Ordering::SeqCst);
        for _ in 0..3 {
            weft_rt::yield_now().await;
        }
        sleep(Duration::from_millis(1)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A stream of `0..len` that counts how many items were pulled from it.
struct Counting {
    next: usize,
    len: usize,
    pulled: Arc<AtomicUsize>,
}

impl Counting {
    fn new(len: usize) -> (Counting, Arc<AtomicUsize>) {
        let pulled = Arc::new(AtomicUsize::new(0));
        let stream = Counting {
            next: 0,
            len,
            pulled: Arc::clone(&pulled),
        };
        (stream, pulled)
    }
}

impl Stream for Counting {
    type Item = usize;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<usize>> {
        if self.next == self.len {
            return Poll::Ready(None);
        }
        let item = self.next;
        self.next += 1;
        self.pulled.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Some(item))
    }
}

async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    bounded(std::future::poll_fn(|cx| {
        Pin::new(&mut *stream).poll_next(cx)
    }))
    .await
}

/// Polls `stream` once, without waiting.
async fn poll_once<S: Stream + Unpin>(stream: &mut S) -> Poll<Option<S::Item>> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *stream).poll_next(cx))).await
}

#[test]
fn spawner_never_exceeds_its_limit() {
    rt().block_on(async {
        let spawner = Spawner::with_limit(3);
        let concurrency = Arc::new(Concurrency::default());
        let mut handles = Vec::new();
        for i in 0..60usize {
            let concurrency = Arc::clone(&concurrency);
            let handle = bounded(spawner.spawn(async move {
                concurrency.section().await;
                i
            }))
            .await;
            assert!(spawner.live() <= 3, "{} live", spawner.live());
            handles.push(handle);
        }
        for (i, handle) in handles.into_iter().enumerate() {
            assert_eq!(bounded(handle).await.unwrap(), i);
        }
        let max = concurrency.max.load(Ordering::SeqCst);
        assert!((1..=3).contains(&max), "{max} tasks ran at once");
        assert_eq!(spawner.live(), 0);
    });
}

#[test]
fn spawn_waits_for_a_slot() {
    rt().block_on(async {
        let spawner = Spawner::with_limit(1);
        let gate = Arc::new(Notify::new());
        let first = {
            let gate = Arc::clone(&gate);
            spawner.spawn(async move { gate.notified().await }).await
        };
        assert_eq!(spawner.live(), 1);
        let mut second = Box::pin(spawner.spawn(async { 2 }));
        // Full: the spawn cannot complete while `first` lives.
        let polled = std::future::poll_fn(|cx| Poll::Ready(second.as_mut().poll(cx))).await;
        assert!(polled.is_pending());
        gate.notify_one();
        bounded(first).await.unwrap();
        let second = bounded(second).await;
        assert_eq!(bounded(second).await.unwrap(), 2);
    });
}

#[test]
fn try_spawn_gives_the_future_back() {
    rt().block_on(async {
        let spawner = Spawner::with_limit(1);
        let gate = Arc::new(Notify::new());
        let first = {
            let gate = Arc::clone(&gate);
            spawner
                .try_spawn(async move { gate.notified().await })
                .unwrap()
        };
        let job = async { "given back" };
        let error = spawner.try_spawn(job).unwrap_err();
        assert_eq!(error.limit(), 1);
        assert!(error.to_string().contains('1'), "{error}");
        let job = error.future;

        gate.notify_one();
        bounded(first).await.unwrap();
        // The finished task's slot was freed before its handle resolved.
        assert_eq!(spawner.live(), 0);
        let handle = spawner.try_spawn(job).ok().unwrap();
        assert_eq!(bounded(handle).await.unwrap(), "given back");
    });
}

#[test]
fn aborted_and_panicked_tasks_free_their_slots() {
    rt().block_on(async {
        let spawner = Spawner::with_limit(2);
        let sleeper = spawner.spawn(sleep(HOUR)).await;
        let panicker = spawner.spawn(async { panic!("slot test") }).await;
        assert!(bounded(panicker).await.unwrap_err().is_panic());
        sleeper.abort();
        assert!(bounded(sleeper).await.unwrap_err().is_cancelled());
        assert_eq!(spawner.live(), 0);
        // Both slots are free again.
        let a = spawner.try_spawn(async { 1 }).ok().unwrap();
        let b = spawner.try_spawn(async { 2 }).ok().unwrap();
        assert_eq!(bounded(a).await.unwrap() + bounded(b).await.unwrap(), 3);
    });
}

#[test]
fn spawner_on_a_handle_from_outside() {
    let rt = rt();
    let spawner = Spawner::with_limit_on(rt.handle().clone(), 2);
    let clone = spawner.clone();
    let a = spawner.try_spawn(async { 20 }).ok().unwrap();
    let b = clone.try_spawn(async { 22 }).ok().unwrap();
    let sum = rt.block_on(async { bounded(a).await.unwrap() + bounded(b).await.unwrap() });
    assert_eq!(sum, 42);
}

#[test]
fn map_concurrent_yields_in_input_order() {
    rt().block_on(async {
        let (input, _) = Counting::new(40);
        let mut stream = input.map_concurrent(6, |i| async move {
            // Later items in each window finish first.
            sleep(Duration::from_millis((6 - i % 6) as u64)).await;
            i * 10
        });
        let mut out = Vec::new();
        while let Some(item) = next(&mut stream).await {
            out.push(item.unwrap());
        }
        assert_eq!(out, (0..40).map(|i| i * 10).collect::<Vec<_>>());
    });
}

#[test]
fn map_concurrent_unordered_yields_everything() {
    rt().block_on(async {
        let (input, _) = Counting::new(200);
        let mut stream = input.map_concurrent_unordered(8, |i| async move {
            weft_rt::yield_now().await;
            i
        });
        let mut out = Vec::new();
        while let Some(item) = next(&mut stream).await {
            out.push(item.unwrap());
        }
        out.sort_unstable();
        assert_eq!(out, (0..200).collect::<Vec<_>>());
    });
}

#[test]
fn map_concurrent_bounds_concurrency() {
    rt().block_on(async {
        for ordered in [true, false] {
            let concurrency = Arc::new(Concurrency::default());
            let (input, _) = Counting::new(50);
            let f = {
                let concurrency = Arc::clone(&concurrency);
                move |i: usize| {
                    let concurrency = Arc::clone(&concurrency);
                    async move {
                        concurrency.section().await;
                        i
                    }
                }
            };
            let mut seen = 0;
            if ordered {
                let mut stream = input.map_concurrent(4, f);
                while next(&mut stream).await.is_some() {
                    seen += 1;
                }
            } else {
                let mut stream = input.map_concurrent_unordered(4, f);
                while next(&mut stream).await.is_some() {
                    seen += 1;
                }
            }
            assert_eq!(seen, 50);
            let max = concurrency.max.load(Ordering::SeqCst);
            assert!((1..=4).contains(&max), "ordered={ordered}: {max} at once");
        }
    });
}

/// `f` for the backpressure tests: item `i` finishes when `gates[i]` is notified.
fn gated(
    gates: &Arc<Vec<Notify>>,
) -> impl FnMut(usize) -> std::pin::Pin<Box<dyn Future<Output = usize> + Send>> + use<> {
    let gates = Arc::clone(gates);
    move |i| {
        let gates = Arc::clone(&gates);
        Box::pin(async move {
            gates[i].notified().await;
            i
        })
    }
}

#[test]
fn map_concurrent_does_not_poll_the_input_while_full() {
    rt().block_on(async {
        let gates = Arc::new((0..10).map(|_| Notify::new()).collect::<Vec<_>>());
        let (input, pulled) = Counting::new(10);
        let mut stream = input.map_concurrent(3, gated(&gates));
        for _ in 0..5 {
            assert!(poll_once(&mut stream).await.is_pending());
            assert_eq!(pulled.load(Ordering::SeqCst), 3);
        }
        // Item 1 finishing does not make room: item 0 is still owed first.
        gates[1].notify_one();
        // Give item 1 every chance to finish, then check the input was not polled.
        for _ in 0..20 {
            weft_rt::yield_now().await;
            assert!(poll_once(&mut stream).await.is_pending());
        }
        assert_eq!(pulled.load(Ordering::SeqCst), 3);
        gates[0].notify_one();
        assert_eq!(next(&mut stream).await.unwrap().unwrap(), 0);
        assert_eq!(next(&mut stream).await.unwrap().unwrap(), 1);
        // Two slots freed: the input is pulled up to 5, not further.
        assert!(poll_once(&mut stream).await.is_pending());
        assert_eq!(pulled.load(Ordering::SeqCst), 5);
        for gate in gates.iter().skip(2) {
            gate.notify_one();
        }
        let mut yielded = 2;
        let mut rest = Vec::new();
        while let Some(item) = next(&mut stream).await {
            rest.push(item.unwrap());
            yielded += 1;
            assert!(pulled.load(Ordering::SeqCst) <= yielded + 3);
        }
        assert_eq!(rest, (2..10).collect::<Vec<_>>());
        assert_eq!(pulled.load(Ordering::SeqCst), 10);
    });
}

#[test]
fn map_concurrent_unordered_backpressure_and_completion_order() {
    rt().block_on(async {
        let gates = Arc::new((0..10).map(|_| Notify::new()).collect::<Vec<_>>());
        let (input, pulled) = Counting::new(10);
        let mut stream = input.map_concurrent_unordered(3, gated(&gates));
        for _ in 0..5 {
            assert!(poll_once(&mut stream).await.is_pending());
            assert_eq!(pulled.load(Ordering::SeqCst), 3);
        }
        // Only item 2 can finish: it comes out first, and makes room for one more.
        gates[2].notify_one();
        assert_eq!(next(&mut stream).await.unwrap().unwrap(), 2);
        assert!(poll_once(&mut stream).await.is_pending());
        assert_eq!(pulled.load(Ordering::SeqCst), 4);
        gates[3].notify_one();
        assert_eq!(next(&mut stream).await.unwrap().unwrap(), 3);
        for gate in gates.iter() {
            gate.notify_one();
        }
        let mut yielded = 2;
        let mut rest = Vec::new();
        while let Some(item) = next(&mut stream).await {
            rest.push(item.unwrap());
            yielded += 1;
            assert!(pulled.load(Ordering::SeqCst) <= yielded + 3);
        }
        rest.sort_unstable();
        assert_eq!(rest, [0, 1, 4, 5, 6, 7, 8, 9]);
    });
}

#[test]
fn dropping_a_map_aborts_its_tasks() {
    rt().block_on(async {
        for ordered in [true, false] {
            let drops = Arc::new(AtomicUsize::new(0));
            let started = Arc::new(AtomicUsize::new(0));
            struct Guard(Arc<AtomicUsize>);
            impl Drop for Guard {
                fn drop(&mut self) {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }
            let f = {
                let (drops, started) = (Arc::clone(&drops), Arc::clone(&started));
                move |_: usize| {
                    let guard = Guard(Arc::clone(&drops));
                    let started = Arc::clone(&started);
                    async move {
                        let _guard = guard;
                        started.fetch_add(1, Ordering::SeqCst);
                        sleep(HOUR).await;
                    }
                }
            };
            let (input, _) = Counting::new(100);
            if ordered {
                let mut stream = input.map_concurrent(4, f);
                assert!(poll_once(&mut stream).await.is_pending());
                wait_for(&started, 4, "the mapped tasks to start").await;
            } else {
                let mut stream = input.map_concurrent_unordered(4, f);
                assert!(poll_once(&mut stream).await.is_pending());
                wait_for(&started, 4, "the mapped tasks to start").await;
            }
            wait_for(&drops, 4, "the dropped map's tasks to be dropped").await;
        }
    });
}

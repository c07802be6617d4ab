//! weft's async runtime (weft-rt, multi-thread flavour) against tokio's multi-thread
//! runtime and smol (an `async_executor::Executor` run by N threads, each in
//! `async_io::block_on(executor.run(..))`, smol's usual multi-threaded setup), all on
//! the same number of workers (one per core). The workloads, from issue 6:
//!
//! - `spawn`: from inside a task, spawn 1,000,000 empty tasks, then await them all;
//! - `yield`: two tasks each call `yield_now` N times; wall time per yield;
//! - `channel`: a message ping-pong between two tasks over the runtime's own
//!   `bounded(1)` channel (weft-channel, `tokio::sync::mpsc`, async-channel); round
//!   trips per second;
//! - `skynet`: the skynet tree, each node spawning 10 children down to 1,000,000
//!   leaves, summing the leaves' ids (1,111,110 spawned tasks per tree);
//! - `timers`: inside a task, create 1,000,000 sleeps of 60 s + (i % 1000) ms, poll
//!   each once (so it registers with the timer wheel), then drop them all (cancel);
//! - `tcp100`, `tcp1k`: echo over loopback with 100 connections x 1,000 round trips
//!   and 1,000 connections x 100: each client writes a 1 KiB message and reads the
//!   echo back, in a loop; throughput in bytes/s (connection set-up is not timed), and
//!   two latency rows built from each sample's median and p99 round trip (the row's
//!   figure is the median of those over the rounds).
//!
//! Every sample starts from outside the runtime: the workload is spawned as a task and
//! the main thread blocks on its handle (`Runtime::block_on` for weft and tokio, a
//! parking `futures_lite::future::block_on` for smol). On the multi-thread runtime,
//! weft's `block_on` parks the calling thread on a futex and the workers drive the
//! reactor, as tokio's does; `WEFT_RT_BENCH_PARK_MAIN=1` makes weft's samples wait
//! with `futures_lite`'s parking `block_on` instead, to compare the two waits. Ratios
//! are of medians; > 1.00x: weft is faster.
//!
//! weft's TCP types come from `weft_io::net`, which `weft_rt::net` re-exports.
//!
//! `cargo bench -p weft-bench --bench rt` (about 2 minutes on 2 cores), `-- --quick`
//! (a tenth of the sizes, 3 rounds: 10-30 s), `-- --only NAME` (the comparisons
//! whose key contains NAME: `spawn`, `yield`, `channel`, `skynet`, `timers`, `tcp100`,
//! `tcp1k`; `tcp` runs both),
//! `-- --json FILE` (every raw sample).

use std::cell::RefCell;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};
use weft_bench::stats::Summary;
use weft_bench::{
    BenchArgs, Budget, Comparison, ContenderResults, Metric, Results, Sample, Tally, summary_table,
};

/// The contender the summary compares with all the others.
const CANDIDATE: &str = "weft";
/// The same runtime with the blocking monitor off.
const NO_MONITOR: &str = "weft-no-monitor";
const ANCHOR: &str = "tokio";

/// The three runtimes behind one interface, so each workload is written once.
trait Rt: 'static {
    /// A task's handle, as a future of the task's output (task failures panic).
    type Join<T: Send + 'static>: Future<Output = T> + Send + Unpin + 'static;

    /// Spawns onto the current runtime (call it from inside one of its tasks).
    fn spawn<F>(future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// From outside: spawns `future` as a task and blocks this thread on its handle.
    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    fn yield_now() -> impl Future<Output = ()> + Send;

    /// A timer; its output is ignored.
    fn sleep(duration: Duration) -> impl Future + Send;
}

/// A `JoinHandle` whose `Result` is unwrapped: a failed task fails the benchmark.
struct Unwrapped<J>(J);

impl<T, E: Debug, J: Future<Output = Result<T, E>> + Unpin> Future for Unwrapped<J> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|result| result.expect("a benchmark task failed"))
    }
}

struct Weft(weft_rt::Runtime);

/// `WEFT_RT_BENCH_PARK_MAIN=1`: weft's samples wait with `futures_lite`'s parking
/// `block_on` instead of `Runtime::block_on` (which parks on a futex while the
/// workers drive the reactor), to compare the two waits. Off by default.
fn park_main() -> bool {
    static PARK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PARK.get_or_init(|| std::env::var_os("WEFT_RT_BENCH_PARK_MAIN").is_some_and(|v| v != "0"))
}
struct Tokio(tokio::runtime::Runtime);
/// smol's executor: a process-wide one, run by the threads `Smol::start` starts.
struct Smol;

static SMOL: async_executor::Executor<'static> = async_executor::Executor::new();

impl Smol {
    /// Starts `threads` threads that run the executor for the rest of the process,
    /// each driving async-io's reactor when it has nothing to run.
    fn start(threads: usize) -> Smol {
        for index in 0..threads {
            thread::Builder::new()
                .name(format!("smol-{index}"))
                .spawn(|| async_io::block_on(SMOL.run(std::future::pending::<()>())))
                .expect("starting smol's threads");
        }
        Smol
    }
}

impl Rt for Weft {
    type Join<T: Send + 'static> = Unwrapped<weft_rt::JoinHandle<T>>;

    #[inline]
    fn spawn<F>(future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrapped(weft_rt::spawn(future))
    }

    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = self.0.spawn(future);
        if park_main() {
            // Diagnosis: the main thread only parks (as tokio's and smol's do here).
            futures_lite::future::block_on(task)
        } else {
            // weft's own: the caller drives the reactor while the workers are busy.
            self.0.block_on(task)
        }
        .expect("a benchmark task failed")
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        weft_rt::yield_now()
    }

    fn sleep(duration: Duration) -> impl Future + Send {
        weft_rt::time::sleep(duration)
    }
}

impl Rt for Tokio {
    type Join<T: Send + 'static> = Unwrapped<tokio::task::JoinHandle<T>>;

    #[inline]
    fn spawn<F>(future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrapped(tokio::spawn(future))
    }

    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0
            .block_on(self.0.spawn(future))
            .expect("a benchmark task failed")
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn sleep(duration: Duration) -> impl Future + Send {
        tokio::time::sleep(duration)
    }
}

impl Rt for Smol {
    type Join<T: Send + 'static> = async_executor::Task<T>;

    #[inline]
    fn spawn<F>(future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        SMOL.spawn(future)
    }

    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        futures_lite::future::block_on(SMOL.spawn(future))
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }

    fn sleep(duration: Duration) -> impl Future + Send {
        async_io::Timer::after(duration)
    }
}

struct Runtimes {
    weft: Weft,
    /// weft with the blocking monitor off: `weft / weft-no-monitor` in the summary is
    /// the monitor's cost (issue 7's target: at least 0.98x).
    weft_no_monitor: Weft,
    tokio: Tokio,
    smol: Smol,
    threads: usize,
}

/// Sizes of the workloads: full, `--quick` (a tenth), or a smoke run (`cargo test`).
#[derive(Clone, Copy)]
struct Sizes {
    spawn: u64,
    yields: u64,
    round_trips: u64,
    skynet_leaves: u64,
    timers: u64,
    /// Round trips per connection, with 100 and with 1,000 connections.
    echo_100: u64,
    echo_1000: u64,
}

impl Sizes {
    fn of(args: &BenchArgs) -> Sizes {
        let scale = |full: u64, quick: u64, smoke: u64| match (args.smoke, args.quick) {
            (true, _) => smoke,
            (false, true) => quick,
            (false, false) => full,
        };
        Sizes {
            spawn: scale(1_000_000, 100_000, 1_000),
            yields: scale(1_000_000, 100_000, 1_000),
            round_trips: scale(200_000, 20_000, 200),
            skynet_leaves: scale(1_000_000, 100_000, 1_000),
            timers: scale(1_000_000, 100_000, 1_000),
            echo_100: scale(1_000, 500, 5),
            echo_1000: scale(100, 50, 2),
        }
    }
}

/// Times one run of `work` on `rt`, which reports how many operations it did.
fn timed<R: Rt, F>(rt: &R, work: F) -> Tally
where
    F: Future<Output = u64> + Send + 'static,
{
    let start = Instant::now();
    let ops = rt.run(work);
    Tally {
        ops,
        elapsed: start.elapsed(),
    }
}

/// A throughput comparison of the three runtimes on one workload. `work::<R>()`
/// builds one sample's future, which returns the operations it did.
macro_rules! compare {
    ($args:expr, $rts:expr, $name:expr, $ops:expr, $work:ident $(, $extra:expr)*) => {{
        let rts: &Runtimes = $rts;
        Comparison::throughput($name, Budget::Ops($ops))
            .rounds($args.rounds())
            .baseline(ANCHOR)
            .contender(ANCHOR, |_| timed(&rts.tokio, $work::<Tokio>($($extra),*)))
            .contender("smol", |_| timed(&rts.smol, $work::<Smol>($($extra),*)))
            .contender(CANDIDATE, |_| timed(&rts.weft, $work::<Weft>($($extra),*)))
            .contender(NO_MONITOR, |_| timed(&rts.weft_no_monitor, $work::<Weft>($($extra),*)))
            .run()
    }};
}

async fn spawn_all<R: Rt>(count: u64) -> u64 {
    let handles: Vec<_> = (0..count).map(|_| R::spawn(async {})).collect();
    for handle in handles {
        handle.await;
    }
    count
}

fn bench_spawn(args: &BenchArgs, rts: &Runtimes, sizes: Sizes) -> Results {
    let n = sizes.spawn;
    compare!(
        args,
        rts,
        format!(
            "spawn {n} empty tasks from a task, then await all, tasks/s, {} workers",
            rts.threads
        ),
        n,
        spawn_all,
        n
    )
}

async fn yield_work<R: Rt>(yields: u64) -> u64 {
    let yielder = || {
        R::spawn(async move {
            for _ in 0..yields {
                R::yield_now().await;
            }
        })
    };
    let (a, b) = (yielder(), yielder());
    a.await;
    b.await;
    2 * yields
}

fn bench_yield(args: &BenchArgs, rts: &Runtimes, sizes: Sizes) -> Results {
    let n = sizes.yields;
    compare!(
        args,
        rts,
        format!(
            "yield_now ping-pong: 2 tasks x {n} yields, yields/s, {} workers",
            rts.threads
        ),
        2 * n,
        yield_work,
        n
    )
}

/// The channel ping-pong needs each runtime's own channel, so it is written thrice.
async fn channel_work_weft(trips: u64) -> u64 {
    let (ping_tx, ping_rx) = weft_channel::bounded::<u64>(1);
    let (pong_tx, pong_rx) = weft_channel::bounded::<u64>(1);
    let pong = weft_rt::spawn(async move {
        while let Ok(v) = ping_rx.recv_async().await {
            pong_tx.send_async(v).await.unwrap();
        }
    });
    for i in 0..trips {
        ping_tx.send_async(i).await.unwrap();
        assert_eq!(pong_rx.recv_async().await.unwrap(), i);
    }
    drop(ping_tx);
    pong.await.unwrap();
    trips
}

async fn channel_work_tokio(trips: u64) -> u64 {
    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
    let pong = tokio::spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            pong_tx.send(v).await.unwrap();
        }
    });
    for i in 0..trips {
        ping_tx.send(i).await.unwrap();
        assert_eq!(pong_rx.recv().await.unwrap(), i);
    }
    drop(ping_tx);
    pong.await.unwrap();
    trips
}

async fn channel_work_smol(trips: u64) -> u64 {
    let (ping_tx, ping_rx) = async_channel::bounded::<u64>(1);
    let (pong_tx, pong_rx) = async_channel::bounded::<u64>(1);
    let pong = SMOL.spawn(async move {
        while let Ok(v) = ping_rx.recv().await {
            pong_tx.send(v).await.unwrap();
        }
    });
    for i in 0..trips {
        ping_tx.send(i).await.unwrap();
        assert_eq!(pong_rx.recv().await.unwrap(), i);
    }
    drop(ping_tx);
    pong.await;
    trips
}

fn bench_channel(args: &BenchArgs, rts: &Runtimes, sizes: Sizes) -> Results {
    let n = sizes.round_trips;
    Comparison::throughput(
        format!(
            "channel ping-pong, bounded(1) each way, {n} round trips, trips/s, {} workers",
            rts.threads
        ),
        Budget::Ops(n),
    )
    .rounds(args.rounds())
    .baseline(ANCHOR)
    .contender(ANCHOR, |_| timed(&rts.tokio, channel_work_tokio(n)))
    .contender("smol", |_| timed(&rts.smol, channel_work_smol(n)))
    .contender(CANDIDATE, |_| timed(&rts.weft, channel_work_weft(n)))
    .run()
}

/// A skynet node: `size` leaves numbered from `num`; returns the sum of their numbers.
fn skynet<R: Rt>(num: u64, size: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if size == 1 {
            return num;
        }
        let child = size / 10;
        let children: Vec<_> = (0..10)
            .map(|i| R::spawn(skynet::<R>(num + i * child, child)))
            .collect();
        let mut sum = 0;
        for child in children {
            sum += child.await;
        }
        sum
    })
}

/// Tasks spawned by a tree of `leaves` leaves (a power of 10): 10 + 100 + ... + leaves.
fn skynet_tasks(leaves: u64) -> u64 {
    let mut tasks = 0;
    let mut level = leaves;
    while level > 1 {
        tasks += level;
        level /= 10;
    }
    tasks
}

async fn skynet_work<R: Rt>(leaves: u64) -> u64 {
    let sum = skynet::<R>(0, leaves).await;
    assert_eq!(sum, leaves * (leaves - 1) / 2, "skynet's sum is wrong");
    skynet_tasks(leaves)
}

fn bench_skynet(args: &BenchArgs, rts: &Runtimes, sizes: Sizes) -> Results {
    let leaves = sizes.skynet_leaves;
    let tasks = skynet_tasks(leaves);
    compare!(
        args,
        rts,
        format!(
            "skynet: tree of {leaves} leaves ({tasks} spawned tasks), tasks/s, {} workers",
            rts.threads
        ),
        tasks,
        skynet_work,
        leaves
    )
}

async fn timers_work<R: Rt>(count: u64) -> u64 {
    // Capacity for all up front: the vector never reallocates, so no timer moves
    // after it is pinned below.
    let mut timers = Vec::with_capacity(count as usize);
    std::future::poll_fn(|cx| {
        for i in 0..count {
            timers.push(R::sleep(Duration::from_millis(60_000 + i % 1000)));
            let timer = timers.last_mut().expect("just pushed");
            // SAFETY: the timer stays at this address until it is dropped: the
            // vector has room for every timer (it never reallocates), nothing is
            // removed from it, and dropping the vector drops the timers in place.
            let timer = unsafe { Pin::new_unchecked(timer) };
            assert!(timer.poll(cx).is_pending(), "a 60 s timer fired at once");
        }
        Poll::Ready(())
    })
    .await;
    // Cancels them all.
    drop(timers);
    count
}

fn bench_timers(args: &BenchArgs, rts: &Runtimes, sizes: Sizes) -> Results {
    let n = sizes.timers;
    compare!(
        args,
        rts,
        format!("timers: register {n} sleeps (60 s + i%1000 ms), poll once, cancel all, timers/s"),
        n,
        timers_work,
        n
    )
}

/// The size of one echo message.
const MESSAGE: usize = 1024;

/// What one TCP echo sample measured: bytes moved each way, the time the round trips
/// took (all connections), and the median of every round trip's duration.
struct EchoSample {
    bytes: u64,
    elapsed: Duration,
    rtt: RoundTrips,
}

/// Order statistics of one sample's round trips, in ns.
#[derive(Clone, Copy, Default)]
struct RoundTrips {
    p50: u64,
    p99: u64,
}

impl RoundTrips {
    fn of(mut all: Vec<u32>) -> RoundTrips {
        if all.is_empty() {
            return RoundTrips::default();
        }
        let mut at = |quantile: f64| {
            let index = ((all.len() - 1) as f64 * quantile) as usize;
            u64::from(*all.select_nth_unstable(index).1)
        };
        RoundTrips {
            p50: at(0.5),
            p99: at(0.99),
        }
    }
}

/// One client's loop: `trips` times, write `MESSAGE` bytes and read the echo back.
/// Returns each round trip's duration in ns.
async fn echo_client<S>(mut stream: S, trips: u64) -> Vec<u32>
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
{
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let out = [0x5au8; MESSAGE];
    let mut back = [0u8; MESSAGE];
    let mut rtts = Vec::with_capacity(trips as usize);
    for _ in 0..trips {
        let start = Instant::now();
        stream.write_all(&out).await.expect("client write");
        stream.read_exact(&mut back).await.expect("client read");
        rtts.push(u32::try_from(start.elapsed().as_nanos()).unwrap_or(u32::MAX));
    }
    rtts
}

/// The server side of one connection: echo until the client closes.
async fn echo_server<S>(mut stream: S)
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
{
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; MESSAGE];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Runs the timed part of an echo sample: one task per connected client, all started
/// together; returns the sample.
async fn echo_clients<R: Rt, S>(clients: Vec<S>, trips: u64) -> EchoSample
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + Send + 'static,
{
    let connections = clients.len() as u64;
    let start = Instant::now();
    let handles: Vec<_> = clients
        .into_iter()
        .map(|stream| R::spawn(echo_client(stream, trips)))
        .collect();
    let mut all = Vec::with_capacity((connections * trips) as usize);
    for handle in handles {
        all.extend(handle.await);
    }
    let elapsed = start.elapsed();
    EchoSample {
        bytes: connections * trips * MESSAGE as u64,
        elapsed,
        rtt: RoundTrips::of(all),
    }
}

fn echo_weft(connections: u64, trips: u64) -> impl Future<Output = EchoSample> + Send + 'static {
    use weft_io::net::{TcpListener, TcpStream};
    async move {
        let listener = TcpListener::bind("127.0.0.1:0").expect("weft: bind");
        let addr = listener.local_addr().expect("weft: local_addr");
        let server = weft_rt::spawn(async move {
            for _ in 0..connections {
                let (stream, _) = listener.accept().await.expect("weft: accept");
                stream.set_nodelay(true).expect("weft: nodelay");
                weft_rt::spawn(echo_server(stream));
            }
        });
        let mut clients = Vec::with_capacity(connections as usize);
        for _ in 0..connections {
            let stream = TcpStream::connect(addr).await.expect("weft: connect");
            stream.set_nodelay(true).expect("weft: nodelay");
            clients.push(stream);
        }
        server.await.expect("weft: accept loop");
        echo_clients::<Weft, _>(clients, trips).await
    }
}

fn echo_tokio(connections: u64, trips: u64) -> impl Future<Output = EchoSample> + Send + 'static {
    use tokio::net::{TcpListener, TcpStream};
    async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("tokio: bind");
        let addr = listener.local_addr().expect("tokio: local_addr");
        let server = tokio::spawn(async move {
            for _ in 0..connections {
                let (stream, _) = listener.accept().await.expect("tokio: accept");
                stream.set_nodelay(true).expect("tokio: nodelay");
                tokio::spawn(tokio_echo_server(stream));
            }
        });
        let mut clients = Vec::with_capacity(connections as usize);
        for _ in 0..connections {
            let stream = TcpStream::connect(addr).await.expect("tokio: connect");
            stream.set_nodelay(true).expect("tokio: nodelay");
            clients.push(stream);
        }
        server.await.expect("tokio: accept loop");
        tokio_echo_clients(clients, trips).await
    }
}

async fn tokio_echo_server(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; MESSAGE];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn tokio_echo_client(mut stream: tokio::net::TcpStream, trips: u64) -> Vec<u32> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let out = [0x5au8; MESSAGE];
    let mut back = [0u8; MESSAGE];
    let mut rtts = Vec::with_capacity(trips as usize);
    for _ in 0..trips {
        let start = Instant::now();
        stream.write_all(&out).await.expect("client write");
        stream.read_exact(&mut back).await.expect("client read");
        rtts.push(u32::try_from(start.elapsed().as_nanos()).unwrap_or(u32::MAX));
    }
    rtts
}

/// [`echo_clients`] with tokio's own I/O traits.
async fn tokio_echo_clients(clients: Vec<tokio::net::TcpStream>, trips: u64) -> EchoSample {
    let connections = clients.len() as u64;
    let start = Instant::now();
    let handles: Vec<_> = clients
        .into_iter()
        .map(|stream| Tokio::spawn(tokio_echo_client(stream, trips)))
        .collect();
    let mut all = Vec::with_capacity((connections * trips) as usize);
    for handle in handles {
        all.extend(handle.await);
    }
    let elapsed = start.elapsed();
    EchoSample {
        bytes: connections * trips * MESSAGE as u64,
        elapsed,
        rtt: RoundTrips::of(all),
    }
}

fn echo_smol(connections: u64, trips: u64) -> impl Future<Output = EchoSample> + Send + 'static {
    use async_io::Async;
    use std::net::{TcpListener, TcpStream};
    async move {
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).expect("smol: bind");
        let addr = listener.get_ref().local_addr().expect("smol: local_addr");
        let server = SMOL.spawn(async move {
            for _ in 0..connections {
                let (stream, _) = listener.accept().await.expect("smol: accept");
                stream.get_ref().set_nodelay(true).expect("smol: nodelay");
                SMOL.spawn(echo_server(stream)).detach();
            }
        });
        let mut clients = Vec::with_capacity(connections as usize);
        for _ in 0..connections {
            let stream = Async::<TcpStream>::connect(addr)
                .await
                .expect("smol: connect");
            stream.get_ref().set_nodelay(true).expect("smol: nodelay");
            clients.push(stream);
        }
        server.await;
        echo_clients::<Smol, _>(clients, trips).await
    }
}

/// Raises this process's open-file limit to the hard limit: 1,000 connections take
/// 2,000 descriptors (both ends live in this process).
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        if let Err(error) = setrlimit(Resource::Nofile, limit) {
            eprintln!("rt bench: could not raise RLIMIT_NOFILE: {error}");
        }
    }
}

fn open_file_limit() -> u64 {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX)
}

/// The TCP echo comparison at one connection count: a throughput `Results` (bytes/s)
/// and a latency `Results` built from each sample's median round trip.
fn bench_echo(args: &BenchArgs, rts: &Runtimes, connections: u64, trips: u64) -> Vec<Results> {
    let needed = 2 * connections + 64;
    if open_file_limit() < needed {
        println!(
            "\ntcp echo, {connections} connections: skipped, the open-file limit ({}) is \
             under the {needed} descriptors it needs",
            open_file_limit()
        );
        return Vec::new();
    }
    let bytes = connections * trips * MESSAGE as u64;
    // Each contender's round-trip statistics per sample, in sample order.
    let rtts: [RefCell<Vec<RoundTrips>>; 3] = Default::default();
    let sample = |index: usize, sample: EchoSample| {
        rtts[index].borrow_mut().push(sample.rtt);
        Tally {
            ops: sample.bytes,
            elapsed: sample.elapsed,
        }
    };
    let names = [ANCHOR, "smol", CANDIDATE];
    let throughput = Comparison::throughput(
        format!(
            "tcp echo, {connections} connections x {trips} round trips of {MESSAGE} B, \
             bytes/s, {} workers",
            rts.threads
        ),
        Budget::Ops(bytes),
    )
    .rounds(args.rounds())
    .baseline(ANCHOR)
    .contender(names[0], |_| {
        sample(0, rts.tokio.run(echo_tokio(connections, trips)))
    })
    .contender(names[1], |_| {
        sample(1, rts.smol.run(echo_smol(connections, trips)))
    })
    .contender(names[2], |_| {
        sample(2, rts.weft.run(echo_weft(connections, trips)))
    })
    .run();
    let latency = |what: &str, pick: fn(&RoundTrips) -> u64| {
        let contenders = names
            .iter()
            .zip(&rtts)
            .map(|(name, rtts)| {
                // The first entry is the warm-up's: skipped.
                let samples: Vec<Sample> = rtts
                    .borrow()
                    .iter()
                    .skip(1)
                    .enumerate()
                    .map(|(round, rtt)| Sample {
                        round,
                        position: 0,
                        ops: 1,
                        elapsed_ns: pick(rtt),
                        value: pick(rtt) as f64,
                    })
                    .collect();
                let values: Vec<f64> = samples.iter().map(|s| s.value).collect();
                ContenderResults {
                    name: (*name).to_string(),
                    summary: Summary::of(&values).expect("at least one round"),
                    samples,
                }
            })
            .collect();
        Results {
            name: format!("tcp echo, {connections} connections: {what} round trip, ns"),
            metric: Metric::Latency,
            rounds: args.rounds(),
            baseline: ANCHOR.to_string(),
            contenders,
        }
    };
    vec![
        throughput,
        latency("median", |rtt| rtt.p50),
        latency("p99", |rtt| rtt.p99),
    ]
}

/// One comparison of this file (TCP echo gives two results per connection count).
type Bench = fn(&BenchArgs, &Runtimes, Sizes) -> Vec<Results>;

fn main() {
    let args = BenchArgs::from_env();
    raise_fd_limit();
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "rt benchmark: {threads} workers in each runtime, {} rounds per comparison, \
         interleaved; open-file limit {}",
        args.rounds(),
        open_file_limit()
    );
    let rts = Runtimes {
        weft: Weft(
            weft_rt::Builder::new_multi_thread()
                .worker_threads(threads)
                .build()
                .expect("building weft's runtime"),
        ),
        weft_no_monitor: Weft(
            weft_rt::Builder::new_multi_thread()
                .worker_threads(threads)
                .blocking_threshold(None)
                .build()
                .expect("building weft's runtime"),
        ),
        tokio: Tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build()
                .expect("building tokio's runtime"),
        ),
        smol: Smol::start(threads),
        threads,
    };
    let sizes = Sizes::of(&args);
    // `--only NAME` runs the comparisons whose key contains NAME.
    let only: Option<String> = std::env::args().skip_while(|arg| arg != "--only").nth(1);
    let benches: [(&str, Bench); 7] = [
        ("spawn", |a, r, s| vec![bench_spawn(a, r, s)]),
        ("yield", |a, r, s| vec![bench_yield(a, r, s)]),
        ("channel", |a, r, s| vec![bench_channel(a, r, s)]),
        ("skynet", |a, r, s| vec![bench_skynet(a, r, s)]),
        ("timers", |a, r, s| vec![bench_timers(a, r, s)]),
        ("tcp100", |a, r, s| bench_echo(a, r, 100, s.echo_100)),
        ("tcp1k", |a, r, s| bench_echo(a, r, 1000, s.echo_1000)),
    ];
    let mut all = Vec::new();
    for (key, bench) in benches {
        if only.as_deref().is_some_and(|only| !key.contains(only)) {
            continue;
        }
        for results in bench(&args, &rts, sizes) {
            println!("\n{results}");
            print_per_op(&results);
            all.push(results);
        }
    }
    println!(
        "\nsummary: ratios are speedups of medians; >= 1.00x means {CANDIDATE} is as fast \
         or faster\n{}",
        summary_table(&all, CANDIDATE)
    );
    args.write_json(&all).expect("writing --json");
}

/// For a throughput comparison, the medians as time per operation too.
fn print_per_op(results: &Results) {
    if results.metric != Metric::Throughput || results.name.starts_with("tcp") {
        return;
    }
    let per_op: Vec<String> = results
        .contenders
        .iter()
        .map(|c| format!("{} {:.1} ns", c.name, 1e9 / c.summary.median))
        .collect();
    println!("per operation (median): {}", per_op.join(", "));
}

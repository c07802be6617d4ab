//! `kitchen-table`: the notes' table of multiprocessing, threading and asyncio ("ten
//! kitchens, ten chefs"; "one kitchen, ten chefs"; "one kitchen, one chef"), run on
//! one CPU-bound and two I/O-bound workloads, sequentially and with each model.
//!
//! # The workloads
//!
//! A *dish* is one unit of work; a *cook* is one concurrent unit (a thread, a worker
//! process, a task) that cooks its share of the dishes one after another.
//!
//! - **CPU-bound**: a dish is [`CPU_STEPS`] steps of [`weft_bench::busy_work`] (a
//!   chain of multiply-adds, a few hundred microseconds). The order is a fixed number
//!   of dishes, shared among the N cooks ("ten dishes to cook"), so more cooks help
//!   only if they cook at the same time.
//! - **I/O-bound, sleeping** ("slow I/O"): a dish is a [`SLEEP`] wait (`thread::sleep`,
//!   or `weft::rt::time::sleep` for tasks), nothing else. Each cook has
//!   its own dishes, so N cooks that wait at the same time get N times as much done.
//! - **I/O-bound, socket** ("fast I/O"): a dish is one round trip of a [`MESSAGE`]-byte
//!   message to a local TCP echo server (the lab's thread-per-connection server, in
//!   this process, the same for every model); each cook connects once, does its round
//!   trips, and closes.
//!
//! # The models
//!
//! - **sequential**: one cook, the lab's thread, the N = 1 order (a flat line on the
//!   charts; it is measured once, interleaved with the N = 1 comparison);
//! - **threads** ("one kitchen, ten chefs"): a `weft_pool::ThreadPool` of N threads, one
//!   cook per thread (a `scope` with N spawns);
//! - **processes** ("ten kitchens, ten chefs"): a `weft_process::ProcessPool` of N
//!   worker processes (the lab re-executes itself, see `main.rs`), one task per cook:
//!   the cook's whole share travels as one task, like `pool.map` with a chunk per
//!   worker, so the figure is the model's parallelism and memory, not its per-task
//!   cost (the `process` benchmark in `bench/` measures that);
//! - **async** ("one kitchen, one chef"): a weft-rt runtime with **one** worker, as
//!   asyncio's single-threaded event loop, its blocking monitor off (so no spare
//!   worker joins in), N tasks; a CPU dish yields (`yield_now`) after each dish, as a
//!   cooperative task should.
//!
//! Each N of 1, 2, 4, ... up to 4 × cores (with `--quick`: 1, cores and 4 × cores;
//! `--threads N` sets the largest) is one interleaved comparison per workload of the
//! models, `--rounds` rounds; the figure is dishes per second (median).
//!
//! # Memory
//!
//! Before the comparison, each model's pool is built in turn and runs one sample while
//! a sampler thread reads the resident set (`VmRSS`) of this process and of its child
//! processes (the worker processes, found in `/proc/self/task/*/children`) every
//! [`MEMORY_PERIOD`]. The figure is the peak minus the reading just before the model's
//! pool was built: the memory the model added, pool and cooks together. It is an
//! upper bound for processes (each worker's `VmRSS` counts the pages it shares with
//! the others and with the lab, the binary's text for one) and a lower bound for
//! threads (glibc keeps the stacks of ended threads for reuse, so a later pool may
//! find part of its stacks resident). A parked thread or a waiting task costs a few
//! pages, near what `VmRSS` resolves at a few cooks per core, so the verdict reports
//! memory ([`memory_line`], the sleeping workload's, where every cook lives through
//! the sample) without judging by it. The socket workload's figures include the echo
//! server's thread per connection, alike for every model.
//!
//! # The verdict
//!
//! Four rows of the table are checked against the figures (see [`checks`]): processes
//! cook CPU-bound work in parallel; threads do not ("only one chef can cook at a
//! time", which is CPython's GIL, so expected to fail with Rust threads); for slow I/O
//! one chef with async tasks keeps up with the threads at the largest N (within
//! [`KEEP_UP_SHARE`]); for fast I/O threads are at least as fast as the async chef
//! (within [`AS_FAST_SHARE`]). All four: reproduced; none: not reproduced; some:
//! partly. The conclusion, which model this machine's figures pick for each workload
//! ([`conclusion`]), is printed after them.

use crate::experiment::{
    Chart, Claim, Config, Experiment, Outcome, Point, Quote, Report, Series, Unit, Verdict,
};
use crate::machine::format_bytes;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use weft_bench::format::{format_rate, format_ratio};
use weft_bench::stats::Summary;
use weft_bench::{Budget, Comparison, Results, Table, Tally};

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct KitchenTable;

/// The experiment's name on the command line.
pub const NAME: &str = "kitchen-table";

const CLAIM: Claim = Claim {
    gist: "multiprocessing for CPU-bound work, threading for fast I/O, asyncio for slow I/O",
    quotes: &[
        Quote {
            text: "Multiprocessing | Multiple processes, high CPU utilization. | CPU-bound | \
                   We have ten kitchens, ten chefs, ten dishes to cook.",
            source: "concurrency (table)",
        },
        Quote {
            text: "Threading | Single process, multiple threads, pre-emptive multitasking, OS \
                   decides task switching. | Fast but I/O-bound | We have one kitchen, ten \
                   chefs, ten dishes to cook. Only one chef can cook at a time",
            source: "concurrency (table)",
        },
        Quote {
            text: "AsyncIO | Single process, single thread, cooperative multitasking, tasks \
                   cooperatively decide switching. | Slow and I/O-bound | We have one \
                   kitchen, one chef, ten dishes to cook",
            source: "concurrency (table)",
        },
    ],
};

/// Steps of [`weft_bench::busy_work`] in one CPU-bound dish.
pub const CPU_STEPS: u32 = 1_500_000;
/// One sleeping dish.
pub const SLEEP: Duration = Duration::from_millis(5);
/// Bytes of one socket dish's message.
pub const MESSAGE: usize = 64;
/// How often the memory sampler reads `/proc`.
pub const MEMORY_PERIOD: Duration = Duration::from_millis(1);
/// A model "cooks in parallel" when its best CPU-bound throughput is at least
/// `1 + PARALLEL_SHARE × (cores − 1)` times the sequential one.
pub const PARALLEL_SHARE: f64 = 0.5;
/// For slow I/O, the async chef "keeps up" at this share of the threads' throughput.
pub const KEEP_UP_SHARE: f64 = 0.8;
/// For fast I/O, threads are "at least as fast" at this share of async's throughput
/// (the two are within the noise of a shared machine below it).
pub const AS_FAST_SHARE: f64 = 0.9;

/// One of the three workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Workload {
    /// Busy work.
    Cpu,
    /// Sleeps: slow I/O.
    Sleep,
    /// Round trips to a local echo server: fast I/O.
    Socket,
}

impl Workload {
    /// The three, in table order.
    pub const ALL: [Workload; 3] = [Workload::Cpu, Workload::Sleep, Workload::Socket];

    /// The name in tables and charts.
    pub fn label(self) -> &'static str {
        match self {
            Workload::Cpu => "CPU-bound",
            Workload::Sleep => "I/O, sleep",
            Workload::Socket => "I/O, socket",
        }
    }

    fn dish(self) -> String {
        match self {
            Workload::Cpu => format!("{CPU_STEPS} steps of busy work"),
            Workload::Sleep => format!("a {} ms sleep", SLEEP.as_millis()),
            Workload::Socket => format!("a {MESSAGE}-byte echo round trip over loopback TCP"),
        }
    }
}

/// One of the four ways to cook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Model {
    /// One cook on the lab's thread.
    Sequential,
    /// A thread pool of N threads.
    Threads,
    /// A process pool of N worker processes.
    Processes,
    /// N tasks on a one-worker weft-rt runtime.
    Async,
}

impl Model {
    /// The four, in table order.
    pub const ALL: [Model; 4] = [
        Model::Sequential,
        Model::Threads,
        Model::Processes,
        Model::Async,
    ];

    /// The name in tables and charts (and the contender's name in the comparisons).
    pub fn label(self) -> &'static str {
        match self {
            Model::Sequential => "sequential",
            Model::Threads => "threads",
            Model::Processes => "processes",
            Model::Async => "async, 1 worker",
        }
    }
}

/// What one cook is asked to do: `dishes` dishes of `workload`. It is also the
/// argument of the process pool's task, so it is plain serializable data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// What kind of dish.
    pub workload: Workload,
    /// How many.
    pub dishes: u32,
    /// The first CPU dish's seed (the next ones count up from it).
    pub seed: u64,
    /// Where the echo server listens (socket dishes only).
    pub server: Option<SocketAddr>,
}

/// Cooks `order` on this thread, blocking; returns a checksum (CPU: the xor of every
/// dish's result; I/O: the dishes done, each echo checked byte for byte).
///
/// # Errors
///
/// For socket dishes, the OS error of connecting, reading or writing, or
/// `InvalidData` if an echo differs from what was sent; `InvalidInput` if a socket
/// order names no server.
///
/// # Examples
///
/// ```
/// use weft_lab::experiments::kitchen_table::{Order, Workload, cook};
///
/// let order = Order { workload: Workload::Sleep, dishes: 2, seed: 0, server: None };
/// assert_eq!(cook(&order)?, 2);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn cook(order: &Order) -> io::Result<u64> {
    match order.workload {
        Workload::Cpu => Ok(cpu_dishes(order)),
        Workload::Sleep => {
            for _ in 0..order.dishes {
                thread::sleep(SLEEP);
            }
            Ok(u64::from(order.dishes))
        }
        Workload::Socket => {
            let mut stream = TcpStream::connect(server_of(order)?)?;
            stream.set_nodelay(true)?;
            let mut message = [0u8; MESSAGE];
            let mut echo = [0u8; MESSAGE];
            for dish in 0..order.dishes {
                fill(&mut message, dish);
                stream.write_all(&message)?;
                stream.read_exact(&mut echo)?;
                check_echo(&message, &echo)?;
            }
            Ok(u64::from(order.dishes))
        }
    }
}

/// [`cook`] as a task: sleeps on weft-rt's timers, talks through `weft::rt::net`, and
/// yields after each CPU dish.
async fn cook_async(order: Order) -> io::Result<u64> {
    match order.workload {
        Workload::Cpu => {
            let mut checksum = 0;
            for dish in 0..order.dishes {
                checksum ^= weft_bench::busy_work(order.seed + u64::from(dish), CPU_STEPS);
                weft::rt::yield_now().await;
            }
            Ok(checksum)
        }
        Workload::Sleep => {
            for _ in 0..order.dishes {
                weft::rt::time::sleep(SLEEP).await;
            }
            Ok(u64::from(order.dishes))
        }
        Workload::Socket => {
            let mut stream = weft::rt::net::TcpStream::connect(server_of(&order)?).await?;
            stream.set_nodelay(true)?;
            let mut message = [0u8; MESSAGE];
            let mut echo = [0u8; MESSAGE];
            for dish in 0..order.dishes {
                fill(&mut message, dish);
                write_all_async(&mut stream, &message).await?;
                read_exact_async(&mut stream, &mut echo).await?;
                check_echo(&message, &echo)?;
            }
            Ok(u64::from(order.dishes))
        }
    }
}

fn cpu_dishes(order: &Order) -> u64 {
    (0..order.dishes).fold(0, |checksum, dish| {
        checksum ^ weft_bench::busy_work(order.seed + u64::from(dish), CPU_STEPS)
    })
}

fn server_of(order: &Order) -> io::Result<SocketAddr> {
    order.server.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a socket order names no server",
        )
    })
}

fn fill(message: &mut [u8; MESSAGE], dish: u32) {
    for (i, byte) in message.iter_mut().enumerate() {
        *byte = (dish as usize).wrapping_add(i) as u8;
    }
}

fn check_echo(sent: &[u8], echo: &[u8]) -> io::Result<()> {
    if sent == echo {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the echo differs from the message",
        ))
    }
}

async fn write_all_async(stream: &mut weft::rt::net::TcpStream, mut buf: &[u8]) -> io::Result<()> {
    use futures_io::AsyncWrite;
    use std::future::poll_fn;
    use std::pin::Pin;
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *stream).poll_write(cx, buf)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

async fn read_exact_async(
    stream: &mut weft::rt::net::TcpStream,
    mut buf: &mut [u8],
) -> io::Result<()> {
    use futures_io::AsyncRead;
    use std::future::poll_fn;
    use std::pin::Pin;
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *stream).poll_read(cx, buf)).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Sizes.

/// How big each comparison is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sizes {
    /// The numbers of cooks tried, ascending.
    pub cooks: Vec<usize>,
    /// CPU-bound dishes in one order, shared among the cooks.
    pub cpu_dishes: u32,
    /// Sleeping dishes per cook.
    pub sleeps_per_cook: u32,
    /// Echo round trips per cook.
    pub round_trips_per_cook: u32,
}

impl Sizes {
    /// Sizes that make a sequential sample last about a quarter of `config.sample`
    /// (10 ms with `--quick`, 100 ms otherwise): this experiment has many cells.
    pub fn for_config(config: &Config) -> Self {
        let cores = config.cores.max(1);
        let largest = config.threads.unwrap_or(cores * 4).max(1);
        let mut cooks: Vec<usize> = if config.quick {
            vec![1, cores, largest]
        } else {
            std::iter::successors(Some(1usize), |n| n.checked_mul(2))
                .take_while(|&n| n < largest)
                .chain([cores, largest])
                .collect()
        };
        cooks.retain(|&n| n <= largest);
        cooks.sort_unstable();
        cooks.dedup();
        let sample_ms = config.sample.as_secs_f64() * 1e3 / 4.0;
        // About 0.25 ms per CPU dish, 5 ms per sleep, 5-50 µs per round trip.
        let count = |per_ms: f64| ((sample_ms * per_ms) as u32).max(2);
        Sizes {
            cooks,
            cpu_dishes: count(4.0).max(8),
            sleeps_per_cook: count(0.2),
            round_trips_per_cook: count(40.0),
        }
    }

    /// The orders of N cooks for `workload`.
    pub fn orders(
        &self,
        workload: Workload,
        cooks: usize,
        server: Option<SocketAddr>,
    ) -> Vec<Order> {
        let cooks = cooks.max(1);
        let shares: Vec<u32> = match workload {
            Workload::Cpu => {
                let total = (self.cpu_dishes as usize).max(cooks);
                (0..cooks)
                    .map(|i| (total / cooks + usize::from(i < total % cooks)) as u32)
                    .collect()
            }
            Workload::Sleep => vec![self.sleeps_per_cook; cooks],
            Workload::Socket => vec![self.round_trips_per_cook; cooks],
        };
        let mut seed = 0u64;
        shares
            .into_iter()
            .map(|dishes| {
                let order = Order {
                    workload,
                    dishes,
                    seed,
                    server,
                };
                seed += u64::from(dishes);
                order
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------
// The figures and the verdict.

/// One model at one N on one workload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cell {
    /// The workload.
    pub workload: Workload,
    /// The model.
    pub model: Model,
    /// Cooks.
    pub cooks: usize,
    /// Dishes per second over the rounds.
    pub throughput: Summary,
    /// Resident memory the model added (pool and cooks), bytes, if measured.
    pub memory_bytes: Option<f64>,
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figures {
    /// The cores this process may run on.
    pub cores: usize,
    /// The sizes used.
    pub sizes: Sizes,
    /// Every cell measured.
    pub cells: Vec<Cell>,
    /// Models that could not run, and why.
    pub missing: Vec<(Model, String)>,
    /// Errors the cooks met (the first few).
    pub errors: Vec<String>,
}

impl Figures {
    /// The cell of `model` at `cooks` on `workload`.
    pub fn cell(&self, workload: Workload, model: Model, cooks: usize) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.workload == workload && c.model == model && c.cooks == cooks)
    }

    /// The median dishes per second of a cell.
    pub fn rate(&self, workload: Workload, model: Model, cooks: usize) -> Option<f64> {
        self.cell(workload, model, cooks)
            .map(|c| c.throughput.median)
    }

    /// The sequential rate of `workload` (measured at N = 1).
    pub fn sequential(&self, workload: Workload) -> Option<f64> {
        self.cells
            .iter()
            .find(|c| c.workload == workload && c.model == Model::Sequential)
            .map(|c| c.throughput.median)
    }

    /// The best median of `model` on `workload`, and at which N.
    pub fn best(&self, workload: Workload, model: Model) -> Option<(usize, f64)> {
        self.cells
            .iter()
            .filter(|c| c.workload == workload && c.model == model)
            .map(|c| (c.cooks, c.throughput.median))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// The largest N measured.
    pub fn largest(&self) -> Option<usize> {
        self.cells.iter().map(|c| c.cooks).max()
    }

    /// Memory per cook of `model` at N on `workload`, bytes.
    pub fn memory_per_cook(&self, workload: Workload, model: Model, cooks: usize) -> Option<f64> {
        let cell = self.cell(workload, model, cooks)?;
        Some(cell.memory_bytes? / cooks.max(1) as f64)
    }
}

/// The speedup over sequential from which a model "cooks in parallel".
pub fn parallel_threshold(cores: usize) -> f64 {
    1.0 + PARALLEL_SHARE * (cores.max(1) - 1) as f64
}

/// One row of the notes' table, checked: `None` if the figures cannot tell.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// What the notes say.
    pub claim: &'static str,
    /// Whether the figures bear it out.
    pub holds: Option<bool>,
    /// The figures that decided it.
    pub text: String,
}

fn speedup_line(f: &Figures, model: Model) -> Option<(f64, usize, f64)> {
    let sequential = f.sequential(Workload::Cpu)?;
    let (n, best) = f.best(Workload::Cpu, model)?;
    (sequential > 0.0).then(|| (best / sequential, n, best))
}

/// The four checks of the notes' table (see the module docs).
pub fn checks(f: &Figures) -> Vec<Check> {
    let threshold = parallel_threshold(f.cores);
    let mut out = Vec::new();

    // Multiprocessing: ten kitchens, ten chefs.
    out.push(match (f.cores, speedup_line(f, Model::Processes)) {
        (1, _) => Check {
            claim: "multiprocessing: CPU-bound work runs in parallel",
            holds: None,
            text: "one core: nothing can run in parallel".into(),
        },
        (_, None) => Check {
            claim: "multiprocessing: CPU-bound work runs in parallel",
            holds: None,
            text: "no process-pool figures".into(),
        },
        (_, Some((speedup, n, best))) => Check {
            claim: "multiprocessing: CPU-bound work runs in parallel",
            holds: Some(speedup >= threshold),
            text: format!(
                "processes at their best (N = {n}) cooked {} dishes/s, {} the sequential rate (parallel from {})",
                format_rate(best),
                format_ratio(speedup),
                format_ratio(threshold)
            ),
        },
    });

    // Threading: only one chef can cook at a time.
    out.push(match (f.cores, speedup_line(f, Model::Threads)) {
        (1, _) | (_, None) => Check {
            claim: "threading: only one chef can cook at a time",
            holds: None,
            text: if f.cores == 1 {
                "one core: nothing can run in parallel".into()
            } else {
                "no thread-pool figures".into()
            },
        },
        (_, Some((speedup, n, best))) => Check {
            claim: "threading: only one chef can cook at a time",
            holds: Some(speedup < threshold),
            text: format!(
                "threads at their best (N = {n}) cooked {} dishes/s, {} the sequential rate{}",
                format_rate(best),
                format_ratio(speedup),
                if speedup >= threshold {
                    ": Rust threads cook in parallel (the one-chef rule is CPython's GIL)"
                } else {
                    ""
                }
            ),
        },
    });

    // AsyncIO: slow I/O.
    out.push(slow_io_check(f));
    // Threading: fast I/O.
    out.push(fast_io_check(f));
    out
}

fn slow_io_check(f: &Figures) -> Check {
    let claim = "asyncio: for slow I/O one chef keeps up with many";
    let w = Workload::Sleep;
    let Some(n) = f.largest() else {
        return Check {
            claim,
            holds: None,
            text: "nothing measured".into(),
        };
    };
    let (Some(tasks), Some(threads)) = (f.rate(w, Model::Async, n), f.rate(w, Model::Threads, n))
    else {
        return Check {
            claim,
            holds: None,
            text: format!("no async or thread figures at N = {n}"),
        };
    };
    Check {
        claim,
        holds: Some(tasks >= KEEP_UP_SHARE * threads),
        text: format!(
            "at N = {n}, one async worker waited through {} sleeps/s, {} the {n} threads' {}",
            format_rate(tasks),
            format_ratio(tasks / threads.max(f64::MIN_POSITIVE)),
            format_rate(threads)
        ),
    }
}

/// What each model's cooks cost in resident memory at the largest N of the sleeping
/// workload (where every cook is alive for the whole sample): the table's "multiple
/// processes" against "single process". Reported, not judged: at a few cooks per core
/// a thread's or a task's resident cost is a few pages, near what `VmRSS` can
/// resolve (the thread-per-connection experiment measures it at thousands).
pub fn memory_line(f: &Figures) -> Option<String> {
    let n = f.largest()?;
    let parts: Vec<String> = [Model::Processes, Model::Threads, Model::Async]
        .into_iter()
        .filter_map(|m| {
            let per_cook = f.memory_per_cook(Workload::Sleep, m, n)?;
            Some(format!("{} {}", m.label(), format_signed_bytes(per_cook)))
        })
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "RSS added per cook at N = {n} ({}): {}",
            Workload::Sleep.label(),
            parts.join(", ")
        )
    })
}

fn fast_io_check(f: &Figures) -> Check {
    let claim = "threading: fast for fast I/O";
    let w = Workload::Socket;
    let (Some((tn, threads)), Some((an, tasks))) =
        (f.best(w, Model::Threads), f.best(w, Model::Async))
    else {
        return Check {
            claim,
            holds: None,
            text: "no thread or async figures".into(),
        };
    };
    Check {
        claim,
        holds: Some(threads >= AS_FAST_SHARE * tasks),
        text: format!(
            "threads' best {} round trips/s (N = {tn}), {} the async worker's best {} (N = {an})",
            format_rate(threads),
            format_ratio(threads / tasks.max(f64::MIN_POSITIVE)),
            format_rate(tasks)
        ),
    }
}

/// What this machine's figures pick for each workload: the fastest model at its best
/// N, and the lightest of those within [`KEEP_UP_SHARE`] of it.
pub fn conclusion(f: &Figures) -> Vec<String> {
    let mut lines = Vec::new();
    for w in Workload::ALL {
        let bests: Vec<(Model, usize, f64)> = Model::ALL
            .into_iter()
            .filter_map(|m| f.best(w, m).map(|(n, r)| (m, n, r)))
            .collect();
        let Some(&(fastest, n, rate)) = bests.iter().max_by(|a, b| a.2.total_cmp(&b.2)) else {
            continue;
        };
        let mut line = format!(
            "{}: {} fastest ({} dishes/s at N = {n})",
            w.label(),
            fastest.label(),
            format_rate(rate)
        );
        let close: Vec<String> = bests
            .iter()
            .filter(|(m, _, r)| *m != fastest && *r >= KEEP_UP_SHARE * rate)
            .map(|(m, n, r)| format!("{} {} at N = {n}", m.label(), format_ratio(r / rate)))
            .collect();
        if !close.is_empty() {
            line.push_str(&format!(", close: {}", close.join(", ")));
        }
        lines.push(line);
    }
    lines
}

/// Judges the table (see the module docs).
pub fn verdict(f: &Figures) -> Verdict {
    let checks = checks(f);
    let mut lines: Vec<String> = checks
        .iter()
        .map(|c| {
            let mark = match c.holds {
                Some(true) => "supported",
                Some(false) => "contradicted",
                None => "untested",
            };
            format!("{}: {mark} ({})", c.claim, c.text)
        })
        .collect();
    lines.extend(memory_line(f));
    for (model, why) in &f.missing {
        lines.push(format!("{} not measured: {why}", model.label()));
    }
    for error in &f.errors {
        lines.push(format!("error: {error}"));
    }
    let conclusion = conclusion(f);
    if !conclusion.is_empty() {
        lines.push(format!("on this machine: {}", conclusion.join("; ")));
    }
    let decided: Vec<bool> = checks.iter().filter_map(|c| c.holds).collect();
    let outcome = if decided.is_empty() {
        Outcome::Inconclusive
    } else if decided.iter().all(|&h| h) {
        Outcome::Reproduced
    } else if decided.iter().any(|&h| h) {
        Outcome::Partly
    } else {
        Outcome::NotReproduced
    };
    Verdict {
        outcome,
        text: lines.join("\n"),
    }
}

/// Bytes with a sign (a model's added memory can read slightly negative when the lab
/// returned memory meanwhile).
fn format_signed_bytes(bytes: f64) -> String {
    if bytes < 0.0 {
        format!("-{}", format_bytes((-bytes) as u64))
    } else {
        format_bytes(bytes as u64)
    }
}

// ---------------------------------------------------------------------------------
// Memory.

/// `VmRSS` of `pid` in bytes.
fn rss_of(pid: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    super::thread_per_connection::field(&text, "VmRSS:").map(|kib| kib * 1024)
}

/// The children of this process, from `/proc/self/task/*/children` (each thread's
/// own children).
fn children() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(text.split_whitespace().map(str::to_string));
        }
    }
    pids
}

/// This process's RSS plus its children's, bytes.
fn total_rss(children: &[String]) -> u64 {
    let own = rss_of("self").unwrap_or(0);
    own + children.iter().filter_map(|pid| rss_of(pid)).sum::<u64>()
}

/// Samples [`total_rss`] every [`MEMORY_PERIOD`] until dropped; [`peak`](Self::peak)
/// is the highest reading.
struct MemorySampler {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<u64>>,
}

impl MemorySampler {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("kitchen-rss".into())
            .spawn(move || {
                let mut children = children();
                let mut peak = total_rss(&children);
                // Relaxed: the flag carries no data; the join publishes the peak.
                for tick in 1u32.. {
                    if flag.load(Ordering::Relaxed) {
                        break;
                    }
                    thread::sleep(MEMORY_PERIOD);
                    // A pool may start (or replace) workers while it runs.
                    if tick % 8 == 0 {
                        children = self::children();
                    }
                    peak = peak.max(total_rss(&children));
                }
                peak.max(total_rss(&children))
            })
            .ok();
        MemorySampler { stop, thread }
    }

    fn peak(mut self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take()?.join().ok()
    }
}

// ---------------------------------------------------------------------------------
// The kitchens.

/// The pools of one N, built one model at a time.
struct Kitchens {
    threads: Option<weft_pool::ThreadPool>,
    processes: Option<processes::Pool>,
    runtime: Option<weft::rt::Runtime>,
}

/// Cooks `orders` with `model`; returns the xor of the checksums and the dishes done.
fn serve(model: Model, kitchens: &Kitchens, orders: &[Order]) -> io::Result<(u64, u64)> {
    let dishes: u64 = orders.iter().map(|o| u64::from(o.dishes)).sum();
    let checksum = match model {
        Model::Sequential => {
            let mut checksum = 0;
            for order in orders {
                checksum ^= cook(order)?;
            }
            checksum
        }
        Model::Threads => {
            let pool = kitchens.threads.as_ref().ok_or_else(|| missing(model))?;
            let results: Vec<io::Result<u64>> = pool
                .scope(|scope| {
                    let (sender, receiver) = std::sync::mpsc::channel();
                    for order in orders {
                        let sender = sender.clone();
                        scope.spawn(move |_| {
                            let _ = sender.send(cook(order));
                        });
                    }
                    drop(sender);
                    receiver
                })
                .into_iter()
                .collect();
            xor_all(results)?
        }
        Model::Processes => {
            let pool = kitchens.processes.as_ref().ok_or_else(|| missing(model))?;
            pool.serve(orders)?
        }
        Model::Async => {
            let runtime = kitchens.runtime.as_ref().ok_or_else(|| missing(model))?;
            let orders = orders.to_vec();
            let results = runtime.block_on(async move {
                let handles: Vec<_> = orders
                    .into_iter()
                    .map(|o| weft::rt::spawn(cook_async(o)))
                    .collect();
                let mut results = Vec::with_capacity(handles.len());
                for handle in handles {
                    results.push(
                        handle
                            .await
                            .unwrap_or_else(|e| Err(io::Error::other(e.to_string()))),
                    );
                }
                results
            });
            xor_all(results)?
        }
    };
    Ok((checksum, dishes))
}

fn xor_all(results: Vec<io::Result<u64>>) -> io::Result<u64> {
    results.into_iter().try_fold(0, |acc, r| Ok(acc ^ r?))
}

fn missing(model: Model) -> io::Error {
    io::Error::other(format!("no {} kitchen", model.label()))
}

/// Builds `model`'s pool for `cooks` cooks into `kitchens`.
fn build(model: Model, cooks: usize, kitchens: &mut Kitchens) -> Result<(), String> {
    match model {
        Model::Sequential => {}
        Model::Threads => {
            let pool = weft_pool::ThreadPoolBuilder::new()
                .num_threads(cooks)
                .thread_name(|i| format!("kitchen-thread-{i}"))
                .build()
                .map_err(|e| e.to_string())?;
            kitchens.threads = Some(pool);
        }
        Model::Processes => kitchens.processes = Some(processes::Pool::new(cooks)?),
        Model::Async => {
            let runtime = weft::rt::Builder::new_multi_thread()
                .worker_threads(1)
                .blocking_threshold(None)
                .thread_name("kitchen-async")
                .build()
                .map_err(|e| e.to_string())?;
            kitchens.runtime = Some(runtime);
        }
    }
    Ok(())
}

/// The process pool's side: the task a worker runs, and the pool.
mod processes {
    use super::Order;
    use std::io;

    /// One cook in a worker process: [`cook`](super::cook), its error as text.
    #[weft::process::task]
    fn cook_in_worker(order: Order) -> Result<u64, String> {
        super::cook(&order).map_err(|e| e.to_string())
    }

    /// A pool of worker processes, one cook each.
    pub(super) struct Pool {
        pool: weft::process::ProcessPool,
    }

    impl Pool {
        pub(super) fn new(workers: usize) -> Result<Pool, String> {
            let pool = weft::process::ProcessPool::builder()
                .workers(workers)
                .build()
                .map_err(|e| e.to_string())?;
            Ok(Pool { pool })
        }

        /// Submits one task per order, all at once, and waits for every one.
        pub(super) fn serve(&self, orders: &[Order]) -> io::Result<u64> {
            let futures: Vec<_> = orders
                .iter()
                .map(|order| self.pool.submit(cook_in_worker, order.clone()))
                .collect();
            let mut checksum = 0;
            let mut first_error = None;
            for future in futures {
                match future.wait() {
                    Ok(value) => checksum ^= value,
                    Err(e) => {
                        first_error.get_or_insert_with(|| io::Error::other(e.to_string()));
                    }
                }
            }
            first_error.map_or(Ok(checksum), Err)
        }
    }
}

// ---------------------------------------------------------------------------------
// The measurement.

/// The first few errors, shared by the contenders of a comparison.
type Errors = RefCell<Vec<String>>;

fn note_error(errors: &Errors, model: Model, workload: Workload, e: &io::Error) {
    let mut errors = errors.borrow_mut();
    if errors.len() < 4 {
        errors.push(format!("{}, {}: {e}", model.label(), workload.label()));
    }
}

fn measure(config: &Config, processes: bool) -> (Figures, Vec<Results>) {
    let sizes = Sizes::for_config(config);
    let errors: Errors = RefCell::new(Vec::new());
    let mut missing: Vec<(Model, String)> = Vec::new();
    if !processes {
        missing.push((
            Model::Processes,
            "not running as the weft-lab binary, which its workers re-execute".into(),
        ));
    }
    let server =
        super::thread_per_connection::Server::start(super::thread_per_connection::Model::Threads {
            stack: None,
        });
    let server_addr = match &server {
        Ok(s) => Some(s.addr()),
        Err(e) => {
            errors
                .borrow_mut()
                .push(format!("the echo server did not start: {e}"));
            None
        }
    };
    let mut cells = Vec::new();
    let mut comparisons = Vec::new();
    for &cooks in &sizes.cooks {
        let mut models: Vec<Model> = Model::ALL
            .into_iter()
            .filter(|&m| cooks == 1 || m != Model::Sequential)
            .filter(|&m| missing.iter().all(|(gone, _)| *gone != m))
            .collect();
        let mut kitchens = Kitchens {
            threads: None,
            processes: None,
            runtime: None,
        };
        // Memory: each model's pool in turn, one sample per workload.
        let mut memory: Vec<(Workload, Model, f64)> = Vec::new();
        models.retain(|&model| {
            let before = total_rss(&children());
            if let Err(why) = build(model, cooks, &mut kitchens) {
                missing.push((model, why));
                return false;
            }
            for workload in Workload::ALL {
                if workload == Workload::Socket && server_addr.is_none() {
                    continue;
                }
                let orders = sizes.orders(
                    workload,
                    if model == Model::Sequential { 1 } else { cooks },
                    server_addr,
                );
                let sampler = MemorySampler::start();
                let result = serve(model, &kitchens, &orders);
                if let (Some(peak), Ok(_)) = (sampler.peak(), &result) {
                    memory.push((workload, model, peak as f64 - before as f64));
                }
                if let Err(e) = result {
                    note_error(&errors, model, workload, &e);
                }
            }
            true
        });
        for workload in Workload::ALL {
            if workload == Workload::Socket && server_addr.is_none() {
                continue;
            }
            let orders = sizes.orders(workload, cooks, server_addr);
            let sequential_orders = sizes.orders(workload, 1, server_addr);
            let mut comparison = Comparison::throughput(
                format!("{}, {cooks} cooks", workload.label()),
                Budget::Ops(1),
            )
            .rounds(config.rounds)
            .warm_up(false);
            for &model in &models {
                let (kitchens, errors) = (&kitchens, &errors);
                let orders = if model == Model::Sequential {
                    &sequential_orders
                } else {
                    &orders
                };
                comparison = comparison.contender(model.label(), move |_| {
                    let start = Instant::now();
                    let dishes = match serve(model, kitchens, orders) {
                        Ok((_, dishes)) => dishes,
                        Err(e) => {
                            note_error(errors, model, workload, &e);
                            0
                        }
                    };
                    Tally {
                        ops: dishes,
                        elapsed: start.elapsed(),
                    }
                });
            }
            if models.is_empty() {
                continue;
            }
            let results = comparison.run();
            for &model in &models {
                if let Some(c) = results.get(model.label()) {
                    cells.push(Cell {
                        workload,
                        model,
                        cooks,
                        throughput: c.summary,
                        memory_bytes: memory
                            .iter()
                            .find(|(w, m, _)| *w == workload && *m == model)
                            .map(|&(_, _, bytes)| bytes),
                    });
                }
            }
            comparisons.push(results);
        }
    }
    missing.dedup_by(|a, b| a.0 == b.0);
    (
        Figures {
            cores: config.cores,
            sizes,
            cells,
            missing,
            errors: errors.into_inner(),
        },
        comparisons,
    )
}

/// Whether this process is the `weft-lab` binary, whose `main` turns it into a
/// process-pool worker when asked.
fn is_lab_binary() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s == "weft-lab"))
        .unwrap_or(false)
}

impl Experiment for KitchenTable {
    fn name(&self) -> &'static str {
        NAME
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads N` is the largest number of cooks (default 4 × cores).
    fn run(&self, config: &Config) -> Report {
        let (figures, comparisons) = measure(config, is_lab_binary());
        let mut report = Report::new(table(&figures), verdict(&figures), comparisons);
        for chart in charts(&figures) {
            report = report.with_chart(chart);
        }
        report.with_raw(&figures)
    }

    fn estimate(&self, config: &Config) -> Option<Duration> {
        let sizes = Sizes::for_config(config);
        // Per N and workload, four models' samples per round and one more for the
        // memory; a sample is about a quarter of `sample` (the sleeps, a few
        // sleeps long at least, make up the rest).
        Some(config.sample * (sizes.cooks.len() * 3 * 4 * (config.rounds + 1)) as u32 / 3)
    }
}

fn table(f: &Figures) -> Table {
    let mut table = Table::new([
        "workload",
        "cooks",
        "sequential dishes/s",
        "threads",
        "processes",
        "async",
        "RSS added: threads",
        "processes",
        "async",
    ]);
    for w in Workload::ALL {
        for &n in &f.sizes.cooks {
            if !f.cells.iter().any(|c| c.workload == w && c.cooks == n) {
                continue;
            }
            let rate = |m: Model| f.rate(w, m, n).map_or_else(|| "-".into(), format_rate);
            let mem = |m: Model| {
                f.cell(w, m, n)
                    .and_then(|c| c.memory_bytes)
                    .map_or_else(|| "-".into(), format_signed_bytes)
            };
            table.row([
                w.label().to_string(),
                n.to_string(),
                if n == 1 {
                    rate(Model::Sequential)
                } else {
                    "".into()
                },
                rate(Model::Threads),
                rate(Model::Processes),
                rate(Model::Async),
                mem(Model::Threads),
                mem(Model::Processes),
                mem(Model::Async),
            ]);
        }
    }
    table
}

fn charts(f: &Figures) -> Vec<Chart> {
    let mut charts = Vec::new();
    for w in Workload::ALL {
        let mut chart = Chart::line(
            format!(
                "{}: dishes per second against cooks ({})",
                w.label(),
                w.dish()
            ),
            "cooks (threads, processes, tasks)",
            "dishes per second",
        )
        .unit(Unit::PerSecond)
        .marker(f.cores as f64, format!("{} cores", f.cores));
        for (index, model) in Model::ALL.into_iter().enumerate() {
            let points: Vec<Point> = if model == Model::Sequential {
                // Flat: one cook whatever N.
                f.sequential(w)
                    .map(|r| {
                        f.sizes
                            .cooks
                            .iter()
                            .map(|&n| Point::new(n as f64, r))
                            .collect()
                    })
                    .unwrap_or_default()
            } else {
                f.cells
                    .iter()
                    .filter(|c| c.workload == w && c.model == model)
                    .map(|c| {
                        let s = &c.throughput;
                        Point::new(c.cooks as f64, s.median).spread(s.q1, s.q3)
                    })
                    .collect()
            };
            if points.is_empty() {
                continue;
            }
            let mut series = Series::new(model.label(), points).color(index);
            if model == Model::Sequential {
                series = series.dashed();
            }
            chart = chart.series(series);
        }
        charts.push(chart);
    }
    let mut memory = Chart::line(
        format!(
            "Resident memory each model added, {} workload",
            Workload::Sleep.label()
        ),
        "cooks (threads, processes, tasks)",
        "bytes (VmRSS, children included)",
    )
    .unit(Unit::Count)
    .marker(f.cores as f64, format!("{} cores", f.cores));
    for (index, model) in Model::ALL.into_iter().enumerate().skip(1) {
        let points: Vec<Point> = f
            .cells
            .iter()
            .filter(|c| c.workload == Workload::Sleep && c.model == model)
            .filter_map(|c| Some(Point::new(c.cooks as f64, c.memory_bytes?.max(0.0))))
            .collect();
        if !points.is_empty() {
            memory = memory.series(Series::new(model.label(), points).color(index));
        }
    }
    charts.push(memory);
    charts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(rate: f64) -> Summary {
        Summary::of(&[rate]).expect("one value")
    }

    /// Figures on `cores` cores from `(workload, model, cooks, dishes/s, RSS added)`.
    fn figures(cores: usize, cells: &[(Workload, Model, usize, f64, f64)]) -> Figures {
        let mut config = Config::new(true);
        config.cores = cores;
        Figures {
            cores,
            sizes: Sizes::for_config(&config),
            cells: cells
                .iter()
                .map(|&(workload, model, cooks, rate, memory)| Cell {
                    workload,
                    model,
                    cooks,
                    throughput: summary(rate),
                    memory_bytes: Some(memory),
                })
                .collect(),
            missing: Vec::new(),
            errors: Vec::new(),
        }
    }

    use Model::{Async, Processes, Sequential, Threads};
    use Workload::{Cpu, Sleep, Socket};

    /// What CPython would show on 2 cores: processes scale, threads and the one
    /// async chef do not; async keeps up on sleeps with less memory; threads win on
    /// the socket.
    fn as_the_notes_say() -> Vec<(Workload, Model, usize, f64, f64)> {
        vec![
            (Cpu, Sequential, 1, 100.0, 0.0),
            (Cpu, Threads, 1, 100.0, 1e5),
            (Cpu, Threads, 8, 105.0, 8e5),
            (Cpu, Processes, 1, 95.0, 4e6),
            (Cpu, Processes, 8, 190.0, 3e7),
            (Cpu, Async, 1, 99.0, 3e5),
            (Cpu, Async, 8, 99.0, 3e5),
            (Sleep, Sequential, 1, 200.0, 0.0),
            (Sleep, Threads, 8, 1600.0, 8e5),
            (Sleep, Processes, 8, 1500.0, 3e7),
            (Sleep, Async, 8, 1550.0, 3e5),
            (Socket, Sequential, 1, 3e4, 0.0),
            (Socket, Threads, 8, 9e4, 8e5),
            (Socket, Processes, 8, 8e4, 3e7),
            (Socket, Async, 8, 7e4, 3e5),
        ]
    }

    fn set(
        cells: &mut [(Workload, Model, usize, f64, f64)],
        w: Workload,
        m: Model,
        n: usize,
        rate: f64,
    ) {
        let cell = cells
            .iter_mut()
            .find(|c| c.0 == w && c.1 == m && c.2 == n)
            .expect("a cell to change");
        cell.3 = rate;
    }

    #[test]
    fn figures_as_the_notes_say_reproduce_the_table() {
        let f = figures(2, &as_the_notes_say());
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        assert_eq!(v.text.matches(": supported (").count(), 4, "{}", v.text);
        assert!(
            v.text
                .contains("processes at their best (N = 8) cooked 190 dishes/s, 1.90x"),
            "{}",
            v.text
        );
        // The conclusion names the fastest model per workload, from the figures.
        let conclusion = conclusion(&f);
        assert_eq!(conclusion.len(), 3);
        assert!(
            conclusion[0].starts_with("CPU-bound: processes fastest"),
            "{conclusion:?}"
        );
        assert!(
            conclusion[1].starts_with("I/O, sleep: threads fastest"),
            "{conclusion:?}"
        );
        assert!(
            conclusion[1].contains("async, 1 worker 0.97x at N = 8"),
            "{conclusion:?}"
        );
        assert!(
            conclusion[2].starts_with("I/O, socket: threads fastest"),
            "{conclusion:?}"
        );
    }

    #[test]
    fn parallel_rust_threads_contradict_the_one_chef_row() {
        let mut cells = as_the_notes_say();
        set(&mut cells, Cpu, Threads, 8, 195.0);
        let v = verdict(&figures(2, &cells));
        assert_eq!(v.outcome, Outcome::Partly, "{}", v.text);
        assert!(
            v.text
                .contains("only one chef can cook at a time: contradicted"),
            "{}",
            v.text
        );
        assert!(v.text.contains("CPython's GIL"), "{}", v.text);
        assert!(conclusion(&figures(2, &cells))[0].starts_with("CPU-bound: threads fastest"));
    }

    #[test]
    fn the_opposite_figures_contradict_every_row() {
        let mut cells = as_the_notes_say();
        set(&mut cells, Cpu, Processes, 8, 110.0); // no parallelism from processes
        set(&mut cells, Cpu, Threads, 8, 190.0); // threads in parallel
        set(&mut cells, Sleep, Async, 8, 400.0); // the async chef falls behind
        set(&mut cells, Socket, Async, 8, 2e5); // async beats the threads
        let v = verdict(&figures(2, &cells));
        assert_eq!(v.outcome, Outcome::NotReproduced, "{}", v.text);
        assert_eq!(v.text.matches(": contradicted (").count(), 4, "{}", v.text);
    }

    #[test]
    fn memory_is_reported_per_cook_and_does_not_decide() {
        let mut cells = as_the_notes_say();
        let async_sleep = cells
            .iter_mut()
            .find(|c| c.0 == Sleep && c.1 == Async)
            .unwrap();
        async_sleep.4 = 1e7; // more than the threads' 8e5
        let f = figures(2, &cells);
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        // Per cook at N = 8: 3e7 / 8, 8e5 / 8, 1e7 / 8 bytes.
        assert_eq!(
            memory_line(&f).unwrap(),
            "RSS added per cook at N = 8 (I/O, sleep): processes 3.6 MiB, threads 97.7 KiB, \
             async, 1 worker 1.2 MiB"
        );
        assert!(v.text.contains("RSS added per cook at N = 8"), "{}", v.text);
        assert_eq!(memory_line(&figures(2, &[])), None);
    }

    #[test]
    fn missing_figures_leave_rows_untested() {
        let cells: Vec<_> = as_the_notes_say()
            .into_iter()
            .filter(|c| c.1 != Processes)
            .collect();
        let mut f = figures(2, &cells);
        f.missing
            .push((Processes, "not the weft-lab binary".into()));
        let v = verdict(&f);
        // The three rows left all hold.
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        assert!(
            v.text
                .contains("in parallel: untested (no process-pool figures)"),
            "{}",
            v.text
        );
        assert!(
            v.text
                .contains("processes not measured: not the weft-lab binary")
        );

        // One core: the CPU rows cannot be told.
        let v = verdict(&figures(1, &as_the_notes_say()));
        assert_eq!(
            v.text
                .matches("one core: nothing can run in parallel")
                .count(),
            2
        );

        let v = verdict(&figures(2, &[]));
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.text);
        assert!(conclusion(&figures(2, &[])).is_empty());
    }

    #[test]
    fn sizes_go_from_one_cook_to_four_per_core() {
        let mut config = Config::new(true);
        config.cores = 2;
        assert_eq!(Sizes::for_config(&config).cooks, [1, 2, 8]);
        config.quick = false;
        assert_eq!(Sizes::for_config(&config).cooks, [1, 2, 4, 8]);
        config.cores = 3;
        assert_eq!(Sizes::for_config(&config).cooks, [1, 2, 3, 4, 8, 12]);
        config.threads = Some(5);
        assert_eq!(Sizes::for_config(&config).cooks, [1, 2, 3, 4, 5]);
        config.threads = Some(1);
        assert_eq!(Sizes::for_config(&config).cooks, [1]);
    }

    #[test]
    fn orders_share_the_cpu_dishes_and_give_each_cook_its_own_io() {
        let sizes = Sizes::for_config(&Config::new(true));
        for cooks in [1, 3, 8] {
            let cpu = sizes.orders(Cpu, cooks, None);
            assert_eq!(cpu.len(), cooks);
            let total: u32 = cpu.iter().map(|o| o.dishes).sum();
            assert_eq!(total, sizes.cpu_dishes);
            // Seeds count up across the cooks, so the xor of their checksums is the
            // sequential one.
            let seeds: Vec<u64> = cpu.iter().map(|o| o.seed).collect();
            let mut next = 0;
            for (order, seed) in cpu.iter().zip(seeds) {
                assert_eq!(seed, next);
                next += u64::from(order.dishes);
            }
            let sleep = sizes.orders(Sleep, cooks, None);
            assert!(sleep.iter().all(|o| o.dishes == sizes.sleeps_per_cook));
            assert_eq!(sleep.len(), cooks);
        }
        let xor = |orders: &[Order]| orders.iter().fold(0, |x, o| x ^ cook(o).unwrap());
        assert_eq!(
            xor(&sizes.orders(Cpu, 1, None)),
            xor(&sizes.orders(Cpu, 3, None))
        );
    }

    #[test]
    fn cooks_check_their_dishes_blocking_and_async() {
        let server = super::super::thread_per_connection::Server::start(
            super::super::thread_per_connection::Model::Threads { stack: None },
        )
        .expect("an echo server");
        let socket = Order {
            workload: Socket,
            dishes: 5,
            seed: 0,
            server: Some(server.addr()),
        };
        assert_eq!(cook(&socket).unwrap(), 5);
        let no_server = Order {
            server: None,
            ..socket.clone()
        };
        assert_eq!(
            cook(&no_server).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        let cpu = Order {
            workload: Cpu,
            dishes: 3,
            seed: 7,
            server: None,
        };
        let runtime = weft::rt::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .expect("a runtime");
        let (tasks_socket, tasks_cpu) = runtime.block_on(async {
            (
                cook_async(socket.clone()).await.unwrap(),
                cook_async(cpu.clone()).await.unwrap(),
            )
        });
        assert_eq!(tasks_socket, 5);
        assert_eq!(tasks_cpu, cook(&cpu).unwrap());
        assert_ne!(tasks_cpu, 0);
        assert!(check_echo(b"ab", b"ab").is_ok());
        assert_eq!(
            check_echo(b"ab", b"ba").unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn a_tiny_run_fills_every_in_process_column() {
        let mut config = Config::new(true);
        config.sample = Duration::from_millis(1);
        config.rounds = 1;
        config.threads = Some(2);
        // A test binary cannot be a process-pool worker: that column is missing.
        let (f, comparisons) = measure(&config, false);
        assert!(f.errors.is_empty(), "{:?}", f.errors);
        assert_eq!(f.missing.len(), 1, "{:?}", f.missing);
        assert_eq!(f.missing[0].0, Processes);
        assert_eq!(comparisons.len(), 3 * f.sizes.cooks.len());
        for w in Workload::ALL {
            assert!(f.sequential(w).is_some_and(|r| r > 0.0), "{w:?}");
            for &n in &f.sizes.cooks {
                for m in [Threads, Async] {
                    let cell = f.cell(w, m, n).unwrap_or_else(|| panic!("{w:?} {m:?} {n}"));
                    assert!(cell.throughput.median > 0.0);
                    assert!(cell.memory_bytes.is_some(), "{w:?} {m:?} {n}");
                }
                assert!(f.cell(w, Processes, n).is_none());
            }
        }
        let t = table(&f);
        assert_eq!(t.rows().len(), 3 * f.sizes.cooks.len());
        let charts = charts(&f);
        assert_eq!(charts.len(), 4);
        assert!(charts.iter().all(Chart::has_data));
        let v = verdict(&f);
        assert!(v.text.contains("processes not measured"), "{}", v.text);
        assert!(
            v.text.contains("on this machine: CPU-bound: "),
            "{}",
            v.text
        );
    }

    #[test]
    fn memory_readings_see_this_process() {
        assert!(rss_of("self").is_some_and(|b| b > 0));
        assert!(total_rss(&[]) > 0);
        let sampler = MemorySampler::start();
        thread::sleep(MEMORY_PERIOD * 3);
        assert!(sampler.peak().is_some_and(|b| b > 0));
        assert_eq!(format_signed_bytes(-2048.0), "-2 KiB");
        assert_eq!(format_signed_bytes(1536.0), "1.5 KiB");
    }
}

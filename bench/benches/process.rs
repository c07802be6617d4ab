//! weft's process pool against Python's `concurrent.futures.ProcessPoolExecutor`, and
//! against weft's own thread pool (the price of isolation), each pool with the same
//! number of workers ([`WORKERS`]):
//!
//! - **round trip**: submit one trivial task (`x + 1`), wait for its result, repeat:
//!   the per-task overhead (serialize, write a frame, wake a worker, run, write back,
//!   wake the caller), reported as nanoseconds per round trip;
//! - **map**: `map(square_mod, 0..1,000,000)` with a chunksize of [`CHUNKSIZE`]
//!   (on 2 cores the best of 1,000 to 125,000 for Python, and of 1,000 to 50,000 for
//!   weft), summing the results in order: inputs per second;
//! - **CPU-bound**: [`CPU_TASKS`] tasks of [`CPU_STEPS`] steps of
//!   `weft_bench::busy_work` each (about a millisecond on a quiet core), and a fine-grained variant
//!   ([`FINE_TASKS`] tasks of [`FINE_STEPS`] steps, chunks of [`FINE_CHUNK`]), on
//!   weft-pool's threads (`par_iter`) and on weft-process's workers (`map`):
//!   tasks per second, so `weft-process / weft-pool` below 1 is what crossing a
//!   process boundary costs; the same loop on the calling thread (`one thread`) is
//!   there to tell that cost from a machine too busy to give either pool its second
//!   core (`weft-process / one thread` is the processes' parallel speedup).
//!
//! The Python side (`bench/python/process_pool.py`) runs as one `python3` child for
//! the whole benchmark: it starts its pool and every worker before it says `ready`,
//! then runs each sample on command and times it itself (`time.perf_counter_ns`), so
//! neither Python's start-up nor its pool's is counted, nor the pipe to this process.
//! Both sides check their results the same way (the sum of the outputs, or the xor of
//! the busy-work results), and the benchmark checks they agree. Without `python3`
//! the Python contenders are left out.
//!
//! This binary is its own worker: `weft_process::init()` is the first thing `main`
//! does (and why this target has `harness = false`, as every bench here does).
//!
//! `cargo bench -p weft-bench --bench process` (a couple of minutes on 2 cores),
//! `-- --quick` (a tenth of the sizes but the map's, 3 rounds), `-- --only map` (one comparison:
//! `latency`, `map`, `cpu`, `fine`), `-- --json FILE` (every raw sample).

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;
use weft_bench::stats::Summary;
use weft_bench::{BenchArgs, Budget, Comparison, Metric, Results, Sample, Tally, summary_table};
use weft_pool::prelude::*;
use weft_process::{NoError, ProcessPool};

/// Workers in every pool.
const WORKERS: usize = 2;
/// The map comparison's chunksize, for both sides.
const CHUNKSIZE: usize = 10_000;
/// The map's inputs, `--quick` included (the figure; with a tenth of them a
/// map is only ten chunks, and its start-up would be the figure): about half a second
/// for Python, a twentieth for weft.
const MAP_INPUTS: u64 = 1_000_000;
/// Round trips per sample (full size; `--quick` is a tenth).
const ROUND_TRIPS: u64 = 2_000;
/// The coarse CPU-bound comparison: tasks and busy-work steps per task.
const CPU_TASKS: u64 = 400;
const CPU_STEPS: u32 = 5_000_000;
/// The fine-grained CPU-bound comparison: tasks, steps per task, tasks per chunk.
const FINE_TASKS: u64 = 200_000;
const FINE_STEPS: u32 = 20_000;
const FINE_CHUNK: usize = 1_000;
/// `square_mod`'s modulus (the same in the Python script).
const MODULUS: u64 = 1_000_003;

const CANDIDATE: &str = "weft-process";
const PYTHON: &str = "ProcessPoolExecutor";
const THREADS: &str = "weft-pool threads";
/// The CPU-bound work on the calling thread: what both pools' speedups are against.
const ONE_THREAD: &str = "one thread";

/// The round-trip task: as little work as a task can be.
#[weft_process::task]
fn trivial(x: u64) -> Result<u64, NoError> {
    Ok(x + 1)
}

/// The map task: a few nanoseconds of work per input.
#[weft_process::task]
fn square_mod(x: u64) -> Result<u64, NoError> {
    Ok(x * x % MODULUS)
}

/// A CPU-bound task: `steps` steps of the bench's LCG from `seed`.
#[weft_process::task]
fn busy((seed, steps): (u64, u32)) -> Result<u64, NoError> {
    Ok(weft_bench::busy_work(seed, steps))
}

/// The Python pool, a child process serving one command a line.
struct Python {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Python {
    /// Starts `python3 process_pool.py WORKERS` and waits for `ready`; `None` (with a
    /// line on stderr) if it cannot.
    fn start() -> Option<Python> {
        let script: PathBuf = [env!("CARGO_MANIFEST_DIR"), "python", "process_pool.py"]
            .iter()
            .collect();
        let spawned = Command::new("python3")
            .arg(&script)
            .arg(WORKERS.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                eprintln!(
                    "python3 {}: {e}; the Python contenders are left out",
                    script.display()
                );
                return None;
            }
        };
        let stdin = child.stdin.take()?;
        let mut stdout = BufReader::new(child.stdout.take()?);
        let mut line = String::new();
        if stdout.read_line(&mut line).ok()? == 0 || line.trim() != "ready" {
            eprintln!("python3 did not say ready ({line:?}); the Python contenders are left out");
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        Some(Python {
            child,
            stdin,
            stdout,
        })
    }

    /// Sends `command`; returns the operations, the time Python measured, and its
    /// checksum.
    fn run(&mut self, command: &str) -> (Tally, u128) {
        writeln!(self.stdin, "{command}").expect("writing to python3");
        self.stdin.flush().expect("writing to python3");
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("reading from python3");
        let words: Vec<&str> = line.split_whitespace().collect();
        let parse = |i: usize| -> u128 {
            words
                .get(i)
                .and_then(|w| w.parse().ok())
                .unwrap_or_else(|| panic!("python3 answered {line:?} to {command:?}"))
        };
        let tally = Tally {
            ops: parse(0) as u64,
            elapsed: Duration::from_nanos(parse(1) as u64),
        };
        (tally, parse(2))
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

/// The same samples as a latency comparison: nanoseconds per operation, the summary
/// recomputed (a throughput comparison is how contenders that time themselves take
/// part; the ratios are the same either way).
fn as_latency(mut results: Results) -> Results {
    results.metric = Metric::Latency;
    for contender in &mut results.contenders {
        for sample in &mut contender.samples {
            sample.value =
                Metric::Latency.value(sample.ops, Duration::from_nanos(sample.elapsed_ns));
        }
        let values: Vec<f64> = contender.samples.iter().map(|s: &Sample| s.value).collect();
        contender.summary = Summary::of(&values).expect("at least one round");
    }
    results
}

fn timed<R>(ops: u64, f: impl FnOnce() -> R) -> (Tally, R) {
    let start = std::time::Instant::now();
    let result = f();
    (
        Tally {
            ops,
            elapsed: start.elapsed(),
        },
        result,
    )
}

struct Setup {
    pool: ProcessPool,
    threads: weft_pool::ThreadPool,
    python: Option<Python>,
    scale: u64,
}

fn bench_latency(args: &BenchArgs, setup: &mut Setup) -> Results {
    let count = (ROUND_TRIPS / setup.scale).max(10);
    let expected: u128 = (1..=u128::from(count)).sum();
    let pool = &setup.pool;
    let mut comparison = Comparison::throughput(
        format!("submit one trivial task, wait, repeat ({count} round trips), {WORKERS} workers"),
        Budget::Ops(count),
    )
    .rounds(args.rounds())
    .baseline(CANDIDATE)
    .contender(CANDIDATE, |_| {
        let (tally, sum) = timed(count, || {
            (0..count)
                .map(|i| u128::from(pool.submit(trivial, black_box(i)).wait().expect("trivial")))
                .sum::<u128>()
        });
        assert_eq!(sum, expected, "weft's round trips are wrong");
        tally
    });
    if let Some(python) = setup.python.as_mut() {
        comparison = comparison.contender(PYTHON, move |_| {
            let (tally, sum) = python.run(&format!("latency {count}"));
            assert_eq!(sum, expected, "Python's round trips are wrong");
            tally
        });
    }
    as_latency(comparison.run())
}

fn bench_map(args: &BenchArgs, setup: &mut Setup) -> Results {
    let inputs = if args.smoke { 10_000 } else { MAP_INPUTS };
    let expected: u128 = (0..inputs).map(|x| u128::from(x * x % MODULUS)).sum();
    let pool = &setup.pool;
    let mut comparison = Comparison::throughput(
        format!("map(square_mod, 0..{inputs}), chunksize {CHUNKSIZE}, {WORKERS} workers"),
        Budget::Ops(inputs),
    )
    .rounds(args.rounds())
    .baseline(CANDIDATE)
    .contender(CANDIDATE, |_| {
        let (tally, sum) = timed(inputs, || {
            pool.map(square_mod, 0..inputs)
                .chunksize(CHUNKSIZE)
                .map(|r| u128::from(r.expect("square_mod")))
                .sum::<u128>()
        });
        assert_eq!(sum, expected, "weft's map is wrong");
        tally
    });
    if let Some(python) = setup.python.as_mut() {
        comparison = comparison.contender(PYTHON, move |_| {
            let (tally, sum) = python.run(&format!("map {inputs} {CHUNKSIZE}"));
            assert_eq!(sum, expected, "Python's map is wrong");
            tally
        });
    }
    comparison.run()
}

/// weft-pool threads against weft-process workers on `tasks` tasks of `steps` steps,
/// `chunk` tasks per chunk for the processes.
fn bench_cpu(args: &BenchArgs, setup: &Setup, tasks: u64, steps: u32, chunk: usize) -> Results {
    let expected = (0..tasks).fold(0, |x, seed| x ^ weft_bench::busy_work(seed, steps));
    let (pool, threads) = (&setup.pool, &setup.threads);
    Comparison::throughput(
        format!(
            "CPU-bound: {tasks} tasks of {steps} busy-work steps, {WORKERS} threads or processes"
        ),
        Budget::Ops(tasks),
    )
    .rounds(args.rounds())
    .baseline(THREADS)
    .contender(THREADS, |_| {
        let (tally, x) = timed(tasks, || {
            threads.install(|| {
                (0..tasks)
                    .into_par_iter()
                    .map(|seed| weft_bench::busy_work(seed, steps))
                    .reduce(|| 0, |a, b| a ^ b)
            })
        });
        assert_eq!(x, expected, "the threads' busy work is wrong");
        tally
    })
    .contender(ONE_THREAD, |_| {
        let (tally, x) = timed(tasks, || {
            (0..tasks).fold(0, |x, seed| x ^ weft_bench::busy_work(seed, steps))
        });
        assert_eq!(x, expected, "the sequential busy work is wrong");
        tally
    })
    .contender(CANDIDATE, |_| {
        let (tally, x) = timed(tasks, || {
            pool.map(busy, (0..tasks).map(|seed| (seed, steps)))
                .chunksize(chunk)
                .fold(0, |x, r| x ^ r.expect("busy"))
        });
        assert_eq!(x, expected, "the processes' busy work is wrong");
        tally
    })
    .run()
}

fn main() {
    weft_process::init();
    let args = BenchArgs::from_env();
    let scale = match (args.smoke, args.quick) {
        (true, _) => 100,
        (false, true) => 10,
        (false, false) => 1,
    };
    println!(
        "process benchmark: {WORKERS} workers in each pool, {} rounds per comparison, interleaved",
        args.rounds()
    );
    let mut setup = Setup {
        pool: ProcessPool::builder()
            .workers(WORKERS)
            .build()
            .expect("building weft's process pool"),
        threads: weft_pool::ThreadPoolBuilder::new()
            .num_threads(WORKERS)
            .build()
            .expect("building weft's thread pool"),
        python: Python::start(),
        scale,
    };
    // `--only NAME` runs the comparisons whose key contains NAME.
    let only: Option<String> = std::env::args().skip_while(|arg| arg != "--only").nth(1);
    let wanted = |key: &str| only.as_deref().is_none_or(|only| key.contains(only));
    let mut all = Vec::new();
    if wanted("latency") {
        all.push(bench_latency(&args, &mut setup));
        println!("\n{}", all.last().unwrap());
    }
    if wanted("map") {
        all.push(bench_map(&args, &mut setup));
        println!("\n{}", all.last().unwrap());
    }
    if wanted("cpu") {
        let tasks = (CPU_TASKS / scale).max(WORKERS as u64 * 2);
        all.push(bench_cpu(&args, &setup, tasks, CPU_STEPS, 1));
        println!("\n{}", all.last().unwrap());
    }
    if wanted("fine") {
        let tasks = (FINE_TASKS / scale).max(FINE_CHUNK as u64);
        all.push(bench_cpu(&args, &setup, tasks, FINE_STEPS, FINE_CHUNK));
        println!("\n{}", all.last().unwrap());
    }
    println!(
        "\nsummary: ratios are speedups of medians; >= 1.00x means {CANDIDATE} is as fast \
         or faster (targets: >= 10x {PYTHON} for map throughput and for round-trip latency; \
         {CANDIDATE} / {THREADS} is the price of isolation)\n{}",
        summary_table(&all, CANDIDATE)
    );
    args.write_json(&all).expect("writing --json");
}

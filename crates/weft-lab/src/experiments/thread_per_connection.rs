//! `thread-per-connection-vs-event-loop`: an echo server holding N open connections,
//! served by one OS thread per connection or by weft-rt's event loop; what each costs
//! in memory per connection, and what it delivers in round trips per second.
//!
//! # The servers
//!
//! Three servers, the same echo loop (read up to 4 KiB, write it all back) over
//! loopback TCP with `TCP_NODELAY`:
//!
//! - **threads**: `std::net` blocking sockets, an accept loop on its own thread and
//!   one thread spawned per accepted connection, with std's default stack size (2 MiB
//!   unless `RUST_MIN_STACK` says otherwise; the run reports which);
//! - **threads, 64 KiB stacks**: the same with `thread::Builder::stack_size(64 KiB)`,
//!   to separate what a thread reserves (address space) from what it uses (resident
//!   pages);
//! - **weft-rt**: a multi-thread `weft::rt::Runtime` with one worker per core
//!   (`--threads` overrides), `weft::rt::net::TcpListener`, and one task per
//!   connection driving the stream through `futures_io::AsyncRead`/`AsyncWrite`.
//!
//! # Why child processes
//!
//! The server's memory is the figure under test, and in the lab's own process it
//! would be mixed with the clients' sockets and buffers, the other experiments'
//! leftovers and glibc's per-thread arenas. Each server therefore runs in a child
//! process: the lab re-executes its own binary as `weft-lab run
//! thread-per-connection-vs-event-loop` with `WEFT_LAB_ECHO_SERVER` naming the server;
//! [`run`](Experiment::run) sees the variable, serves, prints its address, and exits
//! when its stdin closes. The parent reads the child's `/proc/PID/status` (`VmRSS`,
//! `VmSize`) and counts `/proc/PID/task` before any connection (the baseline) and once
//! all N connections are open and have each been served (after a warm-up sample). A
//! child that does not say where it listens within 30 s is killed. When the lab is not
//! running as the `weft-lab` binary (a test harness embedding it), the servers run in
//! process and the memory columns are "n/a".
//!
//! What `VmRSS` cannot show is the kernel's side of a thread: its kernel stack (16 KiB
//! on x86-64) and task structures. The run reads `/proc/meminfo`'s `KernelStack`
//! before and after each server's connections open; that figure is machine-wide, so
//! other processes starting or ending threads meanwhile blur it (it is reported
//! apart, and added to the resident figure only where it is positive).
//!
//! # The clients
//!
//! One client for every server, in the lab's process: `min(cores, N)` client threads,
//! each owning an equal share of the connections and multiplexing them with its own
//! level-triggered `epoll` instance (raw `libc`, so the client shares no code with the
//! server under test). Every connection runs a closed loop: send a 64-byte message,
//! wait for all 64 bytes to come back, check each byte, send the next. With an epoll
//! client the client's cost per round trip does not depend on N, and it is the same
//! code and the same threads for every server, so it takes the same share of the two
//! cores from each; it does take a share (on two cores the client and the server
//! compete), so the absolute rates are the machine's, the ratios are the comparison.
//! A thread per client connection would have doubled the very cost under test.
//!
//! Per N, the three servers are started (one at a time, for their memory readings),
//! then measured in interleaved rounds (rotating order) of one `--duration-ms` sample
//! each: round trips completed within the sample, per second, and every round trip's
//! time. Throughput is the median over rounds; latency is the median of all round
//! trips (with N connections in flight at once it is about N / throughput, Little's
//! law, so it grows with N for any server).
//!
//! At start the soft `RLIMIT_NOFILE` is raised to the hard limit; the lab holds the
//! client ends of all three servers' connections at once (3 N descriptors), so N is
//! capped at what fits, and the output says so.

use crate::experiment::{
    Chart, Claim, Config, Experiment, Outcome, Point, Quote, Report, Scale, Series, Unit, Verdict,
};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use weft_bench::Table;
use weft_bench::format::{format_nanos, format_rate, format_ratio};

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct ThreadPerConnection;

/// The experiment's name on the command line.
pub const NAME: &str = "thread-per-connection-vs-event-loop";

const CLAIM: Claim = Claim {
    gist: "a thread per connection costs memory per connection; an event loop serves many \
           connections with little",
    quotes: &[
        Quote {
            text: "Traditional web servers like Apache use a thread-per-request model, \
                   spawning a thread for each incoming connection. This scales poorly as \
                   each thread consumes ~1 MB of stack memory.",
            source: "Multitasking, 3.4 Real-World Applications",
        },
        Quote {
            text: "Event-driven servers like Nginx and Node.js use a single-threaded event \
                   loop with non-blocking I/O multiplexing, handling tens of thousands of \
                   concurrent connections with minimal memory overhead.",
            source: "Multitasking, 3.4 Real-World Applications",
        },
        Quote {
            text: "Instead of creating one thread per connection (which doesn’t scale)",
            source: "Multitasking (outline), 2.1 Asynchronous Programming and Event Loops",
        },
    ],
};

/// Connection counts tried, full runs.
pub const SIZES: [usize; 3] = [10, 100, 1_000];
/// Connection counts tried with `--quick`.
pub const QUICK_SIZES: [usize; 2] = [10, 100];
/// Bytes per message.
pub const MESSAGE: usize = 64;
/// The servers' read buffer.
pub const BUFFER: usize = 4096;
/// The small stack of the second thread server.
pub const SMALL_STACK: usize = 64 * 1024;
/// Thread-per-connection must use at least this many times the event loop's memory per
/// connection at the largest N for "far less memory".
pub const MEMORY_FACTOR: f64 = 2.0;
/// The event loop's throughput at the largest N must be at least this share of its
/// throughput at the smallest N for "keeps throughput".
pub const KEEP_SHARE: f64 = 0.5;
/// Other processes' load, in cores, from which the verdict warns that the
/// throughputs are shares of a busy machine.
pub const BUSY_OTHERS: f64 = 0.25;
/// The largest N must be at least this for the verdict to say anything.
pub const MIN_LARGEST: usize = 100;
/// The environment variable that turns a `weft-lab run` of this experiment into a
/// server.
pub const SERVER_ENV: &str = "WEFT_LAB_ECHO_SERVER";
/// The line a server child prints before its address.
const READY_MARKER: &str = "weft-lab-echo-server";
/// How long a child may take to say where it listens.
const CHILD_START_LIMIT: Duration = Duration::from_secs(30);
/// How long the in-flight round trips of a finished sample may take to come back.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// Descriptors kept free for everything else.
const SPARE_DESCRIPTORS: u64 = 64;

/// A server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// One OS thread per connection; `None` is std's default stack size.
    Threads {
        /// The stack size given to `thread::Builder::stack_size`, if any.
        stack: Option<usize>,
    },
    /// weft-rt with this many workers.
    EventLoop {
        /// Worker threads.
        workers: usize,
    },
}

impl Model {
    /// The three servers, with `workers` weft-rt workers.
    pub fn all(workers: usize) -> [Model; 3] {
        [
            Model::Threads { stack: None },
            Model::Threads {
                stack: Some(SMALL_STACK),
            },
            Model::EventLoop { workers },
        ]
    }

    /// The name in tables and charts.
    pub fn label(self) -> String {
        match self {
            Model::Threads { stack: None } => "thread per connection".into(),
            Model::Threads { stack: Some(s) } => {
                format!("thread per connection, {} KiB stack", s / 1024)
            }
            Model::EventLoop { workers } => format!("weft-rt event loop, {workers} workers"),
        }
    }

    /// The value of [`SERVER_ENV`] that asks a child for this server.
    pub fn spec(self) -> String {
        match self {
            Model::Threads { stack: None } => "threads".into(),
            Model::Threads { stack: Some(s) } => format!("threads:{s}"),
            Model::EventLoop { workers } => format!("weft:{workers}"),
        }
    }

    /// Parses [`spec`](Self::spec)'s output.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lab::experiments::thread_per_connection::Model;
    ///
    /// for model in Model::all(2) {
    ///     assert_eq!(Model::parse(&model.spec()), Some(model));
    /// }
    /// assert_eq!(Model::parse("weft:0"), None);
    /// ```
    pub fn parse(spec: &str) -> Option<Model> {
        let (kind, arg) = spec.split_once(':').unwrap_or((spec, ""));
        match (kind, arg) {
            ("threads", "") => Some(Model::Threads { stack: None }),
            ("threads", size) => Some(Model::Threads {
                stack: Some(size.parse().ok().filter(|&s| s > 0)?),
            }),
            ("weft", workers) => Some(Model::EventLoop {
                workers: workers.parse().ok().filter(|&w| w > 0)?,
            }),
            _ => None,
        }
    }

    /// Whether this is one of the thread-per-connection servers.
    pub fn is_threads(self) -> bool {
        matches!(self, Model::Threads { .. })
    }
}

/// What `/proc/PID/status` says about a process's memory and threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// Resident set size, KiB (`VmRSS`).
    pub rss_kib: u64,
    /// Address space, KiB (`VmSize`).
    pub vm_kib: u64,
    /// Threads (`Threads`).
    pub threads: u64,
}

impl Status {
    /// Parses the text of `/proc/PID/status`; `None` if a field is missing.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lab::experiments::thread_per_connection::Status;
    ///
    /// let text = "Name:\tx\nVmSize:\t  10240 kB\nVmRSS:\t    2048 kB\nThreads:\t3\n";
    /// let s = Status::parse(text).unwrap();
    /// assert_eq!((s.rss_kib, s.vm_kib, s.threads), (2048, 10240, 3));
    /// ```
    pub fn parse(text: &str) -> Option<Status> {
        Some(Status {
            rss_kib: field(text, "VmRSS:")?,
            vm_kib: field(text, "VmSize:")?,
            threads: field(text, "Threads:")?,
        })
    }
}

/// The number after `key` on its line of a `/proc` file (`key   123 kB`).
///
/// # Examples
///
/// ```
/// use weft_lab::experiments::thread_per_connection::field;
///
/// let meminfo = "MemTotal:  1000 kB\nKernelStack:    5360 kB\n";
/// assert_eq!(field(meminfo, "KernelStack:"), Some(5360));
/// assert_eq!(field(meminfo, "Slab:"), None);
/// ```
pub fn field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A process's [`Status`], with `/proc/PID/task` counted for the threads.
fn read_status(pid: u32) -> io::Result<Status> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let mut status = Status::parse(&text)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed /proc/PID/status"))?;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        status.threads = tasks.count() as u64;
    }
    Ok(status)
}

/// The machine's CPU time so far, all CPUs, seconds: in tasks and in interrupts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MachineTicks {
    /// user + nice + system.
    pub tasks: f64,
    /// irq + softirq.
    pub interrupts: f64,
}

impl MachineTicks {
    /// Parses the `cpu` line of `/proc/stat` at `hz` ticks per second.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lab::experiments::thread_per_connection::MachineTicks;
    ///
    /// let t = MachineTicks::parse("cpu  100 10 50 800 5 3 7 0 0 0\n", 100.0).unwrap();
    /// assert_eq!((t.tasks, t.interrupts), (1.6, 0.1));
    /// ```
    pub fn parse(text: &str, hz: f64) -> Option<MachineTicks> {
        let line = text.lines().find(|l| l.starts_with("cpu "))?;
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|t| t.parse().ok())
            .collect::<Option<_>>()?;
        let get = |i: usize| ticks.get(i).copied();
        Some(MachineTicks {
            tasks: (get(0)? + get(1)? + get(2)?) as f64 / hz,
            interrupts: (get(5)? + get(6)?) as f64 / hz,
        })
    }
}

/// Ticks per second of `/proc` (`USER_HZ`).
fn clock_ticks() -> f64 {
    // SAFETY: `sysconf` only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

fn machine_ticks() -> Option<MachineTicks> {
    MachineTicks::parse(&std::fs::read_to_string("/proc/stat").ok()?, clock_ticks())
}

/// The machine's kernel stacks, KiB (`/proc/meminfo` `KernelStack`).
fn kernel_stack_kib() -> Option<u64> {
    field(
        &std::fs::read_to_string("/proc/meminfo").ok()?,
        "KernelStack:",
    )
}

/// One server's figures at one N.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Measure {
    /// Round trips per second, one per round.
    pub throughputs: Vec<f64>,
    /// The median round trip, nanoseconds.
    pub median_latency_ns: Option<f64>,
    /// The 99th-percentile round trip, nanoseconds.
    pub p99_latency_ns: Option<f64>,
    /// Before any connection.
    pub base: Option<Status>,
    /// With all N connections open and served.
    pub open: Option<Status>,
    /// The machine's `KernelStack` change while the connections opened, KiB.
    pub kernel_stack_delta_kib: Option<i64>,
    /// Bytes echoed and checked.
    pub bytes_checked: u64,
    /// Wall time of the measured samples, their drains included, seconds.
    pub wall_s: f64,
    /// The server's CPU time over those samples, seconds (child processes only).
    pub server_cpu_s: Option<f64>,
    /// The lab's (the clients') CPU time over those samples, seconds.
    pub client_cpu_s: Option<f64>,
    /// The whole machine's CPU time in tasks (user, nice, system) over those samples,
    /// seconds (`/proc/stat`).
    pub machine_cpu_s: Option<f64>,
    /// The whole machine's interrupt and softirq time over those samples, seconds: on
    /// loopback mostly the TCP receive path of this very traffic. With tick-based
    /// accounting the same ticks are also charged to the task they interrupted (the
    /// server or a client), so this overlaps their CPU time.
    pub softirq_cpu_s: Option<f64>,
    /// Why the server could not be measured, if it could not.
    pub error: Option<String>,
}

impl Measure {
    /// The median throughput over rounds.
    pub fn throughput(&self) -> Option<f64> {
        weft_bench::stats::median(&self.throughputs)
    }

    /// Resident growth per connection, bytes.
    pub fn rss_per_connection(&self, n: usize) -> Option<f64> {
        let (base, open) = (self.base?, self.open?);
        Some((open.rss_kib as f64 - base.rss_kib as f64) * 1024.0 / n.max(1) as f64)
    }

    /// Address-space growth per connection, bytes.
    pub fn vm_per_connection(&self, n: usize) -> Option<f64> {
        let (base, open) = (self.base?, self.open?);
        Some((open.vm_kib as f64 - base.vm_kib as f64) * 1024.0 / n.max(1) as f64)
    }

    /// Kernel-stack growth per connection, bytes (machine-wide, see the module docs).
    pub fn kernel_stack_per_connection(&self, n: usize) -> Option<f64> {
        Some(self.kernel_stack_delta_kib? as f64 * 1024.0 / n.max(1) as f64)
    }

    /// Resident plus (positive) kernel-stack growth per connection, bytes.
    pub fn memory_per_connection(&self, n: usize) -> Option<f64> {
        let kernel = self.kernel_stack_per_connection(n).unwrap_or(0.0).max(0.0);
        Some(self.rss_per_connection(n)? + kernel)
    }

    /// Cores the server kept busy during the samples, on average.
    pub fn server_cores(&self) -> Option<f64> {
        Some(self.server_cpu_s? / self.wall_s).filter(|v| v.is_finite())
    }

    /// Cores the clients kept busy during the samples, on average.
    pub fn client_cores(&self) -> Option<f64> {
        Some(self.client_cpu_s? / self.wall_s).filter(|v| v.is_finite())
    }

    /// Cores spent in interrupts and softirqs during the samples, on average.
    pub fn softirq_cores(&self) -> Option<f64> {
        Some(self.softirq_cpu_s? / self.wall_s).filter(|v| v.is_finite())
    }

    /// Cores other processes kept busy during the samples, on average: the machine's
    /// task and interrupt time minus the server's and the clients' (which include the
    /// interrupts that hit them).
    pub fn other_cores(&self) -> Option<f64> {
        let machine = self.machine_cpu_s? + self.softirq_cpu_s.unwrap_or(0.0);
        let others = machine - self.server_cpu_s? - self.client_cpu_s?;
        Some((others / self.wall_s).max(0.0)).filter(|v| v.is_finite())
    }

    /// Server threads added by the connections.
    pub fn threads_added(&self) -> Option<i64> {
        Some(self.open?.threads as i64 - self.base?.threads as i64)
    }
}

/// One N's figures, one [`Measure`] per model.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Row {
    /// Connections.
    pub connections: usize,
    /// `(model label, figures)`, in [`Model::all`] order.
    pub measures: Vec<(String, Measure)>,
}

/// The descriptor limit, as found and as raised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Limit {
    /// The soft `RLIMIT_NOFILE` at start.
    pub soft_before: u64,
    /// The soft limit after raising it to the hard limit.
    pub soft_after: u64,
    /// The hard limit.
    pub hard: u64,
    /// The largest N the limit allows, if below the largest planned N.
    pub capped_at: Option<usize>,
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Figures {
    /// The servers, in [`Model::all`] order.
    #[serde(skip)]
    pub models: Vec<Model>,
    /// One row per N, smallest first.
    pub rows: Vec<Row>,
    /// The descriptor limit.
    pub limit: Limit,
    /// Echoed bytes that differed from the bytes sent (should be none).
    pub mismatches: u64,
    /// Whether memory was read from server child processes.
    pub memory_measured: bool,
    /// std's default thread stack, as configured (`RUST_MIN_STACK` or 2 MiB).
    pub default_stack: usize,
}

impl Figures {
    /// The figures of the model labelled `label` at each N, with N.
    pub fn series(&self, label: &str) -> Vec<(usize, &Measure)> {
        self.rows
            .iter()
            .filter_map(|row| {
                let (_, m) = row.measures.iter().find(|(l, _)| l == label)?;
                Some((row.connections, m))
            })
            .collect()
    }
}

/// std's default stack size for spawned threads: `RUST_MIN_STACK` if set, else 2 MiB.
pub fn default_stack() -> usize {
    std::env::var("RUST_MIN_STACK")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2 * 1024 * 1024)
}

fn bytes(v: f64) -> String {
    let a = v.abs();
    if a >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", v / (1024.0 * 1024.0))
    } else if a >= 1024.0 {
        format!("{:.1} KiB", v / 1024.0)
    } else {
        format!("{v:.0} B")
    }
}

/// A line on the descriptor limit.
pub fn limit_line(limit: &Limit) -> String {
    let raised = if limit.soft_after > limit.soft_before {
        format!(
            "RLIMIT_NOFILE: soft limit raised from {} to the hard limit, {}",
            limit.soft_before, limit.soft_after
        )
    } else {
        format!(
            "RLIMIT_NOFILE: soft limit {} (hard {})",
            limit.soft_after, limit.hard
        )
    };
    match limit.capped_at {
        Some(cap) => {
            format!("{raised}; the lab holds 3 N client sockets, so N is capped at {cap} here")
        }
        None => format!("{raised}; every planned N fits"),
    }
}

/// The planned sizes that fit under `limit` descriptors with `open` open (the lab holds
/// three sockets per connection), plus the largest that fits if that drops any.
///
/// # Examples
///
/// ```
/// use weft_lab::experiments::thread_per_connection::sizes_within;
///
/// assert_eq!(sizes_within(&[10, 100, 1000], 20_000, 10), (vec![10, 100, 1000], None));
/// // (1024 - 10 - 64) / 3 = 316.
/// assert_eq!(sizes_within(&[10, 100, 1000], 1024, 10), (vec![10, 100, 316], Some(316)));
/// ```
pub fn sizes_within(planned: &[usize], limit: u64, open: u64) -> (Vec<usize>, Option<usize>) {
    let free = limit.saturating_sub(open + SPARE_DESCRIPTORS);
    let most = usize::try_from(free / 3).unwrap_or(usize::MAX);
    let mut sizes: Vec<usize> = planned.iter().copied().filter(|&n| n <= most).collect();
    if planned.iter().copied().max().unwrap_or(0) <= most {
        return (sizes, None);
    }
    if most > 0 && sizes.last() != Some(&most) {
        sizes.push(most);
    }
    (sizes, Some(most))
}

/// Judges the claim at the largest N: thread-per-connection's memory per connection
/// (resident plus kernel stacks) is at least [`MEMORY_FACTOR`] times the event loop's
/// and it added a thread per connection (memory that grows with N); and the event
/// loop's throughput at the largest N is at least [`KEEP_SHARE`] of its throughput at
/// the smallest. Both: reproduced; one: partly; neither: not reproduced. Inconclusive
/// without memory readings, a largest N below [`MIN_LARGEST`], a failed server or a
/// byte echoed wrong.
pub fn verdict(f: &Figures) -> Verdict {
    let mut lines = vec![limit_line(&f.limit)];
    let inconclusive = |mut lines: Vec<String>, why: String| {
        lines.push(format!("inconclusive: {why}"));
        Verdict {
            outcome: Outcome::Inconclusive,
            text: lines.join("\n"),
        }
    };
    if f.mismatches > 0 {
        return inconclusive(lines, format!("{} echoed bytes were wrong", f.mismatches));
    }
    for row in &f.rows {
        for (label, m) in &row.measures {
            if let Some(error) = &m.error {
                return inconclusive(
                    lines,
                    format!(
                        "{label} with {} connections failed: {error}",
                        row.connections
                    ),
                );
            }
        }
    }
    let (Some(threads), Some(events)) = (
        f.models
            .iter()
            .find(|m| **m == Model::Threads { stack: None }),
        f.models.iter().find(|m| !m.is_threads()),
    ) else {
        return inconclusive(lines, "no thread server or no event-loop server".into());
    };
    let (threads, events) = (threads.label(), events.label());
    let (t, e) = (f.series(&threads), f.series(&events));
    let (Some(&(largest, t_last)), Some(&(_, e_last)), Some(&(smallest, e_first))) =
        (t.last(), e.last(), e.first())
    else {
        return inconclusive(lines, "nothing measured".into());
    };
    if largest < MIN_LARGEST {
        return inconclusive(
            lines,
            format!("the largest N is {largest}, below the {MIN_LARGEST} needed"),
        );
    }
    if !f.memory_measured {
        return inconclusive(
            lines,
            "the servers ran in the lab's process, so their memory was not read".into(),
        );
    }
    let (Some(t_mem), Some(e_mem)) = (
        t_last.memory_per_connection(largest),
        e_last.memory_per_connection(largest),
    ) else {
        return inconclusive(lines, "memory readings missing".into());
    };
    let t_rss = t_last.rss_per_connection(largest).unwrap_or(f64::NAN);
    let e_rss = e_last.rss_per_connection(largest).unwrap_or(f64::NAN);
    let t_kernel = t_last.kernel_stack_per_connection(largest);
    let added = t_last.threads_added().unwrap_or(0);
    let ratio = t_mem / e_mem.max(1.0);
    let one_thread_each = added >= largest as i64;
    let memory = ratio >= MEMORY_FACTOR && one_thread_each;
    lines.push(format!(
        "memory with {largest} connections: thread per connection {} per connection \
         ({} resident{}), {} more server threads; the event loop {} per connection \
         ({} resident), {} more threads: {} as much per connection{}",
        bytes(t_mem),
        bytes(t_rss),
        t_kernel.map_or(String::new(), |k| format!(
            " + {} kernel stack, machine-wide",
            bytes(k)
        )),
        added,
        bytes(e_mem),
        bytes(e_rss),
        e_last.threads_added().unwrap_or(0),
        format_ratio(ratio),
        if memory {
            ": thread per connection's memory grows with N, a stack and a kernel thread each"
        } else if !one_thread_each {
            ": but the thread server did not add a thread per connection"
        } else {
            ""
        }
    ));
    if let Some(line) = reservation_line(f, largest) {
        lines.push(line);
    }
    let (Some(e_small), Some(e_large)) = (e_first.throughput(), e_last.throughput()) else {
        return inconclusive(lines, "throughput missing".into());
    };
    let keeps = e_large >= KEEP_SHARE * e_small;
    let t_large = t_last.throughput();
    lines.push(format!(
        "throughput: the event loop {} round trips/s with {smallest} connections, {} with \
         {largest} ({}){}; thread per connection {} with {largest}{}",
        format_rate(e_small),
        format_rate(e_large),
        format_ratio(e_large / e_small),
        if keeps {
            ": it keeps its throughput as N grows"
        } else {
            ": it lost throughput as N grew"
        },
        t_large.map_or("n/a".into(), format_rate),
        t_large.map_or(String::new(), |t| format!(
            " (event loop / threads: {})",
            format_ratio(e_large / t)
        )),
    ));
    let others: Vec<f64> = e.iter().filter_map(|(_, m)| m.other_cores()).collect();
    if let Some(worst) = others.iter().copied().reduce(f64::max)
        && worst >= BUSY_OTHERS
    {
        lines.push(format!(
            "other processes kept up to {worst:.2} cores busy during the event loop's \
             samples: the throughputs are the share of the cores the scheduler gave each \
             server (it shares them per thread, so a server with a thread per connection \
             gets more of them on a busy machine)"
        ));
    }
    let outcome = match (memory, keeps) {
        (true, true) => Outcome::Reproduced,
        (false, false) => Outcome::NotReproduced,
        _ => Outcome::Partly,
    };
    Verdict {
        outcome,
        text: lines.join("\n"),
    }
}

/// What a thread's stack reserves, from the two thread servers' address-space growth:
/// they differ only in the stack size asked for, so the difference per connection
/// plus [`SMALL_STACK`] is the default stack's reservation; the rest of the growth is
/// glibc's per-thread malloc arenas (64 MiB of address space each, up to 8 per core,
/// amortised over N).
fn reservation_line(f: &Figures, n: usize) -> Option<String> {
    let at = |model: Model| {
        f.series(&model.label())
            .into_iter()
            .find(|&(size, _)| size == n)
            .and_then(|(_, m)| m.vm_per_connection(n))
    };
    let default = at(Model::Threads { stack: None })?;
    let small = at(Model::Threads {
        stack: Some(SMALL_STACK),
    });
    let stack = small.map(|small| default - small + SMALL_STACK as f64);
    Some(format!(
        "address space: a thread per connection reserves {} per connection{}, of which a \
         few pages are resident: the notes' \"~1 MB of stack\" is a reservation, not use \
         (std's default stack here: {}{})",
        bytes(default),
        stack.map_or(String::new(), |s| format!(
            " ({} of it its stack, the rest glibc's per-thread malloc arenas)",
            bytes(s)
        )),
        bytes(f.default_stack as f64),
        small.map_or(String::new(), |_| format!(
            "; with {} stacks the resident figure barely moves",
            bytes(SMALL_STACK as f64)
        )),
    ))
}

fn table(f: &Figures) -> Table {
    let mut table = Table::new([
        "N",
        "server",
        "round trips/s",
        "median RTT",
        "p99 RTT",
        "resident / conn",
        "kernel stack / conn",
        "address space / conn",
        "server threads",
        "cores busy: server + clients + others",
    ]);
    let or_na = |v: Option<f64>, fmt: fn(f64) -> String| v.map_or_else(|| "n/a".into(), fmt);
    for row in &f.rows {
        let n = row.connections;
        for (label, m) in &row.measures {
            if let Some(error) = &m.error {
                table.row([
                    n.to_string(),
                    label.clone(),
                    format!("failed: {error}"),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
                continue;
            }
            let threads = match (m.base, m.open) {
                (Some(b), Some(o)) => format!("{} -> {}", b.threads, o.threads),
                _ => "n/a".into(),
            };
            table.row([
                n.to_string(),
                label.clone(),
                or_na(m.throughput(), format_rate),
                or_na(m.median_latency_ns, format_nanos),
                or_na(m.p99_latency_ns, format_nanos),
                or_na(m.rss_per_connection(n), bytes),
                or_na(m.kernel_stack_per_connection(n), bytes),
                or_na(m.vm_per_connection(n), bytes),
                threads,
                {
                    let or = |v: Option<f64>| v.map_or_else(|| "n/a".into(), |v| format!("{v:.2}"));
                    format!(
                        "{} + {} + {}",
                        or(m.server_cores()),
                        or(m.client_cores()),
                        or(m.other_cores())
                    )
                },
            ]);
        }
    }
    table
}

fn charts(f: &Figures) -> Vec<Chart> {
    let mut memory = Chart::line(
        "Server memory per connection (resident + kernel stacks) against connections",
        "connections",
        "bytes per connection",
    )
    .unit(Unit::Count)
    .scale(Scale::Log);
    let mut throughput = Chart::line(
        "Echo round trips per second (64-byte messages) against connections",
        "connections",
        "round trips/s",
    )
    .unit(Unit::PerSecond)
    .scale(Scale::Linear);
    for (index, model) in f.models.iter().enumerate() {
        let label = model.label();
        let series = f.series(&label);
        let mem: Vec<Point> = series
            .iter()
            .filter_map(|&(n, m)| Some(Point::new(n as f64, m.memory_per_connection(n)?)))
            .filter(|p| p.y > 0.0)
            .collect();
        if !mem.is_empty() {
            memory = memory.series(Series::new(label.clone(), mem).color(index));
        }
        let tput: Vec<Point> = series
            .iter()
            .filter_map(|&(n, m)| {
                let median = m.throughput()?;
                let low = m.throughputs.iter().copied().fold(f64::INFINITY, f64::min);
                let high = m.throughputs.iter().copied().fold(0.0, f64::max);
                let mut p = Point::new(n as f64, median).spread(low, high);
                p.samples = m.throughputs.clone();
                Some(p)
            })
            .collect();
        if !tput.is_empty() {
            throughput = throughput.series(Series::new(label, tput).color(index));
        }
    }
    vec![memory, throughput]
}

// ---------------------------------------------------------------------------------
// The servers.

/// A running echo server in this process; dropping it stops accepting (connections
/// end when their clients close them).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use weft_lab::experiments::thread_per_connection::{Model, Server};
///
/// for model in Model::all(1) {
///     let server = Server::start(model)?;
///     let mut stream = std::net::TcpStream::connect(server.addr())?;
///     stream.write_all(b"ping")?;
///     let mut echo = [0; 4];
///     stream.read_exact(&mut echo)?;
///     assert_eq!(&echo, b"ping");
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server {
    addr: SocketAddr,
    inner: ServerInner,
}

enum ServerInner {
    Threads {
        stop: Arc<AtomicBool>,
        accept: Option<thread::JoinHandle<()>>,
    },
    Events {
        runtime: Option<weft::rt::Runtime>,
    },
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

impl Server {
    /// Starts `model` on an ephemeral loopback port.
    ///
    /// # Errors
    ///
    /// The OS error of binding, or of starting the runtime or the accept thread.
    pub fn start(model: Model) -> io::Result<Server> {
        match model {
            Model::Threads { stack } => Self::start_threads(stack),
            Model::EventLoop { workers } => Self::start_events(workers),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn start_threads(stack: Option<usize>) -> io::Result<Server> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        relisten(&listener);
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let accept = thread::Builder::new()
            .name("echo-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    // Relaxed: the flag carries no data; the waking connection that
                    // follows the store is what gets us here.
                    if flag.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else {
                        // Out of descriptors or threads for a moment: back off.
                        thread::sleep(Duration::from_millis(1));
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let mut builder = thread::Builder::new();
                    if let Some(size) = stack {
                        builder = builder.stack_size(size);
                    }
                    // A connection whose thread cannot start is closed (dropped).
                    let _ = builder.spawn(move || echo_blocking(stream));
                }
            })?;
        Ok(Server {
            addr,
            inner: ServerInner::Threads {
                stop,
                accept: Some(accept),
            },
        })
    }

    fn start_events(workers: usize) -> io::Result<Server> {
        let runtime = weft::rt::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("echo-worker")
            .build()?;
        let listener =
            runtime.block_on(async { weft::rt::net::TcpListener::bind("127.0.0.1:0") })?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        weft::rt::spawn(async move {
                            let _ = echo_async(stream).await;
                        });
                    }
                    Err(_) => weft::rt::time::sleep(Duration::from_millis(1)).await,
                }
            }
        });
        Ok(Server {
            addr,
            inner: ServerInner::Events {
                runtime: Some(runtime),
            },
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.inner {
            ServerInner::Threads { stop, accept } => {
                stop.store(true, Ordering::Relaxed);
                // Wake the blocked accept so it sees the flag.
                let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
                if let Some(accept) = accept.take() {
                    let _ = accept.join();
                }
            }
            ServerInner::Events { runtime } => {
                if let Some(runtime) = runtime.take() {
                    runtime.shutdown_timeout(Duration::from_secs(1));
                }
            }
        }
    }
}

/// Asks for a 1024-connection backlog (std listens with 128), so N connects in a row
/// do not overflow it while the accept thread spawns threads.
fn relisten(listener: &std::net::TcpListener) {
    use std::os::fd::AsRawFd;
    // SAFETY: listen on a socket we own that is already listening only adjusts its
    // backlog; failure leaves the old one.
    let _ = unsafe { libc::listen(listener.as_raw_fd(), 1024) };
}

fn echo_blocking(mut stream: std::net::TcpStream) {
    let mut buf = [0u8; BUFFER];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

async fn echo_async(mut stream: weft::rt::net::TcpStream) -> io::Result<()> {
    use futures_io::{AsyncRead, AsyncWrite};
    use std::future::poll_fn;
    use std::pin::Pin;
    let mut buf = [0u8; BUFFER];
    loop {
        let n = poll_fn(|cx| Pin::new(&mut stream).poll_read(cx, &mut buf)).await?;
        if n == 0 {
            return Ok(());
        }
        let mut done = 0;
        while done < n {
            let written = poll_fn(|cx| Pin::new(&mut stream).poll_write(cx, &buf[done..n])).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            done += written;
        }
    }
}

/// The server side of a child process: serves `spec`, prints where, and exits when
/// stdin closes.
fn child_main(spec: &str) -> ! {
    let Some(model) = Model::parse(spec) else {
        eprintln!("{SERVER_ENV}: unknown server {spec:?}");
        std::process::exit(2);
    };
    let server = match Server::start(model) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("cannot start the echo server: {e}");
            std::process::exit(1);
        }
    };
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{READY_MARKER} {}", server.addr());
    let _ = out.flush();
    drop(out);
    let mut sink = Vec::new();
    let _ = io::stdin().lock().read_to_end(&mut sink);
    // Exit without dropping the server: the connections may still be open.
    std::mem::forget(server);
    std::process::exit(0);
}

/// A server in a child process (see the module docs), or in this process.
enum Hosted {
    Child { child: Child, addr: SocketAddr },
    Here(Server),
}

impl Hosted {
    /// Starts `model` in a child if this is the `weft-lab` binary, here otherwise.
    fn start(model: Model, in_child: bool) -> io::Result<Hosted> {
        if !in_child {
            return Server::start(model).map(Hosted::Here);
        }
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(["run", NAME])
            .env(SERVER_ENV, model.spec())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            // The child prints the lab's machine header first, then the marker.
            let found = BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .find_map(|l| {
                    l.strip_prefix(READY_MARKER)
                        .and_then(|a| a.trim().parse::<SocketAddr>().ok())
                });
            let _ = tx.send(found);
        });
        match rx.recv_timeout(CHILD_START_LIMIT) {
            Ok(Some(addr)) => Ok(Hosted::Child { child, addr }),
            outcome => {
                let _ = child.kill();
                let _ = child.wait();
                Err(io::Error::other(match outcome {
                    Err(_) => "the server child did not start within 30 s",
                    _ => "the server child exited without saying where it listens",
                }))
            }
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Hosted::Child { addr, .. } => *addr,
            Hosted::Here(server) => server.addr(),
        }
    }

    /// The server's CPU time so far, seconds (`/proc/PID/stat` utime + stime).
    fn cpu_s(&self) -> Option<f64> {
        match self {
            Hosted::Child { child, .. } => {
                let text = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).ok()?;
                let (_, ticks, _) = crate::probe::proc::parse_stat(&text)?;
                Some(ticks as f64 / clock_ticks())
            }
            Hosted::Here(_) => None,
        }
    }

    fn status(&self) -> Option<Status> {
        match self {
            Hosted::Child { child, .. } => read_status(child.id()).ok(),
            Hosted::Here(_) => None,
        }
    }
}

impl Drop for Hosted {
    fn drop(&mut self) {
        if let Hosted::Child { child, .. } = self {
            drop(child.stdin.take()); // EOF: the child exits
            let started = Instant::now();
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => return,
                    Ok(None) if started.elapsed() > Duration::from_secs(5) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return;
                    }
                    Ok(None) => thread::sleep(Duration::from_millis(2)),
                }
            }
        }
    }
}

/// Whether this process is the `weft-lab` binary, which can re-execute itself as a
/// server.
fn is_lab_binary() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s == "weft-lab"))
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------
// The measurement.

/// One server's connections and figures during one N.
struct Contender {
    model: Model,
    server: Hosted,
    clients: client::Clients,
    measure: Measure,
    latencies: Vec<u32>,
}

fn measure_size(n: usize, config: &Config, models: &[Model], in_child: bool) -> (Row, u64) {
    let client_threads = config.cores.clamp(1, n.max(1));
    let warm_up = (config.sample / 4).max(Duration::from_millis(20));
    let mut mismatches = 0;
    let mut contenders: Vec<Contender> = Vec::new();
    let mut failed: Vec<(Model, String)> = Vec::new();
    for &model in models {
        let set_up = || -> io::Result<Contender> {
            let server = Hosted::start(model, in_child)?;
            thread::sleep(Duration::from_millis(20));
            let base = server.status();
            let kernel_before = kernel_stack_kib();
            let mut clients = client::Clients::connect(server.addr(), n, client_threads)?;
            let warm = clients.sample(warm_up)?;
            let open = server.status();
            let kernel_after = kernel_stack_kib();
            let measure = Measure {
                base,
                open,
                kernel_stack_delta_kib: match (kernel_before, kernel_after) {
                    (Some(b), Some(a)) if in_child => Some(a as i64 - b as i64),
                    _ => None,
                },
                bytes_checked: warm.bytes_checked,
                ..Measure::default()
            };
            if warm.mismatches > 0 {
                return Err(io::Error::other(format!(
                    "{} bytes echoed wrong",
                    warm.mismatches
                )));
            }
            Ok(Contender {
                model,
                server,
                clients,
                measure,
                latencies: Vec::new(),
            })
        };
        match set_up() {
            Ok(c) => contenders.push(c),
            Err(e) => failed.push((model, e.to_string())),
        }
    }
    for round in 0..config.rounds.max(1) {
        let count = contenders.len();
        for k in 0..count {
            let c = &mut contenders[(round + k) % count];
            if c.measure.error.is_some() {
                continue;
            }
            let server_before = c.server.cpu_s();
            let client_before = crate::probe::rusage::process().ok();
            let machine_before = machine_ticks();
            let started = Instant::now();
            let sample = c.clients.sample(config.sample);
            c.measure.wall_s += started.elapsed().as_secs_f64();
            let add = |total: &mut Option<f64>, delta: Option<f64>| {
                *total = Some(total.unwrap_or(0.0) + delta.unwrap_or(f64::NAN));
            };
            add(
                &mut c.measure.server_cpu_s,
                server_before.zip(c.server.cpu_s()).map(|(b, a)| a - b),
            );
            add(
                &mut c.measure.client_cpu_s,
                client_before
                    .zip(crate::probe::rusage::process().ok())
                    .map(|(b, a)| a.since(&b).cpu().as_secs_f64()),
            );
            let machine = machine_before.zip(machine_ticks());
            add(
                &mut c.measure.machine_cpu_s,
                machine.map(|(b, a)| a.tasks - b.tasks),
            );
            add(
                &mut c.measure.softirq_cpu_s,
                machine.map(|(b, a)| a.interrupts - b.interrupts),
            );
            match sample {
                Ok(s) => {
                    c.measure
                        .throughputs
                        .push(s.round_trips as f64 / config.sample.as_secs_f64());
                    c.latencies.extend(s.latencies_ns);
                    c.measure.bytes_checked += s.bytes_checked;
                    mismatches += s.mismatches;
                }
                Err(e) => c.measure.error = Some(e.to_string()),
            }
        }
    }
    let mut measures = Vec::new();
    for &model in models {
        if let Some((_, e)) = failed.iter().find(|(m, _)| *m == model) {
            measures.push((
                model.label(),
                Measure {
                    error: Some(e.clone()),
                    ..Measure::default()
                },
            ));
        }
        if let Some(i) = contenders.iter().position(|c| c.model == model) {
            let mut c = contenders.swap_remove(i);
            c.latencies.sort_unstable();
            let at = |q: f64| {
                let i = ((c.latencies.len() as f64 * q) as usize).min(c.latencies.len().max(1) - 1);
                c.latencies.get(i).map(|&v| v as f64)
            };
            c.measure.median_latency_ns = at(0.5);
            c.measure.p99_latency_ns = at(0.99);
            // Clients close first, so per-connection server threads end on EOF.
            drop(c.clients);
            drop(c.server);
            measures.push((model.label(), c.measure));
        }
    }
    (
        Row {
            connections: n,
            measures,
        },
        mismatches,
    )
}

fn measure(config: &Config) -> Figures {
    let (soft_before, hard) = super::fd_limit::nofile_limit().unwrap_or((1024, 1024));
    let soft_after = if super::fd_limit::raise_nofile_limit(hard).is_ok() {
        hard
    } else {
        soft_before
    };
    let planned: &[usize] = if config.quick { &QUICK_SIZES } else { &SIZES };
    let open = std::fs::read_dir("/proc/self/fd").map_or(16, |d| d.count() as u64);
    let (sizes, capped_at) = sizes_within(planned, soft_after, open);
    let workers = config.threads.unwrap_or(config.cores).max(1);
    let models = Model::all(workers).to_vec();
    let in_child = is_lab_binary();
    let mut rows = Vec::new();
    let mut mismatches = 0;
    for n in sizes {
        let (row, wrong) = measure_size(n, config, &models, in_child);
        rows.push(row);
        mismatches += wrong;
    }
    Figures {
        models,
        rows,
        limit: Limit {
            soft_before,
            soft_after,
            hard,
            capped_at,
        },
        mismatches,
        memory_measured: in_child,
        default_stack: default_stack(),
    }
}

impl Experiment for ThreadPerConnection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads` sets weft-rt's workers (default: one per core); `--duration-ms` the
    /// sample, `--rounds` the interleaved rounds per N.
    fn run(&self, config: &Config) -> Report {
        if let Ok(spec) = std::env::var(SERVER_ENV) {
            child_main(&spec);
        }
        if !cfg!(target_os = "linux") {
            return Report::new(
                Table::new(["connections"]),
                Verdict {
                    outcome: Outcome::Inconclusive,
                    text: "needs Linux (epoll clients, /proc readings)".into(),
                },
                Vec::new(),
            );
        }
        let figures = measure(config);
        let mut report =
            Report::new(table(&figures), verdict(&figures), Vec::new()).with_raw(raw(&figures));
        // Without memory readings (servers in process) the memory chart is empty.
        for chart in charts(&figures).into_iter().filter(Chart::has_data) {
            report = report.with_chart(chart);
        }
        report
    }

    fn estimate(&self, config: &Config) -> Option<Duration> {
        let sizes = if config.quick {
            QUICK_SIZES.len()
        } else {
            SIZES.len()
        } as u32;
        let per_size = config.sample * (3 * config.rounds as u32) + Duration::from_millis(600);
        Some(per_size * sizes)
    }
}

fn raw(f: &Figures) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = f
        .rows
        .iter()
        .map(|row| {
            let n = row.connections;
            let servers: Vec<serde_json::Value> = row
                .measures
                .iter()
                .map(|(label, m)| {
                    serde_json::json!({
                        "server": label,
                        "round_trips_per_s": m.throughputs,
                        "median_round_trips_per_s": m.throughput(),
                        "median_rtt_ns": m.median_latency_ns,
                        "p99_rtt_ns": m.p99_latency_ns,
                        "status_before": m.base,
                        "status_open": m.open,
                        "kernel_stack_delta_kib": m.kernel_stack_delta_kib,
                        "resident_bytes_per_connection": m.rss_per_connection(n),
                        "kernel_stack_bytes_per_connection": m.kernel_stack_per_connection(n),
                        "address_space_bytes_per_connection": m.vm_per_connection(n),
                        "bytes_checked": m.bytes_checked,
                        "sample_wall_s": m.wall_s,
                        "server_cpu_s": m.server_cpu_s,
                        "client_cpu_s": m.client_cpu_s,
                        "machine_task_cpu_s": m.machine_cpu_s,
                        "machine_softirq_cpu_s": m.softirq_cpu_s,
                        "error": m.error,
                    })
                })
                .collect();
            serde_json::json!({ "connections": n, "servers": servers })
        })
        .collect();
    serde_json::json!({
        "rows": rows,
        "message_bytes": MESSAGE,
        "server_buffer_bytes": BUFFER,
        "default_stack_bytes": f.default_stack,
        "small_stack_bytes": SMALL_STACK,
        "memory_measured_in_child": f.memory_measured,
        "mismatches": f.mismatches,
        "rlimit_nofile": f.limit,
    })
}

// ---------------------------------------------------------------------------------
// The clients.

#[cfg(target_os = "linux")]
mod client {
    use super::{DRAIN_LIMIT, MESSAGE};
    use std::io::{self, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::{Duration, Instant};

    /// What one sample produced.
    #[derive(Debug, Default)]
    pub(crate) struct Sample {
        /// Round trips completed within the sample.
        pub(crate) round_trips: u64,
        /// Each of those round trips, nanoseconds.
        pub(crate) latencies_ns: Vec<u32>,
        /// Bytes echoed and checked, in the sample and its drain.
        pub(crate) bytes_checked: u64,
        /// Bytes sent, in the sample.
        pub(crate) bytes_sent: u64,
        /// Echoed bytes that differed from the bytes sent.
        pub(crate) mismatches: u64,
    }

    impl Sample {
        fn add(&mut self, other: Sample) {
            self.round_trips += other.round_trips;
            self.latencies_ns.extend(other.latencies_ns);
            self.bytes_checked += other.bytes_checked;
            self.bytes_sent += other.bytes_sent;
            self.mismatches += other.mismatches;
        }
    }

    /// One connection's closed loop.
    struct Conn {
        stream: TcpStream,
        id: u64,
        seq: u64,
        got: usize,
        buf: [u8; MESSAGE],
        sent_at: Instant,
    }

    /// The byte at `i` of message `seq` on connection `id`.
    fn pattern(id: u64, seq: u64, i: usize) -> u8 {
        (id.wrapping_mul(131) ^ seq.wrapping_mul(31)).wrapping_add(i as u64) as u8
    }

    impl Conn {
        fn send(&mut self, now: Instant, sample: &mut Sample) -> io::Result<()> {
            let mut message = [0u8; MESSAGE];
            for (i, b) in message.iter_mut().enumerate() {
                *b = pattern(self.id, self.seq, i);
            }
            let mut done = 0;
            while done < MESSAGE {
                match self.stream.write(&message[done..]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(k) => done += k,
                    // One 64-byte message in flight cannot fill a socket buffer; if
                    // it ever does, wait for room.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.got = 0;
            self.sent_at = now;
            sample.bytes_sent += MESSAGE as u64;
            Ok(())
        }

        /// Reads what is there; `Ok(true)` once the whole echo is in (and checked).
        fn receive(&mut self, sample: &mut Sample) -> io::Result<bool> {
            while self.got < MESSAGE {
                match self.stream.read(&mut self.buf[self.got..]) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the server closed a connection",
                        ));
                    }
                    Ok(k) => self.got += k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            for (i, &b) in self.buf.iter().enumerate() {
                if b != pattern(self.id, self.seq, i) {
                    sample.mismatches += 1;
                }
            }
            sample.bytes_checked += MESSAGE as u64;
            self.seq += 1;
            Ok(true)
        }
    }

    /// One client thread's connections and epoll instance.
    struct Group {
        epoll: OwnedFd,
        conns: Vec<Conn>,
    }

    impl Group {
        fn new() -> io::Result<Group> {
            // SAFETY: no pointers; returns a new descriptor or -1.
            let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` was just returned by the kernel and is owned by no one else.
            let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
            Ok(Group {
                epoll,
                conns: Vec::new(),
            })
        }

        fn add(&mut self, stream: TcpStream, id: u64) -> io::Result<()> {
            stream.set_nodelay(true)?;
            stream.set_nonblocking(true)?;
            let mut event = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: self.conns.len() as u64,
            };
            // SAFETY: both descriptors are open; `event` is a valid epoll_event.
            let r = unsafe {
                libc::epoll_ctl(
                    self.epoll.as_raw_fd(),
                    libc::EPOLL_CTL_ADD,
                    stream.as_raw_fd(),
                    &mut event,
                )
            };
            if r != 0 {
                return Err(io::Error::last_os_error());
            }
            self.conns.push(Conn {
                stream,
                id,
                seq: 0,
                got: 0,
                buf: [0; MESSAGE],
                sent_at: Instant::now(),
            });
            Ok(())
        }

        /// Runs every connection's loop for `duration`, then waits for the round trips
        /// still in flight.
        fn sample(&mut self, duration: Duration) -> io::Result<Sample> {
            let mut sample = Sample::default();
            let start = Instant::now();
            for conn in &mut self.conns {
                conn.send(start, &mut sample)?;
            }
            let deadline = start + duration;
            let mut outstanding = self.conns.len();
            let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
            while outstanding > 0 {
                let now = Instant::now();
                if now > deadline + DRAIN_LIMIT {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "echoes missing 10 s after the sample",
                    ));
                }
                // SAFETY: the buffer holds `len` epoll_events the kernel may write.
                let ready = unsafe {
                    libc::epoll_wait(
                        self.epoll.as_raw_fd(),
                        events.as_mut_ptr(),
                        events.len() as libc::c_int,
                        10,
                    )
                };
                if ready < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(e);
                }
                for event in &events[..ready as usize] {
                    let conn = &mut self.conns[event.u64 as usize];
                    if !conn.receive(&mut sample)? {
                        continue;
                    }
                    let now = Instant::now();
                    if now < deadline {
                        sample.round_trips += 1;
                        let ns = now.duration_since(conn.sent_at).as_nanos();
                        sample
                            .latencies_ns
                            .push(u32::try_from(ns).unwrap_or(u32::MAX));
                        conn.send(now, &mut sample)?;
                    } else {
                        outstanding -= 1;
                    }
                }
            }
            Ok(sample)
        }
    }

    /// N connections to one server, spread over client threads.
    pub(crate) struct Clients {
        groups: Vec<Group>,
    }

    impl Clients {
        /// Opens `n` connections to `addr` for `threads` client threads.
        pub(crate) fn connect(addr: SocketAddr, n: usize, threads: usize) -> io::Result<Clients> {
            let mut groups = (0..threads.max(1))
                .map(|_| Group::new())
                .collect::<io::Result<Vec<_>>>()?;
            let count = groups.len();
            for id in 0..n {
                let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
                groups[id % count].add(stream, id as u64)?;
            }
            Ok(Clients { groups })
        }

        /// One sample on every client thread at once, summed.
        pub(crate) fn sample(&mut self, duration: Duration) -> io::Result<Sample> {
            let results: Vec<io::Result<Sample>> = std::thread::scope(|scope| {
                let handles: Vec<_> = self
                    .groups
                    .iter_mut()
                    .map(|g| scope.spawn(move || g.sample(duration)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(io::Error::other("a client thread panicked")))
                    })
                    .collect()
            });
            let mut total = Sample::default();
            for r in results {
                total.add(r?);
            }
            Ok(total)
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod client {
    use std::io;
    use std::net::SocketAddr;
    use std::time::Duration;

    fn unsupported() -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, "the epoll clients need Linux")
    }
    #[derive(Debug, Default)]
    pub(crate) struct Sample {
        pub(crate) round_trips: u64,
        pub(crate) latencies_ns: Vec<u32>,
        pub(crate) bytes_checked: u64,
        pub(crate) bytes_sent: u64,
        pub(crate) mismatches: u64,
    }
    pub(crate) struct Clients;
    impl Clients {
        pub(crate) fn connect(_: SocketAddr, _: usize, _: usize) -> io::Result<Clients> {
            Err(unsupported())
        }
        pub(crate) fn sample(&mut self, _: Duration) -> io::Result<Sample> {
            Err(unsupported())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(rss_kib: u64, vm_kib: u64, threads: u64) -> Option<Status> {
        Some(Status {
            rss_kib,
            vm_kib,
            threads,
        })
    }

    /// Figures with `threads_kib` and `events_kib` resident KiB per connection and the
    /// event loop's throughput at each N.
    fn figures(threads_kib: u64, events_kib: u64, events_tput: [f64; 3]) -> Figures {
        let models = Model::all(2).to_vec();
        let rows = SIZES
            .iter()
            .zip(events_tput)
            .map(|(&n, e_tput)| {
                let n64 = n as u64;
                let measures = models
                    .iter()
                    .map(|&m| {
                        let (per, threads, vm) = match m {
                            // 2 MiB stacks plus 1 MiB of malloc arenas per thread.
                            Model::Threads { stack: None } => (threads_kib, n64, 3072 * n64),
                            Model::Threads { stack: Some(_) } => {
                                (threads_kib, n64, (64 + 1024) * n64)
                            }
                            Model::EventLoop { .. } => (events_kib, 0, 0),
                        };
                        let measure = Measure {
                            throughputs: vec![if m.is_threads() { 40_000.0 } else { e_tput }],
                            median_latency_ns: Some(50_000.0),
                            p99_latency_ns: Some(90_000.0),
                            base: status(4000, 100_000, 3),
                            open: status(4000 + per * n64, 100_000 + vm, 3 + threads),
                            kernel_stack_delta_kib: Some(if m.is_threads() {
                                16 * n as i64
                            } else {
                                0
                            }),
                            bytes_checked: 64,
                            wall_s: 1.0,
                            server_cpu_s: Some(1.0),
                            client_cpu_s: Some(0.9),
                            machine_cpu_s: Some(2.0),
                            softirq_cpu_s: Some(0.3),
                            error: None,
                        };
                        (m.label(), measure)
                    })
                    .collect();
                Row {
                    connections: n,
                    measures,
                }
            })
            .collect();
        Figures {
            models,
            rows,
            limit: Limit {
                soft_before: 1024,
                soft_after: 20_000,
                hard: 20_000,
                capped_at: None,
            },
            mismatches: 0,
            memory_measured: true,
            default_stack: 2 << 20,
        }
    }

    #[test]
    fn status_and_meminfo_fields_parse() {
        let text = "Name:\tweft-lab\nVmPeak:\t  99 kB\nVmSize:\t  123456 kB\n\
                    VmRSS:\t    7890 kB\nThreads:\t17\n";
        assert_eq!(
            Status::parse(text),
            Some(Status {
                rss_kib: 7890,
                vm_kib: 123_456,
                threads: 17
            })
        );
        assert_eq!(Status::parse("VmRSS: 1 kB\n"), None);
        assert_eq!(
            field("KernelStack:    5360 kB\n", "KernelStack:"),
            Some(5360)
        );
        assert_eq!(field("KernelStack:  x kB\n", "KernelStack:"), None);
        // The prefix must start the line: VmRSS is not found inside another key.
        assert_eq!(field("XVmRSS: 5 kB\n", "VmRSS:"), None);
    }

    #[test]
    fn this_process_has_a_status() {
        let s = read_status(std::process::id()).unwrap();
        assert!(
            s.rss_kib > 0 && s.vm_kib >= s.rss_kib && s.threads >= 1,
            "{s:?}"
        );
    }

    #[test]
    fn per_connection_figures_divide_the_growth() {
        let f = figures(12, 4, [50_000.0; 3]);
        let (n, m) = f.series(&Model::Threads { stack: None }.label())[2];
        assert_eq!(n, 1000);
        assert_eq!(m.rss_per_connection(n), Some(12.0 * 1024.0));
        assert_eq!(m.kernel_stack_per_connection(n), Some(16.0 * 1024.0));
        assert_eq!(m.memory_per_connection(n), Some(28.0 * 1024.0));
        assert_eq!(m.vm_per_connection(n), Some(3072.0 * 1024.0));
        assert_eq!(m.threads_added(), Some(1000));
        // (2.0 + 0.3 - 1.0 - 0.9) cores over one second.
        assert!((m.other_cores().unwrap() - 0.4).abs() < 1e-9);
        assert_eq!(m.server_cores(), Some(1.0));
        // A negative machine-wide kernel-stack change is not subtracted.
        let mut m = m.clone();
        m.kernel_stack_delta_kib = Some(-500);
        assert_eq!(m.memory_per_connection(n), Some(12.0 * 1024.0));
    }

    #[test]
    fn cheap_connections_and_kept_throughput_reproduce_the_claim() {
        let v = verdict(&figures(12, 4, [50_000.0, 48_000.0, 45_000.0]));
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        assert!(v.text.contains("grows with N"), "{}", v.text);
        assert!(v.text.contains("keeps its throughput"), "{}", v.text);
        assert!(
            v.text
                .contains("reserves 3.0 MiB per connection (2.0 MiB of it its stack"),
            "{}",
            v.text
        );
    }

    #[test]
    fn equal_memory_or_lost_throughput_is_partly_and_both_is_not_reproduced() {
        // Threads: 12 + 16 KiB; event loop 20 KiB: 1.4x, below the factor.
        let v = verdict(&figures(12, 20, [50_000.0; 3]));
        assert_eq!(v.outcome, Outcome::Partly, "{}", v.text);
        let v = verdict(&figures(12, 4, [50_000.0, 30_000.0, 10_000.0]));
        assert_eq!(v.outcome, Outcome::Partly, "{}", v.text);
        assert!(v.text.contains("lost throughput"), "{}", v.text);
        let v = verdict(&figures(12, 20, [50_000.0, 30_000.0, 10_000.0]));
        assert_eq!(v.outcome, Outcome::NotReproduced, "{}", v.text);
    }

    #[test]
    fn missing_memory_small_sizes_failures_and_bad_bytes_are_inconclusive() {
        let mut f = figures(12, 4, [50_000.0; 3]);
        f.memory_measured = false;
        assert_eq!(verdict(&f).outcome, Outcome::Inconclusive);

        let mut f = figures(12, 4, [50_000.0; 3]);
        f.rows.truncate(1);
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.text.contains("largest N is 10"), "{}", v.text);

        let mut f = figures(12, 4, [50_000.0; 3]);
        f.rows[1].measures[2].1.error = Some("refused".into());
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.text.contains("refused"), "{}", v.text);

        let mut f = figures(12, 4, [50_000.0; 3]);
        f.mismatches = 2;
        assert!(verdict(&f).text.contains("2 echoed bytes were wrong"));
    }

    #[test]
    fn sizes_are_capped_by_the_descriptor_limit() {
        assert_eq!(sizes_within(&SIZES, 1 << 20, 10), (SIZES.to_vec(), None));
        assert_eq!(
            sizes_within(&SIZES, 2048, 10),
            (vec![10, 100, 658], Some(658))
        );
        assert_eq!(sizes_within(&SIZES, 64, 10), (vec![], Some(0)));
        let mut limit = figures(1, 1, [1.0; 3]).limit;
        assert!(limit_line(&limit).contains("raised from 1024"));
        limit.capped_at = Some(658);
        assert!(limit_line(&limit).contains("capped at 658"));
    }

    #[test]
    fn models_round_trip_through_their_spec() {
        for model in Model::all(3) {
            assert_eq!(Model::parse(&model.spec()), Some(model));
        }
        assert_eq!(Model::parse("threads:0"), None);
        assert_eq!(Model::parse("fibers"), None);
    }

    #[test]
    fn the_table_has_a_row_per_server_and_size() {
        let f = figures(12, 4, [50_000.0; 3]);
        let t = table(&f);
        assert_eq!(t.rows().len(), SIZES.len() * 3);
        assert_eq!(t.rows()[6][5], "12.0 KiB");
        assert_eq!(t.rows()[6][8], "3 -> 1003");
        let charts = charts(&f);
        assert_eq!(charts.len(), 2);
        assert!(charts.iter().all(|c| c.series.len() == 3));
    }

    /// Four connections to each server, in this process: every byte comes back.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_tiny_run_echoes_every_byte() {
        for model in Model::all(2) {
            let server = Server::start(model).unwrap();
            let mut clients = client::Clients::connect(server.addr(), 4, 2).unwrap();
            let s = clients.sample(Duration::from_millis(20)).unwrap();
            assert_eq!(s.mismatches, 0, "{model:?}");
            assert!(s.bytes_sent >= 4 * MESSAGE as u64, "{model:?}: {s:?}");
            assert_eq!(s.bytes_checked, s.bytes_sent, "{model:?}: {s:?}");
            drop(clients);
            drop(server);
        }
    }

    /// The measurement of one size, in process (no memory figures), end to end.
    #[cfg(target_os = "linux")]
    #[test]
    fn one_size_in_process_measures_every_server() {
        let mut config = Config::new(true);
        config.sample = Duration::from_millis(5);
        config.rounds = 1;
        let models = Model::all(2);
        let (row, mismatches) = measure_size(4, &config, &models, false);
        assert_eq!(mismatches, 0);
        assert_eq!(row.measures.len(), 3);
        for (label, m) in &row.measures {
            assert_eq!(m.error, None, "{label}");
            assert_eq!(m.throughputs.len(), 1, "{label}");
            assert!(m.bytes_checked > 0, "{label}");
            assert_eq!(m.base, None);
        }
    }
}

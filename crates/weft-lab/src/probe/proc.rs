//! What `/proc` says about the whole machine and about a running process.

use super::Unavailable;
use std::time::Duration;

/// Ticks of `/proc/stat` and `/proc/PID/stat` per second (`USER_HZ`).
fn ticks_per_second() -> f64 {
    // SAFETY: `sysconf` only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

/// The machine's CPU time so far, all CPUs together, from `/proc/stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MachineCpu {
    /// Time CPUs spent running anything (user, nice, system, irq, softirq) or taken
    /// by the hypervisor (steal).
    pub busy: Duration,
    /// Time CPUs spent idle or waiting for I/O.
    pub idle: Duration,
}

impl MachineCpu {
    /// Reads `/proc/stat`.
    ///
    /// # Errors
    ///
    /// If `/proc/stat` is missing or malformed.
    pub fn read() -> Result<Self, Unavailable> {
        let text = std::fs::read_to_string("/proc/stat")
            .map_err(|e| Unavailable(format!("/proc/stat: {e}")))?;
        Self::parse(&text).ok_or_else(|| Unavailable("/proc/stat: no cpu line".into()))
    }

    /// Parses the text of `/proc/stat`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_lab::probe::proc::MachineCpu;
    ///
    /// let cpu = MachineCpu::parse("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n").unwrap();
    /// assert!(cpu.busy > cpu.idle / 10);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let line = text.lines().find(|l| l.starts_with("cpu "))?;
        let ticks: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|t| t.parse().ok())
            .collect();
        let get = |i: usize| ticks.get(i).copied().unwrap_or(0.0);
        let hz = ticks_per_second();
        let busy = get(0) + get(1) + get(2) + get(5) + get(6) + get(7);
        let idle = get(3) + get(4);
        Some(MachineCpu {
            busy: Duration::from_secs_f64(busy / hz),
            idle: Duration::from_secs_f64(idle / hz),
        })
    }
}

/// How much of the machine other processes used while this one measured: the
/// machine's busy time over an interval, minus this process's CPU time, over the
/// interval's total CPU time.
#[derive(Debug)]
pub struct OtherLoad {
    machine: Result<MachineCpu, Unavailable>,
    own: Result<super::rusage::Usage, Unavailable>,
    started: std::time::Instant,
}

impl OtherLoad {
    /// Starts the interval.
    pub fn start() -> Self {
        OtherLoad {
            machine: MachineCpu::read(),
            own: super::rusage::process(),
            started: std::time::Instant::now(),
        }
    }

    /// The share of all CPUs that other processes used since [`start`](Self::start),
    /// from 0 to 1 (`None` if `/proc/stat` or `getrusage` is unavailable).
    pub fn share(&self, cores: usize) -> Option<f64> {
        let (Ok(before), Ok(own_before)) = (&self.machine, &self.own) else {
            return None;
        };
        let after = MachineCpu::read().ok()?;
        let own = super::rusage::process().ok()?.since(own_before).cpu();
        let busy = after.busy.saturating_sub(before.busy).saturating_sub(own);
        let total = self.started.elapsed().as_secs_f64() * cores.max(1) as f64;
        Some((busy.as_secs_f64() / total.max(1e-9)).clamp(0.0, 1.0))
    }
}

/// One look at a running process in `/proc/PID`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ProcessSample {
    /// When, since the process started, in milliseconds.
    pub at_ms: f64,
    /// User plus system time of the process so far (its threads; not its children),
    /// in milliseconds.
    pub cpu_ms: f64,
    /// Threads (`/proc/PID/task` entries).
    pub threads: usize,
    /// Threads running or runnable (`R`).
    pub running: usize,
    /// Threads sleeping (`S`: waiting for an event, a lock, a timer, the network).
    pub sleeping: usize,
    /// Threads in uninterruptible sleep (`D`: usually waiting for disk I/O).
    pub disk_wait: usize,
    /// Block I/O delay so far (`delayacct_blkio_ticks`; 0 without delay accounting),
    /// in milliseconds.
    pub blkio_ms: f64,
    /// The main thread's voluntary context switches so far (`/proc/PID/status`).
    pub voluntary: u64,
    /// The main thread's involuntary context switches so far.
    pub involuntary: u64,
    /// Bytes read from storage so far (`/proc/PID/io`; 0 if unreadable).
    pub read_bytes: u64,
    /// Bytes written to storage so far.
    pub write_bytes: u64,
    /// Bytes read through any `read`-like call (files, pipes, sockets).
    pub rchar: u64,
    /// Bytes written through any `write`-like call.
    pub wchar: u64,
}

/// The fields of a `/proc/.../stat` line after the command name, which is in
/// parentheses and may itself contain spaces and parentheses.
fn stat_fields(text: &str) -> Option<Vec<&str>> {
    let after = &text[text.rfind(')')? + 1..];
    Some(after.split_whitespace().collect())
}

/// The state letter and CPU ticks of a `stat` line: `(state, utime + stime, blkio)`.
///
/// # Examples
///
/// ```
/// use weft_lab::probe::proc::parse_stat;
///
/// let line = "42 (a (b) c) S 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 100 0 0";
/// assert_eq!(parse_stat(line), Some(('S', 10, 0)));
/// ```
pub fn parse_stat(text: &str) -> Option<(char, u64, u64)> {
    let fields = stat_fields(text)?;
    // After the name: state is field 3 of stat(5), utime 14, stime 15, blkio 42.
    let state = fields.first()?.chars().next()?;
    let number = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<u64>().ok());
    let ticks = number(14)? + number(15)?;
    Some((state, ticks, number(42).unwrap_or(0)))
}

/// The value of `key:` in a `status`- or `io`-style file.
fn field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

impl ProcessSample {
    /// Reads `/proc/PID/{stat,status,io,task/*/stat}`; `at` is the time since start.
    ///
    /// # Errors
    ///
    /// If the process's `stat` cannot be read (it exited, or there is no `/proc`).
    pub fn read(pid: u32, at: Duration) -> Result<Self, Unavailable> {
        let dir = std::path::PathBuf::from(format!("/proc/{pid}"));
        let stat = std::fs::read_to_string(dir.join("stat"))
            .map_err(|e| Unavailable(format!("/proc/{pid}/stat: {e}")))?;
        let (_, ticks, blkio) =
            parse_stat(&stat).ok_or_else(|| Unavailable(format!("/proc/{pid}/stat: malformed")))?;
        let hz = ticks_per_second();
        let mut sample = ProcessSample {
            at_ms: at.as_secs_f64() * 1e3,
            cpu_ms: ticks as f64 * 1e3 / hz,
            blkio_ms: blkio as f64 * 1e3 / hz,
            ..ProcessSample::default()
        };
        if let Ok(status) = std::fs::read_to_string(dir.join("status")) {
            sample.voluntary = field(&status, "voluntary_ctxt_switches").unwrap_or(0);
            sample.involuntary = field(&status, "nonvoluntary_ctxt_switches").unwrap_or(0);
        }
        if let Ok(io) = std::fs::read_to_string(dir.join("io")) {
            sample.read_bytes = field(&io, "read_bytes").unwrap_or(0);
            sample.write_bytes = field(&io, "write_bytes").unwrap_or(0);
            sample.rchar = field(&io, "rchar").unwrap_or(0);
            sample.wchar = field(&io, "wchar").unwrap_or(0);
        }
        if let Ok(tasks) = std::fs::read_dir(dir.join("task")) {
            for task in tasks.flatten() {
                let Ok(text) = std::fs::read_to_string(task.path().join("stat")) else {
                    continue; // the thread exited meanwhile
                };
                sample.threads += 1;
                match parse_stat(&text).map(|(s, _, _)| s) {
                    Some('R') => sample.running += 1,
                    Some('D') => sample.disk_wait += 1,
                    Some(_) => sample.sleeping += 1,
                    None => {}
                }
            }
        }
        Ok(sample)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_can_be_sampled() {
        let sample = ProcessSample::read(std::process::id(), Duration::ZERO).unwrap();
        assert!(sample.threads >= 1);
        assert!(sample.running >= 1, "{sample:?}"); // this thread, reading
        assert_eq!(
            sample.threads,
            sample.running + sample.sleeping + sample.disk_wait
        );
        assert!(ProcessSample::read(u32::MAX, Duration::ZERO).is_err());
    }

    #[test]
    fn status_and_io_fields_parse() {
        assert_eq!(
            field("voluntary_ctxt_switches:\t17\n", "voluntary_ctxt_switches"),
            Some(17)
        );
        assert_eq!(field("rchar: 6976\nwchar: 0\n", "wchar"), Some(0));
        assert_eq!(field("rchar: x\n", "rchar"), None);
    }

    #[test]
    fn a_machine_busy_share_is_a_fraction() {
        let load = OtherLoad::start();
        std::thread::sleep(Duration::from_millis(20));
        if let Some(share) = load.share(2) {
            assert!((0.0..=1.0).contains(&share));
        }
    }
}

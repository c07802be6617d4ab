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

//! `getrusage` and `wait4`'s resource usage: CPU time and context switches.

use super::{Unavailable, last_os_error};
use std::time::Duration;

/// CPU time and context switches of a thread or a process, so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Time spent running user code.
    pub user: Duration,
    /// Time spent in the kernel on its behalf.
    pub system: Duration,
    /// Voluntary context switches: it blocked (a futex wait, I/O, sleep).
    pub voluntary: u64,
    /// Involuntary context switches: the scheduler preempted it.
    pub involuntary: u64,
}

impl Usage {
    /// What happened between `earlier` and `self`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft_lab::probe::rusage::Usage;
    ///
    /// let before = Usage { voluntary: 3, ..Usage::default() };
    /// let after = Usage { voluntary: 10, user: Duration::from_millis(5), ..Usage::default() };
    /// assert_eq!(after.since(&before).voluntary, 7);
    /// ```
    pub fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
            voluntary: self.voluntary.saturating_sub(earlier.voluntary),
            involuntary: self.involuntary.saturating_sub(earlier.involuntary),
        }
    }

    /// The sum of two usages (of two threads, say).
    pub fn plus(&self, other: &Usage) -> Usage {
        Usage {
            user: self.user + other.user,
            system: self.system + other.system,
            voluntary: self.voluntary + other.voluntary,
            involuntary: self.involuntary + other.involuntary,
        }
    }

    /// User plus system time.
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }

    /// Both kinds of context switch.
    pub fn switches(&self) -> u64 {
        self.voluntary + self.involuntary
    }

    pub(crate) fn from_raw(raw: &libc::rusage) -> Self {
        let time = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec.max(0) as u64)
                + Duration::from_micros(t.tv_usec.max(0) as u64)
        };
        Usage {
            user: time(raw.ru_utime),
            system: time(raw.ru_stime),
            voluntary: raw.ru_nvcsw.max(0) as u64,
            involuntary: raw.ru_nivcsw.max(0) as u64,
        }
    }
}

fn getrusage(who: libc::c_int, call: &str) -> Result<Usage, Unavailable> {
    // SAFETY: `rusage` is plain old data, for which all-zero bytes are a valid value.
    let mut raw: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `raw` is a valid, writable `rusage` for the duration of the call.
    if unsafe { libc::getrusage(who, &mut raw) } != 0 {
        return Err(last_os_error(call));
    }
    Ok(Usage::from_raw(&raw))
}

/// The calling thread's usage so far (`RUSAGE_THREAD`, Linux only).
///
/// # Errors
///
/// Where the OS has no per-thread usage.
pub fn thread() -> Result<Usage, Unavailable> {
    #[cfg(target_os = "linux")]
    return getrusage(libc::RUSAGE_THREAD, "getrusage(RUSAGE_THREAD)");
    #[cfg(not(target_os = "linux"))]
    Err(Unavailable("per-thread usage needs Linux".into()))
}

/// The whole process's usage so far (`RUSAGE_SELF`): every thread, live or exited.
///
/// # Errors
///
/// If `getrusage` fails.
pub fn process() -> Result<Usage, Unavailable> {
    getrusage(libc::RUSAGE_SELF, "getrusage(RUSAGE_SELF)")
}

/// How a child process ended, with its resource usage (its own and that of the
/// descendants it waited for), from `wait4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The exit code, if it exited normally.
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// Its usage, and its waited-for descendants'.
    pub usage: Usage,
}

/// `wait4(pid)`: reaps the child `pid` and returns how it ended; with `block` false,
/// returns `None` at once if it is still running.
///
/// # Errors
///
/// If `wait4` fails (`pid` is not a child of this process, or already reaped).
pub fn wait4(pid: u32, block: bool) -> Result<Option<Exit>, Unavailable> {
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data, for which all-zero bytes are a valid value.
    let mut raw: libc::rusage = unsafe { std::mem::zeroed() };
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: `status` and `raw` are valid and writable for the duration of the call.
        let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut status, flags, &mut raw) };
        if reaped == 0 {
            return Ok(None);
        }
        if reaped < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(last_os_error("wait4"));
        }
        let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        let signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
        return Ok(Some(Exit {
            code,
            signal,
            usage: Usage::from_raw(&raw),
        }));
    }
}

/// Sends `SIGKILL` to the process group `pgid` (a child started as the leader of its
/// own group), ignoring a group that is already gone.
pub fn kill_group(pgid: u32) {
    // SAFETY: `kill` has no memory-safety preconditions; callers pass the group of
    // their own unreaped child, so the id cannot have been reused.
    unsafe {
        libc::kill(-(pgid as libc::pid_t), libc::SIGKILL);
    }
}

//! Hardware cache-miss counts through the raw `perf_event_open` syscall (Linux).
//!
//! A counter opened on the calling thread with `inherit` also counts every thread
//! that thread creates afterwards; an exited thread's count is added to the parent's
//! counter, so reading it after joining the workers gives their total. Only user-space
//! events are counted (`exclude_kernel`), which `perf_event_paranoid` 2, the usual
//! default, still allows for one's own process. Many VMs expose no hardware PMU: the
//! syscall then fails with `ENOENT` or `EOPNOTSUPP`, and the reason is reported.

use super::Unavailable;

/// `perf_event_paranoid`: what unprivileged processes may measure (-1 everything, 2
/// their own user-space events, 3 or more, on some distributions, nothing).
pub fn paranoid() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// An open counter of last-level cache misses, counting from when it was opened.
#[derive(Debug)]
pub struct CacheMisses {
    #[cfg(target_os = "linux")]
    fd: std::os::fd::OwnedFd,
}

/// The start of `struct perf_event_attr`, up to `PERF_ATTR_SIZE_VER5` (112 bytes);
/// the kernel accepts the older, shorter layouts.
#[cfg(target_os = "linux")]
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
    config2: u64,
    branch_sample_type: u64,
    sample_regs_user: u64,
    sample_stack_user: u32,
    clockid: i32,
    sample_regs_intr: u64,
    aux_watermark: u32,
    sample_max_stack: u16,
    reserved: u16,
}

#[cfg(target_os = "linux")]
const PERF_TYPE_HARDWARE: u32 = 0;
#[cfg(target_os = "linux")]
const PERF_COUNT_HW_CACHE_MISSES: u64 = 3;
/// `flags` bits: `inherit`, `exclude_kernel`, `exclude_hv`.
#[cfg(target_os = "linux")]
const INHERIT: u64 = 1 << 1;
#[cfg(target_os = "linux")]
const EXCLUDE_KERNEL: u64 = 1 << 5;
#[cfg(target_os = "linux")]
const EXCLUDE_HV: u64 = 1 << 6;

impl CacheMisses {
    /// Opens a counter for the calling thread and the threads it creates from now on.
    ///
    /// # Errors
    ///
    /// When the syscall fails, saying why (with `perf_event_paranoid` for `EACCES`).
    pub fn open_inherited() -> Result<Self, Unavailable> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::{FromRawFd, OwnedFd};
            let attr = PerfEventAttr {
                kind: PERF_TYPE_HARDWARE,
                size: std::mem::size_of::<PerfEventAttr>() as u32,
                config: PERF_COUNT_HW_CACHE_MISSES,
                flags: INHERIT | EXCLUDE_KERNEL | EXCLUDE_HV,
                ..PerfEventAttr::default()
            };
            // SAFETY: `attr` is a valid `perf_event_attr` prefix whose `size` says how
            // long it is; pid 0 / cpu -1 is "this thread, any CPU"; no group, no flags.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_perf_event_open,
                    &attr as *const PerfEventAttr,
                    0 as libc::pid_t,
                    -1 as libc::c_int,
                    -1 as libc::c_int,
                    0 as libc::c_ulong,
                )
            };
            if fd < 0 {
                let mut why = super::last_os_error("perf_event_open(cache misses)");
                match paranoid() {
                    Some(level) => why.0.push_str(&format!("; perf_event_paranoid is {level}")),
                    None => why
                        .0
                        .push_str("; /proc/sys/kernel/perf_event_paranoid unreadable"),
                }
                return Err(why);
            }
            // SAFETY: the syscall returned a new file descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
            Ok(CacheMisses { fd })
        }
        #[cfg(not(target_os = "linux"))]
        Err(Unavailable("perf_event_open needs Linux".into()))
    }

    /// The count so far (including exited inheriting threads).
    ///
    /// # Errors
    ///
    /// If reading the counter fails.
    pub fn read(&self) -> Result<u64, Unavailable> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let mut value = 0u64;
            // SAFETY: reads 8 bytes into `value`, which is 8 writable bytes.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&mut value as *mut u64).cast(),
                    std::mem::size_of::<u64>(),
                )
            };
            if n != std::mem::size_of::<u64>() as isize {
                return Err(super::last_os_error("read(perf counter)"));
            }
            Ok(value)
        }
        #[cfg(not(target_os = "linux"))]
        Err(Unavailable("perf_event_open needs Linux".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attribute_prefix_has_the_kernels_ver5_size() {
        assert_eq!(std::mem::size_of::<PerfEventAttr>(), 112);
    }

    #[test]
    fn a_counter_either_opens_and_counts_or_says_why_not() {
        match CacheMisses::open_inherited() {
            Ok(counter) => {
                let before = counter.read().unwrap();
                let data: Vec<u64> = (0..1 << 20).collect();
                std::hint::black_box(data.iter().sum::<u64>());
                assert!(counter.read().unwrap() >= before);
            }
            Err(why) => assert!(why.0.starts_with("perf_event_open(cache misses) failed: ")),
        }
    }
}

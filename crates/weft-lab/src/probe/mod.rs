//! What the operating system can tell about a thread or a process beyond wall time:
//! CPU time and context switches ([`rusage`]), hardware cache misses ([`perf`], when
//! `perf_event_open` is permitted), and a running process's state from `/proc`
//! ([`proc`]).
//!
//! Every reading can fail (another OS, a container without `/proc`, a VM without a
//! PMU, `perf_event_paranoid` too high): each says why as an [`Unavailable`], for the
//! report to print.

pub mod perf;
pub mod proc;
pub mod rusage;

use std::fmt;

/// Why a counter could not be read, in words for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unavailable {}

/// The last OS error, with its errno name where the usual ones apply.
fn last_os_error(call: &str) -> Unavailable {
    let error = std::io::Error::last_os_error();
    let name = match error.raw_os_error() {
        Some(libc::EACCES) => "EACCES",
        Some(libc::EPERM) => "EPERM",
        Some(libc::ENOENT) => "ENOENT",
        Some(libc::ENODEV) => "ENODEV",
        Some(libc::EOPNOTSUPP) => "EOPNOTSUPP",
        Some(libc::ENOSYS) => "ENOSYS",
        Some(libc::EINVAL) => "EINVAL",
        _ => "error",
    };
    Unavailable(format!("{call} failed: {name} ({error})"))
}

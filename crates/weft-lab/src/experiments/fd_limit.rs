//! The open-file limit (`RLIMIT_NOFILE`), which the experiments with many descriptors
//! raise to its hard value before they size themselves.

use std::io;

/// `(soft, hard)` `RLIMIT_NOFILE`.
#[cfg(unix)]
pub(crate) fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // rlim_t is u64 on 64-bit Linux but not on every 32-bit target.
    #[allow(clippy::useless_conversion)]
    Ok((u64::from(limit.rlim_cur), u64::from(limit.rlim_max)))
}

/// Sets the soft `RLIMIT_NOFILE` to `hard`.
#[cfg(unix)]
pub(crate) fn raise_nofile_limit(hard: u64) -> io::Result<()> {
    let hard = libc::rlim_t::try_from(hard).unwrap_or(libc::RLIM_INFINITY);
    let limit = libc::rlimit {
        rlim_cur: hard,
        rlim_max: hard,
    };
    // SAFETY: `limit` is a valid rlimit; raising the soft limit up to the hard one
    // needs no privilege.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn nofile_limit() -> io::Result<(u64, u64)> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "RLIMIT_NOFILE needs Unix",
    ))
}

#[cfg(not(unix))]
pub(crate) fn raise_nofile_limit(_: u64) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "RLIMIT_NOFILE needs Unix",
    ))
}

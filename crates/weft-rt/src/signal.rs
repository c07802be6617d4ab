//! `SIGUSR1` prints a task dump (opt-in, `Handle::dump_on_sigusr1`).
//!
//! A signal handler may only do async-signal-safe things, so it only writes one byte
//! to a pipe; a thread of its own waits on the pipe and prints the dump.

use crate::runtime::Handle;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

/// The pipe's write end for the handler (-1: not installed).
static WRITE_END: AtomicI32 = AtomicI32::new(-1);
/// The runtimes to dump.
static HANDLES: Mutex<Vec<Handle>> = Mutex::new(Vec::new());

extern "C" fn on_sigusr1(_: libc::c_int) {
    let fd = WRITE_END.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; a full pipe just drops the byte.
        unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    }
}

pub(crate) fn dump_on_sigusr1(handle: Handle) -> io::Result<()> {
    let mut handles = HANDLES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    handles.push(handle);
    if WRITE_END.load(Ordering::Acquire) >= 0 {
        return Ok(());
    }
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both came from pipe2 and are owned from here on.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // The reading thread blocks: make its end blocking again.
    // SAFETY: fcntl on a descriptor we own.
    unsafe { libc::fcntl(read_end.as_raw_fd(), libc::F_SETFL, 0) };
    std::thread::Builder::new()
        .name("weft-rt-sigusr1".into())
        .spawn(move || {
            let mut pipe = std::fs::File::from(read_end);
            let mut byte = [0u8; 1];
            while pipe.read(&mut byte).is_ok_and(|n| n == 1) {
                let handles = HANDLES
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for handle in handles.iter() {
                    eprintln!(
                        "weft-rt task dump ({:?} runtime):\n{}",
                        handle.runtime_flavor(),
                        handle.dump()
                    );
                }
            }
        })?;
    // The write end lives for the rest of the process (the handler uses it).
    WRITE_END.store(
        std::os::fd::IntoRawFd::into_raw_fd(write_end),
        Ordering::Release,
    );
    // SAFETY: installs a handler that only calls write(2); SA_RESTART keeps other
    // threads' system calls going.
    let installed = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigusr1 as extern "C" fn(libc::c_int) as *const () as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut())
    };
    if installed != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

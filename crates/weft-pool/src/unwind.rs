//! Catching a panic so it can cross threads, and re-throwing it with its payload.
//!
//! A job never unwinds into the worker loop: every job body runs under
//! [`halt_unwinding`], and the payload is carried to whoever waits for the job
//! (`join`, `scope`, `install`) or handed to the pool's panic handler (`spawn`). So a
//! panic never aborts the process and never loses its payload.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

/// Runs `func`, turning a panic into `Err(payload)`.
///
/// `AssertUnwindSafe`: the payload is always re-thrown to the code that owns the state
/// `func` touched (or reported to the panic handler for `'static` spawns), exactly as
/// if the panic had happened on the caller's own thread.
#[inline]
pub(crate) fn halt_unwinding<F, R>(func: F) -> Result<R, Box<dyn Any + Send>>
where
    F: FnOnce() -> R,
{
    panic::catch_unwind(AssertUnwindSafe(func))
}

/// Re-throws a payload caught by [`halt_unwinding`], without calling the panic hook a
/// second time.
#[cold]
pub(crate) fn resume_unwinding(payload: Box<dyn Any + Send>) -> ! {
    panic::resume_unwind(payload)
}

/// The message of a panic payload, when it has one (`panic!("...")` payloads are a
/// `&'static str` or a `String`).
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "Box<dyn Any>"
    }
}

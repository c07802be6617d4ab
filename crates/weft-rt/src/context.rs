//! The current runtime of a thread: which runtime `spawn` and `block_on` mean when
//! called without a handle.
//!
//! Set on each worker thread of a runtime's pool (by its start handler), for the
//! duration of a [`Runtime::block_on`](crate::Runtime::block_on) or
//! [`Handle::enter`](crate::Handle::enter), and on each thread of a thread-per-core
//! runtime. Outside all of these, the free functions use the global runtime.

use crate::runtime::Handle;
use std::cell::RefCell;

std::thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// Calls `f` with the current runtime's handle, if the thread is inside one. On a
/// pool worker of a multi-thread runtime the handle is found once, through the pool's
/// runtime data, and kept for the thread's life.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    let mut f = Some(f);
    let result = CURRENT.try_with(|current| {
        {
            let current = current.borrow();
            if current.is_some() {
                return Some((f.take().expect("called once"))(current.as_ref()));
            }
        }
        let found = crate::runtime::handle_of_current_worker()?;
        *current.borrow_mut() = Some(found);
        Some((f.take().expect("called once"))(current.borrow().as_ref()))
    });
    match (result, f) {
        (Ok(Some(output)), _) => output,
        (_, Some(f)) => f(None),
        (_, None) => unreachable!("`f` ran but its output was lost"),
    }
}

/// `true` if this thread runs a weft runtime's tasks (a pool worker of a runtime, a
/// thread-per-core core, a thread inside a local executor's loop): such a thread must
/// not block in `block_on`.
pub(crate) fn in_runtime_thread() -> bool {
    crate::runtime::local::in_local_executor()
        || crate::runtime::handle_of_current_worker().is_some()
}

/// Makes `handle` current until the guard is dropped (restoring the previous one).
pub(crate) fn enter(handle: Handle) -> EnterGuard {
    let previous = CURRENT.with(|current| current.borrow_mut().replace(handle));
    EnterGuard {
        previous,
        _not_send: std::marker::PhantomData,
    }
}

/// Restores the previous current runtime when dropped. Returned by
/// [`Handle::enter`](crate::Handle::enter).
#[derive(Debug)]
#[must_use = "the runtime stays current only while the guard lives"]
pub struct EnterGuard {
    previous: Option<Handle>,
    /// Entered on this thread, restored on this thread.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
    }
}

//! `JoinHandle` (await the output, abort, detach) and `AbortHandle`.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::ScheduleHint;
use super::error::JoinError;
use super::id::Id;
use super::raw::{self, Header};
use super::state::{Snapshot, WakeAction};

/// An owned permission to await a task's output.
///
/// Awaiting it gives `Ok(value)`, or a [`JoinError`] if the task was cancelled or
/// panicked. Dropping it *detaches* the task: the task runs on, and its output is
/// dropped when produced, by whichever thread completes it.
///
/// # Examples
///
/// ```
/// use weft_rt::task::JoinHandle;
///
/// async fn sum(handles: Vec<JoinHandle<u64>>) -> u64 {
///     let mut total = 0;
///     for handle in handles {
///         total += handle.await.unwrap_or(0);
///     }
///     total
/// }
/// # let _ = sum;
/// ```
///
/// # Cancel safety
///
/// Cancel-safe: dropping a `JoinHandle` (awaited or not) *detaches* the task, which runs
/// on; its output is dropped when it completes. Use [`abort`](Self::abort) to cancel it.
pub struct JoinHandle<T> {
    raw: NonNull<Header>,
    _output: PhantomData<T>,
}

// SAFETY: the handle moves the output to whoever polls it, so it may cross threads
// when the output may; everything else it touches is the atomic state word and the
// `Send + Sync` join waker.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only reaches `abort`, `is_finished`, `id` (atomics and
// immutable header fields); the output is reached through `&mut` (poll) only.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    ///
    /// `raw` is a task whose output type is `T`, and the caller gives the handle the
    /// JoinHandle's reference and `JOIN_INTEREST`.
    pub(super) unsafe fn from_raw(raw: NonNull<Header>) -> Self {
        JoinHandle {
            raw,
            _output: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle's reference keeps the task alive.
        unsafe { self.raw.as_ref() }
    }

    /// Requests cancellation. A task that is waiting is dropped the next time a
    /// worker reaches it (its future is dropped on the scheduler's thread); a task
    /// being polled is dropped when the poll returns `Pending`; a finished task is not
    /// affected. The handle then resolves to an error that
    /// [`is_cancelled`](JoinError::is_cancelled), unless the task had already
    /// produced its value (a poll that returns `Ready` after the abort still wins).
    ///
    /// # Examples
    ///
    /// ```
    /// async fn cancel(handle: weft_rt::task::JoinHandle<()>) {
    ///     handle.abort();
    ///     let _ = handle.await; // Err(cancelled), or Ok if it had just finished
    /// }
    /// # let _ = cancel;
    /// ```
    pub fn abort(&self) {
        // SAFETY: the handle's reference.
        unsafe { abort_raw(self.raw) }
    }

    /// Whether the task has finished (value, panic or cancellation), so awaiting
    /// would not wait.
    ///
    /// # Examples
    ///
    /// ```
    /// fn done(handle: &weft_rt::task::JoinHandle<()>) -> bool {
    ///     handle.is_finished()
    /// }
    /// # let _ = done;
    /// ```
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_completed()
    }

    /// The task's id.
    ///
    /// # Examples
    ///
    /// ```
    /// fn id_of(handle: &weft_rt::task::JoinHandle<()>) -> weft_rt::task::Id {
    ///     handle.id()
    /// }
    /// # let _ = id_of;
    /// ```
    pub fn id(&self) -> Id {
        self.header().id
    }

    /// A cloneable handle that can abort the task without owning its output.
    ///
    /// # Examples
    ///
    /// ```
    /// fn canceller(handle: &weft_rt::task::JoinHandle<()>) -> impl Fn() + Send + Sync {
    ///     let abort = handle.abort_handle();
    ///     move || abort.abort()
    /// }
    /// # let _ = canceller;
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        self.header().state.ref_inc();
        AbortHandle { raw: self.raw }
    }

    /// Stores `waker` as the join waker unless the task completed; `Err` if it did.
    fn register_waker(&self, waker: &Waker, snapshot: Snapshot) -> Result<(), Snapshot> {
        let header = self.header();
        if snapshot.has_join_waker() {
            // SAFETY: JOIN_WAKER set and not completed: the slot is published and
            // only read by others (the runner reads it after completing).
            let same = header.join_waker.with(|slot| {
                // SAFETY: as just said: a shared read of a published slot.
                unsafe { &*slot }
                    .as_ref()
                    .is_some_and(|stored| stored.will_wake(waker))
            });
            if same {
                return Ok(());
            }
            header.state.unset_join_waker()?;
        }
        // JOIN_WAKER is clear: the slot is ours until we set it.
        let new = waker.clone();
        // SAFETY: as just said; the old waker (if any) is dropped here.
        header
            .join_waker
            .with_mut(|slot| unsafe { *slot = Some(new) });
        match header.state.set_join_waker() {
            Ok(()) => Ok(()),
            Err(snapshot) => {
                // Completed first: the slot is still ours; empty it now.
                // SAFETY: JOIN_WAKER clear, so the runner never reads it.
                let old = header.join_waker.with_mut(|slot| unsafe { (*slot).take() });
                drop(old);
                Err(snapshot)
            }
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    /// # Panics
    ///
    /// If polled again after it returned `Ready` (the output is gone).
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let header = self.header();
        let snapshot = header.state.load();
        if !snapshot.is_completed() && self.register_waker(cx.waker(), snapshot).is_ok() {
            weft_sync::coop::waiting_on(&WAIT_JOIN);
            return Poll::Pending;
        }
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: completed (seen with Acquire), the handle has join interest, and
        // `out` has the task's output type.
        unsafe { (header.vtable.read_output)(self.raw, (&raw mut out).cast()) };
        out
    }
}

/// What a task awaiting another task shows in a task dump.
static WAIT_JOIN: weft_sync::coop::WaitSite =
    weft_sync::coop::WaitSite::new("another task (JoinHandle)");

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        /// Drops the handle's reference even if the output's `drop` panics.
        struct Release(NonNull<Header>);
        impl Drop for Release {
            fn drop(&mut self) {
                // SAFETY: the handle's reference, given up once.
                unsafe { raw::drop_ref(self.0) }
            }
        }
        let release = Release(self.raw);
        let header = self.header();
        let prev = header.state.unset_join_interest();
        if prev.is_completed() {
            // SAFETY: completed while we had interest: the output is ours.
            unsafe { (header.vtable.drop_output)(self.raw) };
        } else if prev.has_join_waker() {
            // We cleared JOIN_WAKER before completion: the slot is ours again.
            // SAFETY: as said; the runner will see no join interest and not read it.
            let old = header.join_waker.with_mut(|slot| unsafe { (*slot).take() });
            drop(panic::catch_unwind(AssertUnwindSafe(move || drop(old))));
        }
        drop(release);
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// A handle that can cancel a task, without owning its output. Cheap to clone;
/// `Send + Sync` whatever the task's output.
///
/// # Examples
///
/// ```
/// use weft_rt::task::{AbortHandle, JoinHandle};
///
/// fn cancel_all(handles: &[AbortHandle]) {
///     for handle in handles {
///         handle.abort();
///     }
/// }
/// fn collect(joins: &[JoinHandle<()>]) -> Vec<AbortHandle> {
///     joins.iter().map(JoinHandle::abort_handle).collect()
/// }
/// # let _ = (cancel_all, collect);
/// ```
pub struct AbortHandle {
    raw: NonNull<Header>,
}

// SAFETY: an AbortHandle touches only the atomic state, immutable header fields and
// the scheduler (`Send + Sync`); never the future or the output.
unsafe impl Send for AbortHandle {}
// SAFETY: as above.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    /// Requests cancellation, exactly as [`JoinHandle::abort`].
    ///
    /// # Examples
    ///
    /// ```
    /// fn stop(handle: &weft_rt::task::AbortHandle) {
    ///     handle.abort();
    /// }
    /// # let _ = stop;
    /// ```
    pub fn abort(&self) {
        // SAFETY: the handle's reference.
        unsafe { abort_raw(self.raw) }
    }

    /// Whether the task has finished.
    ///
    /// # Examples
    ///
    /// ```
    /// fn done(handle: &weft_rt::task::AbortHandle) -> bool {
    ///     handle.is_finished()
    /// }
    /// # let _ = done;
    /// ```
    pub fn is_finished(&self) -> bool {
        // SAFETY: the handle's reference keeps the task alive.
        unsafe { self.raw.as_ref() }.state.load().is_completed()
    }

    /// The task's id.
    ///
    /// # Examples
    ///
    /// ```
    /// fn id_of(handle: &weft_rt::task::AbortHandle) -> weft_rt::task::Id {
    ///     handle.id()
    /// }
    /// # let _ = id_of;
    /// ```
    pub fn id(&self) -> Id {
        // SAFETY: the handle's reference keeps the task alive.
        unsafe { self.raw.as_ref() }.id
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> Self {
        // SAFETY: the handle's reference keeps the task alive.
        unsafe { self.raw.as_ref() }.state.ref_inc();
        AbortHandle { raw: self.raw }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        // SAFETY: the handle's reference, given up once.
        unsafe { raw::drop_ref(self.raw) }
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// # Safety
///
/// The caller holds a reference for the call.
unsafe fn abort_raw(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference.
    let header = unsafe { ptr.as_ref() };
    if header.state.transition_to_closed() == WakeAction::Submit {
        // SAFETY: the transition counted the new Runnable's reference; ours covers the
        // call.
        unsafe { (header.vtable.schedule)(ptr, ScheduleHint::Woken) };
    }
}

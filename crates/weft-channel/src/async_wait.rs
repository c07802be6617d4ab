//! How a future waits on a channel side: a task [`Context`] registered in the side's
//! waiter list with the task's `Waker`, claimed by a counterpart exactly like a
//! blocked thread.
//!
//! # Cancel safety
//!
//! A waiter that is claimed ("a message is there for you") and then dropped before it
//! completed its operation would swallow the wake-up meant for some other waiter. So
//! [`TaskWaiter::cancel`] first tries to claim its own context `Aborted`: if that
//! works, nobody had claimed it and it simply unregisters; if a counterpart had
//! claimed it for an operation, it passes the wake-up on by notifying the list again.
//! The operation itself never happens half: it is only ever attempted inside `poll`,
//! by the channel's non-blocking `try_*` path, which either completes or leaves the
//! channel untouched.

use crate::context::Context;
use crate::flavors::Look;
use crate::select::Selected;
use crate::task_slot::Reclaimed;
use crate::waker::SyncWaiterList;
use std::task::{self, Poll};

/// Where a pending future is registered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Registration {
    /// Nowhere.
    #[default]
    None,
    /// In the side's lock-free slot, which it owns (`task_slot.rs`).
    Slot,
    /// In the side's waiter list, with a task [`Context`].
    List,
}

/// The registration of one pending future (created on its first `Pending`).
#[derive(Debug, Default)]
pub(crate) struct TaskWaiter {
    cx: Option<Context>,
    registered: Registration,
}

/// What a task waiting on a channel shows in a task dump.
static WAIT_CHANNEL: weft_sync::coop::WaitSite =
    weft_sync::coop::WaitSite::new("a channel (send or receive)");

impl TaskWaiter {
    pub(crate) const fn new() -> Self {
        Self {
            cx: None,
            registered: Registration::None,
        }
    }

    /// Polls an operation whose non-blocking form is `attempt` (`None`: would block),
    /// waiting on `list`. Only the re-check after registering needs an ordered
    /// attempt ([`Look::Recheck`]); every other attempt is followed by one before the
    /// task waits, so it is [`Look::Quick`].
    ///
    /// Spends a unit of the task's poll budget (`weft_sync::coop`) when it completes,
    /// and records the channel as what the task waits on when it does not.
    #[inline]
    pub(crate) fn poll<R>(
        &mut self,
        list: &SyncWaiterList,
        task: &mut task::Context<'_>,
        attempt: impl FnMut(Look) -> Option<R>,
    ) -> Poll<R> {
        let Poll::Ready(proceed) = weft_sync::coop::poll_proceed(task) else {
            return Poll::Pending;
        };
        match self.poll_inner(list, task, attempt) {
            Poll::Ready(result) => {
                proceed.made_progress();
                Poll::Ready(result)
            }
            Poll::Pending => {
                weft_sync::coop::waiting_on(&WAIT_CHANNEL);
                Poll::Pending
            }
        }
    }

    #[inline(always)]
    fn poll_inner<R>(
        &mut self,
        list: &SyncWaiterList,
        task: &mut task::Context<'_>,
        mut attempt: impl FnMut(Look) -> Option<R>,
    ) -> Poll<R> {
        loop {
            match self.registered {
                Registration::Slot => return self.poll_slot(list, task, attempt),
                Registration::List => {
                    let cx = self.cx.as_ref().expect("registered waiters have a context");
                    let sel = cx.selected();
                    if sel == Selected::Waiting {
                        if list.update_waker(cx.task_operation(), task.waker()) {
                            // Not claimed yet: nothing changed for us.
                            return Poll::Pending;
                        }
                        // Claimed between the load and the lock: look again.
                        continue;
                    }
                    // Claimed: removed from the list by the claimer, except by a
                    // disconnect, which leaves the entry for us to remove.
                    if sel == Selected::Disconnected {
                        drop(list.unregister(cx.task_operation()));
                    }
                    self.registered = Registration::None;
                }
                Registration::None => {}
            }
            if let Some(res) = attempt(Look::Quick) {
                return Poll::Ready(res);
            }
            if list.slot().try_acquire() {
                self.registered = Registration::Slot;
                return self.wait_in_slot(list, task, attempt);
            }
            let cx = self.cx.get_or_insert_with(Context::for_task_cached);
            cx.reset();
            list.register_task(cx.task_operation(), cx, task.waker().clone());
            self.registered = Registration::List;
            // The re-check of the wake-up protocol (see `waker.rs`).
            if let Some(res) = attempt(Look::Recheck) {
                self.cancel(list);
                return Poll::Ready(res);
            }
            return Poll::Pending;
        }
    }

    /// Polls again while owning the slot: takes it back, attempts, and arms it
    /// again if the operation still cannot complete.
    fn poll_slot<R>(
        &mut self,
        list: &SyncWaiterList,
        task: &mut task::Context<'_>,
        mut attempt: impl FnMut(Look) -> Option<R>,
    ) -> Poll<R> {
        let slot = list.slot();
        slot.reclaim();
        if let Some(res) = attempt(Look::Quick) {
            slot.release();
            self.registered = Registration::None;
            return Poll::Ready(res);
        }
        self.wait_in_slot(list, task, attempt)
    }

    /// Arms the slot this future holds and re-checks (invariant 3 of
    /// `task_slot.rs`).
    fn wait_in_slot<R>(
        &mut self,
        list: &SyncWaiterList,
        task: &mut task::Context<'_>,
        mut attempt: impl FnMut(Look) -> Option<R>,
    ) -> Poll<R> {
        list.slot().arm(task.waker());
        if let Some(res) = attempt(Look::Recheck) {
            self.cancel(list);
            return Poll::Ready(res);
        }
        Poll::Pending
    }

    /// Withdraws the registration, passing on a wake-up that was claimed for it.
    /// Inline for the common case of a future that completed (nothing to withdraw).
    #[inline]
    pub(crate) fn cancel(&mut self, list: &SyncWaiterList) {
        if self.registered != Registration::None {
            self.withdraw(list);
        }
    }

    #[inline(never)]
    fn withdraw(&mut self, list: &SyncWaiterList) {
        match std::mem::take(&mut self.registered) {
            Registration::None => {}
            Registration::Slot => {
                let slot = list.slot();
                let reclaimed = slot.reclaim();
                slot.release();
                if reclaimed == Reclaimed::Fired {
                    list.notify();
                }
            }
            Registration::List => {
                let cx = self.cx.as_ref().expect("registered waiters have a context");
                match cx.try_select(Selected::Aborted) {
                    Ok(()) => drop(list.unregister(cx.task_operation())),
                    Err(Selected::Operation(_)) => list.notify(),
                    Err(_) => drop(list.unregister(cx.task_operation())),
                }
            }
        }
    }
}

impl Drop for TaskWaiter {
    #[inline]
    fn drop(&mut self) {
        // The owning future has cancelled (unregistered) by now.
        if self.registered == Registration::None
            && let Some(cx) = self.cx.take()
        {
            cx.recycle_task();
        }
    }
}

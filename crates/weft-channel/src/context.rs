//! `Context`: the state a blocked operation (a thread, or an async task) waits on.
//!
//! The design is crossbeam-channel's (`context.rs`): a waiter publishes one context
//! in one or more channels' waiter lists, and the first counterpart to claim it wins
//! by a compare-and-swap on `select`, so a thread blocked in a `select!` over many
//! channels is claimed by exactly one of them. What weft adds is the second kind of
//! waiter: a context created for a future (`Context::for_task`) is never parked on;
//! its list entries carry the task's `Waker`, and claiming it wakes the task.
//!
//! # The `select` word
//!
//! | value | meaning | who writes it |
//! |---|---|---|
//! | `0` (`Waiting`) | unclaimed | the owner, by [`Context::reset`] before registering |
//! | `1` (`Aborted`) | the owner gave up (timeout, or found the channel ready itself) | the owner, by CAS |
//! | `2` (`Disconnected`) | a channel it waits on was disconnected | the disconnecting side, by CAS |
//! | other | `Operation(id)`: claimed for the operation with that id | the counterpart, by CAS |
//!
//! Only a CAS from `Waiting` moves it, so exactly one party claims a waiting context.
//! The `packet` word carries the counterpart's message slot to a rendezvous (zero
//! capacity) waiter; it is stored after the claim and read by the owner after it sees
//! the claim.

use crate::primitive::Arc;
use crate::primitive::atomic::{AtomicPtr, AtomicUsize, Ordering};
use crate::select::{Operation, Selected};
use std::cell::Cell;
use std::ptr;
use std::time::Instant;
use weft_sync::{Backoff, Parker};

/// A waiter's shared state; cheap to clone (one `Arc`).
#[derive(Clone, Debug)]
pub(crate) struct Context {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    select: AtomicUsize,
    packet: AtomicPtr<()>,
    /// The owning thread's parker (unused by task contexts).
    parker: Parker,
    /// The owning thread's id, or 0 for a task context (which no thread ever equals):
    /// a thread must not rendezvous with its own other registration in one `select!`.
    thread_id: usize,
}

crate::primitive::thread_local_compat! {
    /// This thread's cached context: one allocation per thread, not per blocking call.
    static CONTEXT: Cell<Option<Context>> = Cell::new(None);
}
#[cfg(not(loom))]
std::thread_local! {
    /// A spare task context, so a future that waits does not allocate one each time
    /// (an async ping-pong waits on every message).
    static SPARE_TASK_CONTEXT: Cell<Option<Context>> = const { Cell::new(None) };
}
crate::primitive::thread_local_compat! {
    /// Its address is this thread's id.
    static THREAD_ID: u8 = 0;
}

/// A non-zero id unique among live threads.
#[inline]
pub(crate) fn current_thread_id() -> usize {
    THREAD_ID
        .try_with(|id| id as *const u8 as usize)
        // During thread-local destruction: an address no other thread's id can be.
        .unwrap_or(usize::MAX)
}

impl Context {
    /// Runs `f` with this thread's context, reset to `Waiting`.
    #[inline]
    pub(crate) fn with<F: FnOnce(&Context) -> R, R>(f: F) -> R {
        let mut f = Some(f);
        let mut run = |cx: &Context| {
            let f = f.take().expect("called once");
            f(cx)
        };
        CONTEXT
            .try_with(|cell| match cell.take() {
                // A nested `with` (a waker that blocks) finds the cell empty and makes
                // a fresh context, so two waits never share one.
                None => run(&Context::for_thread()),
                Some(cx) => {
                    cx.reset();
                    let res = run(&cx);
                    cell.set(Some(cx));
                    res
                }
            })
            .unwrap_or_else(|_| run(&Context::for_thread()))
    }

    fn for_thread() -> Context {
        Context {
            inner: Arc::new(Inner {
                select: AtomicUsize::new(Selected::Waiting.into()),
                packet: AtomicPtr::new(ptr::null_mut()),
                parker: Parker::new(),
                thread_id: current_thread_id(),
            }),
        }
    }

    /// A context for an async operation: claimed like a thread's, woken through the
    /// `Waker` stored beside it in the waiter list.
    pub(crate) fn for_task() -> Context {
        Context {
            inner: Arc::new(Inner {
                select: AtomicUsize::new(Selected::Waiting.into()),
                packet: AtomicPtr::new(ptr::null_mut()),
                parker: Parker::new(),
                thread_id: 0,
            }),
        }
    }

    /// A task context, reusing this thread's spare one if there is one.
    pub(crate) fn for_task_cached() -> Context {
        #[cfg(not(loom))]
        if let Some(cx) = SPARE_TASK_CONTEXT.try_with(Cell::take).ok().flatten() {
            return cx;
        }
        Context::for_task()
    }

    /// Gives a task context back to this thread's spare slot, if nothing else refers
    /// to it: no waiter list holds an entry for it, so nobody can claim it any more
    /// and its next user starts from a clean registration (`reset`).
    pub(crate) fn recycle_task(self) {
        #[cfg(not(loom))]
        if Arc::strong_count(&self.inner) == 1 {
            let _ = SPARE_TASK_CONTEXT.try_with(|spare| spare.set(Some(self)));
        }
    }

    /// An operation id unique to this context while it lives (its address).
    pub(crate) fn task_operation(&self) -> Operation {
        Operation::from_addr(Arc::as_ptr(&self.inner) as usize)
    }

    /// Back to `Waiting`, ready for a new registration.
    #[inline]
    pub(crate) fn reset(&self) {
        // Release/Relaxed: only the owner resets, before registering under a list
        // lock, which publishes the reset to every counterpart that finds the entry.
        self.inner
            .select
            .store(Selected::Waiting.into(), Ordering::Release);
        self.inner.packet.store(ptr::null_mut(), Ordering::Release);
    }

    /// Claims the context for `select`; fails with the current state if someone else
    /// already did.
    #[inline]
    pub(crate) fn try_select(&self, select: Selected) -> Result<(), Selected> {
        // AcqRel: the winner's Release pairs with the owner's Acquire in `selected`,
        // so what the claimer did before (for a rendezvous: nothing yet, the packet
        // follows) is visible; Acquire on failure sees the winner's claim.
        self.inner
            .select
            .compare_exchange(
                Selected::Waiting.into(),
                select.into(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(|_| ())
            .map_err(|e| e.into())
    }

    /// The current state. Acquire: pairs with the claim's Release in `try_select`.
    #[inline]
    pub(crate) fn selected(&self) -> Selected {
        Selected::from(self.inner.select.load(Ordering::Acquire))
    }

    /// Hands the owner the counterpart's packet (after a successful claim).
    #[inline]
    pub(crate) fn store_packet(&self, packet: *mut ()) {
        if !packet.is_null() {
            // Release: pairs with the Acquire in `wait_packet`.
            self.inner.packet.store(packet, Ordering::Release);
        }
    }

    /// Waits for the packet the claimer stores right after claiming.
    pub(crate) fn wait_packet(&self) -> *mut () {
        let backoff = Backoff::new();
        loop {
            let packet = self.inner.packet.load(Ordering::Acquire);
            if !packet.is_null() {
                return packet;
            }
            backoff.snooze();
        }
    }

    /// Blocks the owning thread until claimed, or until `deadline` (then claims
    /// itself `Aborted`, unless a counterpart won the race).
    pub(crate) fn wait_until(&self, deadline: Option<Instant>) -> Selected {
        if crate::primitive::SPIN {
            // Spin briefly (about 250 pause instructions, no yields): a counterpart
            // that is running claims us within that. Yielding here as well (the
            // caller's send/recv loop already snoozed through its yields) made the
            // blocked threads of an oversubscribed channel (bounded(1), 4x4 threads
            // on 2 cores) hand the CPU back and forth instead of parking.
            let backoff = Backoff::new();
            for _ in 0..7 {
                let sel = self.selected();
                if sel != Selected::Waiting {
                    return sel;
                }
                backoff.spin();
            }
        }
        loop {
            let sel = self.selected();
            if sel != Selected::Waiting {
                return sel;
            }
            match deadline {
                None => self.inner.parker.park(),
                Some(deadline) => {
                    // Under loom time stands still: a deadline passes at once (the
                    // emulated futex times out immediately), exercising the abort path.
                    if Instant::now() >= deadline || !self.inner.parker.park_until(Some(deadline)) {
                        return match self.try_select(Selected::Aborted) {
                            Ok(()) => Selected::Aborted,
                            Err(sel) => sel,
                        };
                    }
                }
            }
        }
    }

    /// Wakes the owning thread (a no-op for task contexts: their waker is woken).
    #[inline]
    pub(crate) fn unpark(&self) {
        self.inner.parker.unpark();
    }

    #[inline]
    pub(crate) fn thread_id(&self) -> usize {
        self.inner.thread_id
    }
}

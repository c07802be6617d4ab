//! Waiter lists: who is blocked on one side of a channel, and the wake-up protocol.
//!
//! A [`WaiterList`] holds *selectors* (operations that want to be claimed to complete:
//! a blocked `send`/`recv`, a `select!` arm, a pending future) and *observers*
//! (operations that only want to know the channel may have become ready:
//! `Select::ready`, and async receivers of a rendezvous channel). A [`SyncWaiterList`]
//! wraps one in a lock plus an `is_empty` flag, so a send on a channel nobody waits on
//! pays one load, not a lock, and adds a lock-free slot for one pending future
//! (`task_slot.rs`): the first future to wait on a side takes the slot, and only
//! the others (and every thread) go to the list. A notify claims the slot's future
//! and one list waiter; the slot's state word joins `is_empty` in the argument
//! below.
//!
//! # Why no wake-up is lost
//!
//! Waiter: register (under the lock, then `is_empty = false`, SeqCst), then re-check
//! the channel (SeqCst loads of its head/tail), then wait. Notifier: change the channel
//! (a SeqCst compare-and-swap of its head/tail), then load `is_empty` (SeqCst). All four
//! are SeqCst, so they sit in one total order: if the notifier's load comes before the
//! waiter's store, the notifier's CAS (earlier still) comes before the waiter's re-check,
//! which therefore sees the change and does not wait; otherwise the notifier sees
//! `is_empty == false`, takes the lock, and claims the waiter. (Under loom, which
//! models SeqCst accesses as Acquire/Release, fences make the same argument; see
//! `primitive::loom_fence`.)
//!
//! # Waking outside the lock
//!
//! Claiming happens under the lock; waking (a futex wake, or a task `Waker`, which may
//! run arbitrary executor code) happens after it is released: the claimed entries are
//! returned to the caller, which calls [`Entry::unpark`].
//!
//! # Which lock
//!
//! The lock is a [`BargingMutex`], not a `Mutex`: its sections are a few dozen
//! instructions and the channel's own protocol decides who proceeds, so fairness
//! buys nothing here, while `Mutex`'s starvation rule costs a great deal when
//! threads outnumber cores. A waiter that lost the lock for a millisecond turns every
//! unlock into a handoff to a descheduled thread, and `Mutex`'s yield rounds hand the
//! core to another contender. Measured on 2 cores with `bench --bench channel`
//! (December 2026, three alternated runs): bounded(1) select_both, 8 threads, went
//! from 0.25-0.39x crossbeam's throughput with `Mutex` to 0.77-2.37x; the other
//! cells stayed within their run-to-run spread.

use crate::context::{Context, current_thread_id};
use crate::primitive::atomic::{AtomicBool, Ordering};
use crate::primitive::loom_fence;
use crate::select::{Operation, Selected};
use crate::task_slot::TaskSlot;
use std::ptr;
use std::task::Waker;
use weft_sync::BargingMutex;

/// One registered operation.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) oper: Operation,
    /// The waiter's message slot (rendezvous channels only), else null.
    pub(crate) packet: *mut (),
    pub(crate) cx: Context,
    /// For a task: the waker to wake when claimed. For a thread: `None` (the context's
    /// parker is unparked).
    pub(crate) waker: Option<Waker>,
}

// SAFETY: `packet` is only dereferenced by the channel code that claims the entry,
// under the rendezvous protocol of `flavors/zero.rs`; everything else is Send + Sync.
unsafe impl Send for Entry {}
// SAFETY: as above.
unsafe impl Sync for Entry {}

impl Entry {
    /// Wakes the waiter (after its context was claimed).
    #[inline]
    pub(crate) fn unpark(self) {
        match self.waker {
            Some(waker) => waker.wake(),
            None => self.cx.unpark(),
        }
    }
}

/// Wakes every entry; for lists of entries claimed under a lock.
pub(crate) fn unpark_all(entries: Vec<Entry>) {
    for entry in entries {
        entry.unpark();
    }
}

/// The waiters of one side of a channel. Not synchronized: used under a lock.
#[derive(Debug, Default)]
pub(crate) struct WaiterList {
    selectors: Vec<Entry>,
    observers: Vec<Entry>,
}

impl WaiterList {
    pub(crate) const fn new() -> Self {
        Self {
            selectors: Vec::new(),
            observers: Vec::new(),
        }
    }

    /// Registers a blocked thread's operation.
    pub(crate) fn register(&mut self, oper: Operation, cx: &Context) {
        self.register_with_packet(oper, ptr::null_mut(), cx, None);
    }

    /// Registers an operation with a message slot and, for a task, its waker.
    pub(crate) fn register_with_packet(
        &mut self,
        oper: Operation,
        packet: *mut (),
        cx: &Context,
        waker: Option<Waker>,
    ) {
        self.selectors.push(Entry {
            oper,
            packet,
            cx: cx.clone(),
            waker,
        });
    }

    /// Removes an operation; `None` if it is no longer there (it was claimed, or
    /// drained by a disconnect).
    pub(crate) fn unregister(&mut self, oper: Operation) -> Option<Entry> {
        let pos = self.selectors.iter().position(|e| e.oper == oper)?;
        Some(self.selectors.remove(pos))
    }

    /// Replaces the stored waker of a task's registration; `false` if the entry is
    /// gone (it was claimed meanwhile).
    pub(crate) fn update_waker(&mut self, oper: Operation, waker: &Waker) -> bool {
        let list = self.selectors.iter_mut().chain(self.observers.iter_mut());
        match list.into_iter().find(|e| e.oper == oper) {
            Some(entry) => {
                if !entry.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    entry.waker = Some(waker.clone());
                }
                true
            }
            None => false,
        }
    }

    /// Claims the first waiting selector (of another thread), hands it its packet, and
    /// removes it; the caller wakes it with [`Entry::unpark`] after unlocking.
    pub(crate) fn try_select(&mut self) -> Option<Entry> {
        if self.selectors.is_empty() {
            return None;
        }
        let thread_id = current_thread_id();
        let pos = self.selectors.iter().position(|selector| {
            selector.cx.thread_id() != thread_id
                && selector
                    .cx
                    .try_select(Selected::Operation(selector.oper))
                    .is_ok()
        })?;
        let entry = self.selectors.remove(pos);
        entry.cx.store_packet(entry.packet);
        Some(entry)
    }

    /// Whether some other thread's selector is waiting to be claimed.
    pub(crate) fn can_select(&self) -> bool {
        let thread_id = current_thread_id();
        self.selectors
            .iter()
            .any(|s| s.cx.thread_id() != thread_id && s.cx.selected() == Selected::Waiting)
    }

    /// Registers an observer.
    pub(crate) fn watch(&mut self, oper: Operation, cx: &Context, waker: Option<Waker>) {
        self.observers.push(Entry {
            oper,
            packet: ptr::null_mut(),
            cx: cx.clone(),
            waker,
        });
    }

    /// Removes an observer; `false` if it was already notified.
    pub(crate) fn unwatch(&mut self, oper: Operation) -> bool {
        let before = self.observers.len();
        self.observers.retain(|e| e.oper != oper);
        self.observers.len() != before
    }

    /// Claims and removes every observer; the caller wakes them after unlocking.
    pub(crate) fn notify_observers(&mut self) -> Vec<Entry> {
        if self.observers.is_empty() {
            return Vec::new();
        }
        let mut claimed = std::mem::take(&mut self.observers);
        claimed.retain(|e| e.cx.try_select(Selected::Operation(e.oper)).is_ok());
        claimed
    }

    /// Claims every waiter as `Disconnected`; the caller wakes the returned copies.
    /// Selectors stay registered (each unregisters itself, freeing what its entry
    /// owns, such as a `select!` packet); observers are removed.
    pub(crate) fn disconnect(&mut self) -> Vec<Entry> {
        let mut claimed: Vec<Entry> = self
            .selectors
            .iter()
            .filter(|e| e.cx.try_select(Selected::Disconnected).is_ok())
            .map(|e| Entry {
                oper: e.oper,
                packet: e.packet,
                cx: e.cx.clone(),
                waker: e.waker.clone(),
            })
            .collect();
        let mut observers = std::mem::take(&mut self.observers);
        observers.retain(|e| e.cx.try_select(Selected::Disconnected).is_ok());
        claimed.append(&mut observers);
        claimed
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.selectors.is_empty() && self.observers.is_empty()
    }
}

impl Drop for WaiterList {
    fn drop(&mut self) {
        debug_assert!(self.selectors.is_empty(), "a waiter outlived its channel");
    }
}

/// A [`WaiterList`] shared between threads: the array and list flavours' senders and
/// receivers, plus the lock-free slot for one pending future (`task_slot.rs`).
#[derive(Debug)]
pub(crate) struct SyncWaiterList {
    inner: BargingMutex<WaiterList>,
    /// Whether `inner` is empty; read without the lock by every notify.
    is_empty: AtomicBool,
    /// The fast path for the one future that owns it; every other waiter goes to
    /// `inner`. Notified beside `inner`, never instead of it.
    slot: TaskSlot,
}

impl SyncWaiterList {
    pub(crate) fn new() -> Self {
        Self {
            inner: BargingMutex::new(WaiterList::new()),
            is_empty: AtomicBool::new(true),
            slot: TaskSlot::new(),
        }
    }

    /// The single-task slot of this side.
    #[inline]
    pub(crate) fn slot(&self) -> &TaskSlot {
        &self.slot
    }

    /// Registers a blocked thread's operation.
    pub(crate) fn register(&self, oper: Operation, cx: &Context) {
        let mut inner = self.inner.lock();
        inner.register(oper, cx);
        self.publish(&inner);
    }

    /// Registers a task's operation with its waker.
    pub(crate) fn register_task(&self, oper: Operation, cx: &Context, waker: Waker) {
        let mut inner = self.inner.lock();
        inner.register_with_packet(oper, ptr::null_mut(), cx, Some(waker));
        self.publish(&inner);
    }

    /// Stores `is_empty` after a change of the list; the waiter's re-check comes after.
    #[inline]
    fn publish(&self, inner: &WaiterList) {
        // SeqCst: the waiter's half of the module doc's argument.
        self.is_empty.store(inner.is_empty(), Ordering::SeqCst);
        loom_fence();
    }

    /// Removes an operation (dropping its waker after unlocking).
    pub(crate) fn unregister(&self, oper: Operation) -> Option<Entry> {
        let mut inner = self.inner.lock();
        let entry = inner.unregister(oper);
        self.publish(&inner);
        entry
    }

    /// See [`WaiterList::update_waker`].
    pub(crate) fn update_waker(&self, oper: Operation, waker: &Waker) -> bool {
        self.inner.lock().update_waker(oper, waker)
    }

    /// Wakes one selector and every observer, if anyone waits. Called after each
    /// change of the channel that may let a waiter proceed.
    #[inline]
    pub(crate) fn notify(&self) {
        loom_fence();
        // SeqCst (both loads): the notifier's half of the module doc's argument.
        if self.slot.is_armed() {
            self.slot.notify();
        }
        if !self.is_empty.load(Ordering::SeqCst) {
            self.notify_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn notify_slow(&self) {
        let (selected, observers) = {
            let mut inner = self.inner.lock();
            if inner.is_empty() {
                return;
            }
            let selected = inner.try_select();
            let observers = inner.notify_observers();
            self.publish(&inner);
            (selected, observers)
        };
        if let Some(entry) = selected {
            entry.unpark();
        }
        // Most notifies find no observer: skip the empty vector's iterator and drop.
        if !observers.is_empty() {
            unpark_all(observers);
        }
    }

    /// Registers an observer.
    pub(crate) fn watch(&self, oper: Operation, cx: &Context) {
        let mut inner = self.inner.lock();
        inner.watch(oper, cx, None);
        self.publish(&inner);
    }

    /// Removes an observer.
    pub(crate) fn unwatch(&self, oper: Operation) {
        let mut inner = self.inner.lock();
        inner.unwatch(oper);
        self.publish(&inner);
    }

    /// Claims every waiter as disconnected and wakes them.
    pub(crate) fn disconnect(&self) {
        let claimed = {
            let mut inner = self.inner.lock();
            let claimed = inner.disconnect();
            self.publish(&inner);
            claimed
        };
        unpark_all(claimed);
        // The slot's owner finds the channel disconnected when it re-polls.
        loom_fence();
        if self.slot.is_armed() {
            self.slot.notify();
        }
    }
}

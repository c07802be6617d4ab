//! The rendezvous flavour (`bounded(0)`): no buffer; a send completes only when a
//! receiver takes the message from the sender's hands, and vice versa.
//!
//! crossbeam-channel's `flavors/zero.rs` design: one lock (a
//! [`BargingMutex`](weft_sync::BargingMutex), for the reason `waker.rs` gives) guards
//! two waiter lists. An
//! operation that finds a waiting counterpart claims it and exchanges the message
//! through the counterpart's *packet*; one that finds none registers a packet of its
//! own and waits to be claimed.
//!
//! # Packets
//!
//! A packet is a message cell plus a `ready` flag, and the rule is:
//!
//! - a waiter's own packet (`owned_by_waiter`: on a blocked thread's stack, or boxed
//!   inside a pending `send_async` future) is freed by the waiter; the counterpart
//!   that claimed it takes (or puts) the message and then sets `ready`, which the
//!   waiter waits for before it returns;
//! - a `select!` registration's packet is on the heap; the side that *writes* the
//!   message sets `ready`, the side that *reads* it waits for `ready` and frees it.
//!
//! # Async waiters
//!
//! A pending `send_async` registers a boxed packet holding the message, like a
//! blocked sender, so a receiver (thread or task) can take it. A pending
//! `recv_async` registers only as an *observer* (a wake-up, no packet): a sender that
//! finds no waiting receiver registers its own packet and wakes the observers, and the
//! woken task then takes the message with the non-blocking path. Observers own no
//! message, so a dropped `recv_async` can never lose one; it passes its wake-up on.

use crate::context::Context;
use crate::err::{RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};
use crate::primitive::UnsafeCell;
use crate::primitive::atomic::{AtomicBool, Ordering};
use crate::select::{Operation, Selected, Token};
use crate::waker::{WaiterList, unpark_all};
use std::marker::PhantomData;
use std::ptr;
use std::task::{self, Poll};
use std::time::Instant;
use weft_sync::{Backoff, BargingMutex};

/// The counterpart's packet (null: disconnected).
#[derive(Debug)]
pub(crate) struct ZeroToken(*mut ());

impl Default for ZeroToken {
    fn default() -> Self {
        Self(ptr::null_mut())
    }
}

struct Packet<T> {
    owned_by_waiter: bool,
    ready: AtomicBool,
    msg: UnsafeCell<Option<T>>,
}

impl<T> Packet<T> {
    fn empty_owned() -> Packet<T> {
        Packet {
            owned_by_waiter: true,
            ready: AtomicBool::new(false),
            msg: UnsafeCell::new(None),
        }
    }

    fn empty_on_heap() -> Box<Packet<T>> {
        Box::new(Packet {
            owned_by_waiter: false,
            ready: AtomicBool::new(false),
            msg: UnsafeCell::new(None),
        })
    }

    fn message_owned(msg: T) -> Packet<T> {
        Packet {
            owned_by_waiter: true,
            ready: AtomicBool::new(false),
            msg: UnsafeCell::new(Some(msg)),
        }
    }

    fn wait_ready(&self) {
        let backoff = Backoff::new();
        // Acquire: pairs with the Release stores of `ready` in `read` and `write`.
        while !self.ready.load(Ordering::Acquire) {
            backoff.snooze();
        }
    }

    /// Takes the message out (only its owner, or the claimer under the rules above).
    fn take(&self) -> Option<T> {
        // SAFETY: the packet rules give exactly one party the cell at a time.
        self.msg.with_mut(|p| unsafe { (*p).take() })
    }
}

struct Inner {
    senders: WaiterList,
    receivers: WaiterList,
    is_disconnected: bool,
}

pub(crate) struct Channel<T> {
    inner: BargingMutex<Inner>,
    _marker: PhantomData<T>,
}

/// The state of a pending `send_async` on a rendezvous channel.
#[derive(Debug)]
pub(crate) struct SendWait<T> {
    cx: Option<Context>,
    offer: Option<Box<Packet<T>>>,
    registered: bool,
}

/// The state of a pending `recv_async` on a rendezvous channel.
#[derive(Debug, Default)]
pub(crate) struct RecvWait {
    cx: Option<Context>,
    registered: bool,
}

impl<T> std::fmt::Debug for Packet<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packet").finish_non_exhaustive()
    }
}

impl<T> SendWait<T> {
    pub(crate) const fn new() -> Self {
        SendWait {
            cx: None,
            offer: None,
            registered: false,
        }
    }
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Self {
        Channel {
            inner: BargingMutex::new(Inner {
                senders: WaiterList::new(),
                receivers: WaiterList::new(),
                is_disconnected: false,
            }),
            _marker: PhantomData,
        }
    }

    /// Claims a waiting receiver; `false` if there is none.
    pub(crate) fn start_send(&self, token: &mut Token) -> bool {
        let mut inner = self.inner.lock();
        if let Some(entry) = inner.receivers.try_select() {
            token.zero.0 = entry.packet;
            drop(inner);
            entry.unpark();
            true
        } else if inner.is_disconnected {
            token.zero.0 = ptr::null_mut();
            true
        } else {
            false
        }
    }

    /// Puts the message into the claimed receiver's packet.
    ///
    /// # Safety
    ///
    /// `token` was filled by `start_send` or `accept_send` on this channel.
    pub(crate) unsafe fn write(&self, token: &mut Token, msg: T) -> Result<(), T> {
        if token.zero.0.is_null() {
            return Err(msg);
        }
        // SAFETY: a claimed receiver's packet stays alive until `ready` (it waits).
        let packet = unsafe { &*token.zero.0.cast::<Packet<T>>() };
        // SAFETY: the claim gives us the empty cell until `ready`.
        packet.msg.with_mut(|p| unsafe { *p = Some(msg) });
        // Release: publishes the message to `wait_ready`'s Acquire.
        packet.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Claims a waiting sender; `false` if there is none.
    pub(crate) fn start_recv(&self, token: &mut Token) -> bool {
        let mut inner = self.inner.lock();
        if let Some(entry) = inner.senders.try_select() {
            token.zero.0 = entry.packet;
            drop(inner);
            // Woken first: a `select!` sender writes its message only once woken.
            entry.unpark();
            true
        } else if inner.is_disconnected {
            token.zero.0 = ptr::null_mut();
            true
        } else {
            false
        }
    }

    /// Takes the message from the claimed sender's packet.
    ///
    /// # Safety
    ///
    /// `token` was filled by `start_recv` or `accept_recv` on this channel.
    pub(crate) unsafe fn read(&self, token: &mut Token) -> Result<T, ()> {
        if token.zero.0.is_null() {
            return Err(());
        }
        let packet_ptr = token.zero.0.cast::<Packet<T>>();
        // SAFETY: a claimed sender's packet stays alive until we set `ready` (owned
        // by the waiter) or until we free it (heap).
        let packet = unsafe { &*packet_ptr };
        if packet.owned_by_waiter {
            let msg = packet
                .take()
                .expect("a waiting sender's packet holds its message");
            // Release: tells the sender its message is gone (`wait_ready`).
            packet.ready.store(true, Ordering::Release);
            Ok(msg)
        } else {
            packet.wait_ready();
            let msg = packet.take().expect("written before ready");
            // SAFETY: a heap packet is freed by its reader, which is us.
            drop(unsafe { Box::from_raw(packet_ptr) });
            Ok(msg)
        }
    }

    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        let token = &mut Token::default();
        let mut inner = self.inner.lock();
        if let Some(entry) = inner.receivers.try_select() {
            token.zero.0 = entry.packet;
            drop(inner);
            entry.unpark();
            // SAFETY: filled just now from a claimed receiver.
            unsafe { self.write(token, msg) }.map_err(TrySendError::Disconnected)
        } else if inner.is_disconnected {
            Err(TrySendError::Disconnected(msg))
        } else {
            Err(TrySendError::Full(msg))
        }
    }

    pub(crate) fn send(
        &self,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let token = &mut Token::default();
        let mut inner = self.inner.lock();
        if let Some(entry) = inner.receivers.try_select() {
            token.zero.0 = entry.packet;
            drop(inner);
            entry.unpark();
            // SAFETY: filled just now from a claimed receiver.
            return unsafe { self.write(token, msg) }.map_err(SendTimeoutError::Disconnected);
        }
        if inner.is_disconnected {
            return Err(SendTimeoutError::Disconnected(msg));
        }
        Context::with(|cx| {
            let oper = Operation::hook(token);
            let mut packet = Packet::<T>::message_owned(msg);
            inner.senders.register_with_packet(
                oper,
                &mut packet as *mut Packet<T> as *mut (),
                cx,
                None,
            );
            let observers = inner.receivers.notify_observers();
            drop(inner);
            unpark_all(observers);
            match cx.wait_until(deadline) {
                Selected::Waiting => unreachable!(),
                Selected::Aborted => {
                    self.inner.lock().senders.unregister(oper);
                    Err(SendTimeoutError::Timeout(packet.take().expect("not taken")))
                }
                Selected::Disconnected => {
                    self.inner.lock().senders.unregister(oper);
                    Err(SendTimeoutError::Disconnected(
                        packet.take().expect("not taken"),
                    ))
                }
                Selected::Operation(_) => {
                    // The receiver is taking the message; our stack must outlive that.
                    packet.wait_ready();
                    Ok(())
                }
            }
        })
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let token = &mut Token::default();
        if self.start_recv(token) {
            // SAFETY: filled just now by `start_recv`.
            unsafe { self.read(token) }.map_err(|_| TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let token = &mut Token::default();
        let mut inner = self.inner.lock();
        if let Some(entry) = inner.senders.try_select() {
            token.zero.0 = entry.packet;
            drop(inner);
            entry.unpark();
            // SAFETY: filled just now from a claimed sender.
            return unsafe { self.read(token) }.map_err(|_| RecvTimeoutError::Disconnected);
        }
        if inner.is_disconnected {
            return Err(RecvTimeoutError::Disconnected);
        }
        Context::with(|cx| {
            let oper = Operation::hook(token);
            let mut packet = Packet::<T>::empty_owned();
            inner.receivers.register_with_packet(
                oper,
                &mut packet as *mut Packet<T> as *mut (),
                cx,
                None,
            );
            let observers = inner.senders.notify_observers();
            drop(inner);
            unpark_all(observers);
            match cx.wait_until(deadline) {
                Selected::Waiting => unreachable!(),
                Selected::Aborted => {
                    self.inner.lock().receivers.unregister(oper);
                    Err(RecvTimeoutError::Timeout)
                }
                Selected::Disconnected => {
                    self.inner.lock().receivers.unregister(oper);
                    Err(RecvTimeoutError::Disconnected)
                }
                Selected::Operation(_) => {
                    packet.wait_ready();
                    Ok(packet.take().expect("written before ready"))
                }
            }
        })
    }

    /// Disconnects both sides; `true` if this call did it.
    pub(crate) fn disconnect(&self) -> bool {
        let claimed = {
            let mut inner = self.inner.lock();
            if inner.is_disconnected {
                return false;
            }
            inner.is_disconnected = true;
            let mut claimed = inner.senders.disconnect();
            claimed.append(&mut inner.receivers.disconnect());
            claimed
        };
        unpark_all(claimed);
        true
    }

    // ---- async ----

    /// Polls a `send_async`: hands the message to a waiting receiver, or offers it in
    /// a boxed packet (see "Async waiters").
    pub(crate) fn poll_send(
        &self,
        msg: &mut Option<T>,
        wait: &mut SendWait<T>,
        task: &mut task::Context<'_>,
    ) -> Poll<Result<(), SendError<T>>> {
        loop {
            if wait.registered {
                let cx = wait.cx.as_ref().expect("registered waiters have a context");
                let packet = wait
                    .offer
                    .as_ref()
                    .expect("registered offers have a packet");
                match cx.selected() {
                    Selected::Waiting => {
                        let mut inner = self.inner.lock();
                        if inner
                            .senders
                            .update_waker(cx.task_operation(), task.waker())
                        {
                            return Poll::Pending;
                        }
                        continue;
                    }
                    Selected::Operation(_) => {
                        wait.registered = false;
                        packet.wait_ready();
                        return Poll::Ready(Ok(()));
                    }
                    Selected::Disconnected | Selected::Aborted => {
                        wait.registered = false;
                        let entry = self.inner.lock().senders.unregister(cx.task_operation());
                        drop(entry);
                        let msg = packet.take().expect("not taken");
                        return Poll::Ready(Err(SendError(msg)));
                    }
                }
            }
            let value = msg.take().expect("polled after completion");
            let mut inner = self.inner.lock();
            if let Some(entry) = inner.receivers.try_select() {
                let mut token = Token::default();
                token.zero.0 = entry.packet;
                drop(inner);
                entry.unpark();
                // SAFETY: filled just now from a claimed receiver.
                let res = unsafe { self.write(&mut token, value) };
                return Poll::Ready(res.map_err(SendError));
            }
            if inner.is_disconnected {
                return Poll::Ready(Err(SendError(value)));
            }
            let packet = wait
                .offer
                .get_or_insert_with(|| Box::new(Packet::empty_owned()));
            // Only we touch an unregistered packet.
            packet.ready.store(false, Ordering::Relaxed);
            packet.msg.with_mut(|p| {
                // SAFETY: unregistered: nobody else can reach the cell.
                unsafe { *p = Some(value) }
            });
            let cx = wait.cx.get_or_insert_with(Context::for_task);
            cx.reset();
            let packet_ptr = &**packet as *const Packet<T> as *mut ();
            inner.senders.register_with_packet(
                cx.task_operation(),
                packet_ptr,
                cx,
                Some(task.waker().clone()),
            );
            wait.registered = true;
            let observers = inner.receivers.notify_observers();
            drop(inner);
            unpark_all(observers);
            return Poll::Pending;
        }
    }

    /// Withdraws a pending `send_async`'s offer (the message is dropped unsent), or
    /// waits for the receiver that already claimed it to finish taking it.
    pub(crate) fn cancel_send(&self, wait: &mut SendWait<T>) {
        if !wait.registered {
            return;
        }
        wait.registered = false;
        let cx = wait.cx.as_ref().expect("registered waiters have a context");
        match cx.try_select(Selected::Aborted) {
            Ok(()) => {
                let entry = self.inner.lock().senders.unregister(cx.task_operation());
                drop(entry);
            }
            Err(Selected::Operation(_)) => {
                if let Some(packet) = &wait.offer {
                    packet.wait_ready();
                }
            }
            Err(_) => {
                let entry = self.inner.lock().senders.unregister(cx.task_operation());
                drop(entry);
            }
        }
    }

    /// Polls a `recv_async`: takes a waiting sender's message, or observes.
    pub(crate) fn poll_recv(
        &self,
        wait: &mut RecvWait,
        task: &mut task::Context<'_>,
    ) -> Poll<Result<T, crate::RecvError>> {
        loop {
            if wait.registered {
                let cx = wait.cx.as_ref().expect("registered waiters have a context");
                if cx.selected() == Selected::Waiting {
                    let mut inner = self.inner.lock();
                    if inner
                        .receivers
                        .update_waker(cx.task_operation(), task.waker())
                    {
                        return Poll::Pending;
                    }
                    continue;
                }
                wait.registered = false;
            }
            let mut inner = self.inner.lock();
            if let Some(entry) = inner.senders.try_select() {
                let mut token = Token::default();
                token.zero.0 = entry.packet;
                drop(inner);
                entry.unpark();
                // SAFETY: filled just now from a claimed sender.
                let res = unsafe { self.read(&mut token) };
                return Poll::Ready(res.map_err(|_| crate::RecvError));
            }
            if inner.is_disconnected {
                return Poll::Ready(Err(crate::RecvError));
            }
            let cx = wait.cx.get_or_insert_with(Context::for_task);
            cx.reset();
            inner
                .receivers
                .watch(cx.task_operation(), cx, Some(task.waker().clone()));
            wait.registered = true;
            return Poll::Pending;
        }
    }

    /// Withdraws a pending `recv_async`'s observer, passing a wake-up on.
    pub(crate) fn cancel_recv(&self, wait: &mut RecvWait) {
        if !wait.registered {
            return;
        }
        wait.registered = false;
        let cx = wait.cx.as_ref().expect("registered waiters have a context");
        match cx.try_select(Selected::Aborted) {
            Ok(()) => {
                self.inner.lock().receivers.unwatch(cx.task_operation());
            }
            Err(Selected::Operation(_)) => {
                let observers = self.inner.lock().receivers.notify_observers();
                unpark_all(observers);
            }
            Err(_) => {}
        }
    }

    // ---- select ----

    pub(crate) fn register_send(&self, oper: Operation, cx: &Context) -> bool {
        let packet = Box::into_raw(Packet::<T>::empty_on_heap());
        let mut inner = self.inner.lock();
        inner
            .senders
            .register_with_packet(oper, packet.cast::<()>(), cx, None);
        let observers = inner.receivers.notify_observers();
        let ready = inner.receivers.can_select() || inner.is_disconnected;
        drop(inner);
        unpark_all(observers);
        ready
    }

    pub(crate) fn unregister_send(&self, oper: Operation) {
        let entry = self.inner.lock().senders.unregister(oper);
        if let Some(entry) = entry {
            // SAFETY: still registered, so never claimed: the heap packet from
            // `register_send` is ours to free.
            drop(unsafe { Box::from_raw(entry.packet.cast::<Packet<T>>()) });
        }
    }

    pub(crate) fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        token.zero.0 = cx.wait_packet();
        true
    }

    pub(crate) fn is_ready_send(&self) -> bool {
        let inner = self.inner.lock();
        inner.receivers.can_select() || inner.is_disconnected
    }

    pub(crate) fn watch_send(&self, oper: Operation, cx: &Context) -> bool {
        let mut inner = self.inner.lock();
        inner.senders.watch(oper, cx, None);
        inner.receivers.can_select() || inner.is_disconnected
    }

    pub(crate) fn unwatch_send(&self, oper: Operation) {
        self.inner.lock().senders.unwatch(oper);
    }

    pub(crate) fn register_recv(&self, oper: Operation, cx: &Context) -> bool {
        let packet = Box::into_raw(Packet::<T>::empty_on_heap());
        let mut inner = self.inner.lock();
        inner
            .receivers
            .register_with_packet(oper, packet.cast::<()>(), cx, None);
        let observers = inner.senders.notify_observers();
        let ready = inner.senders.can_select() || inner.is_disconnected;
        drop(inner);
        unpark_all(observers);
        ready
    }

    pub(crate) fn unregister_recv(&self, oper: Operation) {
        let entry = self.inner.lock().receivers.unregister(oper);
        if let Some(entry) = entry {
            // SAFETY: as in `unregister_send`.
            drop(unsafe { Box::from_raw(entry.packet.cast::<Packet<T>>()) });
        }
    }

    pub(crate) fn is_ready_recv(&self) -> bool {
        let inner = self.inner.lock();
        inner.senders.can_select() || inner.is_disconnected
    }

    pub(crate) fn watch_recv(&self, oper: Operation, cx: &Context) -> bool {
        let mut inner = self.inner.lock();
        inner.receivers.watch(oper, cx, None);
        inner.senders.can_select() || inner.is_disconnected
    }

    pub(crate) fn unwatch_recv(&self, oper: Operation) {
        self.inner.lock().receivers.unwatch(oper);
    }
}

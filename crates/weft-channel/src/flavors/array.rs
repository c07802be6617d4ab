//! The bounded flavour: a ring buffer of slots, each with a stamp.
//!
//! Dmitry Vyukov's bounded MPMC queue (1024cores.net, "Bounded MPMC queue"), as
//! crossbeam-channel's `flavors/array.rs` extends it with disconnection and blocking.
//!
//! # Invariants
//!
//! 1. `head` and `tail` are `lap * one_lap + index`, `one_lap = 2 * mark_bit`, where
//!    `mark_bit` is the smallest power of two above `cap`; `tail`'s `mark_bit` is set
//!    once the senders (or the receivers) are all gone.
//! 2. A slot's stamp is `tail + 1` of the send that filled it ("full for this lap"),
//!    or `head + one_lap` of the receive that emptied it ("empty for the next lap").
//!    A sender may claim slot `tail` only when `stamp == tail`; a receiver slot `head`
//!    only when `stamp == head + 1`. Claiming is a CAS of `tail` (`head`); the claimer
//!    then owns the slot's message cell until it stores the new stamp (Release).

use crate::context::Context;
use crate::err::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::flavors::Look;
use crate::primitive::UnsafeCell;
use crate::primitive::atomic::{AtomicUsize, Ordering};
use crate::select::{Operation, Selected, Token};
use crate::waker::SyncWaiterList;
use std::mem::MaybeUninit;
use std::ptr;
use std::time::Instant;
use weft_sync::{Backoff, CachePadded};

struct Slot<T> {
    stamp: AtomicUsize,
    msg: UnsafeCell<MaybeUninit<T>>,
}

/// A claimed slot: where `write`/`read` finish the operation (null: disconnected).
#[derive(Debug)]
pub(crate) struct ArrayToken {
    slot: *const u8,
    stamp: usize,
}

impl Default for ArrayToken {
    fn default() -> Self {
        ArrayToken {
            slot: ptr::null(),
            stamp: 0,
        }
    }
}

pub(crate) struct Channel<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    buffer: Box<[Slot<T>]>,
    cap: usize,
    one_lap: usize,
    mark_bit: usize,
    /// Blocked senders and receivers, each on its own cache line: registering
    /// writes a list's lock word on every wait, and must not evict the read-mostly
    /// `buffer`/`cap`/`one_lap`/`mark_bit` line that every operation reads, nor the
    /// other side's list.
    pub(crate) senders: CachePadded<SyncWaiterList>,
    pub(crate) receivers: CachePadded<SyncWaiterList>,
}

impl<T> Channel<T> {
    pub(crate) fn with_capacity(cap: usize) -> Self {
        assert!(cap > 0, "capacity must be positive");
        let mark_bit = (cap + 1).next_power_of_two();
        let one_lap = mark_bit * 2;
        let buffer: Box<[Slot<T>]> = (0..cap)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i),
                msg: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Channel {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            buffer,
            cap,
            one_lap,
            mark_bit,
            senders: CachePadded::new(SyncWaiterList::new()),
            receivers: CachePadded::new(SyncWaiterList::new()),
        }
    }

    /// Claims a slot to write into; `false` if the channel is full.
    pub(crate) fn start_send(&self, token: &mut Token) -> bool {
        self.start_send_with(token, Look::Ordered)
    }

    /// [`start_send`](Self::start_send), looking at `head` as `look` says.
    #[inline]
    pub(crate) fn start_send_with(&self, token: &mut Token, look: Look) -> bool {
        let backoff = Backoff::new();
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & self.mark_bit != 0 {
                token.array.slot = ptr::null();
                token.array.stamp = 0;
                return true;
            }
            let index = tail & (self.mark_bit - 1);
            let lap = tail & !(self.one_lap - 1);
            // SAFETY: `index < cap` by invariant 1.
            let slot = unsafe { self.buffer.get_unchecked(index) };
            // Acquire: pairs with the Release stamp store in `read`, so the receiver
            // is done with the cell before this sender overwrites it.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if tail == stamp {
                let new_tail = if index + 1 < self.cap {
                    tail + 1
                } else {
                    lap.wrapping_add(self.one_lap)
                };
                // SeqCst: the notifier's change in the wake-up protocol (`waker.rs`):
                // a receiver registering to wait re-checks `tail` with SeqCst.
                match self.tail.compare_exchange_weak(
                    tail,
                    new_tail,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        token.array.slot = slot as *const Slot<T> as *const u8;
                        token.array.stamp = tail + 1;
                        return true;
                    }
                    Err(t) => {
                        tail = t;
                        backoff.spin();
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                // The slot is still full from the previous lap: full, unless a
                // receiver has moved `head` since. `look` orders the head load after
                // the stamp load (an `Ordered` look fences: crossbeam's argument).
                let head = self.head.load(look.other_end());
                if head.wrapping_add(self.one_lap) == tail {
                    return false;
                }
                backoff.spin();
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // Another sender claimed the slot and has not written its stamp yet.
                backoff.snooze();
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Writes into a slot claimed by `start_send`.
    ///
    /// # Safety
    ///
    /// `token` was filled by `start_send` (or `accept_send`) on this channel.
    pub(crate) unsafe fn write(&self, token: &mut Token, msg: T) -> Result<(), T> {
        if token.array.slot.is_null() {
            return Err(msg);
        }
        // SAFETY: `start_send` claimed this slot of our buffer for us.
        let slot: &Slot<T> = unsafe { &*token.array.slot.cast::<Slot<T>>() };
        // SAFETY: the claim makes us the cell's only user until the stamp store.
        slot.msg
            .with_mut(|p| unsafe { p.write(MaybeUninit::new(msg)) });
        // Release: publishes the message to the Acquire stamp load in `start_recv`.
        slot.stamp.store(token.array.stamp, Ordering::Release);
        self.receivers.notify();
        Ok(())
    }

    /// Claims a slot to read from; `false` if the channel is empty.
    pub(crate) fn start_recv(&self, token: &mut Token) -> bool {
        self.start_recv_with(token, Look::Ordered)
    }

    /// [`start_recv`](Self::start_recv), looking at `tail` as `look` says.
    #[inline]
    pub(crate) fn start_recv_with(&self, token: &mut Token, look: Look) -> bool {
        let backoff = Backoff::new();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let index = head & (self.mark_bit - 1);
            let lap = head & !(self.one_lap - 1);
            // SAFETY: `index < cap` by invariant 1.
            let slot = unsafe { self.buffer.get_unchecked(index) };
            // Acquire: pairs with the Release stamp store in `write`.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if head + 1 == stamp {
                let new = if index + 1 < self.cap {
                    head + 1
                } else {
                    lap.wrapping_add(self.one_lap)
                };
                // SeqCst: the notifier's change for waiting senders (`waker.rs`).
                match self.head.compare_exchange_weak(
                    head,
                    new,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        token.array.slot = slot as *const Slot<T> as *const u8;
                        token.array.stamp = head.wrapping_add(self.one_lap);
                        return true;
                    }
                    Err(h) => {
                        head = h;
                        backoff.spin();
                    }
                }
            } else if stamp == head {
                // Empty, unless a sender has moved `tail` since (see `start_send`).
                let tail = self.tail.load(look.other_end());
                if (tail & !self.mark_bit) == head {
                    if tail & self.mark_bit != 0 {
                        token.array.slot = ptr::null();
                        token.array.stamp = 0;
                        return true;
                    }
                    return false;
                }
                backoff.spin();
                head = self.head.load(Ordering::Relaxed);
            } else {
                // A receiver claimed it and has not written its stamp, or a sender
                // claimed it for this lap and has not written yet.
                backoff.snooze();
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Reads from a slot claimed by `start_recv`.
    ///
    /// # Safety
    ///
    /// `token` was filled by `start_recv` (or `accept_recv`) on this channel.
    pub(crate) unsafe fn read(&self, token: &mut Token) -> Result<T, ()> {
        if token.array.slot.is_null() {
            return Err(());
        }
        // SAFETY: `start_recv` claimed this slot of our buffer for us.
        let slot: &Slot<T> = unsafe { &*token.array.slot.cast::<Slot<T>>() };
        // SAFETY: the stamp said full (Acquire), so the message is initialized and the
        // claim makes us its only reader.
        let msg = slot.msg.with(|p| unsafe { p.read().assume_init() });
        // Release: hands the empty cell to the next lap's sender (`start_send`).
        slot.stamp.store(token.array.stamp, Ordering::Release);
        self.senders.notify();
        Ok(msg)
    }

    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        self.try_send_with(msg, Look::Ordered)
    }

    /// [`try_send`](Self::try_send), looking as `look` says.
    #[inline]
    pub(crate) fn try_send_with(&self, msg: T, look: Look) -> Result<(), TrySendError<T>> {
        let token = &mut Token::default();
        if self.start_send_with(token, look) {
            // SAFETY: filled just now by `start_send`.
            unsafe { self.write(token, msg).map_err(TrySendError::Disconnected) }
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
        loop {
            if crate::primitive::SPIN {
                let backoff = Backoff::new();
                loop {
                    if self.start_send(token) {
                        // SAFETY: filled just now by `start_send`.
                        let res = unsafe { self.write(token, msg) };
                        return res.map_err(SendTimeoutError::Disconnected);
                    }
                    if backoff.is_completed() {
                        break;
                    }
                    backoff.snooze();
                }
            } else if self.start_send(token) {
                // SAFETY: filled just now by `start_send`.
                let res = unsafe { self.write(token, msg) };
                return res.map_err(SendTimeoutError::Disconnected);
            }
            if let Some(d) = deadline
                && Instant::now() >= d
            {
                return Err(SendTimeoutError::Timeout(msg));
            }
            Context::with(|cx| {
                let oper = Operation::hook(token);
                self.senders.register(oper, cx);
                // The re-check of the wake-up protocol.
                if !self.is_full() || self.is_disconnected() {
                    let _ = cx.try_select(Selected::Aborted);
                }
                match cx.wait_until(deadline) {
                    Selected::Waiting => unreachable!(),
                    Selected::Aborted | Selected::Disconnected => {
                        self.senders.unregister(oper);
                    }
                    Selected::Operation(_) => {}
                }
            });
        }
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        self.try_recv_with(Look::Ordered)
    }

    /// [`try_recv`](Self::try_recv), looking as `look` says.
    #[inline]
    pub(crate) fn try_recv_with(&self, look: Look) -> Result<T, TryRecvError> {
        let token = &mut Token::default();
        if self.start_recv_with(token, look) {
            // SAFETY: filled just now by `start_recv`.
            unsafe { self.read(token).map_err(|_| TryRecvError::Disconnected) }
        } else {
            Err(TryRecvError::Empty)
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let token = &mut Token::default();
        loop {
            if crate::primitive::SPIN {
                let backoff = Backoff::new();
                loop {
                    if self.start_recv(token) {
                        // SAFETY: filled just now by `start_recv`.
                        let res = unsafe { self.read(token) };
                        return res.map_err(|_| RecvTimeoutError::Disconnected);
                    }
                    if backoff.is_completed() {
                        break;
                    }
                    backoff.snooze();
                }
            } else if self.start_recv(token) {
                // SAFETY: filled just now by `start_recv`.
                let res = unsafe { self.read(token) };
                return res.map_err(|_| RecvTimeoutError::Disconnected);
            }
            if let Some(d) = deadline
                && Instant::now() >= d
            {
                return Err(RecvTimeoutError::Timeout);
            }
            Context::with(|cx| {
                let oper = Operation::hook(token);
                self.receivers.register(oper, cx);
                if !self.is_empty() || self.is_disconnected() {
                    let _ = cx.try_select(Selected::Aborted);
                }
                match cx.wait_until(deadline) {
                    Selected::Waiting => unreachable!(),
                    Selected::Aborted | Selected::Disconnected => {
                        self.receivers.unregister(oper);
                    }
                    Selected::Operation(_) => {}
                }
            });
        }
    }

    pub(crate) fn len(&self) -> usize {
        loop {
            // SeqCst: a consistent snapshot of both ends (re-checked below).
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            if self.tail.load(Ordering::SeqCst) == tail {
                let hix = head & (self.mark_bit - 1);
                let tix = tail & (self.mark_bit - 1);
                return if hix < tix {
                    tix - hix
                } else if hix > tix {
                    self.cap - hix + tix
                } else if (tail & !self.mark_bit) == head {
                    0
                } else {
                    self.cap
                };
            }
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// Marks the channel disconnected on behalf of the last sender (or receiver) and
    /// wakes everyone blocked; `true` if this call did it.
    pub(crate) fn disconnect(&self) -> bool {
        // SeqCst: waiters re-check `tail`'s mark bit with SeqCst after registering.
        let tail = self.tail.fetch_or(self.mark_bit, Ordering::SeqCst);
        if tail & self.mark_bit == 0 {
            self.senders.disconnect();
            self.receivers.disconnect();
            true
        } else {
            false
        }
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.tail.load(Ordering::SeqCst) & self.mark_bit != 0
    }

    pub(crate) fn is_empty(&self) -> bool {
        // SeqCst: the waiter's re-check in the wake-up protocol.
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        (tail & !self.mark_bit) == head
    }

    pub(crate) fn is_full(&self) -> bool {
        // SeqCst: as in `is_empty`.
        let tail = self.tail.load(Ordering::SeqCst);
        let head = self.head.load(Ordering::SeqCst);
        head.wrapping_add(self.one_lap) == tail & !self.mark_bit
    }

    // ---- select ----

    pub(crate) fn register_send(&self, oper: Operation, cx: &Context) -> bool {
        self.senders.register(oper, cx);
        self.is_ready_send()
    }

    pub(crate) fn is_ready_send(&self) -> bool {
        !self.is_full() || self.is_disconnected()
    }

    pub(crate) fn watch_send(&self, oper: Operation, cx: &Context) -> bool {
        self.senders.watch(oper, cx);
        self.is_ready_send()
    }

    pub(crate) fn register_recv(&self, oper: Operation, cx: &Context) -> bool {
        self.receivers.register(oper, cx);
        self.is_ready_recv()
    }

    pub(crate) fn is_ready_recv(&self) -> bool {
        !self.is_empty() || self.is_disconnected()
    }

    pub(crate) fn watch_recv(&self, oper: Operation, cx: &Context) -> bool {
        self.receivers.watch(oper, cx);
        self.is_ready_recv()
    }
}

impl<T> Drop for Channel<T> {
    fn drop(&mut self) {
        if !std::mem::needs_drop::<T>() {
            return;
        }
        // `&mut self`: every operation has finished; the messages between head and
        // tail are the undelivered ones, each dropped exactly once here.
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        let hix = head & (self.mark_bit - 1);
        let tix = tail & (self.mark_bit - 1);
        let len = if hix < tix {
            tix - hix
        } else if hix > tix {
            self.cap - hix + tix
        } else if (tail & !self.mark_bit) == head {
            0
        } else {
            self.cap
        };
        for i in 0..len {
            let index = if hix + i < self.cap {
                hix + i
            } else {
                hix + i - self.cap
            };
            // SAFETY: slots `head..tail` hold initialized, undelivered messages.
            self.buffer[index]
                .msg
                .with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
    }
}

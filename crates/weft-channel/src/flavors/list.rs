//! The unbounded flavour: a linked list of blocks of slots.
//!
//! crossbeam-channel's `flavors/list.rs` design (itself an unbounded version of
//! Vyukov's queue): `tail` and `head` are indices that count slots, `LAP` per block
//! of which the last (`BLOCK_CAP`) is never used, so the index that points at it
//! means "the next block is being installed, wait". A sender claims an index with
//! one CAS, then writes its slot and sets the slot's `WRITE` bit; a receiver claims
//! an index with one CAS, then waits for `WRITE` and reads.
//!
//! # Invariants
//!
//! 1. Indices are shifted left by `SHIFT`; bit 0 of `tail` is `MARK_BIT` =
//!    disconnected, bit 0 of `head` means "the head block is not the tail block"
//!    (so a receiver need not look at `tail` to know the list is non-empty).
//! 2. A block is freed by whichever reader finishes last: the reader of the last
//!    slot starts `Block::destroy`, which walks the slots and, finding one still
//!    being read, leaves the `DESTROY` bit for that reader to continue.
//! 3. Messages nobody received are dropped by the last receiver as it leaves
//!    (`discard_all_messages`), since no one can receive them any more and the
//!    senders may live on; if the senders left first, by the channel's `Drop`.
//! 4. A block whose every slot was read is not freed but kept, zeroed, as the
//!    channel's one `spare`, which the next sender that needs a block takes (a
//!    stream of messages then allocates no more, as tokio's list reuses its
//!    blocks). It is nobody's between the destroyer's Release CAS that parks it
//!    and the taker's Acquire swap. A sender that loaded a block pointer before
//!    the block was recycled cannot use it: its CAS on the index, which only
//!    grows, fails, exactly as if the allocator had handed the address out again.

use crate::context::Context;
use crate::err::{RecvTimeoutError, TryRecvError, TrySendError};
use crate::flavors::Look;
use crate::primitive::UnsafeCell;
use crate::primitive::atomic::{AtomicPtr, AtomicUsize, Ordering};
use crate::select::{Operation, Selected, Token};
use crate::waker::SyncWaiterList;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr;
use std::time::Instant;
use weft_sync::{Backoff, CachePadded};

const WRITE: usize = 1;
const READ: usize = 2;
const DESTROY: usize = 4;

const LAP: usize = 32;
const BLOCK_CAP: usize = LAP - 1;
const SHIFT: usize = 1;
const MARK_BIT: usize = 1;

struct Slot<T> {
    msg: UnsafeCell<MaybeUninit<T>>,
    state: AtomicUsize,
}

impl<T> Slot<T> {
    /// Waits for the sender that claimed this slot to finish writing.
    fn wait_write(&self) {
        let backoff = Backoff::new();
        // Acquire: pairs with the Release `fetch_or(WRITE)` in `write`.
        while self.state.load(Ordering::Acquire) & WRITE == 0 {
            backoff.snooze();
        }
    }
}

struct Block<T> {
    next: AtomicPtr<Block<T>>,
    slots: [Slot<T>; BLOCK_CAP],
}

impl<T> Block<T> {
    fn new() -> Box<Block<T>> {
        #[cfg(not(loom))]
        {
            use std::alloc::{Layout, alloc_zeroed, handle_alloc_error};
            let layout = Layout::new::<Block<T>>();
            // SAFETY: `Block` has non-zero size (it holds atomics).
            let raw = unsafe { alloc_zeroed(layout) }.cast::<Block<T>>();
            if raw.is_null() {
                handle_alloc_error(layout);
            }
            // SAFETY: all-zero bytes are a valid `Block` (null `next`, zero states,
            // uninitialized messages), allocated with `Box`'s layout for it.
            unsafe { Box::from_raw(raw) }
        }
        #[cfg(loom)]
        {
            Box::new(Block {
                next: AtomicPtr::new(ptr::null_mut()),
                slots: std::array::from_fn(|_| Slot {
                    msg: UnsafeCell::new(MaybeUninit::uninit()),
                    state: AtomicUsize::new(0),
                }),
            })
        }
    }

    /// Waits until the sender that filled the last slot links the next block.
    fn wait_next(&self) -> *mut Block<T> {
        let backoff = Backoff::new();
        loop {
            // Acquire: pairs with the Release store of `next` in `start_send`.
            let next = self.next.load(Ordering::Acquire);
            if !next.is_null() {
                return next;
            }
            backoff.snooze();
        }
    }

    /// Frees the block once every slot from `start` on has been read (see invariant
    /// 2), or keeps it as the channel's `spare` (invariant 4).
    ///
    /// # Safety
    ///
    /// `this` is a block all of whose slots before `start` have been read, and whose
    /// last slot's reader has started destruction.
    #[cold]
    #[inline(never)]
    unsafe fn destroy(this: *mut Block<T>, start: usize, spare: &AtomicPtr<Block<T>>) {
        // The last slot's reader is the one who got here first; skip its slot.
        for i in start..BLOCK_CAP - 1 {
            // SAFETY: the block is alive until this function frees it.
            let slot = unsafe { (*this).slots.get_unchecked(i) };
            // AcqRel: a reader still busy with the slot will see DESTROY when it sets
            // READ and continue the destruction itself.
            if slot.state.load(Ordering::Acquire) & READ == 0
                && slot.state.fetch_or(DESTROY, Ordering::AcqRel) & READ == 0
            {
                return;
            }
        }
        // SAFETY: every slot has been read; nobody refers to the block any more.
        unsafe { Self::recycle(this, spare) };
    }

    /// Makes a block that nobody refers to any more the channel's spare, zeroed as
    /// `new` would make it, or frees it if the channel has one.
    ///
    /// # Safety
    ///
    /// `this` is a live block nobody else refers to (every slot read or dropped).
    unsafe fn recycle(this: *mut Block<T>, spare: &AtomicPtr<Block<T>>) {
        // SAFETY: ours alone (the caller's promise), so plain resets suffice; the
        // Release below publishes them with the block.
        unsafe {
            (*this).next.store(ptr::null_mut(), Ordering::Relaxed);
            for slot in &(*this).slots {
                slot.state.store(0, Ordering::Relaxed);
            }
        }
        // Release: the next owner's Acquire `swap` in `take_spare` sees the resets.
        if spare
            .compare_exchange(ptr::null_mut(), this, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            // SAFETY: as above; allocated by `Box` (`new`).
            drop(unsafe { Box::from_raw(this) });
        }
    }
}

#[derive(Debug)]
struct Position<T> {
    index: AtomicUsize,
    block: AtomicPtr<Block<T>>,
}

/// A claimed slot: where `write`/`read` finish the operation (null block: disconnected).
#[derive(Debug)]
pub(crate) struct ListToken {
    block: *const u8,
    offset: usize,
}

impl Default for ListToken {
    fn default() -> Self {
        ListToken {
            block: ptr::null(),
            offset: 0,
        }
    }
}

pub(crate) struct Channel<T> {
    head: CachePadded<Position<T>>,
    tail: CachePadded<Position<T>>,
    /// Blocked receivers, on their own cache line (see the array flavour).
    pub(crate) receivers: CachePadded<SyncWaiterList>,
    /// A zeroed block for the next sender that needs one, or null (invariant 4).
    spare: AtomicPtr<Block<T>>,
    _marker: PhantomData<T>,
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Self {
        Channel {
            head: CachePadded::new(Position {
                block: AtomicPtr::new(ptr::null_mut()),
                index: AtomicUsize::new(0),
            }),
            tail: CachePadded::new(Position {
                block: AtomicPtr::new(ptr::null_mut()),
                index: AtomicUsize::new(0),
            }),
            receivers: CachePadded::new(SyncWaiterList::new()),
            spare: AtomicPtr::new(ptr::null_mut()),
            _marker: PhantomData,
        }
    }

    /// A zeroed block: the spare if there is one, else a new one.
    fn new_block(&self) -> Box<Block<T>> {
        // Acquire: pairs with the Release in `Block::recycle`, so the block's
        // resets happen before our use of it.
        let spare = self.spare.swap(ptr::null_mut(), Ordering::Acquire);
        if spare.is_null() {
            Block::new()
        } else {
            // SAFETY: the spare was a block of ours, from `Box`, that nobody refers
            // to; the swap made it ours alone.
            unsafe { Box::from_raw(spare) }
        }
    }

    /// Claims a slot to write into (always succeeds: unbounded).
    pub(crate) fn start_send(&self, token: &mut Token) -> bool {
        self.claim_send(&mut token.list);
        true
    }

    /// Claims a slot to write into `token` (a null `token.block`: disconnected).
    ///
    /// The common case, a slot inside an installed block that is not the block's
    /// last, is one load of each of `tail`'s words and one CAS, inline; the rest
    /// (the first block, the last slot of a block, a block being installed, a lost
    /// CAS) is `claim_send_slow`'s.
    #[inline]
    fn claim_send(&self, token: &mut ListToken) {
        let tail = self.tail.index.load(Ordering::Acquire);
        let block = self.tail.block.load(Ordering::Acquire);
        let offset = (tail >> SHIFT) % LAP;
        if tail & MARK_BIT == 0 && offset + 1 < BLOCK_CAP && !block.is_null() {
            // SeqCst: the notifier's change in the wake-up protocol (`waker.rs`).
            if self
                .tail
                .index
                .compare_exchange(
                    tail,
                    tail + (1 << SHIFT),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                // `block` is `tail`'s: both were loaded with Acquire, the block
                // first stored (Release) before the index that moved into it.
                token.block = block as *const u8;
                token.offset = offset;
                return;
            }
        }
        self.claim_send_slow(token);
    }

    #[cold]
    #[inline(never)]
    fn claim_send_slow(&self, token: &mut ListToken) {
        let backoff = Backoff::new();
        let mut tail = self.tail.index.load(Ordering::Acquire);
        let mut block = self.tail.block.load(Ordering::Acquire);
        let mut next_block = None;
        loop {
            if tail & MARK_BIT != 0 {
                token.block = ptr::null();
                return;
            }
            let offset = (tail >> SHIFT) % LAP;
            if offset == BLOCK_CAP {
                // Another sender is installing the next block.
                backoff.snooze();
                tail = self.tail.index.load(Ordering::Acquire);
                block = self.tail.block.load(Ordering::Acquire);
                continue;
            }
            // About to fill the block: allocate the next one before claiming, so the
            // window in which others wait for it is short.
            if offset + 1 == BLOCK_CAP && next_block.is_none() {
                next_block = Some(self.new_block());
            }
            if block.is_null() {
                // The first message ever: install the first block.
                let new = Box::into_raw(self.new_block());
                // Release: publishes the zeroed block to the Acquire loads above.
                if self
                    .tail
                    .block
                    .compare_exchange(block, new, Ordering::Release, Ordering::Relaxed)
                    .is_ok()
                {
                    self.head.block.store(new, Ordering::Release);
                    block = new;
                } else {
                    // SAFETY: `new` was never shared; keep it for the next block.
                    next_block = Some(unsafe { Box::from_raw(new) });
                    tail = self.tail.index.load(Ordering::Acquire);
                    block = self.tail.block.load(Ordering::Acquire);
                    continue;
                }
            }
            let new_tail = tail + (1 << SHIFT);
            // SeqCst: the notifier's change in the wake-up protocol (`waker.rs`).
            match self.tail.index.compare_exchange_weak(
                tail,
                new_tail,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if offset + 1 == BLOCK_CAP {
                        let next_block = Box::into_raw(next_block.expect("allocated above"));
                        // Release: publishes the new block to the senders' Acquire.
                        self.tail.block.store(next_block, Ordering::Release);
                        self.tail.index.fetch_add(1 << SHIFT, Ordering::Release);
                        // SAFETY: `block` is alive: its last slot (ours) is unread.
                        unsafe { (*block).next.store(next_block, Ordering::Release) };
                    }
                    token.block = block as *const u8;
                    token.offset = offset;
                    return;
                }
                Err(t) => {
                    tail = t;
                    block = self.tail.block.load(Ordering::Acquire);
                    backoff.spin();
                }
            }
        }
    }

    /// Writes into a slot claimed by `start_send`.
    ///
    /// # Safety
    ///
    /// `token` was filled by `start_send` on this channel.
    pub(crate) unsafe fn write(&self, token: &mut Token, msg: T) -> Result<(), T> {
        // SAFETY: forwarded from the caller.
        unsafe { self.write_claimed(&token.list, msg) }
    }

    /// Writes into a slot claimed by `claim_send`.
    ///
    /// # Safety
    ///
    /// `token` was filled by `claim_send` on this channel, and is written once.
    #[inline]
    unsafe fn write_claimed(&self, token: &ListToken, msg: T) -> Result<(), T> {
        if token.block.is_null() {
            return Err(msg);
        }
        let block = token.block.cast::<Block<T>>();
        // SAFETY: the claimed slot's block stays alive until its slots are read, and
        // ours is not read before WRITE is set.
        let slot = unsafe { (*block).slots.get_unchecked(token.offset) };
        // SAFETY: the claim makes us the cell's only user until WRITE is set.
        slot.msg
            .with_mut(|p| unsafe { p.write(MaybeUninit::new(msg)) });
        // Release: publishes the message to `wait_write`'s Acquire.
        slot.state.fetch_or(WRITE, Ordering::Release);
        self.receivers.notify();
        Ok(())
    }

    /// Claims a slot to read from; `false` if the channel is empty.
    pub(crate) fn start_recv(&self, token: &mut Token) -> bool {
        self.claim_recv(&mut token.list, Look::Ordered)
    }

    /// Whether the channel is empty, looking at `tail` as `look` says: the answer
    /// of [`claim_recv`](Self::claim_recv) when it finds nothing, without its loop,
    /// its backoff or a token. An async receive that waits asks this three times per
    /// message and gets "empty" twice.
    ///
    /// The answer is as good as `claim_recv`'s: `head` is loaded first and only
    /// grows, and never passes `tail`, so when the later load of `tail` equals it,
    /// the channel was empty at that load (with [`Look::Ordered`] or
    /// [`Look::Recheck`], a point in the order the wake-up protocol needs). A head
    /// at `BLOCK_CAP` that equals `tail` is a claimed last slot, with both ends
    /// moving to the next block: empty too, where `claim_recv` waits to say so.
    #[inline(always)]
    fn looks_empty(&self, look: Look) -> bool {
        let head = self.head.index.load(Ordering::Acquire);
        let tail = self.tail.index.load(look.other_end());
        head >> SHIFT == tail >> SHIFT && tail & MARK_BIT == 0
    }

    /// Claims a slot to read from into `token`; `false` if the channel is empty
    /// (a null `token.block` and `true`: empty and disconnected). Looks at `tail`
    /// as `look` says.
    ///
    /// The common case, a slot inside an installed block that is not the block's
    /// last, is inline: the loads of `head`'s two words and of `tail`'s index (or
    /// none of it, when `head`'s mark says the tail is in a later block), and one
    /// CAS. The rest is `claim_recv_slow`'s.
    #[inline]
    fn claim_recv(&self, token: &mut ListToken, look: Look) -> bool {
        let head = self.head.index.load(Ordering::Acquire);
        let block = self.head.block.load(Ordering::Acquire);
        let offset = (head >> SHIFT) % LAP;
        if offset + 1 < BLOCK_CAP && !block.is_null() {
            let mut new_head = head + (1 << SHIFT);
            if head & MARK_BIT == 0 {
                let tail = self.tail.index.load(look.other_end());
                if head >> SHIFT == tail >> SHIFT {
                    if tail & MARK_BIT != 0 {
                        token.block = ptr::null();
                        return true;
                    }
                    return false;
                }
                if (head >> SHIFT) / LAP != (tail >> SHIFT) / LAP {
                    new_head |= MARK_BIT;
                }
            }
            // SeqCst: the notifier's change for `is_empty`-based re-checks.
            if self
                .head
                .index
                .compare_exchange(head, new_head, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
            {
                // `block` is `head`'s: it is stored before the index moves into
                // it, and moves on only once the index has passed this block's
                // last slot, which would have failed the CAS.
                token.block = block as *const u8;
                token.offset = offset;
                return true;
            }
        }
        self.claim_recv_slow(token, look)
    }

    #[cold]
    #[inline(never)]
    fn claim_recv_slow(&self, token: &mut ListToken, look: Look) -> bool {
        let backoff = Backoff::new();
        let mut head = self.head.index.load(Ordering::Acquire);
        let mut block = self.head.block.load(Ordering::Acquire);
        loop {
            let offset = (head >> SHIFT) % LAP;
            if offset == BLOCK_CAP {
                // Another receiver is moving to the next block.
                backoff.snooze();
                head = self.head.index.load(Ordering::Acquire);
                block = self.head.block.load(Ordering::Acquire);
                continue;
            }
            let mut new_head = head + (1 << SHIFT);
            if new_head & MARK_BIT == 0 {
                // Head and tail may share a block: look at tail.
                let tail = self.tail.index.load(look.other_end());
                if head >> SHIFT == tail >> SHIFT {
                    if tail & MARK_BIT != 0 {
                        token.block = ptr::null();
                        return true;
                    }
                    return false;
                }
                if (head >> SHIFT) / LAP != (tail >> SHIFT) / LAP {
                    new_head |= MARK_BIT;
                }
            }
            if block.is_null() {
                // The first sender has claimed but not yet installed the first block.
                backoff.snooze();
                head = self.head.index.load(Ordering::Acquire);
                block = self.head.block.load(Ordering::Acquire);
                continue;
            }
            // SeqCst: the notifier's change for `is_empty`-based re-checks.
            match self.head.index.compare_exchange_weak(
                head,
                new_head,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if offset + 1 == BLOCK_CAP {
                        // SAFETY: `block` is alive until its last slot (ours) is read.
                        let next = unsafe { (*block).wait_next() };
                        let mut next_index = (new_head & !MARK_BIT).wrapping_add(1 << SHIFT);
                        // SAFETY: `next` was installed by a sender and is alive.
                        if !unsafe { (*next).next.load(Ordering::Relaxed) }.is_null() {
                            next_index |= MARK_BIT;
                        }
                        self.head.block.store(next, Ordering::Release);
                        self.head.index.store(next_index, Ordering::Release);
                    }
                    token.block = block as *const u8;
                    token.offset = offset;
                    return true;
                }
                Err(h) => {
                    head = h;
                    block = self.head.block.load(Ordering::Acquire);
                    backoff.spin();
                }
            }
        }
    }

    /// Reads from a slot claimed by `start_recv`.
    ///
    /// # Safety
    ///
    /// `token` was filled by `start_recv` on this channel.
    pub(crate) unsafe fn read(&self, token: &mut Token) -> Result<T, ()> {
        // SAFETY: forwarded from the caller.
        unsafe { self.read_claimed(&token.list) }
    }

    /// Reads from a slot claimed by `claim_recv`.
    ///
    /// # Safety
    ///
    /// `token` was filled by `claim_recv` on this channel, and is read once.
    #[inline]
    unsafe fn read_claimed(&self, token: &ListToken) -> Result<T, ()> {
        if token.block.is_null() {
            return Err(());
        }
        let block = token.block.cast::<Block<T>>().cast_mut();
        let offset = token.offset;
        // SAFETY: the block is alive until this slot is marked READ.
        let slot = unsafe { (*block).slots.get_unchecked(offset) };
        slot.wait_write();
        // SAFETY: WRITE is set (Acquire): the message is initialized, and the claim
        // makes us its only reader.
        let msg = slot.msg.with(|p| unsafe { p.read().assume_init() });
        // `fetch_add` below: only this slot's one reader sets READ, so adding it is
        // setting it, in one `lock xadd` where `fetch_or` with its old value used
        // is a CAS loop on x86-64.
        if offset + 1 == BLOCK_CAP {
            // SAFETY: the last slot's reader starts the destruction (invariant 2).
            unsafe { Block::destroy(block, 0, &self.spare) };
        } else if slot.state.fetch_add(READ, Ordering::AcqRel) & DESTROY != 0 {
            // SAFETY: destruction reached our slot and left it to us.
            unsafe { Block::destroy(block, offset + 1, &self.spare) };
        }
        Ok(msg)
    }

    #[inline]
    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        let token = &mut ListToken::default();
        self.claim_send(token);
        // SAFETY: filled just now by `claim_send`.
        unsafe {
            self.write_claimed(token, msg)
                .map_err(TrySendError::Disconnected)
        }
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        self.try_recv_with(Look::Ordered)
    }

    /// [`try_recv`](Self::try_recv), looking as `look` says.
    #[inline]
    pub(crate) fn try_recv_with(&self, look: Look) -> Result<T, TryRecvError> {
        // `Ordered` (a linearizable `try_recv`) keeps to one fence per look, in
        // `claim_recv`; the async looks, whose ordering is a plain or `SeqCst` load,
        // answer "empty" from two loads.
        if look != Look::Ordered && self.looks_empty(look) {
            return Err(TryRecvError::Empty);
        }
        self.claim_and_read(look)
    }

    /// The rest of `try_recv_with`, out of line so that what an async receive
    /// inlines at each of its attempts is the two loads of `looks_empty`.
    #[inline(never)]
    fn claim_and_read(&self, look: Look) -> Result<T, TryRecvError> {
        let token = &mut ListToken::default();
        if self.claim_recv(token, look) {
            // SAFETY: filled just now by `claim_recv`.
            unsafe {
                self.read_claimed(token)
                    .map_err(|_| TryRecvError::Disconnected)
            }
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
            let mut tail = self.tail.index.load(Ordering::SeqCst);
            let mut head = self.head.index.load(Ordering::SeqCst);
            if self.tail.index.load(Ordering::SeqCst) == tail {
                tail &= !((1 << SHIFT) - 1);
                head &= !((1 << SHIFT) - 1);
                // An index pointing at the unused last slot means the next block.
                if (tail >> SHIFT) & (LAP - 1) == LAP - 1 {
                    tail = tail.wrapping_add(1 << SHIFT);
                }
                if (head >> SHIFT) & (LAP - 1) == LAP - 1 {
                    head = head.wrapping_add(1 << SHIFT);
                }
                let lap = (head >> SHIFT) / LAP;
                tail = tail.wrapping_sub((lap * LAP) << SHIFT);
                head = head.wrapping_sub((lap * LAP) << SHIFT);
                tail >>= SHIFT;
                head >>= SHIFT;
                return tail - head - tail / LAP;
            }
        }
    }

    /// Marks the channel disconnected on behalf of the last sender and wakes blocked
    /// receivers; `true` if this call did it.
    pub(crate) fn disconnect_senders(&self) -> bool {
        // SeqCst: waiters re-check the mark bit with SeqCst after registering.
        let tail = self.tail.index.fetch_or(MARK_BIT, Ordering::SeqCst);
        if tail & MARK_BIT == 0 {
            self.receivers.disconnect();
            true
        } else {
            false
        }
    }

    /// Marks the channel disconnected on behalf of the last receiver and drops the
    /// messages nobody can receive any more, now rather than when the last sender
    /// goes; `true` if this call did it. If the senders disconnected first, the
    /// channel is freed right after this call and its `Drop` drops them instead:
    /// either way, each message exactly once.
    pub(crate) fn disconnect_receivers(&self) -> bool {
        // SeqCst: as in `disconnect_senders`; after the mark no sender claims a slot.
        let tail = self.tail.index.fetch_or(MARK_BIT, Ordering::SeqCst);
        if tail & MARK_BIT == 0 {
            self.discard_all_messages();
            true
        } else {
            false
        }
    }

    /// Drops every queued message and frees the blocks, leaving `head == tail` and
    /// no head block, so `Drop` finds nothing left.
    ///
    /// Called by the last receiver after setting the mark: no receiver is left to
    /// race with, and no sender can claim a slot any more, so `head..tail` is final.
    /// What may still be in flight are senders that claimed a slot before the mark:
    /// one installing the next block (`tail` at offset `BLOCK_CAP`, or the first
    /// block not yet published at `head`), or one still writing its slot (`WRITE`
    /// not set yet). Each is waited out.
    fn discard_all_messages(&self) {
        let backoff = Backoff::new();
        let tail = loop {
            // Acquire: pairs with the installer's Release `fetch_add` past the
            // unused offset, after which the new block is linked.
            let tail = self.tail.index.load(Ordering::Acquire);
            if (tail >> SHIFT) % LAP != BLOCK_CAP {
                break tail;
            }
            backoff.snooze();
        };
        let mut head = self.head.index.load(Ordering::Acquire);
        // AcqRel: takes the head block away from `Drop` (which then sees null), and
        // sees the installer's Release store of it.
        let mut block = self.head.block.swap(ptr::null_mut(), Ordering::AcqRel);
        if head >> SHIFT != tail >> SHIFT {
            // A message was claimed, so the first block exists; its installer may
            // not have published it at `head` yet.
            while block.is_null() {
                backoff.snooze();
                block = self.head.block.swap(ptr::null_mut(), Ordering::AcqRel);
            }
        }
        while head >> SHIFT != tail >> SHIFT {
            let offset = (head >> SHIFT) % LAP;
            if offset < BLOCK_CAP {
                // SAFETY: `block` holds `head`'s slot: blocks before it were freed by
                // their readers, and this one is freed only below.
                let slot = unsafe { (*block).slots.get_unchecked(offset) };
                slot.wait_write();
                slot.msg.with_mut(|p| {
                    // SAFETY: WRITE is set (Acquire) and no receiver is left: the
                    // message is initialized, unread, and dropped only here.
                    unsafe { (*p).assume_init_drop() }
                });
            } else {
                // SAFETY: as above; the sender of this block's last slot links the
                // next one before it finishes, and we wait for that.
                let next = unsafe { (*block).wait_next() };
                // SAFETY: every slot of the block is read or dropped; no reader is
                // left and no sender touches a block after setting WRITE.
                drop(unsafe { Box::from_raw(block) });
                block = next;
            }
            head = head.wrapping_add(1 << SHIFT);
        }
        if !block.is_null() {
            // SAFETY: the block `head` stopped in, ours alone as above.
            drop(unsafe { Box::from_raw(block) });
        }
        // Release: `Drop` (after the last handle's AcqRel release) sees head == tail.
        self.head.index.store(head & !MARK_BIT, Ordering::Release);
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.tail.index.load(Ordering::SeqCst) & MARK_BIT != 0
    }

    pub(crate) fn is_empty(&self) -> bool {
        // SeqCst: the waiter's re-check in the wake-up protocol.
        let head = self.head.index.load(Ordering::SeqCst);
        let tail = self.tail.index.load(Ordering::SeqCst);
        head >> SHIFT == tail >> SHIFT
    }

    // ---- select ----

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
        // `&mut self`: every operation has finished. Walk head..tail dropping the
        // undelivered messages (each exactly once) and freeing the blocks.
        let mut head = self.head.index.load(Ordering::Relaxed) & !((1 << SHIFT) - 1);
        let tail = self.tail.index.load(Ordering::Relaxed) & !((1 << SHIFT) - 1);
        let mut block = self.head.block.load(Ordering::Relaxed);
        while head != tail {
            let offset = (head >> SHIFT) % LAP;
            if offset < BLOCK_CAP {
                // SAFETY: slots between head and tail hold written, unread messages.
                let slot = unsafe { (*block).slots.get_unchecked(offset) };
                slot.msg.with_mut(|p| {
                    // SAFETY: as above: written, unread, dropped only here.
                    unsafe { (*p).assume_init_drop() }
                });
            } else {
                // SAFETY: the block is ours alone now; its successor is linked.
                let next = unsafe { (*block).next.load(Ordering::Relaxed) };
                // SAFETY: every slot of this block is done with; nobody else refers to it.
                drop(unsafe { Box::from_raw(block) });
                block = next;
            }
            head = head.wrapping_add(1 << SHIFT);
        }
        if !block.is_null() {
            // SAFETY: the last block, ours alone.
            drop(unsafe { Box::from_raw(block) });
        }
        let spare = self.spare.load(Ordering::Relaxed);
        if !spare.is_null() {
            // SAFETY: the spare is referred to by nothing but this field.
            drop(unsafe { Box::from_raw(spare) });
        }
    }
}

//! Selection over several channel operations: the [`Select`] builder and the
//! machinery behind it and the [`select!`](crate::select!) macro.
//!
//! The algorithm is crossbeam-channel's (`select.rs`), itself Go's `selectgo`
//! reshaped for lock-free channels:
//!
//! 1. Shuffle the operations (a random start: fairness among ready ones).
//! 2. Try each once without blocking; the first that succeeds wins.
//! 3. Otherwise register one thread [`Context`] with every channel, re-check
//!    readiness (a channel that became ready meanwhile aborts the wait), and park.
//!    Exactly one party claims the context (one CAS); every registration is then
//!    withdrawn, and the claimed operation is completed (or, if the claim was only a
//!    readiness hint, step 2 runs again).

use crate::context::Context;
use crate::err::{ReadyTimeoutError, SelectTimeoutError, TryReadyError, TrySelectError};
use crate::flavors;
use crate::{Receiver, Sender};
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

/// Where a selected operation's slot is, per flavour: filled by `start_send` /
/// `start_recv` / `try_select`, consumed by `write` / `read`.
#[derive(Debug, Default)]
pub(crate) struct Token {
    pub(crate) array: flavors::array::ArrayToken,
    pub(crate) list: flavors::list::ListToken,
    pub(crate) zero: flavors::zero::ZeroToken,
    pub(crate) at: flavors::at::AtToken,
    pub(crate) tick: flavors::tick::TickToken,
}

/// An operation's id within a wait: an address unique while the operation waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Operation(usize);

impl Operation {
    /// The id of the operation whose state lives at `r`.
    #[inline]
    pub(crate) fn hook<T>(r: &mut T) -> Operation {
        Operation::from_addr(r as *mut T as usize)
    }

    #[inline]
    pub(crate) fn from_addr(addr: usize) -> Operation {
        // 0, 1 and 2 encode the other states of `Selected`; no object lives there.
        assert!(addr > 2, "operation ids are addresses");
        Operation(addr)
    }
}

/// The state of a [`Context`]'s `select` word (see `context.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Selected {
    Waiting,
    Aborted,
    Disconnected,
    Operation(Operation),
}

impl From<usize> for Selected {
    #[inline]
    fn from(val: usize) -> Selected {
        match val {
            0 => Selected::Waiting,
            1 => Selected::Aborted,
            2 => Selected::Disconnected,
            oper => Selected::Operation(Operation(oper)),
        }
    }
}

impl From<Selected> for usize {
    #[inline]
    fn from(val: Selected) -> usize {
        match val {
            Selected::Waiting => 0,
            Selected::Aborted => 1,
            Selected::Disconnected => 2,
            Selected::Operation(Operation(val)) => val,
        }
    }
}

/// One side of a channel as a selectable operation.
pub(crate) trait SelectHandle {
    /// Tries to start the operation without blocking (filling `token`).
    fn try_select(&self, token: &mut Token) -> bool;
    /// A deadline after which the operation becomes ready by itself (timers).
    fn deadline(&self) -> Option<Instant>;
    /// Registers `cx` as waiting; returns whether the operation is ready already.
    fn register(&self, oper: Operation, cx: &Context) -> bool;
    /// Withdraws a registration.
    fn unregister(&self, oper: Operation);
    /// Starts the operation after `cx` was claimed for it.
    fn accept(&self, token: &mut Token, cx: &Context) -> bool;
    /// Whether the operation would not block now.
    fn is_ready(&self) -> bool;
    /// Registers `cx` as an observer; returns whether the operation is ready already.
    fn watch(&self, oper: Operation, cx: &Context) -> bool;
    /// Withdraws an observer.
    fn unwatch(&self, oper: Operation);
}

impl<T: SelectHandle + ?Sized> SelectHandle for &T {
    fn try_select(&self, token: &mut Token) -> bool {
        (**self).try_select(token)
    }
    fn deadline(&self) -> Option<Instant> {
        (**self).deadline()
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        (**self).register(oper, cx)
    }
    fn unregister(&self, oper: Operation) {
        (**self).unregister(oper)
    }
    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        (**self).accept(token, cx)
    }
    fn is_ready(&self) -> bool {
        (**self).is_ready()
    }
    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        (**self).watch(oper, cx)
    }
    fn unwatch(&self, oper: Operation) {
        (**self).unwatch(oper)
    }
}

/// How long a selection may block.
#[derive(Clone, Copy, Debug)]
enum Timeout {
    Now,
    Never,
    At(Instant),
}

type Handle<'a> = (&'a dyn SelectHandle, usize, *const u8);

/// Fills unused inline handle slots; never selected (never looked at, in fact).
struct Unused;

impl SelectHandle for Unused {
    fn try_select(&self, _: &mut Token) -> bool {
        false
    }
    fn deadline(&self) -> Option<Instant> {
        None
    }
    fn register(&self, _: Operation, _: &Context) -> bool {
        false
    }
    fn unregister(&self, _: Operation) {}
    fn accept(&self, _: &mut Token, _: &Context) -> bool {
        false
    }
    fn is_ready(&self) -> bool {
        false
    }
    fn watch(&self, _: Operation, _: &Context) -> bool {
        false
    }
    fn unwatch(&self, _: Operation) {}
}

static UNUSED: Unused = Unused;

/// Up to this many operations live inline in a `Select`: a `select!` with a few arms
/// allocates nothing.
const INLINE: usize = 4;

/// The operations of a `Select`: inline up to `INLINE`, then on the heap.
#[derive(Clone)]
struct Handles<'a> {
    inline: [Handle<'a>; INLINE],
    len: usize,
    heap: Vec<Handle<'a>>,
}

impl<'a> Handles<'a> {
    #[inline]
    fn new() -> Self {
        Handles {
            inline: [(&UNUSED, 0, std::ptr::null()); INLINE],
            len: 0,
            heap: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, handle: Handle<'a>) {
        if self.heap.is_empty() && self.len < INLINE {
            self.inline[self.len] = handle;
            self.len += 1;
        } else {
            if self.heap.is_empty() {
                self.heap.extend_from_slice(&self.inline[..self.len]);
            }
            self.heap.push(handle);
        }
    }

    #[inline]
    fn as_mut_slice(&mut self) -> &mut [Handle<'a>] {
        if self.heap.is_empty() {
            &mut self.inline[..self.len]
        } else {
            &mut self.heap
        }
    }

    fn len(&self) -> usize {
        if self.heap.is_empty() {
            self.len
        } else {
            self.heap.len()
        }
    }

    fn swap_remove(&mut self, pos: usize) {
        if self.heap.is_empty() {
            self.inline.swap(pos, self.len - 1);
            self.len -= 1;
        } else {
            self.heap.swap_remove(pos);
        }
    }
}

crate::primitive::thread_local_compat! {
    /// xorshift state for the shuffle; seeded from the thread's id.
    static RNG: Cell<u32> = Cell::new(0);
}

/// One step of xorshift32 (Marsaglia 2003); `x` is never 0.
#[inline]
fn xorshift32(mut x: u32) -> u32 {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    x
}

/// A random number in `0..n` from 32 random bits, by Lemire's multiply-shift
/// (unbiased enough for a shuffle).
#[inline]
fn below(x: u32, n: usize) -> usize {
    ((u64::from(x) * n as u64) >> 32) as usize
}

/// Fisher-Yates with this thread's xorshift state, which is read and written back
/// once per shuffle (a thread-local access per operation costs more than the
/// shuffle itself on a four-arm `select!`).
fn shuffle<T>(v: &mut [T]) {
    let len = v.len();
    if len < 2 {
        return;
    }
    let mut x = RNG.try_with(Cell::get).unwrap_or(0);
    if x == 0 {
        x = (crate::context::current_thread_id() as u32 | 1).wrapping_mul(0x9e37_79b9) | 1;
    }
    for i in (1..len).rev() {
        x = xorshift32(x);
        v.swap(i, below(x, i + 1));
    }
    let _ = RNG.try_with(|rng| rng.set(x));
}

fn sleep_until(deadline: Option<Instant>) {
    loop {
        match deadline {
            None => std::thread::sleep(Duration::from_secs(1000)),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return;
                }
                std::thread::sleep(d - now);
            }
        }
    }
}

fn run_select(
    handles: &mut [Handle<'_>],
    timeout: Timeout,
    biased: bool,
) -> Option<(Token, usize, *const u8)> {
    if handles.is_empty() {
        match timeout {
            Timeout::Now => return None,
            Timeout::Never => {
                sleep_until(None);
                unreachable!();
            }
            Timeout::At(when) => {
                sleep_until(Some(when));
                return None;
            }
        }
    }
    if !biased {
        shuffle(handles);
    }
    let mut token = Token::default();
    for &(handle, i, ptr) in handles.iter() {
        if handle.try_select(&mut token) {
            return Some((token, i, ptr));
        }
    }
    loop {
        let res = Context::with(|cx| {
            let mut sel = Selected::Waiting;
            let mut registered = 0;
            let mut index_ready = None;
            if let Timeout::Now = timeout {
                let _ = cx.try_select(Selected::Aborted);
            }
            for (handle, i, _) in handles.iter_mut() {
                registered += 1;
                if handle.register(Operation::hook::<&dyn SelectHandle>(handle), cx) {
                    // Ready already: abort our own wait (unless claimed meanwhile).
                    sel = match cx.try_select(Selected::Aborted) {
                        Ok(()) => {
                            index_ready = Some(*i);
                            Selected::Aborted
                        }
                        Err(s) => s,
                    };
                    break;
                }
                sel = cx.selected();
                if sel != Selected::Waiting {
                    break;
                }
            }
            if sel == Selected::Waiting {
                let mut deadline = match timeout {
                    Timeout::Now => unreachable!("aborted above"),
                    Timeout::Never => None,
                    Timeout::At(when) => Some(when),
                };
                for &(handle, _, _) in handles.iter() {
                    if let Some(x) = handle.deadline() {
                        deadline = Some(deadline.map_or(x, |y| x.min(y)));
                    }
                }
                sel = cx.wait_until(deadline);
            }
            for (handle, _, _) in handles.iter_mut().take(registered) {
                handle.unregister(Operation::hook::<&dyn SelectHandle>(handle));
            }
            match sel {
                Selected::Waiting => unreachable!("wait_until returns a claim"),
                Selected::Aborted => {
                    if let Some(index_ready) = index_ready {
                        for &(handle, i, ptr) in handles.iter() {
                            if i == index_ready && handle.try_select(&mut token) {
                                return Some((i, ptr));
                            }
                        }
                    }
                }
                Selected::Disconnected => {}
                Selected::Operation(_) => {
                    for (handle, i, ptr) in handles.iter_mut() {
                        if sel == Selected::Operation(Operation::hook::<&dyn SelectHandle>(handle))
                        {
                            if handle.accept(&mut token, cx) {
                                return Some((*i, *ptr));
                            }
                            break;
                        }
                    }
                }
            }
            None
        });
        if let Some((i, ptr)) = res {
            return Some((token, i, ptr));
        }
        for &(handle, i, ptr) in handles.iter() {
            if handle.try_select(&mut token) {
                return Some((token, i, ptr));
            }
        }
        match timeout {
            Timeout::Now => return None,
            Timeout::Never => {}
            Timeout::At(when) => {
                if Instant::now() >= when {
                    return None;
                }
            }
        }
    }
}

fn run_ready(handles: &mut [Handle<'_>], timeout: Timeout, biased: bool) -> Option<usize> {
    if handles.is_empty() {
        match timeout {
            Timeout::Now => return None,
            Timeout::Never => {
                sleep_until(None);
                unreachable!();
            }
            Timeout::At(when) => {
                sleep_until(Some(when));
                return None;
            }
        }
    }
    if !biased {
        shuffle(handles);
    }
    loop {
        for &(handle, i, _) in handles.iter() {
            if handle.is_ready() {
                return Some(i);
            }
        }
        if let Timeout::Now = timeout {
            return None;
        }
        let res = Context::with(|cx| {
            let mut sel = Selected::Waiting;
            let mut registered = 0;
            for (handle, _, _) in handles.iter_mut() {
                registered += 1;
                let oper = Operation::hook::<&dyn SelectHandle>(handle);
                if handle.watch(oper, cx) {
                    sel = match cx.try_select(Selected::Operation(oper)) {
                        Ok(()) => Selected::Operation(oper),
                        Err(s) => s,
                    };
                    break;
                }
                sel = cx.selected();
                if sel != Selected::Waiting {
                    break;
                }
            }
            if sel == Selected::Waiting {
                let mut deadline = match timeout {
                    Timeout::Now => unreachable!("returned above"),
                    Timeout::Never => None,
                    Timeout::At(when) => Some(when),
                };
                for &(handle, _, _) in handles.iter() {
                    if let Some(x) = handle.deadline() {
                        deadline = Some(deadline.map_or(x, |y| x.min(y)));
                    }
                }
                sel = cx.wait_until(deadline);
            }
            for (handle, _, _) in handles.iter_mut().take(registered) {
                handle.unwatch(Operation::hook::<&dyn SelectHandle>(handle));
            }
            match sel {
                Selected::Operation(_) => handles.iter_mut().find_map(|(handle, i, _)| {
                    (sel == Selected::Operation(Operation::hook::<&dyn SelectHandle>(handle)))
                        .then_some(*i)
                }),
                _ => None,
            }
        });
        if res.is_some() {
            return res;
        }
        if let Timeout::At(when) = timeout
            && Instant::now() >= when
        {
            // One last look: readiness that raced with the deadline still counts.
            return handles.iter().find(|h| h.0.is_ready()).map(|h| h.1);
        }
    }
}

/// Selects over a set of send and receive operations, waiting until one can proceed.
///
/// Add operations with [`send`](Self::send) and [`recv`](Self::recv) (each returns the
/// operation's index), then call [`select`](Self::select) (blocks),
/// [`try_select`](Self::try_select) or [`select_timeout`](Self::select_timeout). The
/// returned [`SelectedOperation`] **must** be completed with its
/// [`send`](SelectedOperation::send) or [`recv`](SelectedOperation::recv), passing the
/// same channel. [`ready`](Self::ready) only reports which operation is ready,
/// without starting it.
///
/// When several operations are ready, one is chosen at random, so no channel starves.
///
/// Progress and cost: a selection tries each operation once (lock-free on the
/// array and list flavours), then registers one waiter per operation (a short lock
/// each) and parks; it allocates a small vector of handles.
///
/// # Examples
///
/// ```
/// use weft_channel::{Select, unbounded};
///
/// let (s1, r1) = unbounded::<i32>();
/// let (s2, r2) = unbounded::<i32>();
/// s2.send(7).unwrap();
///
/// let mut sel = Select::new();
/// let op1 = sel.recv(&r1);
/// let op2 = sel.recv(&r2);
/// let oper = sel.select();
/// match oper.index() {
///     i if i == op1 => panic!("r1 is empty"),
///     i if i == op2 => assert_eq!(oper.recv(&r2), Ok(7)),
///     _ => unreachable!(),
/// }
/// # drop(s1);
/// ```
pub struct Select<'a> {
    handles: Handles<'a>,
    next_index: usize,
    biased: bool,
}

// SAFETY: the raw pointers in `handles` only identify channels (compared, never
// dereferenced through the Select); the handles are `&dyn SelectHandle` of channel
// sides, which are Send + Sync for the message types that can be selected.
unsafe impl Send for Select<'_> {}
// SAFETY: as above; every method that uses the handles takes `&mut self`.
unsafe impl Sync for Select<'_> {}

impl<'a> Select<'a> {
    /// An empty selection.
    #[inline]
    pub fn new() -> Select<'a> {
        Select {
            handles: Handles::new(),
            next_index: 0,
            biased: false,
        }
    }

    /// A selection that, when several operations are ready, picks the one added first
    /// (no shuffle): for priorities, at the cost of fairness.
    pub fn new_biased() -> Select<'a> {
        Select {
            biased: true,
            ..Select::new()
        }
    }

    /// Adds a send operation on `s`; returns its index.
    #[inline]
    pub fn send<T>(&mut self, s: &'a Sender<T>) -> usize {
        let i = self.next_index;
        let ptr = s as *const Sender<_> as *const u8;
        self.handles.push((s, i, ptr));
        self.next_index += 1;
        i
    }

    /// Adds a receive operation on `r`; returns its index.
    #[inline]
    pub fn recv<T>(&mut self, r: &'a Receiver<T>) -> usize {
        let i = self.next_index;
        let ptr = r as *const Receiver<_> as *const u8;
        self.handles.push((r, i, ptr));
        self.next_index += 1;
        i
    }

    /// Removes the operation with index `index` (it will no longer be selected).
    ///
    /// # Panics
    ///
    /// If there is no operation with that index.
    pub fn remove(&mut self, index: usize) {
        let pos = self
            .handles
            .as_mut_slice()
            .iter()
            .position(|h| h.1 == index)
            .expect("no operation with this index");
        self.handles.swap_remove(pos);
    }

    /// Starts an operation that is ready now, if any.
    ///
    /// # Errors
    ///
    /// [`TrySelectError`] if none is ready.
    #[inline]
    pub fn try_select(&mut self) -> Result<SelectedOperation<'a>, TrySelectError> {
        run_select(self.handles.as_mut_slice(), Timeout::Now, self.biased)
            .map(SelectedOperation::new)
            .ok_or(TrySelectError)
    }

    /// Blocks until an operation can start, and starts it.
    ///
    /// # Panics
    ///
    /// Blocks forever if there are no operations.
    #[inline]
    pub fn select(&mut self) -> SelectedOperation<'a> {
        run_select(self.handles.as_mut_slice(), Timeout::Never, self.biased)
            .map(SelectedOperation::new)
            .expect("a selection without a timeout returns an operation")
    }

    /// Like [`select`](Self::select), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`SelectTimeoutError`] if no operation became ready in time.
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.select_deadline(deadline),
            None => Ok(self.select()),
        }
    }

    /// Like [`select`](Self::select), giving up at `deadline`.
    ///
    /// # Errors
    ///
    /// [`SelectTimeoutError`] if no operation became ready in time.
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        run_select(
            self.handles.as_mut_slice(),
            Timeout::At(deadline),
            self.biased,
        )
        .map(SelectedOperation::new)
        .ok_or(SelectTimeoutError)
    }

    /// The index of an operation that is ready now, if any. Readiness is a hint:
    /// another thread may take the message first, so retry the operation's `try_*`.
    ///
    /// # Errors
    ///
    /// [`TryReadyError`] if none is ready.
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        run_ready(self.handles.as_mut_slice(), Timeout::Now, self.biased).ok_or(TryReadyError)
    }

    /// Blocks until an operation is ready; returns its index (a hint, as in
    /// [`try_ready`](Self::try_ready)).
    pub fn ready(&mut self) -> usize {
        run_ready(self.handles.as_mut_slice(), Timeout::Never, self.biased)
            .expect("ready without a timeout returns an index")
    }

    /// Like [`ready`](Self::ready), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`ReadyTimeoutError`] if no operation became ready in time.
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => run_ready(
                self.handles.as_mut_slice(),
                Timeout::At(deadline),
                self.biased,
            )
            .ok_or(ReadyTimeoutError),
            None => Ok(self.ready()),
        }
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for Select<'_> {
    fn clone(&self) -> Self {
        Select {
            handles: self.handles.clone(),
            next_index: self.next_index,
            biased: self.biased,
        }
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("operations", &self.handles.len())
            .field("biased", &self.biased)
            .finish()
    }
}

/// An operation a [`Select`] started: complete it with [`send`](Self::send) or
/// [`recv`](Self::recv) on the channel it was added with.
///
/// # Panics
///
/// Dropping it without completing it panics (the counterpart may be waiting on it).
#[must_use = "a selected operation must be completed with `send` or `recv`"]
pub struct SelectedOperation<'a> {
    token: Token,
    index: usize,
    ptr: *const u8,
    _marker: PhantomData<&'a ()>,
}

impl SelectedOperation<'_> {
    #[inline]
    fn new((token, index, ptr): (Token, usize, *const u8)) -> Self {
        SelectedOperation {
            token,
            index,
            ptr,
            _marker: PhantomData,
        }
    }

    /// The index the operation got when it was added.
    #[inline]
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes a selected send.
    ///
    /// # Errors
    ///
    /// [`SendError`](crate::SendError) (with the message) if every receiver is gone.
    ///
    /// # Panics
    ///
    /// If `s` is not the sender this operation was added with.
    #[inline]
    pub fn send<T>(mut self, s: &Sender<T>, msg: T) -> Result<(), crate::SendError<T>> {
        assert!(
            s as *const Sender<T> as *const u8 == self.ptr,
            "passed a sender that wasn't selected"
        );
        // SAFETY: the token was filled by this sender's `try_select`/`accept`.
        let res = unsafe { s.write(&mut self.token, msg) };
        std::mem::forget(self);
        res.map_err(crate::SendError)
    }

    /// Completes a selected receive.
    ///
    /// # Errors
    ///
    /// [`RecvError`](crate::RecvError) if the channel is empty and disconnected.
    ///
    /// # Panics
    ///
    /// If `r` is not the receiver this operation was added with.
    #[inline]
    pub fn recv<T>(mut self, r: &Receiver<T>) -> Result<T, crate::RecvError> {
        assert!(
            r as *const Receiver<T> as *const u8 == self.ptr,
            "passed a receiver that wasn't selected"
        );
        // SAFETY: the token was filled by this receiver's `try_select`/`accept`.
        let res = unsafe { r.read(&mut self.token) };
        std::mem::forget(self);
        res.map_err(|_| crate::RecvError)
    }
}

impl fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish()
    }
}

impl Drop for SelectedOperation<'_> {
    fn drop(&mut self) {
        panic!("dropped `SelectedOperation` without completing the operation");
    }
}

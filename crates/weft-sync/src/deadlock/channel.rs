//! Channels in the wait-for graph: which party (task or thread) is taken to hold each
//! sender and receiver, which party waits on which channel side, and the hooks a
//! channel implementation and an executor call.
//!
//! # The model
//!
//! A channel side is a resource: "the senders of channel C" is what a receiver waits
//! for, "the receivers of C" what a sender blocked on a full (or rendezvous) channel
//! waits for. One live handle of the other side is enough to end the wait, so a
//! channel waiter is an `any_holder` waiter (like a semaphore's): stuck only if the
//! channel cannot complete its operation now, the side has at least one live handle,
//! every live handle is attributed to a party, and every such party is stuck.
//!
//! # Attribution
//!
//! A Rust move is invisible, so a handle's holder is a guess, made to err on the
//! side of "unknown" (which makes the side *open*: its waiters are never reported):
//!
//! - a handle is attributed to the party that last **used** it (send, receive, their
//!   `try_`/timed/async forms), re-attributed when another party uses it, and
//!   forgotten when it is dropped;
//! - a new handle (from the constructor or `clone`) is **unattributed**: it is usually
//!   about to be moved into a spawned task or thread;
//! - a party that ends ([`task_finished`], or a thread's exit) or spawns a task
//!   ([`before_spawn`]) loses its attributions: handles it used may now be elsewhere.
//!
//! # State, and who touches it
//!
//! | state | where | written by | read by |
//! |---|---|---|---|
//! | per-channel handles and their attributions, stamp | `CHANNELS`, 16 shards by channel id, `std` mutexes | handle creation, clone, drop, a use by a new party, clears | `check` |
//! | per-party list of attributed handles | `HOLDINGS`, 16 shards by party | the same, under the channel's shard lock | clears |
//! | a handle's last user | the handle's `owner` word (a cache) | a use by a new party, under the channel's shard lock | the fast path of each use |
//! | a thread's party token | thread-local `THREAD` | its thread | its thread |
//! | the tasks' token generation | `TASK_GENERATION` | [`before_spawn`] in a task that holds handles | the fast path of each use in a task |
//!
//! Lock order: a channel shard, then a holdings shard (never the other way round);
//! the detector's other locks are never taken while either is held, except the
//! channel's own readiness probe during `check` (see [`ChannelProbe`]).
//!
//! The `owner` word is only a cache of "this handle is attributed to the party with
//! this token": the shards are the truth. Every way the two can disagree makes the
//! graph see *fewer* attributions than the uses (a use that takes the fast path while
//! its attribution was cleared), so a stale word can only hide a deadlock, never
//! invent one; no memory ordering is needed beyond the shard locks (the word is
//! read `Relaxed`, and written under the lock).
//!
//! # Cost with the feature on
//!
//! A use by the party that used the handle last: one thread-local read and one
//! `Relaxed` load. A use by a new party, a clone, a drop: one shard lock (two for a
//! re-attribution). A wait: one lock of the waiter's record, as for locks.

use super::detector::{self, Party};
use super::task;
use core::fmt;
use core::panic::Location;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

/// One side of a channel: its senders, or its receivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelSide {
    /// The senders: what a receive waits for.
    Senders,
    /// The receivers: what a send on a full channel waits for.
    Receivers,
}

impl ChannelSide {
    pub(super) fn index(self) -> usize {
        match self {
            Self::Senders => 0,
            Self::Receivers => 1,
        }
    }

    fn other(self) -> Self {
        match self {
            Self::Senders => Self::Receivers,
            Self::Receivers => Self::Senders,
        }
    }
}

impl fmt::Display for ChannelSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Senders => "senders",
            Self::Receivers => "receivers",
        })
    }
}

/// Channel sides live in the graph's key space next to lock addresses; the top bit
/// keeps them apart (no user-space address has it on the platforms weft runs on).
const CHANNEL_KEY: usize = 1 << (usize::BITS - 1);

/// The graph key of `side` of channel `channel`.
pub(super) fn side_key(channel: u64, side: ChannelSide) -> usize {
    CHANNEL_KEY | ((channel as usize) << 1) | side.index()
}

/// The channel and side a graph key names, if it names one.
pub(super) fn decode_key(key: usize) -> Option<(u64, ChannelSide)> {
    if key & CHANNEL_KEY == 0 {
        return None;
    }
    let side = if key & 1 == 0 {
        ChannelSide::Senders
    } else {
        ChannelSide::Receivers
    };
    Some((((key & !CHANNEL_KEY) >> 1) as u64, side))
}

/// How `check` asks a channel whether a waiter's operation could complete now (a
/// message is there, there is room, a rendezvous partner waits, or it disconnected).
/// A waiter whose operation could complete is not stuck, whoever holds what.
///
/// `ready(data, Senders)` answers for a receive, `ready(data, Receivers)` for a send.
/// It is called on any thread, while a detector lock is held, so it must not block
/// for long and must not touch the channel's handles (a short internal lock is fine).
#[derive(Clone, Copy)]
pub struct ChannelProbe {
    data: *const (),
    ready: unsafe fn(*const (), ChannelSide) -> bool,
}

// SAFETY: `ChannelProbe::new`'s contract: `ready(data, _)` may be called from any
// thread, concurrently, while the channel lives.
unsafe impl Send for ChannelProbe {}
// SAFETY: as above.
unsafe impl Sync for ChannelProbe {}

impl ChannelProbe {
    /// A probe that calls `ready(data, side)`.
    ///
    /// # Safety
    ///
    /// `ready(data, side)` must be safe to call from any thread, concurrently with
    /// every operation on the channel, for as long as any [`ChannelEnd`] made from this
    /// probe (or cloned from one with [`ChannelEnd::another`]) has not been
    /// [released](ChannelEnd::release) or dropped.
    pub unsafe fn new(data: *const (), ready: unsafe fn(*const (), ChannelSide) -> bool) -> Self {
        Self { data, ready }
    }

    fn ready(&self, waiting_for: ChannelSide) -> bool {
        // SAFETY: called only while the channel's record exists, i.e. while some end
        // of it is still registered (see `ChannelProbe::new`).
        unsafe { (self.ready)(self.data, waiting_for) }
    }
}

impl fmt::Debug for ChannelProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelProbe").finish_non_exhaustive()
    }
}

/// The detector's view of one channel handle (a sender or a receiver), kept inside
/// the handle by a channel implementation (weft-channel does, with its
/// `deadlock-detection` feature). Applications do not need this type.
///
/// The channel calls [`used`](Self::used) on every operation of the handle,
/// [`another`](Self::another) in `clone`, [`release`](Self::release) in `drop`
/// *before* it frees anything the probe reads, and waits with a [`ChannelWait`].
///
/// # Examples
///
/// ```
/// use weft_sync::deadlock::{ChannelEnd, ChannelProbe, ChannelSide};
///
/// unsafe fn never_ready(_: *const (), _: ChannelSide) -> bool {
///     false
/// }
/// // SAFETY: the probe reads nothing.
/// let probe = unsafe { ChannelProbe::new(std::ptr::null(), never_ready) };
/// // SAFETY: the probe is valid for ever.
/// let (sender, receiver) = unsafe { ChannelEnd::new_pair(probe) };
/// sender.used(); // attributed to this thread now
/// let clone = sender.another(); // unattributed until used
/// assert_eq!(receiver.side(), Some(ChannelSide::Receivers));
/// # drop((sender, clone, receiver));
/// ```
#[derive(Debug)]
pub struct ChannelEnd {
    /// 0: not a tracked channel (or released).
    channel: u64,
    handle: u64,
    side: ChannelSide,
    created_at: &'static Location<'static>,
    /// The token of the party this handle is attributed to, as far as this handle
    /// knows (0: none). See the module docs: a cache of the shards.
    owner: AtomicU64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    // Relaxed: only uniqueness matters.
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

impl ChannelEnd {
    /// Registers a new channel created at the caller's location, with one sender
    /// and one receiver, both unattributed: returns `(sender, receiver)`.
    ///
    /// # Safety
    ///
    /// The `probe` must satisfy [`ChannelProbe::new`]'s contract for every end of
    /// this channel, including those made by [`another`](Self::another).
    #[track_caller]
    pub unsafe fn new_pair(probe: ChannelProbe) -> (ChannelEnd, ChannelEnd) {
        let created_at = Location::caller();
        let channel = next_id();
        let (sender, receiver) = (next_id(), next_id());
        {
            let mut shard = channels(channel);
            let stamp = shard.bump();
            let mut record = ChannelRecord {
                created_at,
                stamp,
                probe,
                handles: [HashMap::new(), HashMap::new()],
            };
            record.handles[0].insert(sender, None);
            record.handles[1].insert(receiver, None);
            shard.channels.insert(channel, record);
        }
        let end = |handle, side| ChannelEnd {
            channel,
            handle,
            side,
            created_at,
            owner: AtomicU64::new(0),
        };
        (
            end(sender, ChannelSide::Senders),
            end(receiver, ChannelSide::Receivers),
        )
    }

    /// An end of no tracked channel (a timer's receiver, say): every method does
    /// nothing.
    #[track_caller]
    pub fn untracked(side: ChannelSide) -> ChannelEnd {
        ChannelEnd {
            channel: 0,
            handle: 0,
            side,
            created_at: Location::caller(),
            owner: AtomicU64::new(0),
        }
    }

    /// Which side this end is on, `None` for an untracked (or released) end.
    pub fn side(&self) -> Option<ChannelSide> {
        (self.channel != 0).then_some(self.side)
    }

    /// Where the channel was created.
    pub fn created_at(&self) -> &'static Location<'static> {
        self.created_at
    }

    /// A new handle of the same side (for `clone`): unattributed until it is used.
    pub fn another(&self) -> ChannelEnd {
        if self.channel == 0 {
            return ChannelEnd::untracked(self.side);
        }
        let handle = next_id();
        let mut shard = channels(self.channel);
        let stamp = shard.bump();
        if let Some(record) = shard.channels.get_mut(&self.channel) {
            record.stamp = stamp;
            record.handles[self.side.index()].insert(handle, None);
        }
        ChannelEnd {
            channel: self.channel,
            handle,
            side: self.side,
            created_at: self.created_at,
            owner: AtomicU64::new(0),
        }
    }

    /// The handle is being used by the current party (the task in scope, else this
    /// thread): attribute it there. Cheap when that party used it last.
    #[inline]
    pub fn used(&self) {
        if self.channel == 0 {
            return;
        }
        let token = current_token();
        // Relaxed: a cache (see the module docs); a stale value costs a lock or hides
        // an attribution, never invents one.
        if self.owner.load(Ordering::Relaxed) != token {
            self.attribute_slow(token);
        }
    }

    #[cold]
    #[inline(never)]
    fn attribute_slow(&self, token: u64) {
        let party = current_party();
        let mut shard = channels(self.channel);
        let stamp = shard.bump();
        let Some(record) = shard.channels.get_mut(&self.channel) else {
            return;
        };
        let Some(slot) = record.handles[self.side.index()].get_mut(&self.handle) else {
            return;
        };
        let old = slot.replace(party);
        self.owner.store(token, Ordering::Relaxed);
        // Only a change of holder is a change of the graph: a party's new token (the
        // task generation moved) re-confirms its attribution without disturbing a
        // concurrent `check`'s re-check.
        if old != Some(party) {
            record.stamp = stamp;
            if let Some(old) = old {
                forget_holding(old, self.channel, self.handle);
            }
            holdings(party)
                .entry(party)
                .or_default()
                .insert((self.channel, self.handle));
        }
    }

    /// Unregisters the handle (its `drop`, called before the channel frees anything
    /// its probe reads). Idempotent; dropping the end calls it too.
    pub fn release(&mut self) {
        if self.channel == 0 {
            return;
        }
        let channel = std::mem::replace(&mut self.channel, 0);
        let mut shard = channels(channel);
        let stamp = shard.bump();
        let Some(record) = shard.channels.get_mut(&channel) else {
            return;
        };
        record.stamp = stamp;
        if let Some(Some(party)) = record.handles[self.side.index()].remove(&self.handle) {
            forget_holding(party, channel, self.handle);
        }
        if record.handles.iter().all(HashMap::is_empty) {
            shard.channels.remove(&channel);
        }
    }
}

impl Drop for ChannelEnd {
    fn drop(&mut self) {
        self.release();
    }
}

/// A wait on a channel side, as the waiting party's record shows it: kept by a
/// pending channel future ([`pending`](Self::pending)) or for the span of a blocking
/// operation ([`ChannelEnd`]'s owner calls [`blocking`](Self::blocking)). Ends on
/// [`done`](Self::done) or drop.
///
/// # Examples
///
/// ```
/// use weft_sync::deadlock::{ChannelEnd, ChannelProbe, ChannelSide, ChannelWait};
///
/// unsafe fn never_ready(_: *const (), _: ChannelSide) -> bool {
///     false
/// }
/// // SAFETY: the probe reads nothing.
/// let (_sender, receiver) = unsafe { ChannelEnd::new_pair(ChannelProbe::new(std::ptr::null(), never_ready)) };
/// {
///     let _waiting = ChannelWait::blocking(&receiver); // this thread waits for the senders
///     // ... park until a message comes ...
/// }
/// ```
#[derive(Debug, Default)]
pub struct ChannelWait {
    waiting: Option<Waiter>,
}

#[derive(Clone, Copy, Debug)]
enum Waiter {
    Task(u64, usize),
    Thread(usize),
}

impl ChannelWait {
    /// No wait recorded yet.
    pub const fn new() -> Self {
        Self { waiting: None }
    }

    /// An async operation on `end` returned `Pending`: inside a task scope, the task
    /// now awaits the other side of `end`'s channel (outside one nothing is recorded,
    /// as for async locks). Calling it again while the wait lasts does nothing.
    pub fn pending(&mut self, end: &ChannelEnd) {
        if self.waiting.is_some() || end.channel == 0 {
            return;
        }
        let key = side_key(end.channel, end.side.other());
        self.waiting =
            task::begin_channel_wait(key, end.created_at).map(|id| Waiter::Task(id, key));
    }

    /// A blocking operation on `end` is about to block: the current party (the task
    /// in scope, else this thread) waits for the other side until the guard drops.
    #[must_use = "the wait ends when the guard is dropped"]
    pub fn blocking(end: &ChannelEnd) -> Self {
        if end.channel == 0 {
            return Self::new();
        }
        let key = side_key(end.channel, end.side.other());
        let waiting = match task::begin_channel_wait(key, end.created_at) {
            Some(id) => Waiter::Task(id, key),
            None => {
                detector::on_channel_wait(key, end.created_at);
                Waiter::Thread(key)
            }
        };
        Self {
            waiting: Some(waiting),
        }
    }

    /// The wait is over (completed, failed, or given up).
    pub fn done(&mut self) {
        match self.waiting.take() {
            Some(Waiter::Task(id, key)) => task::end_wait(id, key),
            Some(Waiter::Thread(key)) => detector::on_channel_wait_end(key),
            None => {}
        }
    }
}

impl Drop for ChannelWait {
    fn drop(&mut self) {
        self.done();
    }
}

/// Tells the detector that a task ended (completed, was cancelled, or its future was
/// dropped): handles it used and passed on before it ended are no longer taken to be
/// its. An executor calls this once per task, after dropping its future (weft-rt
/// does, with its `deadlock-detection` feature). Cheap for a task that never used a
/// channel: one uncontended lock.
///
/// # Examples
///
/// ```
/// // An executor, after a task's future is gone:
/// weft_sync::deadlock::task_finished(7);
/// ```
pub fn task_finished(id: u64) {
    clear(Party::Task(id));
}

/// Tells the detector that the current party (the task in scope, else this thread)
/// is about to spawn a task: handles it used may just have been moved into the new
/// task's future, so they are no longer taken to be its until it uses them again.
/// An executor calls this in its spawn path (weft-rt does, with its
/// `deadlock-detection` feature).
///
/// # Examples
///
/// ```
/// // An executor's spawn, before the new task can run:
/// weft_sync::deadlock::before_spawn();
/// ```
pub fn before_spawn() {
    let party = current_party();
    if clear(party) {
        match party {
            // The task's next use of any handle must take the slow path again.
            Party::Task(_) => {
                TASK_GENERATION.fetch_add(1, Ordering::Relaxed);
            }
            Party::Thread(_) => {
                let _ = THREAD.try_with(|t| t.token.set(new_thread_token()));
            }
        }
    }
}

/// Drops every attribution to `party`; whether it had any.
fn clear(party: Party) -> bool {
    let Some(held) = holdings(party).remove(&party) else {
        return false;
    };
    for (channel, handle) in held {
        let mut shard = channels(channel);
        let stamp = shard.bump();
        if let Some(record) = shard.channels.get_mut(&channel) {
            for side in &mut record.handles {
                if let Some(slot) = side.get_mut(&handle)
                    && *slot == Some(party)
                {
                    *slot = None;
                    record.stamp = stamp;
                }
            }
        }
    }
    true
}

/// Removes `(channel, handle)` from `party`'s list (called under the channel's
/// shard lock).
fn forget_holding(party: Party, channel: u64, handle: u64) {
    let mut map = holdings(party);
    if let Some(list) = map.get_mut(&party) {
        list.remove(&(channel, handle));
        if list.is_empty() {
            map.remove(&party);
        }
    }
}

// ---- parties ----

/// Bumped when a task that holds handles spawns; part of every task's token.
static TASK_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Thread tokens are odd, task tokens even, so the two never meet.
fn new_thread_token() -> u64 {
    (next_id() << 1) | 1
}

struct ThreadParty {
    id: ThreadId,
    token: Cell<u64>,
}

impl Drop for ThreadParty {
    fn drop(&mut self) {
        // The thread exits: the handles it used were dropped or passed on.
        clear(Party::Thread(self.id));
    }
}

thread_local! {
    static THREAD: ThreadParty = ThreadParty {
        id: std::thread::current().id(),
        token: Cell::new(new_thread_token()),
    };
}

/// The current party's token: a task's id with the task generation, or this thread's.
fn current_token() -> u64 {
    if let Some(id) = task::current_id() {
        // Ids below 2^47 (weft-rt counts spawns) keep tokens of tasks apart; only
        // the generation's high bits are lost, which costs at most a missed slow path.
        let generation = TASK_GENERATION.load(Ordering::Relaxed) & 0xFFFF;
        return (id << 17) | (generation << 1);
    }
    THREAD.try_with(|t| t.token.get()).unwrap_or(0)
}

fn current_party() -> Party {
    match task::current_id() {
        Some(id) => Party::Task(id),
        None => Party::Thread(
            THREAD
                .try_with(|t| t.id)
                .unwrap_or_else(|_| std::thread::current().id()),
        ),
    }
}

// ---- the shards ----

struct ChannelRecord {
    created_at: &'static Location<'static>,
    stamp: u64,
    probe: ChannelProbe,
    /// Per side: every live handle, and the party it is attributed to.
    handles: [HashMap<u64, Option<Party>>; 2],
}

struct Shard {
    stamp: u64,
    channels: HashMap<u64, ChannelRecord>,
}

impl Shard {
    fn bump(&mut self) -> u64 {
        self.stamp += 1;
        self.stamp
    }
}

const SHARDS: usize = 16;

static CHANNELS: [Mutex<Option<Shard>>; SHARDS] = [const { Mutex::new(None) }; SHARDS];
#[allow(clippy::type_complexity)]
static HOLDINGS: [Mutex<Option<HashMap<Party, HashSet<(u64, u64)>>>>; SHARDS] =
    [const { Mutex::new(None) }; SHARDS];

/// A locked shard, created on first use (`HashMap::new` is not `const`).
struct Locked<'a, T>(MutexGuard<'a, Option<T>>);

impl<T> core::ops::Deref for Locked<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl<T> core::ops::DerefMut for Locked<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.as_mut().unwrap_or_else(|| unreachable!())
    }
}

fn locked<T>(mutex: &Mutex<Option<T>>, init: impl FnOnce() -> T) -> Locked<'_, T> {
    let mut guard = mutex.lock().unwrap_or_else(PoisonError::into_inner);
    if guard.is_none() {
        *guard = Some(init());
    }
    Locked(guard)
}

fn channels(channel: u64) -> Locked<'static, Shard> {
    locked(&CHANNELS[(channel % SHARDS as u64) as usize], || Shard {
        stamp: 0,
        channels: HashMap::new(),
    })
}

fn holdings(party: Party) -> Locked<'static, HashMap<Party, HashSet<(u64, u64)>>> {
    let index = match party {
        Party::Task(id) => id as usize,
        // Any fixed hash of the thread id spreads threads over the shards.
        Party::Thread(id) => {
            use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
            BuildHasherDefault::<DefaultHasher>::default().hash_one(id) as usize
        }
    };
    locked(&HOLDINGS[index % SHARDS], HashMap::new)
}

// ---- what `check` reads ----

/// One channel as `check` saw it.
pub(super) struct ChannelSnapshot {
    pub(super) created_at: &'static Location<'static>,
    pub(super) stamp: u64,
    /// Per side: the parties its handles are attributed to (one entry per handle),
    /// and whether some live handle is unattributed.
    pub(super) holders: [Vec<Party>; 2],
    pub(super) unattributed: [bool; 2],
    /// Per side waited for: whether the waiting operation could complete now.
    pub(super) ready: [bool; 2],
}

/// The channels in `ids`, each read under its shard lock (its readiness too). A
/// channel no longer registered is left out.
pub(super) fn snapshot(ids: &[u64]) -> HashMap<u64, ChannelSnapshot> {
    let mut out = HashMap::new();
    for &id in ids {
        if out.contains_key(&id) {
            continue;
        }
        let shard = channels(id);
        let Some(record) = shard.channels.get(&id) else {
            continue;
        };
        let side = |s: ChannelSide| &record.handles[s.index()];
        let holders = [ChannelSide::Senders, ChannelSide::Receivers]
            .map(|s| side(s).values().filter_map(|p| *p).collect());
        let unattributed = [ChannelSide::Senders, ChannelSide::Receivers]
            .map(|s| side(s).values().any(Option::is_none));
        // The probe runs under the shard lock: the record exists, so some end is
        // still registered and the channel is alive (`ChannelProbe::new`).
        let ready = [ChannelSide::Senders, ChannelSide::Receivers].map(|s| record.probe.ready(s));
        out.insert(
            id,
            ChannelSnapshot {
                created_at: record.created_at,
                stamp: record.stamp,
                holders,
                unattributed,
                ready,
            },
        );
    }
    out
}

/// Whether channel `id` is still in the state `check` saw (stamp `stamp`).
pub(super) fn unchanged(id: u64, stamp: u64) -> bool {
    channels(id)
        .channels
        .get(&id)
        .is_some_and(|r| r.stamp == stamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe fn never_ready(_: *const (), _: ChannelSide) -> bool {
        false
    }

    fn pair() -> (ChannelEnd, ChannelEnd) {
        // SAFETY: the probe reads nothing.
        unsafe { ChannelEnd::new_pair(ChannelProbe::new(core::ptr::null(), never_ready)) }
    }

    fn view(end: &ChannelEnd) -> ChannelSnapshot {
        snapshot(&[end.channel]).remove(&end.channel).unwrap()
    }

    fn me() -> Party {
        current_party()
    }

    #[test]
    fn keys_round_trip_and_stay_apart_from_addresses() {
        let key = side_key(42, ChannelSide::Receivers);
        assert_eq!(decode_key(key), Some((42, ChannelSide::Receivers)));
        assert_eq!(
            decode_key(side_key(42, ChannelSide::Senders)),
            Some((42, ChannelSide::Senders))
        );
        let address = &key as *const usize as usize;
        assert_eq!(decode_key(address), None);
    }

    #[test]
    fn new_and_cloned_handles_are_unattributed_until_used() {
        let (s, r) = pair();
        let v = view(&s);
        assert_eq!(v.unattributed, [true, true]);
        s.used();
        let v = view(&s);
        assert_eq!(
            (v.holders[0].clone(), v.unattributed[0]),
            (vec![me()], false)
        );
        let s2 = s.another();
        assert!(view(&s).unattributed[0], "the clone is nobody's yet");
        s2.used();
        assert_eq!(view(&s).holders[0], [me(), me()]);
        drop(s2);
        assert_eq!(view(&s).holders[0], [me()]);
        drop(r);
        assert!(view(&s).holders[1].is_empty() && !view(&s).unattributed[1]);
    }

    #[test]
    fn a_use_by_another_party_moves_the_attribution_and_a_thread_exit_clears_it() {
        let (s, _r) = pair();
        s.used();
        let here = me();
        let s = std::sync::Arc::new(s);
        let there = {
            let s = std::sync::Arc::clone(&s);
            // `join` returns after the thread's thread-locals are destroyed.
            std::thread::spawn(move || {
                s.used();
                assert_eq!(view(&s).holders[0], [me()], "the other thread's now");
                me()
            })
            .join()
            .unwrap()
        };
        assert_ne!(here, there);
        // That thread ended: the handle is nobody's.
        let v = view(&s);
        assert!(v.holders[0].is_empty() && v.unattributed[0]);
        s.used();
        assert_eq!(view(&s).holders[0], [here]);
    }

    #[test]
    fn spawning_clears_the_spawners_attributions_until_its_next_use() {
        let (s, _r) = pair();
        s.used();
        before_spawn();
        assert!(view(&s).unattributed[0]);
        s.used(); // the token changed: the slow path runs again
        assert_eq!(view(&s).holders[0], [me()]);
    }

    #[test]
    fn stamps_change_with_every_attribution_change() {
        let (s, _r) = pair();
        let first = view(&s).stamp;
        assert!(unchanged(s.channel, first));
        s.used();
        assert!(!unchanged(s.channel, first));
        let second = view(&s).stamp;
        s.used(); // same party: no change
        assert!(unchanged(s.channel, second));
        let clone = s.another();
        assert!(!unchanged(s.channel, second));
        drop(clone);
    }

    #[test]
    fn the_record_goes_with_the_last_handle() {
        let (s, r) = pair();
        let id = s.channel;
        drop(s);
        assert!(snapshot(&[id]).contains_key(&id));
        drop(r);
        assert!(!snapshot(&[id]).contains_key(&id));
    }
}

//! [`TimerWheel`]: a hierarchical timer wheel with O(1) insert and cancel.
//!
//! Times are `u64` milliseconds since an origin the owner chooses (the reactor uses a
//! fixed `Instant`); one tick is one millisecond.
//!
//! # Levels
//!
//! The wheel has [`LEVELS`] = 6 levels of [`SLOTS`] = 64 slots. A slot of level `L`
//! spans 64^L ms, so level 0 holds the next 64 ms one millisecond per slot, level 1 the
//! next 4 s in 64 ms slots, ..., and level 5 about 2.2 years in 12-day slots
//! (64^6 ms = 2^36 ms in all). A timer goes to the level of the highest 6-bit digit in
//! which its deadline differs from the wheel's current time (`now ^ deadline`), and to
//! the slot named by that digit of its deadline. When time reaches the start of a slot
//! above level 0, its timers *cascade*: each is re-filed by the same rule, now at a
//! lower level; a level-0 slot holds timers that are all due at the same millisecond.
//! This is Varghese and Lauck's hierarchical timing wheel (SOSP 1987), in the layout of
//! the Linux kernel's and tokio's wheels.
//!
//! Each slot is an intrusive doubly linked list through a slab of entries, so insert
//! and cancel are O(1); per level a 64-bit occupancy bitmap makes
//! [`TimerWheel::next_deadline`] a few bit operations per level.
//!
//! Two lists sit beside the wheel: *overdue* timers (inserted with a deadline not after
//! the current time), fired first by the next [`advance`](TimerWheel::advance), and
//! *far* timers (more than 2^36 ms ahead, beyond the top level), kept in an ordered map
//! (O(log n) for those only) and moved into the wheel when time comes within range.
//!
//! # Guarantees
//!
//! * `advance(now, f)` calls `f` for every timer with `deadline <= now` exactly once,
//!   in deadline order, and timers with equal deadlines in insertion order.
//! * A [`TimerKey`] is generation-checked: after its timer fired or was cancelled, the
//!   key is stale and [`cancel`](TimerWheel::cancel) returns `None`, even when the slab
//!   slot has been reused.
//! * Time never goes backwards: an `advance` to an earlier time than a previous one
//!   only fires overdue timers.
//!
//! # Examples
//!
//! ```
//! use weft_io::timer::TimerWheel;
//!
//! let mut wheel = TimerWheel::new();
//! let a = wheel.insert(300, "a");
//! wheel.insert(5, "b");
//! wheel.insert(100_000, "c");
//! assert_eq!(wheel.cancel(a), Some("a"));
//!
//! let mut fired = Vec::new();
//! wheel.advance(1_000, |_key, value| fired.push(value));
//! assert_eq!(fired, ["b"]);
//! assert_eq!(wheel.len(), 1);
//! assert!(wheel.next_deadline().unwrap() <= 100_000);
//! ```

use std::collections::BTreeMap;
use std::fmt;

/// The number of levels.
pub const LEVELS: usize = 6;
/// The number of slots per level.
pub const SLOTS: usize = 64;
const SLOT_BITS: u32 = 6;
/// Deadlines at least this far from the current time are beyond the top level.
const WHEEL_RANGE: u64 = 1 << (SLOT_BITS * LEVELS as u32);
const NIL: u32 = u32::MAX;

/// Names a timer in a [`TimerWheel`]; stale once the timer fired or was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerKey {
    index: u32,
    generation: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Wheel { level: u8, slot: u8 },
    Overdue,
    Far,
}

struct Entry<T> {
    value: T,
    deadline: u64,
    /// Insertion order, to fire equal deadlines first-in first-out.
    seq: u64,
    prev: u32,
    next: u32,
    place: Place,
}

struct SlabSlot<T> {
    generation: u32,
    entry: Option<Entry<T>>,
    next_free: u32,
}

#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY_LIST: List = List {
    head: NIL,
    tail: NIL,
};

/// A hierarchical timer wheel holding values of type `T`; see the [module docs](self).
pub struct TimerWheel<T> {
    slab: Vec<SlabSlot<T>>,
    free_head: u32,
    len: usize,
    seq: u64,
    /// The current time: every timer with a deadline at or before it has fired, except
    /// the overdue list's.
    elapsed: u64,
    lists: [[List; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    overdue: List,
    far: BTreeMap<(u64, u64), u32>,
}

impl<T> Default for TimerWheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for TimerWheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerWheel")
            .field("now", &self.elapsed)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// The level a deadline after `now` belongs to (`LEVELS` or more: beyond the wheel).
fn level_for(now: u64, deadline: u64) -> usize {
    let masked = (now ^ deadline) | (SLOTS as u64 - 1);
    let significant = 63 - masked.leading_zeros();
    (significant / SLOT_BITS) as usize
}

fn slot_for(deadline: u64, level: usize) -> usize {
    ((deadline >> (SLOT_BITS * level as u32)) & (SLOTS as u64 - 1)) as usize
}

impl<T> TimerWheel<T> {
    /// An empty wheel whose current time is 0.
    pub fn new() -> Self {
        Self {
            slab: Vec::new(),
            free_head: NIL,
            len: 0,
            seq: 0,
            elapsed: 0,
            lists: [[EMPTY_LIST; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            overdue: EMPTY_LIST,
            far: BTreeMap::new(),
        }
    }

    /// The wheel's current time: the latest `now` passed to [`advance`](Self::advance).
    pub fn now(&self) -> u64 {
        self.elapsed
    }

    /// The number of pending timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a timer due at `deadline` carrying `value`, in O(1) (O(log n) for a
    /// deadline more than 2^36 ms ahead). A deadline not after the current time fires
    /// on the next [`advance`](Self::advance).
    ///
    /// # Panics
    ///
    /// If more than `u32::MAX - 1` timers are pending at once.
    pub fn insert(&mut self, deadline: u64, value: T) -> TimerKey {
        let seq = self.seq;
        self.seq += 1;
        let entry = Entry {
            value,
            deadline,
            seq,
            prev: NIL,
            next: NIL,
            place: Place::Overdue,
        };
        let index = if self.free_head != NIL {
            let index = self.free_head;
            let slot = &mut self.slab[index as usize];
            self.free_head = slot.next_free;
            slot.entry = Some(entry);
            index
        } else {
            let index = u32::try_from(self.slab.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("TimerWheel: more than u32::MAX - 1 pending timers");
            self.slab.push(SlabSlot {
                generation: 0,
                entry: Some(entry),
                next_free: NIL,
            });
            index
        };
        self.len += 1;
        self.file(index);
        TimerKey {
            index,
            generation: self.slab[index as usize].generation,
        }
    }

    /// Removes a pending timer and returns its value, in O(1) (O(log n) for a far
    /// one); `None` if the key is stale (the timer fired or was cancelled).
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let slot = self.slab.get(key.index as usize)?;
        if slot.generation != key.generation || slot.entry.is_none() {
            return None;
        }
        self.unlink(key.index);
        Some(self.free(key.index))
    }

    /// The deadline of a pending timer; `None` for a stale key.
    pub fn deadline(&self, key: TimerKey) -> Option<u64> {
        let slot = self.slab.get(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        slot.entry.as_ref().map(|e| e.deadline)
    }

    /// When [`advance`](Self::advance) next has work to do, or `None` if no timer is
    /// pending. The answer is never later than the earliest deadline (or than the
    /// current time, if an overdue timer waits); it is exactly the earliest deadline
    /// when that timer is within 64 ms, and otherwise the start of the slot holding it,
    /// where `advance` cascades it to a finer level. A driver that sleeps until this
    /// time and advances, in a loop, fires every timer on time, with at most one early
    /// wake-up per level.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        if self.overdue.head != NIL {
            return Some(self.elapsed);
        }
        let wheel = self.next_expiration().map(|(time, _, _)| time);
        let far = self.far_boundary();
        match (wheel, far) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Moves time forward to `now` (if it is later than the current time) and calls
    /// `fire(key, value)` for every timer due at or before it, in deadline order, equal
    /// deadlines in insertion order. Returns how many fired.
    pub fn advance(&mut self, now: u64, mut fire: impl FnMut(TimerKey, T)) -> usize {
        let mut fired = 0;
        // Overdue timers are earlier than anything in the wheel.
        if self.overdue.head != NIL {
            let mut batch = self.take_list_overdue();
            batch.sort_unstable_by_key(|&i| {
                let e = self.entry(i);
                (e.deadline, e.seq)
            });
            fired += self.fire_batch(&batch, &mut fire);
        }
        let now = now.max(self.elapsed);
        loop {
            let wheel = self.next_expiration();
            let far = self.far_boundary();
            match (wheel, far) {
                (Some((time, level, slot)), far)
                    if time <= now && far.is_none_or(|f| time <= f) =>
                {
                    self.elapsed = time;
                    let mut batch = self.take_slot(level, slot);
                    if level == 0 {
                        // One slot of level 0 is one millisecond: all due now.
                        batch.sort_unstable_by_key(|&i| self.entry(i).seq);
                        fired += self.fire_batch(&batch, &mut fire);
                    } else {
                        for index in batch {
                            self.file(index);
                        }
                    }
                }
                (_, Some(boundary)) if boundary <= now => {
                    self.elapsed = boundary;
                    self.refile_far();
                }
                _ => break,
            }
        }
        self.elapsed = now;
        self.refile_far();
        fired
    }

    fn entry(&self, index: u32) -> &Entry<T> {
        self.slab[index as usize]
            .entry
            .as_ref()
            .expect("TimerWheel: list names a vacant entry")
    }

    fn entry_mut(&mut self, index: u32) -> &mut Entry<T> {
        self.slab[index as usize]
            .entry
            .as_mut()
            .expect("TimerWheel: list names a vacant entry")
    }

    fn fire_batch(&mut self, batch: &[u32], fire: &mut impl FnMut(TimerKey, T)) -> usize {
        for &index in batch {
            let key = TimerKey {
                index,
                generation: self.slab[index as usize].generation,
            };
            let value = self.free(index);
            fire(key, value);
        }
        batch.len()
    }

    /// Returns an unlinked entry's slab slot to the free list (bumping its generation,
    /// which makes outstanding keys stale) and hands back its value.
    fn free(&mut self, index: u32) -> T {
        let slot = &mut self.slab[index as usize];
        let entry = slot
            .entry
            .take()
            .expect("TimerWheel: freeing a vacant entry");
        slot.generation = slot.generation.wrapping_add(1);
        slot.next_free = self.free_head;
        self.free_head = index;
        self.len -= 1;
        entry.value
    }

    /// Files an unlinked entry by its deadline relative to the current time.
    fn file(&mut self, index: u32) {
        let (deadline, seq) = {
            let e = self.entry(index);
            (e.deadline, e.seq)
        };
        if deadline < self.elapsed {
            self.entry_mut(index).place = Place::Overdue;
            let list = self.overdue;
            self.overdue = self.push_back(list, index);
            return;
        }
        // A deadline equal to the current time goes to level 0's current slot, which
        // the running (or next) advance fires.
        let level = level_for(self.elapsed, deadline);
        if level >= LEVELS {
            self.entry_mut(index).place = Place::Far;
            self.far.insert((deadline, seq), index);
            return;
        }
        let slot = slot_for(deadline, level);
        self.entry_mut(index).place = Place::Wheel {
            level: level as u8,
            slot: slot as u8,
        };
        let list = self.lists[level][slot];
        self.lists[level][slot] = self.push_back(list, index);
        self.occupied[level] |= 1 << slot;
    }

    fn push_back(&mut self, mut list: List, index: u32) -> List {
        {
            let e = self.entry_mut(index);
            e.prev = list.tail;
            e.next = NIL;
        }
        if list.tail == NIL {
            list.head = index;
        } else {
            self.entry_mut(list.tail).next = index;
        }
        list.tail = index;
        list
    }

    /// Takes an entry out of whatever list (or the far map) holds it.
    fn unlink(&mut self, index: u32) {
        let (prev, next, place, deadline, seq) = {
            let e = self.entry(index);
            (e.prev, e.next, e.place, e.deadline, e.seq)
        };
        let mut list = match place {
            Place::Far => {
                self.far.remove(&(deadline, seq));
                return;
            }
            Place::Overdue => self.overdue,
            Place::Wheel { level, slot } => self.lists[level as usize][slot as usize],
        };
        if prev == NIL {
            list.head = next;
        } else {
            self.entry_mut(prev).next = next;
        }
        if next == NIL {
            list.tail = prev;
        } else {
            self.entry_mut(next).prev = prev;
        }
        match place {
            Place::Overdue => self.overdue = list,
            Place::Wheel { level, slot } => {
                self.lists[level as usize][slot as usize] = list;
                if list.head == NIL {
                    self.occupied[level as usize] &= !(1 << slot);
                }
            }
            Place::Far => {}
        }
    }

    fn collect(&self, list: List) -> Vec<u32> {
        let mut out = Vec::new();
        let mut cursor = list.head;
        while cursor != NIL {
            out.push(cursor);
            cursor = self.entry(cursor).next;
        }
        out
    }

    fn take_slot(&mut self, level: usize, slot: usize) -> Vec<u32> {
        let list = std::mem::replace(&mut self.lists[level][slot], EMPTY_LIST);
        self.occupied[level] &= !(1 << slot);
        self.collect(list)
    }

    fn take_list_overdue(&mut self) -> Vec<u32> {
        let list = std::mem::replace(&mut self.overdue, EMPTY_LIST);
        self.collect(list)
    }

    /// The earliest occupied slot of the wheel: (its start time, level, slot).
    fn next_expiration(&self) -> Option<(u64, usize, usize)> {
        let mut best: Option<(u64, usize, usize)> = None;
        for level in 0..LEVELS {
            let occupied = self.occupied[level];
            if occupied == 0 {
                continue;
            }
            let shift = SLOT_BITS * level as u32;
            let current = ((self.elapsed >> shift) & (SLOTS as u64 - 1)) as u32;
            // Slots at or after the current one, in order (entries of a level always
            // lie in the current turn of that level, so nothing has wrapped around).
            let rotated = occupied.rotate_right(current);
            let slot = (current + rotated.trailing_zeros()) as u64 % SLOTS as u64;
            let level_range = 1u64 << (shift + SLOT_BITS);
            let mut time = (self.elapsed & !(level_range - 1)) + (slot << shift);
            if slot < current as u64 {
                time += level_range;
            }
            if best.is_none_or(|(t, _, _)| time < t) {
                best = Some((time, level, slot as usize));
            }
        }
        best
    }

    /// When the earliest far timer comes within the wheel's range.
    fn far_boundary(&self) -> Option<u64> {
        let (&(deadline, _), _) = self.far.iter().next()?;
        Some((deadline & !(WHEEL_RANGE - 1)).max(self.elapsed))
    }

    fn refile_far(&mut self) {
        while let Some((&(deadline, seq), &index)) = self.far.iter().next() {
            if level_for(self.elapsed, deadline) >= LEVELS && deadline > self.elapsed {
                break;
            }
            self.far.remove(&(deadline, seq));
            self.file(index);
        }
    }
}

#[cfg(test)]
mod tests;

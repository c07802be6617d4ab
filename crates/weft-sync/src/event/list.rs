//! The listener list behind an [`Event`](super::Event): a slab of entries threaded
//! into a doubly linked FIFO by index.
//!
//! A slab instead of heap nodes: a listener is a slot index, so `listen` allocates
//! nothing once the slab has grown to the event's peak number of listeners (slots are
//! recycled through a free list), and an `EventListener` can be moved freely (no
//! pinning, no intrusive pointers into user memory).
//!
//! # Invariants (all under the event's lock)
//!
//! 1. The notified entries are exactly a prefix of the FIFO: `notify` walks forward
//!    from `first_unnotified`, new entries are appended at the tail, and removing an
//!    entry never reorders the rest.
//! 2. `notified` counts the entries in state `Notified`.
//! 3. `first_unnotified` is the first entry after that prefix, or `NONE`.

use core::mem::MaybeUninit;
use core::task::Waker;

pub(super) const NONE: usize = usize::MAX;

/// What one slot holds.
#[derive(Debug)]
pub(super) enum State {
    /// A free slot; `Entry::next` links the free list.
    Vacant,
    /// A live listener not yet notified, with the waker of its last wait or poll.
    Waiting(Option<Waker>),
    /// A live listener that has been notified and has not yet consumed it.
    /// `additional` says which kind of notification, so that a dropped listener
    /// passes on the same kind.
    Notified { additional: bool },
}

/// How a listener had been notified, as [`List::remove`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Notified {
    pub(super) additional: bool,
}

#[derive(Debug)]
struct Entry {
    prev: usize,
    next: usize,
    state: State,
}

/// Wakers collected under the lock and woken after it is released: a waker may run
/// arbitrary code (an executor's queue push, a thread unpark syscall), which must not
/// extend the critical section or re-enter the event under its own lock.
///
/// The slots are uninitialized until pushed, so creating a batch costs nothing and
/// finishing one touches only the wakers it holds: a notification that finds nobody
/// to wake (the common "already notified, about to consume it" case) pays neither for
/// initializing sixteen `Option<Waker>`s nor for dropping them.
pub(super) struct WakeBatch {
    /// `wakers[woken..len]` are initialized and owned by the batch; the rest are not
    /// (never written, or already read out and woken).
    wakers: [MaybeUninit<Waker>; WakeBatch::CAPACITY],
    woken: usize,
    len: usize,
}

impl WakeBatch {
    const CAPACITY: usize = 16;

    pub(super) const fn new() -> Self {
        Self {
            wakers: [const { MaybeUninit::uninit() }; Self::CAPACITY],
            woken: 0,
            len: 0,
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.len == Self::CAPACITY
    }

    fn push(&mut self, waker: Waker) {
        // Callers check `is_full` first; indexing panics (safely) if one did not.
        self.wakers[self.len].write(waker);
        self.len += 1;
    }

    /// Wakes every collected waker, in the order they were pushed (listen order).
    pub(super) fn wake(&mut self) {
        while self.woken < self.len {
            let slot = &self.wakers[self.woken];
            // Counted as gone before it runs: a waker that panics is not read twice,
            // and `Drop` still wakes the ones after it.
            self.woken += 1;
            // SAFETY: `slot` is in `wakers[woken..len]` as it was before the increment,
            // initialized by `push` and not yet read out; the increment makes this the
            // only read.
            unsafe { slot.assume_init_read() }.wake();
        }
    }
}

impl Drop for WakeBatch {
    /// Normally empty by now; if a panic skipped `wake`, the wakers are still woken,
    /// so unwinding through a notification never loses a wake-up.
    fn drop(&mut self) {
        self.wake();
    }
}

#[derive(Debug)]
pub(super) struct List {
    entries: Vec<Entry>,
    head: usize,
    tail: usize,
    first_unnotified: usize,
    free: usize,
    len: usize,
    notified: usize,
    /// Notifications ever handed out, wrapping: unlike `notified`, it never goes back
    /// to an earlier value (in practice), so a change always means a new notification.
    notifications: usize,
}

impl List {
    pub(super) const fn new() -> Self {
        Self {
            entries: Vec::new(),
            head: NONE,
            tail: NONE,
            first_unnotified: NONE,
            free: NONE,
            len: 0,
            notified: 0,
            notifications: 0,
        }
    }

    /// What notifiers may read without the lock: the number of notified listeners, or
    /// `usize::MAX` when there is no listener left to notify. `notify(n)` has nothing
    /// to do when this is `>= n`, `notify_additional` when it is `usize::MAX`.
    pub(super) fn hint(&self) -> usize {
        if self.first_unnotified == NONE {
            usize::MAX
        } else {
            self.notified
        }
    }

    /// See the field: what waiters spinning before they park watch for a change.
    pub(super) fn notifications(&self) -> usize {
        self.notifications
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Appends a new unnotified listener; returns its key.
    pub(super) fn insert(&mut self) -> usize {
        let entry = Entry {
            prev: self.tail,
            next: NONE,
            state: State::Waiting(None),
        };
        let key = if self.free != NONE {
            let key = self.free;
            self.free = self.entries[key].next;
            self.entries[key] = entry;
            key
        } else {
            self.entries.push(entry);
            self.entries.len() - 1
        };
        if self.tail == NONE {
            self.head = key;
        } else {
            self.entries[self.tail].next = key;
        }
        self.tail = key;
        if self.first_unnotified == NONE {
            self.first_unnotified = key;
        }
        self.len += 1;
        key
    }

    /// Unlinks `key`; returns how it had been notified, or `None` if it had not.
    ///
    /// A waker still stored in the entry is dropped here, under the lock; callers that
    /// may hold a foreign task's waker take it out first with [`take_waker`](Self::take_waker)
    /// and drop it after unlocking. (Returning the whole `State` instead cost a
    /// store-forwarding stall on every consumed notification: 24 bytes copied through
    /// the stack in odd-sized pieces.)
    pub(super) fn remove(&mut self, key: usize) -> Option<Notified> {
        let Entry { prev, next, .. } = self.entries[key];
        let notified = match core::mem::replace(&mut self.entries[key].state, State::Vacant) {
            State::Notified { additional } => Some(Notified { additional }),
            State::Waiting(_) => None,
            State::Vacant => unreachable!("listener key points at a vacant slot"),
        };
        if prev == NONE {
            self.head = next;
        } else {
            self.entries[prev].next = next;
        }
        if next == NONE {
            self.tail = prev;
        } else {
            self.entries[next].prev = prev;
        }
        if notified.is_some() {
            self.notified -= 1;
        } else if self.first_unnotified == key {
            self.first_unnotified = next;
        }
        self.entries[key].next = self.free;
        self.free = key;
        self.len -= 1;
        notified
    }

    /// Takes the waker stored for `key`, if any, leaving the entry waiting without one.
    pub(super) fn take_waker(&mut self, key: usize) -> Option<Waker> {
        match &mut self.entries[key].state {
            State::Waiting(slot) => slot.take(),
            _ => None,
        }
    }

    /// Whether `key` is notified; if not, remembers `waker` if given (replacing an
    /// older one unless it would wake the same task).
    pub(super) fn register(&mut self, key: usize, waker: Option<&Waker>) -> bool {
        match &mut self.entries[key].state {
            State::Notified { .. } => true,
            State::Waiting(slot) => {
                match (slot.as_ref(), waker) {
                    (_, None) => {}
                    (Some(old), Some(new)) if old.will_wake(new) => {}
                    (_, Some(new)) => *slot = Some(new.clone()),
                }
                false
            }
            State::Vacant => unreachable!("listener key points at a vacant slot"),
        }
    }

    pub(super) fn is_notified(&self, key: usize) -> bool {
        matches!(self.entries[key].state, State::Notified { .. })
    }

    /// Notifies listeners from the front of the unnotified part: until `n` are
    /// notified in total (`additional == false`), or `n` more (`additional == true`).
    /// Stops early when `batch` is full; returns how many it notified.
    pub(super) fn notify(&mut self, n: usize, additional: bool, batch: &mut WakeBatch) -> usize {
        let mut count = 0;
        loop {
            let enough = if additional {
                count >= n
            } else {
                self.notified >= n
            };
            if enough || self.first_unnotified == NONE || batch.is_full() {
                return count;
            }
            let key = self.first_unnotified;
            let entry = &mut self.entries[key];
            let old = core::mem::replace(&mut entry.state, State::Notified { additional });
            if let State::Waiting(Some(waker)) = old {
                batch.push(waker);
            }
            self.first_unnotified = entry.next;
            self.notified += 1;
            self.notifications = self.notifications.wrapping_add(1);
            count += 1;
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn notified_entries_stay_a_prefix_and_slots_are_reused() {
        let mut list = List::new();
        let a = list.insert();
        let b = list.insert();
        let c = list.insert();
        let mut batch = WakeBatch::new();
        assert_eq!(list.notify(1, false, &mut batch), 1);
        assert!(list.is_notified(a) && !list.is_notified(b));
        // Already one notified: notify(1) is a no-op, notify_additional(1) is not.
        assert_eq!(list.notify(1, false, &mut batch), 0);
        assert_eq!(list.notify(1, true, &mut batch), 1);
        assert!(list.is_notified(b) && !list.is_notified(c));
        assert_eq!(list.hint(), 2);
        assert_eq!(list.remove(b), Some(Notified { additional: true }));
        assert_eq!(list.hint(), 1);
        assert_eq!(list.remove(c), None);
        assert_eq!(list.hint(), usize::MAX);
        let d = list.insert();
        assert_eq!(d, c, "the most recently freed slot is reused first");
        assert_eq!(list.len(), 2);
        assert_eq!(list.notify(usize::MAX, false, &mut batch), 1);
        assert!(list.is_notified(d));
    }

    #[test]
    fn wake_batch_wakes_the_rest_when_a_waker_panics() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::task::Wake;

        struct Counter(AtomicUsize, bool);
        impl Wake for Counter {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
                assert!(!self.1, "this waker panics");
            }
        }
        let counters: Vec<_> = [false, true, false]
            .into_iter()
            .map(|panics| Arc::new(Counter(AtomicUsize::new(0), panics)))
            .collect();
        let mut batch = WakeBatch::new();
        for c in &counters {
            batch.push(Waker::from(Arc::clone(c)));
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            batch.wake();
        }));
        assert!(result.is_err());
        for c in &counters {
            assert_eq!(
                c.0.load(Ordering::Relaxed),
                1,
                "each waker woken exactly once"
            );
            assert_eq!(Arc::strong_count(c), 1, "and none leaked");
        }
    }
}

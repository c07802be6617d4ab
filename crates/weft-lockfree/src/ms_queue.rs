//! `MsQueue`: the lock-free FIFO queue of M. M. Michael and M. L. Scott, *Simple, Fast,
//! and Practical Non-Blocking and Blocking Concurrent Queue Algorithms* (PODC 1996),
//! with epoch reclamation in place of the paper's counted pointers.

use core::fmt;
use core::mem::MaybeUninit;
use weft_sync::Backoff;
use weft_sync::primitive::atomic::Ordering;

use crate::epoch::{self, Atomic, Guard, Owned, Shared};
use weft_sync::CachePadded;

struct Node<T> {
    /// Uninitialized in the sentinel (the first node); initialized in every node after
    /// it. A `pop` moves the value out of the node that becomes the new sentinel.
    value: MaybeUninit<T>,
    next: Atomic<Node<T>>,
}

/// A lock-free multi-producer, multi-consumer FIFO queue.
///
/// A singly linked list with a sentinel: `head` points at the sentinel, whose successor
/// holds the oldest value; `tail` points at the last node or, transiently, the one
/// before it. A `push` links its node after the last one (CAS on `next`), then swings
/// `tail` (a second CAS any thread may do on its behalf: the "helping" that makes the
/// queue lock-free). A `pop` swings `head` to the sentinel's successor and takes its
/// value.
///
/// # Progress
///
/// `push` and `pop` are **lock-free**: every failed CAS means another operation made
/// progress, and a thread that finds `tail` lagging advances it itself rather than
/// waiting for the pusher. They are not wait-free: one thread can keep losing its CAS
/// to others without bound. `is_empty` is wait-free.
///
/// # Examples
///
/// ```
/// use weft_lockfree::MsQueue;
///
/// let queue = MsQueue::new();
/// queue.push('a');
/// queue.push('b');
/// assert_eq!(queue.pop(), Some('a'));
/// assert_eq!(queue.pop(), Some('b'));
/// assert_eq!(queue.pop(), None);
/// ```
pub struct MsQueue<T> {
    head: CachePadded<Atomic<Node<T>>>,
    tail: CachePadded<Atomic<Node<T>>>,
}

// SAFETY: values move from pushing to popping threads; no `&T` is ever shared.
unsafe impl<T: Send> Send for MsQueue<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for MsQueue<T> {}

impl<T> MsQueue<T> {
    /// An empty queue (one sentinel node).
    pub fn new() -> Self {
        let queue = Self {
            head: CachePadded::new(Atomic::null()),
            tail: CachePadded::new(Atomic::null()),
        };
        // SAFETY: the queue is not shared yet.
        let guard = unsafe { epoch::unprotected() };
        let sentinel = Owned::new(Node {
            value: MaybeUninit::uninit(),
            next: Atomic::null(),
        })
        .into_shared(guard);
        queue.head.store(sentinel, Ordering::Relaxed);
        queue.tail.store(sentinel, Ordering::Relaxed);
        queue
    }

    /// Appends `value` at the back.
    pub fn push(&self, value: T) {
        let guard = epoch::pin();
        let node = Owned::new(Node {
            value: MaybeUninit::new(value),
            next: Atomic::null(),
        })
        .into_shared(&guard);
        let backoff = Backoff::new();
        loop {
            // Acquire: pairs with the Release CASes on `tail`, so the node is readable.
            let tail = self.tail.load(Ordering::Acquire, &guard);
            // SAFETY: `tail` is never null (a sentinel always exists) and was reachable
            // under `guard`, so it is not freed before the guard drops.
            let last = unsafe { tail.deref() };
            // Acquire: pairs with the Release CAS linking `next` below.
            let next = last.next.load(Ordering::Acquire, &guard);
            if !next.is_null() {
                // `tail` lags: help the pusher that linked `next`.
                self.swing_tail(tail, next, &guard);
                continue;
            }
            // Release: publishes the new node's value to the Acquire loads of `next` in
            // `pop` and here.
            if last
                .next
                .compare_exchange(next, node, Ordering::Release, Ordering::Relaxed, &guard)
                .is_ok()
            {
                self.swing_tail(tail, node, &guard);
                return;
            }
            backoff.spin();
        }
    }

    /// Moves `tail` from `from` to `to`; failing means someone else already did.
    fn swing_tail(&self, from: Shared<'_, Node<T>>, to: Shared<'_, Node<T>>, guard: &Guard) {
        // Release: a thread that reads the new tail with Acquire sees the node's fields.
        let _ = self
            .tail
            .compare_exchange(from, to, Ordering::Release, Ordering::Relaxed, guard);
    }

    /// Removes the value at the front, or returns `None` if the queue is empty.
    pub fn pop(&self) -> Option<T> {
        let guard = epoch::pin();
        let backoff = Backoff::new();
        loop {
            // Acquire: pairs with the Release CAS on `head` below (the previous pop), so
            // the sentinel's `next` field is the one linked before it.
            let head = self.head.load(Ordering::Acquire, &guard);
            // SAFETY: `head` is never null and was reachable under `guard`.
            let sentinel = unsafe { head.deref() };
            // Acquire: pairs with the Release CAS in `push` that linked `next`, so its
            // value is initialized and visible.
            let next = sentinel.next.load(Ordering::Acquire, &guard);
            // SAFETY: reachable under `guard`, as above.
            let first = unsafe { next.as_ref() }?;
            let tail = self.tail.load(Ordering::Relaxed, &guard);
            if tail == head {
                // `tail` would fall behind `head` once `head` moves (and point at a
                // retired node): advance it first.
                self.swing_tail(tail, next, &guard);
            }
            // Release: the next `pop` (Acquire on `head`) must see `first.next`.
            if self
                .head
                .compare_exchange(head, next, Ordering::Release, Ordering::Relaxed, &guard)
                .is_ok()
            {
                // SAFETY: the winning CAS makes this thread the only one to take the
                // value of `first` (now the sentinel, whose value counts as moved out).
                // The old sentinel is unlinked from both `head` and (checked above)
                // `tail`, and retired once, by this thread.
                unsafe {
                    let value = first.value.assume_init_read();
                    guard.defer_destroy(head);
                    return Some(value);
                }
            }
            backoff.spin();
        }
    }

    /// Whether the queue was empty at the moment of the load.
    pub fn is_empty(&self) -> bool {
        let guard = epoch::pin();
        let head = self.head.load(Ordering::Acquire, &guard);
        // SAFETY: `head` is never null and was reachable under `guard`.
        unsafe { head.deref() }
            .next
            .load(Ordering::Acquire, &guard)
            .is_null()
    }
}

impl<T> Default for MsQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for MsQueue<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other thread can reach the nodes.
        let guard = unsafe { epoch::unprotected() };
        let sentinel = self.head.load(Ordering::Relaxed, guard);
        // SAFETY: the sentinel is owned by the queue; its value is uninitialized.
        let sentinel = unsafe { sentinel.into_owned() };
        let mut current = sentinel.next.load(Ordering::Relaxed, guard);
        drop(sentinel);
        while !current.is_null() {
            // SAFETY: every node after the sentinel is owned by the queue and holds an
            // initialized value not taken yet.
            let node = unsafe { current.into_owned() };
            current = node.next.load(Ordering::Relaxed, guard);
            // SAFETY: as above; taken once, then the node is freed without it.
            let value = unsafe { node.value.assume_init_read() };
            drop(node);
            drop(value);
        }
    }
}

impl<T> fmt::Debug for MsQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsQueue")
            .field("is_empty", &self.is_empty())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fifo() {
        let queue = MsQueue::new();
        for i in 0..100 {
            queue.push(i);
        }
        for i in 0..100 {
            assert_eq!(queue.pop(), Some(i));
        }
        assert_eq!(queue.pop(), None);
        assert!(queue.is_empty());
    }
}

//! `TreiberStack`: the lock-free LIFO stack of R. K. Treiber, *Systems Programming:
//! Coping with Parallelism* (IBM RJ 5118, 1986), with epoch reclamation in place of the
//! original's version counters.

use core::fmt;
use core::mem::ManuallyDrop;
use core::ptr;
use weft_sync::Backoff;
use weft_sync::primitive::atomic::Ordering;

use crate::epoch::{self, Atomic, Owned};

struct Node<T> {
    /// Moved out by the `pop` that unlinks the node; the node itself is freed later,
    /// by the collector, without dropping it again.
    value: ManuallyDrop<T>,
    next: Atomic<Node<T>>,
}

/// A lock-free multi-producer, multi-consumer LIFO stack.
///
/// # Progress
///
/// `push` and `pop` are **lock-free**: each is a loop around one CAS on the head, and a
/// CAS fails only because another thread's succeeded, so some operation always
/// completes. They are not wait-free: a thread can lose every CAS race to others
/// forever (starvation), and nothing hands it a turn. `is_empty` is wait-free.
///
/// ABA is impossible: a popped node is freed by the epoch collector only after every
/// thread that could have read it as the head has unpinned, so its address cannot be
/// reused under a pending CAS.
///
/// # Examples
///
/// ```
/// use weft_lockfree::TreiberStack;
///
/// let stack = TreiberStack::new();
/// stack.push(1);
/// stack.push(2);
/// assert_eq!(stack.pop(), Some(2));
/// assert_eq!(stack.pop(), Some(1));
/// assert!(stack.is_empty());
/// ```
pub struct TreiberStack<T> {
    head: Atomic<Node<T>>,
}

// SAFETY: values move between threads (pushed on one, popped on another): `T: Send`
// suffices since the stack never hands out `&T`.
unsafe impl<T: Send> Send for TreiberStack<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for TreiberStack<T> {}

impl<T> TreiberStack<T> {
    /// An empty stack.
    pub fn new() -> Self {
        Self {
            head: Atomic::null(),
        }
    }

    /// Pushes `value` on top.
    pub fn push(&self, value: T) {
        let mut node = Owned::new(Node {
            value: ManuallyDrop::new(value),
            next: Atomic::null(),
        });
        let guard = epoch::pin();
        let backoff = Backoff::new();
        let mut head = self.head.load(Ordering::Relaxed, &guard);
        loop {
            node.next.store(head, Ordering::Relaxed);
            // Release: publishes the node's value and `next` to the Acquire load of the
            // head in `pop`.
            match self.head.compare_exchange_weak(
                head,
                node,
                Ordering::Release,
                Ordering::Relaxed,
                &guard,
            ) {
                Ok(_) => return,
                Err(error) => {
                    head = error.current;
                    node = error.new;
                    backoff.spin();
                }
            }
        }
    }

    /// Pops the top value, or `None` if the stack is empty.
    pub fn pop(&self) -> Option<T> {
        let guard = epoch::pin();
        let backoff = Backoff::new();
        loop {
            // Acquire: pairs with the Release CAS in `push`, so the node's fields are
            // visible.
            let head = self.head.load(Ordering::Acquire, &guard);
            // SAFETY: `head` was reachable when loaded under `guard`, so it is not freed
            // before the guard drops.
            let node = unsafe { head.as_ref() }?;
            let next = node.next.load(Ordering::Relaxed, &guard);
            // Relaxed success: nothing is published by unlinking; the value read below
            // was made visible by the Acquire load above.
            if self
                .head
                .compare_exchange_weak(head, next, Ordering::Relaxed, Ordering::Relaxed, &guard)
                .is_ok()
            {
                // SAFETY: the winning CAS makes this thread the only one to take the
                // value; the node is retired exactly once, by this thread, after being
                // unlinked.
                unsafe {
                    let value = ptr::read(&*node.value);
                    guard.defer_destroy(head);
                    return Some(value);
                }
            }
            backoff.spin();
        }
    }

    /// Whether the stack was empty at the moment of the load.
    pub fn is_empty(&self) -> bool {
        let guard = epoch::pin();
        self.head.load(Ordering::Acquire, &guard).is_null()
    }
}

impl<T> Default for TreiberStack<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for TreiberStack<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other thread can reach the nodes.
        let guard = unsafe { epoch::unprotected() };
        let mut current = self.head.load(Ordering::Relaxed, guard);
        while !current.is_null() {
            // SAFETY: every node still linked owns its value and is owned by the stack.
            let mut node = unsafe { current.into_owned() };
            current = node.next.load(Ordering::Relaxed, guard);
            // Drop the node first so a panicking value destructor does not leak it.
            // SAFETY: the value was not taken (the node is still linked).
            let value = unsafe { ManuallyDrop::take(&mut node.value) };
            drop(node);
            drop(value);
        }
    }
}

impl<T> fmt::Debug for TreiberStack<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TreiberStack")
            .field("is_empty", &self.is_empty())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn lifo() {
        let stack = TreiberStack::new();
        for i in 0..100 {
            stack.push(i);
        }
        for i in (0..100).rev() {
            assert_eq!(stack.pop(), Some(i));
        }
        assert_eq!(stack.pop(), None);
    }
}

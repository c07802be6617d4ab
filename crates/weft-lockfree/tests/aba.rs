//! The ABA problem, shown deterministically, and its cure by `AtomicTaggedPtr`.
//!
//! One thread plays two by hand: "thread 1" starts a pop (reads head `A` and its next
//! `B`) and is interrupted; "thread 2" pops `A`, pops `B` (recycling `B`'s node to the
//! free list) and pushes `A`'s node back; "thread 1" resumes with its CAS. On a stack
//! whose head is a bare index the CAS sees `A` again and succeeds, installing the
//! recycled `B` as head and losing `A`'s new value. With a versioned head the CAS sees
//! `A` at a newer version and fails, and the retry pops correctly.
//!
//! Nodes come from an index arena and are recycled through a free list, never freed, so
//! the naive stack's corruption is memory-safe while still being a wrong answer.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use weft_lockfree::{AtomicTaggedPtr, TaggedPtr};

const NULL: u32 = u32::MAX;

struct Node {
    value: AtomicU32,
    next: AtomicU32,
}

/// Nodes by index, and the indices of recycled ones.
struct Arena {
    nodes: Vec<Node>,
    free: Vec<u32>,
}

impl Arena {
    fn new(size: u32) -> Self {
        Self {
            nodes: (0..size)
                .map(|_| Node {
                    value: AtomicU32::new(0),
                    next: AtomicU32::new(NULL),
                })
                .collect(),
            free: (0..size).rev().collect(),
        }
    }

    fn node(&self, index: u32) -> &Node {
        &self.nodes[index as usize]
    }

    fn allocate(&mut self, value: u32) -> u32 {
        let index = self.free.pop().expect("arena exhausted");
        self.node(index).value.store(value, SeqCst);
        index
    }

    fn recycle(&mut self, index: u32) {
        self.node(index).value.store(0xdead, SeqCst);
        self.free.push(index);
    }
}

/// The operations a stack needs from its head word, so both stacks share the scenario.
trait Head {
    type Word: Copy;
    fn index(word: Self::Word) -> u32;
    fn load(&self) -> Self::Word;
    /// CAS from `current` to a word naming `index`.
    fn replace(&self, current: Self::Word, index: u32) -> bool;
}

/// The naive head: a bare index.
struct NaiveHead(AtomicU32);

impl Head for NaiveHead {
    type Word = u32;
    fn index(word: u32) -> u32 {
        word
    }
    fn load(&self) -> u32 {
        self.0.load(SeqCst)
    }
    fn replace(&self, current: u32, index: u32) -> bool {
        self.0
            .compare_exchange(current, index, SeqCst, SeqCst)
            .is_ok()
    }
}

/// The versioned head: index and version in one word.
struct VersionedHead(AtomicTaggedPtr);

impl Head for VersionedHead {
    type Word = TaggedPtr;
    fn index(word: TaggedPtr) -> u32 {
        word.index
    }
    fn load(&self) -> TaggedPtr {
        self.0.load(SeqCst)
    }
    fn replace(&self, current: TaggedPtr, index: u32) -> bool {
        self.0
            .compare_exchange(current, current.next_version(index), SeqCst, SeqCst)
            .is_ok()
    }
}

/// A Treiber stack over the arena, with `pop` split into its two steps.
struct Stack<H> {
    head: H,
}

impl<H: Head> Stack<H> {
    fn push(&self, arena: &Arena, index: u32) {
        loop {
            let head = self.head.load();
            arena.node(index).next.store(H::index(head), SeqCst);
            if self.head.replace(head, index) {
                return;
            }
        }
    }

    /// Step 1 of `pop`: read the head and its successor.
    fn pop_begin(&self, arena: &Arena) -> Option<(H::Word, u32)> {
        let head = self.head.load();
        let index = H::index(head);
        (index != NULL).then(|| (head, arena.node(index).next.load(SeqCst)))
    }

    /// Step 2 of `pop`: the CAS; `Some(index)` of the popped node if it succeeded.
    fn pop_commit(&self, (head, next): (H::Word, u32)) -> Option<u32> {
        self.head.replace(head, next).then(|| H::index(head))
    }

    fn pop(&self, arena: &Arena) -> Option<u32> {
        loop {
            let begun = self.pop_begin(arena)?;
            if let Some(index) = self.pop_commit(begun) {
                return Some(index);
            }
        }
    }

    fn values(&self, arena: &Arena) -> Vec<u32> {
        let mut values = Vec::new();
        let mut index = H::index(self.head.load());
        while index != NULL {
            values.push(arena.node(index).value.load(SeqCst));
            index = arena.node(index).next.load(SeqCst);
        }
        values
    }
}

/// Runs the interleaving; returns what thread 1's pop did and the arena afterwards.
fn scenario<H: Head>(stack: Stack<H>) -> (Option<u32>, Stack<H>, Arena) {
    let mut arena = Arena::new(8);
    // Stack: A(1) -> B(2) -> C(3).
    for value in [3, 2, 1] {
        let index = arena.allocate(value);
        stack.push(&arena, index);
    }
    // Thread 1: reads head = A, next = B; then it is interrupted.
    let begun = stack.pop_begin(&arena).unwrap();
    // Thread 2: pops A and B, recycles B, pushes A's node back with a new value.
    let a = stack.pop(&arena).unwrap();
    let b = stack.pop(&arena).unwrap();
    arena.recycle(b);
    arena.node(a).value.store(4, SeqCst);
    stack.push(&arena, a);
    assert_eq!(stack.values(&arena), [4, 3]);
    // Thread 1 resumes.
    let popped = stack.pop_commit(begun);
    (popped, stack, arena)
}

#[test]
fn naive_cas_stack_is_corrupted_by_aba() {
    let (popped, stack, arena) = scenario(Stack {
        head: NaiveHead(AtomicU32::new(NULL)),
    });
    // The stale CAS succeeded: it saw A again.
    assert!(popped.is_some());
    // The head is now B, a node sitting on the free list...
    let head = stack.head.load();
    assert!(arena.free.contains(&head), "head is not the recycled node");
    // ...so the stack shows the recycled node's garbage, and A's new value (4) is lost.
    assert_eq!(stack.values(&arena), [0xdead, 3]);
}

#[test]
fn versioned_cas_stack_is_immune() {
    let (popped, stack, arena) = scenario(Stack {
        head: VersionedHead(AtomicTaggedPtr::new(TaggedPtr::NULL)),
    });
    // The stale CAS failed: same index, newer version.
    assert_eq!(popped, None);
    assert_eq!(stack.values(&arena), [4, 3]);
    // Thread 1 retries and pops the right node.
    let index = stack.pop(&arena).unwrap();
    assert_eq!(arena.node(index).value.load(SeqCst), 4);
    assert_eq!(stack.values(&arena), [3]);
    assert!(
        !arena
            .free
            .contains(&VersionedHead::index(stack.head.load()))
    );
}

//! `TaggedPtr`: an index plus a version counter in one 64-bit word, the classic cure for
//! the ABA problem (IBM System/370 "compare double and swap", 1983; Treiber 1986).
//!
//! A CAS on a bare pointer succeeds whenever the *value* matches, even if the word went
//! A → B → A in between (a node popped, recycled and pushed back): the operation then
//! acts on stale assumptions (a stale `next`). Pairing the pointer with a counter bumped
//! on every successful update makes the intermediate writes visible: the CAS sees
//! `(A, 7)` where it expected `(A, 5)` and fails. The counter can wrap after 2^32
//! updates, so the guarantee is probabilistic in principle: a thread would have to
//! sleep through exactly 2^32 updates between its load and its CAS. `tests/aba.rs` shows
//! the corruption on a naive stack and its absence with `AtomicTaggedPtr`.
//!
//! Epoch reclamation ([`crate::epoch`]) removes ABA differently (no node is reused while
//! a thread may still compare against it); versioned pointers suit index-based pools
//! and free lists where nodes are recycled, never freed.

use core::fmt;
use weft_sync::primitive::atomic::{AtomicU64, Ordering};

/// An index (into a node pool, or any 32-bit handle) with a version counter.
///
/// # Examples
///
/// ```
/// use weft_lockfree::TaggedPtr;
///
/// let a = TaggedPtr::new(3, 0);
/// assert_eq!(a.next_version(9), TaggedPtr::new(9, 1));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct TaggedPtr {
    /// The index; by convention `u32::MAX` means null (see [`TaggedPtr::NULL`]).
    pub index: u32,
    /// Incremented by every successful update of the word.
    pub version: u32,
}

impl TaggedPtr {
    /// The null index with version 0.
    pub const NULL: Self = Self {
        index: u32::MAX,
        version: 0,
    };

    /// `index` at `version`.
    pub const fn new(index: u32, version: u32) -> Self {
        Self { index, version }
    }

    /// Whether the index is the null index.
    pub const fn is_null(self) -> bool {
        self.index == u32::MAX
    }

    /// `index` with this pointer's version plus one (wrapping): the value to store when
    /// replacing `self`.
    pub const fn next_version(self, index: u32) -> Self {
        Self {
            index,
            version: self.version.wrapping_add(1),
        }
    }

    const fn pack(self) -> u64 {
        (self.version as u64) << 32 | self.index as u64
    }

    const fn unpack(word: u64) -> Self {
        Self {
            index: word as u32,
            version: (word >> 32) as u32,
        }
    }
}

/// An atomic [`TaggedPtr`]: one `AtomicU64`, so index and version change together.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::Ordering::{AcqRel, Acquire};
/// use weft_lockfree::{AtomicTaggedPtr, TaggedPtr};
///
/// let head = AtomicTaggedPtr::new(TaggedPtr::new(1, 0));
/// let seen = head.load(Acquire);
/// // Someone replaces 1 with 2 and then 2 with 1 again: the index is back, the version is not.
/// head.compare_exchange(seen, seen.next_version(2), AcqRel, Acquire).unwrap();
/// let now = head.load(Acquire);
/// head.compare_exchange(now, now.next_version(1), AcqRel, Acquire).unwrap();
/// assert!(head.compare_exchange(seen, seen.next_version(5), AcqRel, Acquire).is_err());
/// ```
pub struct AtomicTaggedPtr {
    word: AtomicU64,
}

impl AtomicTaggedPtr {
    /// Holds `value`.
    pub fn new(value: TaggedPtr) -> Self {
        Self {
            word: AtomicU64::new(value.pack()),
        }
    }

    /// Loads index and version together.
    pub fn load(&self, ord: Ordering) -> TaggedPtr {
        TaggedPtr::unpack(self.word.load(ord))
    }

    /// Stores index and version together.
    pub fn store(&self, value: TaggedPtr, ord: Ordering) {
        self.word.store(value.pack(), ord);
    }

    /// Replaces `current` with `new` if both index and version still match.
    ///
    /// # Errors
    ///
    /// Returns the value found instead of `current`.
    pub fn compare_exchange(
        &self,
        current: TaggedPtr,
        new: TaggedPtr,
        success: Ordering,
        failure: Ordering,
    ) -> Result<TaggedPtr, TaggedPtr> {
        self.word
            .compare_exchange(current.pack(), new.pack(), success, failure)
            .map(TaggedPtr::unpack)
            .map_err(TaggedPtr::unpack)
    }
}

impl fmt::Debug for AtomicTaggedPtr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AtomicTaggedPtr")
            .field(&self.load(Ordering::Relaxed))
            .finish()
    }
}

impl Default for AtomicTaggedPtr {
    fn default() -> Self {
        Self::new(TaggedPtr::NULL)
    }
}

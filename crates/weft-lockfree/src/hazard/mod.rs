//! Hazard pointers: memory reclamation whose garbage stays bounded when threads stall.
//!
//! After Maged M. Michael, "Hazard Pointers: Safe Memory Reclamation for Lock-Free
//! Objects", IEEE Transactions on Parallel and Distributed Systems 15(6), 2004.
//!
//! A lock-free structure cannot free a node the moment it unlinks it: another thread
//! may have loaded the pointer just before and be about to read through it. With hazard
//! pointers, a reader *announces* each pointer it is about to dereference in a
//! single-writer slot (a [`HazardPointer`]), then re-reads the shared location to check
//! the pointer is still there, so it was not unlinked before the announcement became
//! visible. A writer that unlinks a node [`retire`]s it; when enough retired nodes have
//! piled up, it scans every slot of the [`Domain`] and frees each retired node no slot
//! names.
//!
//! # How it works here
//!
//! - A [`Domain`] holds a lock-free, push-only list of hazard records (slots) and one
//!   shared retired list. [`HazardPointer::new`] takes a free record (or pushes a new
//!   one), and its `Drop` returns it; records are freed only with the domain.
//! - [`HazardPointer::protect`]: load, publish (store + `SeqCst` fence), re-load;
//!   repeat until the two loads agree. [`try_protect`](HazardPointer::try_protect) is
//!   one round of that loop.
//! - [`Domain::retire`] pushes the object onto the retired list; when the list reaches
//!   [`Domain::reclaim_threshold`] (`2 × H + 64`, H = hazard records), it takes the whole
//!   list, fences, collects every slot's pointer into a sorted vector, frees the
//!   unprotected objects and pushes the protected ones (at most H) back.
//!
//! Michael's paper keeps one retired list per thread; a shared list keeps the API free
//! of thread registration and lets any thread's scan free anyone's garbage, at the cost
//! of one contended compare-and-swap per retire.
//!
//! # The bound
//!
//! At most H objects survive a scan (a slot names one object at a time), and a retire
//! that brings the list to `2 × H + 64` scans. So with R threads inside `retire` at a
//! time, the retired-but-unfreed objects number at most about `2 × H + 64 + R`,
//! *whatever the other threads are doing*: a reader that stalls while protecting
//! something pins that one object, nothing else. That is the property epoch-based
//! reclamation lacks; one thread stalled while pinned there stops every reclamation.
//! (A thread that stalls *inside* a scan holds the batch it took; that batch is not
//! freed until it resumes.)
//!
//! # Hazard pointers or epochs?
//!
//! | | hazard pointers | epochs |
//! |---|---|---|
//! | cost per read | a store and a `SeqCst` fence per pointer protected, plus a re-load (and a retry when a writer raced) | one pin per *operation*, however many pointers it follows |
//! | garbage when a thread stalls | bounded, `O(H)` | unbounded: a stalled pinned thread blocks all reclamation |
//! | long traversals (lists, trees) | one slot per live pointer, hand over hand: a protect (and fence) per node | free once pinned |
//! | reclamation cost | a scan of H slots per `O(H)` retires | a check of every thread's epoch, per collection |
//! | API | each pointer validated against its source | a guard; anything loaded under it is safe |
//!
//! Pick epochs (the default for weft's own structures) for short operations on
//! structures whose memory you can afford to hold back for a while: they are simpler to
//! use and usually faster. Pick hazard pointers when memory must stay bounded even if
//! a thread is descheduled, stopped in a debugger or blocked while it holds a
//! reference (long-lived readers, large objects, memory-constrained systems), or when
//! a read holds few pointers at a time (a configuration pointer, a queue's head).
//!
//! # Examples
//!
//! A configuration that readers read while a writer swaps it:
//!
//! ```
//! use std::sync::atomic::{AtomicPtr, Ordering};
//! use std::thread;
//! use weft_lockfree::hazard::{self, Domain, HazardPointer};
//!
//! struct Config {
//!     version: u64,
//!     name: String,
//! }
//!
//! let domain = Domain::new();
//! let current = AtomicPtr::new(Box::into_raw(Box::new(Config { version: 0, name: "v0".into() })));
//!
//! thread::scope(|scope| {
//!     for _ in 0..2 {
//!         scope.spawn(|| {
//!             let mut hazard = HazardPointer::new_in_domain(&domain);
//!             for _ in 0..100 {
//!                 // SAFETY: `current` only holds boxed `Config`s, each retired into
//!                 // `domain` after it is swapped out.
//!                 let config = unsafe { hazard.protect(&current) }.unwrap();
//!                 assert_eq!(config.name, format!("v{}", config.version));
//!             }
//!         });
//!     }
//!     scope.spawn(|| {
//!         for version in 1..=100 {
//!             let new = Box::into_raw(Box::new(Config { version, name: format!("v{version}") }));
//!             // AcqRel: Release publishes the new config to the readers' Acquire
//!             // re-load in `protect`; Acquire makes the old one's contents ours to drop.
//!             let old = current.swap(new, Ordering::AcqRel);
//!             // SAFETY: `old` is unlinked, retired once, and came from `Box::into_raw`.
//!             unsafe { domain.retire(old, hazard::drop_box) };
//!         }
//!     });
//! });
//!
//! // SAFETY: the threads are done; the last config is ours to free.
//! unsafe { drop(Box::from_raw(current.load(Ordering::Acquire))) };
//! drop(domain); // frees every config still retired
//! ```

mod domain;
mod pointer;

pub use domain::Domain;
pub use pointer::HazardPointer;

/// Retires `object` into the [global domain](Domain::global): see [`Domain::retire`].
///
/// # Safety
///
/// The contract of [`Domain::retire`]: `object` is unlinked from every shared location
/// readers load it from, is retired once and freed by nothing else, and
/// `deleter(object)` is sound once, on any thread, at any later time.
pub unsafe fn retire<T>(object: *mut T, deleter: unsafe fn(*mut T)) {
    // SAFETY: forwarded from this function's contract.
    unsafe { Domain::global().retire(object, deleter) }
}

/// A deleter for objects allocated with `Box`: `drop(Box::from_raw(object))`.
///
/// # Safety
///
/// `object` came from [`Box::into_raw`] and is not used afterwards.
pub unsafe fn drop_box<T>(object: *mut T) {
    // SAFETY: per this function's contract.
    drop(unsafe { Box::from_raw(object) });
}

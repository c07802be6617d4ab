//! Work-stealing deques: the Chase–Lev [`Worker`]/[`Stealer`] pair that each pool
//! worker owns, and the [`Injector`], the global FIFO queue work enters from outside.
//!
//! The names and the API follow `crossbeam-deque`, so code written against it ports
//! by changing the `use` line.
//!
//! # Algorithms
//!
//! - `Worker`/`Stealer`: the growable circular deque of D. Chase and Y. Lev, *Dynamic
//!   Circular Work-Stealing Deque*, SPAA 2005, with the C11 memory orderings proved
//!   correct by N. M. Lê, A. Pop, A. Cohen and F. Zappa Nardelli, *Correct and
//!   Efficient Work-Stealing for Weak Memory Models*, PPoPP 2013 (their Fig. 1:
//!   `push`, `take`, `steal`, `resize`). Each ordering in `worker.rs` names the line of
//!   Fig. 1 it implements and what it pairs with. The paper's `consume` load of the
//!   array is an `Acquire` here (Rust has no consume). One deliberate deviation: the
//!   owner's `take` stores of `bottom` are `Release`, not relaxed, because the paper's
//!   C11 counted them in the release sequence of the last push and Rust's (C++20's)
//!   model does not; `pop_lifo` explains, and a loom model fails without it.
//! - `Injector`: a segmented lock-free FIFO (linked blocks of slots with per-slot
//!   ready bits, the shape of an unbounded MPMC queue), whose consumers reserve a run
//!   of slots with one CAS so that a worker can take a batch at once.
//! - Batches: a stealer takes up to half of the items, at most 32. From a FIFO deque
//!   (whose owner also takes from the top) one CAS claims the whole run; from a LIFO
//!   deque each item is claimed by its own `steal` step, because the owner pops from
//!   the bottom without a CAS while more than one item is left.
//!
//! # Reclaiming old rings
//!
//! When the owner grows the ring, a stealer may still be copying from the old one.
//! The owner keeps every replaced ring until the deque itself is dropped; rings
//! double, so the retired ones sum to less than the current one and the deque holds
//! under twice its largest ring. This is the place to switch to the crate's epoch
//! reclamation: pin in `steal*`, defer the free in `grow`. That returns memory early
//! for deques that spike and shrink back, at the cost of a pin on every steal.
//!
//! # The speculative copy
//!
//! A stealer copies a slot's bits *before* its CAS on `top`, because once `top` moves
//! the owner may write a new item into that slot. The copy is a `MaybeUninit<T>`; it
//! becomes a `T` only if the CAS wins, and a loser forgets it without dropping it.
//! (Reading after the CAS would race with that reuse; reading into a `T` before the
//! CAS and dropping it on failure would drop a value someone else owns.)
//!
//! # Examples
//!
//! ```
//! use weft_lockfree::deque::{Injector, Steal, Worker};
//!
//! // A worker's search for a job: its own deque, then the injector, then others.
//! fn find_job<T>(local: &Worker<T>, global: &Injector<T>, others: &[weft_lockfree::deque::Stealer<T>]) -> Option<T> {
//!     local.pop().or_else(|| {
//!         std::iter::repeat_with(|| {
//!             global
//!                 .steal_batch_and_pop(local)
//!                 .or_else(|| others.iter().map(|s| s.steal()).collect())
//!         })
//!         .find(|s| !s.is_retry())
//!         .and_then(|s| s.success())
//!     })
//! }
//!
//! let local = Worker::new_lifo();
//! let global = Injector::new();
//! global.push(1);
//! assert_eq!(find_job(&local, &global, &[]), Some(1));
//! assert_eq!(find_job(&local, &global, &[]), None);
//! ```

mod buffer;
mod injector;
mod steal;
mod worker;

pub use injector::Injector;
pub use steal::Steal;
pub use worker::{Stealer, Worker};

//! weft's lock-free data structures, and the memory reclamation they stand on.
//!
//! The notes' section on concurrent data structures (lock-free queues, stacks and hash
//! tables; the ABA problem; hazard pointers and epoch-based reclamation; wait-free
//! progress), built as the foundation weft's channels and work-stealing pool stand on.
//!
//! Every type's documentation states its progress guarantee (wait-free, lock-free, or
//! blocking, operation by operation) and the paper its algorithm comes from.
//!
//! Atomics come from `weft_sync::primitive`, so `RUSTFLAGS="--cfg loom"` model-checks
//! this crate together with the locks beneath it.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

// Each room of the crate adds its modules and re-exports inside its own block.

// ---- [epoch] epoch reclamation, TaggedPtr, TreiberStack, MsQueue ----
pub mod epoch;
mod ms_queue;
mod stack;
mod striped;
mod tagged;
pub use ms_queue::MsQueue;
pub use stack::TreiberStack;
pub use tagged::{AtomicTaggedPtr, TaggedPtr};

// ---- end [epoch] ----

// ---- [queue] ArrayQueue, SegQueue ----

mod queue;
pub use queue::{ArrayQueue, CapacityError, IntoIter as ArrayQueueIntoIter, SegQueue};

// ---- end [queue] ----

// ---- [deque] Chase-Lev Worker, Stealer, Injector ----

pub mod deque;

// ---- end [deque] ----

// ---- [hazard] hazard pointers ----

pub mod hazard;

// ---- end [hazard] ----

// ---- [map] concurrent HashMap ----

pub mod map;
pub use map::HashMap;

// ---- end [map] ----

// ---- [flat_map] FlatMap: plain data inline, seqlock reads ----

pub mod flat_map;
pub use flat_map::{FlatMap, Plain};

// ---- end [flat_map] ----

// ---- [sharded_map] ShardedMap: RwLock-striped tables, keys and values inline ----

pub mod sharded_map;
pub use sharded_map::ShardedMap;

// ---- end [sharded_map] ----

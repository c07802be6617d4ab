//! weft's async runtime.
//!
//! (Module docs are written with the modules.)

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod blocking;
pub mod task;
#[cfg(loom)]
#[doc(hidden)]
pub use task::loom_door as __loom;
pub use task::{AbortHandle, Id, JoinError, JoinHandle};

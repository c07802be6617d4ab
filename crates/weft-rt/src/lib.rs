//! weft's async runtime.
//!
//! (Module docs are written with the modules.)

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

//! weft's I/O multiplexing: the event loop's machinery.
//!
//! (Module docs are written with the modules.)

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

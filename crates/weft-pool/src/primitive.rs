//! The one place weft-pool takes its atomics, cells and yields from: weft-sync's shim,
//! so one `RUSTFLAGS="--cfg loom"` switches the pool's latches and sleep protocol to
//! loom's types together with the deques and locks below them.
//!
//! Two things deliberately stay `std`'s: the `Arc` that keeps a registry alive (a
//! reference count, not part of any protocol the loom models check, and loom's `Arc`
//! cannot hold the registry's `dyn Fn` handlers), and the `static` that holds the
//! global registry (a `static` needs a `const` constructor, which loom's atomics lack).

pub(crate) use weft_sync::primitive::UnsafeCell;
pub(crate) use weft_sync::primitive::atomic;
pub(crate) use weft_sync::primitive::thread;

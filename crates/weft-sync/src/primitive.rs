//! The one place weft-sync takes its atomics, cells and thread functions from.
//!
//! Normally these are `std`'s; under `RUSTFLAGS="--cfg loom"` they are loom's, so the
//! model checker sees every atomic access and every yield. Code elsewhere in the crate
//! never names `std::sync::atomic` or `std::cell::UnsafeCell` directly.
//!
//! The other weft crates (`weft-lockfree`, and the rooms above it) take their atomics
//! from here too, as `weft_sync::primitive`, so one `--cfg loom` switches the whole
//! stack. It is not part of weft's public API (hidden from the docs).

#[cfg(loom)]
pub use loom::sync::{Arc, atomic};
#[cfg(not(loom))]
pub use std::sync::{Arc, atomic};

// Only the emulated futex (non-Linux targets, and loom) uses these.
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar as StdCondvar, Mutex as StdMutex};
#[cfg(all(not(loom), not(target_os = "linux")))]
pub(crate) use std::sync::{Condvar as StdCondvar, Mutex as StdMutex};

/// Thread operations that loom must see (a spin loop that never yields to loom's
/// scheduler would spin forever inside a model).
pub mod thread {
    #[cfg(loom)]
    pub use loom::thread::yield_now;
    #[cfg(not(loom))]
    pub use std::thread::yield_now;

    /// A CPU spin-loop hint; under loom a yield, so the model can make progress.
    #[inline]
    pub fn spin_loop() {
        #[cfg(not(loom))]
        std::hint::spin_loop();
        #[cfg(loom)]
        loom::thread::yield_now();
    }
}

/// `UnsafeCell` with loom's `with`/`with_mut` interface, so the same code compiles
/// against both. Under loom every access is checked for data races.
#[cfg(not(loom))]
#[derive(Debug, Default)]
#[repr(transparent)]
pub struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    #[inline]
    pub const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    #[inline]
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

#[cfg(not(loom))]
impl<T: ?Sized> UnsafeCell<T> {
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }

    /// The raw pointer, for guards that hand out `&T`/`&mut T` for their lifetime.
    #[inline]
    pub fn get(&self) -> *mut T {
        self.0.get()
    }

    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

#[cfg(loom)]
pub use loom_cell::UnsafeCell;

#[cfg(loom)]
mod loom_cell {
    /// Under loom, a guard's raw-pointer access cannot be tracked across its lifetime,
    /// so `get` checks the access at the moment the pointer is taken; `with`/`with_mut`
    /// are fully tracked.
    #[derive(Debug)]
    pub struct UnsafeCell<T: ?Sized>(loom::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub fn new(value: T) -> Self {
            Self(loom::cell::UnsafeCell::new(value))
        }

        pub fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    impl<T: ?Sized> UnsafeCell<T> {
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            self.0.with(f)
        }

        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            self.0.with_mut(f)
        }

        pub fn get(&self) -> *mut T {
            self.0.with_mut(|p| p)
        }

        pub fn get_mut(&mut self) -> &mut T {
            // SAFETY: `&mut self` proves exclusive access.
            self.0.with_mut(|p| unsafe { &mut *p })
        }
    }
}

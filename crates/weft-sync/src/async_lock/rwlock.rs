//! `AsyncRwLock<T>`: a writer-preferring reader-writer lock for async code (and
//! threads), with upgradable reads.
//!
//! # State
//!
//! - `gate`, a [`RawMutex`]: held by the one writer or upgradable reader at a time.
//! - `state`, an `AtomicUsize`: bit 0 `WRITER` (a writer holds, or is waiting for the
//!   readers to drain), the rest the number of readers (`ONE_READER` each; an
//!   upgradable reader counts as one).
//! - `no_writer`: readers wait here for `WRITER` to clear.
//! - `no_readers`: the gate holder waits here for the readers to drain.
//!
//! | holder           | gate | `WRITER` | readers |
//! |------------------|------|----------|---------|
//! | readers          | –    | clear    | ≥ 1     |
//! | upgradable       | held | clear    | ≥ 1 (itself + readers) |
//! | writer, draining | held | set      | ≥ 1, only falling |
//! | writer           | held | set      | 0       |
//!
//! A writer takes the gate, sets `WRITER` (from then on no new reader gets in: that is
//! the writer preference), and waits for the readers to drain. An upgrade trades the
//! upgradable's reader count for `WRITER` in one `fetch_sub`, then drains the same way.
//! Readers only wait for `WRITER`; they never touch the gate.
//!
//! Orderings: a reader enters with an `Acquire` CAS that pairs with the `Release` in
//! the writer's unlock (the writer's writes happen before the reads); a reader leaves
//! with a `Release` `fetch_sub` that pairs with the writer's `Acquire` drain check
//! (the reads happen before the writer's writes). Writers order among themselves
//! through the gate's own Acquire/Release.

mod arc;

pub use arc::{
    AsyncRwLockReadGuardArc, AsyncRwLockUpgradableReadGuardArc, AsyncRwLockWriteGuardArc,
};

use super::raw::RawMutex;
use crate::deadlock::{self, Access, AcquireSite, LockClass, Tracked};
use crate::event::{Event, block_on};
use crate::primitive::UnsafeCell;
use crate::primitive::atomic::{AtomicUsize, Ordering};
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};

const WRITER: usize = 1;
const ONE_READER: usize = 2;

/// A reader-writer lock whose guards may be held across `.await`: many readers or one
/// writer, writer-preferring, with upgradable reads.
///
/// # Cost
///
/// Uncontended read: one CAS in, one `fetch_sub` (plus an event fence and load) out.
/// Write: the writer gate (one CAS), one `fetch_or`, and a drain check. Prefer
/// [`AsyncMutex`](crate::AsyncMutex) unless reads dominate and read sections are long
/// (they span `.await`s), and a blocking `RwLock` when no `.await` happens under the
/// lock.
///
/// # Fairness
///
/// Writer-preferring: once a writer holds the gate, new readers wait until it is done,
/// so a stream of readers cannot starve it. Writers and upgradable readers among
/// themselves are not FIFO. While an upgradable reader holds the gate, plain readers
/// still get in.
///
/// # Owned guards
///
/// On an `Arc<AsyncRwLock<T>>`, [`read_arc`](Self::read_arc),
/// [`write_arc`](Self::write_arc) and [`upgradable_read_arc`](Self::upgradable_read_arc)
/// (each with `try_` and `_blocking` forms) return guards that own a share of the
/// `Arc`: `'static`, so they can be stored in a struct or moved into a spawned task.
///
/// # Examples
///
/// ```
/// use weft_sync::{AsyncRwLock, AsyncRwLockUpgradableReadGuard};
///
/// let lock = AsyncRwLock::new(vec![1]);
/// {
///     let r1 = lock.try_read().unwrap();
///     let r2 = lock.read_blocking();
///     assert_eq!(r1.len() + r2.len(), 2);
///     assert!(lock.try_write().is_none());
/// }
/// let up = lock.upgradable_read_blocking();
/// let mut w = AsyncRwLockUpgradableReadGuard::upgrade_blocking(up);
/// w.push(2);
/// drop(w);
/// assert_eq!(*lock.read_blocking(), [1, 2]);
/// ```
pub struct AsyncRwLock<T: ?Sized> {
    gate: RawMutex,
    state: AtomicUsize,
    no_writer: Event,
    no_readers: Event,
    class: LockClass,
    value: UnsafeCell<T>,
}

// SAFETY: readers share `&T` across threads (`T: Sync`), a writer gets `&mut T` on
// whichever thread it runs (`T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for AsyncRwLock<T> {}
// SAFETY: owning the lock is owning `T`.
unsafe impl<T: ?Sized + Send> Send for AsyncRwLock<T> {}

impl<T> AsyncRwLock<T> {
    /// A new, unlocked lock.
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn new(value: T) -> Self {
        Self {
            gate: RawMutex::new(),
            state: AtomicUsize::new(0),
            no_writer: Event::new(),
            no_readers: Event::new(),
            class: LockClass::new(),
            value: UnsafeCell::new(value),
        }
    }

    /// A new, unlocked lock.
    #[cfg(loom)]
    #[track_caller]
    pub fn new(value: T) -> Self {
        Self {
            gate: RawMutex::new(),
            state: AtomicUsize::new(0),
            no_writer: Event::new(),
            no_readers: Event::new(),
            class: LockClass::new(),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning the value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

/// Undoes a writer's `WRITER` bit and gate if its acquire is cancelled mid-drain.
struct DrainUndo<'a, T: ?Sized> {
    lock: &'a AsyncRwLock<T>,
}

impl<T: ?Sized> Drop for DrainUndo<'_, T> {
    fn drop(&mut self) {
        self.lock.release_writer();
    }
}

impl<T: ?Sized> AsyncRwLock<T> {
    /// Takes a read lock if no writer holds or waits, without waiting. Inside a task
    /// (with the `deadlock-detection` feature), the hold is the task's.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn try_read(&self) -> Option<AsyncRwLockReadGuard<'_, T>> {
        let site = AcquireSite::caller();
        self.try_add_reader().then(|| {
            self.read_guard(deadlock::on_task_acquire(
                self.addr(),
                &self.class,
                Access::TryShared,
                site,
            ))
        })
    }

    /// Takes a read lock, waiting asynchronously. Cancel-safe. Inside a task (with
    /// the `deadlock-detection` feature), the wait and the hold are the task's.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn read(&self) -> impl Future<Output = AsyncRwLockReadGuard<'_, T>> {
        self.read_at(AcquireSite::caller())
    }

    /// [`read`](Self::read), called at `site`. Without the feature the hooks vanish
    /// (`tracked_wait` returns the listener itself), leaving the plain loop.
    pub(super) async fn read_at(&self, site: AcquireSite) -> AsyncRwLockReadGuard<'_, T> {
        loop {
            if self.try_add_reader() {
                break;
            }
            let listener = self.no_writer.listen();
            if self.try_add_reader() {
                break;
            }
            deadlock::tracked_wait(self.addr(), self.class, Access::Shared, site, listener).await;
        }
        self.read_guard(deadlock::on_task_acquire(
            self.addr(),
            &self.class,
            Access::Shared,
            site,
        ))
    }

    /// Becomes a reader, waiting asynchronously, for the blocking path (no task
    /// bookkeeping: the blocking path records the thread).
    async fn acquire_read(&self) {
        loop {
            if self.try_add_reader() {
                return;
            }
            let listener = self.no_writer.listen();
            if self.try_add_reader() {
                return;
            }
            listener.await;
        }
    }

    /// Takes a read lock, blocking the thread.
    #[track_caller]
    pub fn read_blocking(&self) -> AsyncRwLockReadGuard<'_, T> {
        if !self.try_add_reader() {
            deadlock::on_wait(self.addr(), &self.class);
            block_on(self.acquire_read(), None).expect("no deadline");
        }
        deadlock::on_acquire(self.addr(), &self.class, Access::Shared);
        self.read_guard(Tracked::THREAD)
    }

    /// Takes the write lock if nobody holds any lock, without waiting. Inside a task
    /// (with the `deadlock-detection` feature), the hold is the task's.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn try_write(&self) -> Option<AsyncRwLockWriteGuard<'_, T>> {
        let site = AcquireSite::caller();
        self.try_acquire_write().then(|| {
            self.write_guard(deadlock::on_task_acquire(
                self.addr(),
                &self.class,
                Access::TryExclusive,
                site,
            ))
        })
    }

    fn try_acquire_write(&self) -> bool {
        if !self.gate.try_lock() {
            return false;
        }
        // Acquire: pairs with the readers' Release `fetch_sub` (module doc).
        if self
            .state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.gate.unlock();
            return false;
        }
        true
    }

    /// Takes the write lock, waiting asynchronously. Cancel-safe: cancelled while
    /// draining readers, it clears its claim and wakes the readers it held back.
    /// Inside a task (with the `deadlock-detection` feature), the wait and the hold
    /// are the task's.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn write(&self) -> impl Future<Output = AsyncRwLockWriteGuard<'_, T>> {
        self.write_at(AcquireSite::caller())
    }

    /// [`write`](Self::write), called at `site`: `acquire_write` with the hooks.
    pub(super) async fn write_at(&self, site: AcquireSite) -> AsyncRwLockWriteGuard<'_, T> {
        // No locals across the awaits (the addresses are recomputed): without the
        // feature the future stays the size of `acquire_write`'s.
        let gate = self.gate.lock();
        deadlock::tracked_wait(self.addr(), self.class, Access::Exclusive, site, gate).await;
        let undo = DrainUndo { lock: self };
        // SeqCst: as in `acquire_write`.
        self.state.fetch_or(WRITER, Ordering::SeqCst);
        let drain = self.drain_readers();
        deadlock::tracked_wait(self.addr(), self.class, Access::Exclusive, site, drain).await;
        core::mem::forget(undo);
        self.write_guard(deadlock::on_task_acquire(
            self.addr(),
            &self.class,
            Access::Exclusive,
            site,
        ))
    }

    /// Becomes the writer, waiting asynchronously, for the blocking path (no task
    /// bookkeeping).
    async fn acquire_write(&self) {
        self.gate.lock().await;
        let undo = DrainUndo { lock: self };
        // SeqCst: a state change that waiting readers check after listening (the
        // event's protocol); Acquire is not needed here, the drain check provides it.
        self.state.fetch_or(WRITER, Ordering::SeqCst);
        self.drain_readers().await;
        core::mem::forget(undo);
    }

    /// Takes the write lock, blocking the thread.
    #[track_caller]
    pub fn write_blocking(&self) -> AsyncRwLockWriteGuard<'_, T> {
        if !self.try_acquire_write() {
            deadlock::on_wait(self.addr(), &self.class);
            block_on(self.acquire_write(), None).expect("no deadline");
        }
        deadlock::on_acquire(self.addr(), &self.class, Access::Exclusive);
        self.write_guard(Tracked::THREAD)
    }

    /// Takes an upgradable read lock (shared with readers, exclusive against writers
    /// and other upgradable readers) if available, without waiting.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn try_upgradable_read(&self) -> Option<AsyncRwLockUpgradableReadGuard<'_, T>> {
        let site = AcquireSite::caller();
        if !self.gate.try_lock() {
            return None;
        }
        // `TryShared`, not a try form of `Upgradable` (there is none): the detector
        // records no wait for an upgrade, so the difference never shows.
        Some(self.enter_upgradable(deadlock::on_task_acquire(
            self.addr(),
            &self.class,
            Access::TryShared,
            site,
        )))
    }

    /// Takes an upgradable read lock, waiting asynchronously. Cancel-safe.
    #[cfg_attr(feature = "deadlock-detection", track_caller)]
    pub fn upgradable_read(&self) -> impl Future<Output = AsyncRwLockUpgradableReadGuard<'_, T>> {
        self.upgradable_read_at(AcquireSite::caller())
    }

    /// [`upgradable_read`](Self::upgradable_read), called at `site`.
    pub(super) async fn upgradable_read_at(
        &self,
        site: AcquireSite,
    ) -> AsyncRwLockUpgradableReadGuard<'_, T> {
        let gate = self.gate.lock();
        deadlock::tracked_wait(self.addr(), self.class, Access::Upgradable, site, gate).await;
        self.enter_upgradable(deadlock::on_task_acquire(
            self.addr(),
            &self.class,
            Access::Upgradable,
            site,
        ))
    }

    /// Takes an upgradable read lock, blocking the thread.
    #[track_caller]
    pub fn upgradable_read_blocking(&self) -> AsyncRwLockUpgradableReadGuard<'_, T> {
        if !self.gate.try_lock() {
            deadlock::on_wait(self.addr(), &self.class);
            block_on(self.gate.lock(), None).expect("no deadline");
        }
        deadlock::on_acquire(self.addr(), &self.class, Access::Upgradable);
        self.enter_upgradable(Tracked::THREAD)
    }

    /// Mutable access without locking: `&mut self` proves nobody holds it.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    fn try_add_reader(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while state & WRITER == 0 {
            // Acquire: pairs with the Release in `release_writer` (module doc).
            match self.state.compare_exchange_weak(
                state,
                state + ONE_READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
        false
    }

    /// With the gate held and `WRITER` set, waits until no reader is left.
    async fn drain_readers(&self) {
        loop {
            // Acquire: pairs with the readers' Release `fetch_sub` in `release_reader`.
            if self.state.load(Ordering::Acquire) == WRITER {
                return;
            }
            let listener = self.no_readers.listen();
            if self.state.load(Ordering::Acquire) == WRITER {
                return;
            }
            listener.await;
        }
    }

    fn enter_upgradable(&self, tracked: Tracked) -> AsyncRwLockUpgradableReadGuard<'_, T> {
        // Relaxed: the gate's Acquire already ordered us after the last writer, and
        // `WRITER` is clear while we hold the gate.
        self.state.fetch_add(ONE_READER, Ordering::Relaxed);
        AsyncRwLockUpgradableReadGuard {
            lock: self,
            tracked,
            _marker: PhantomData,
        }
    }

    fn release_reader(&self) {
        // Release: pairs with the writer's Acquire drain check. SeqCst because it is
        // also the state change of the no_readers protocol.
        let old = self.state.fetch_sub(ONE_READER, Ordering::SeqCst);
        if old == WRITER + ONE_READER {
            // The last reader out, and a writer is draining.
            self.no_readers.notify(1);
        }
    }

    fn release_writer(&self) {
        // Release: pairs with new readers' Acquire in `try_add_reader`.
        self.state.fetch_and(!WRITER, Ordering::SeqCst);
        self.no_writer.notify_all();
        self.gate.unlock();
    }

    fn read_guard(&self, tracked: Tracked) -> AsyncRwLockReadGuard<'_, T> {
        AsyncRwLockReadGuard {
            lock: self,
            tracked,
            _marker: PhantomData,
        }
    }

    fn write_guard(&self, tracked: Tracked) -> AsyncRwLockWriteGuard<'_, T> {
        AsyncRwLockWriteGuard {
            lock: self,
            tracked,
            _marker: PhantomData,
        }
    }

    fn addr(&self) -> usize {
        self as *const Self as *const () as usize
    }

    fn untrack(&self, tracked: Tracked) {
        tracked.release(self.addr());
    }
}

impl<T: Default> Default for AsyncRwLock<T> {
    #[track_caller]
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for AsyncRwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AsyncRwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// A shared guard of an [`AsyncRwLock`]. `Send` when `T: Sync`.
#[must_use = "if unused the AsyncRwLock will immediately unlock"]
pub struct AsyncRwLockReadGuard<'a, T: ?Sized> {
    lock: &'a AsyncRwLock<T>,
    tracked: Tracked,
    _marker: PhantomData<&'a T>,
}

// SAFETY: a read guard is a `&T`: `Send` and `Sync` when `T: Sync`.
unsafe impl<T: ?Sized + Sync> Send for AsyncRwLockReadGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync> Sync for AsyncRwLockReadGuard<'_, T> {}

impl<T: ?Sized> Drop for AsyncRwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.untrack(self.tracked);
        self.lock.release_reader();
    }
}

impl<T: ?Sized> Deref for AsyncRwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a reader count is held, so no writer has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

/// The exclusive guard of an [`AsyncRwLock`]. `Send` when `T: Send`.
#[must_use = "if unused the AsyncRwLock will immediately unlock"]
pub struct AsyncRwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a AsyncRwLock<T>,
    tracked: Tracked,
    _marker: PhantomData<&'a mut T>,
}

// SAFETY: a write guard is a `&mut T`: `Send` when `T: Send`.
unsafe impl<T: ?Sized + Send> Send for AsyncRwLockWriteGuard<'_, T> {}
// SAFETY: sharing it shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for AsyncRwLockWriteGuard<'_, T> {}

impl<'a, T: ?Sized> AsyncRwLockWriteGuard<'a, T> {
    /// Turns the write lock into a read lock without letting another writer in between;
    /// wakes the readers that were waiting.
    pub fn downgrade(this: Self) -> AsyncRwLockReadGuard<'a, T> {
        let this = ManuallyDrop::new(this);
        let lock = this.lock;
        // WRITER (1) -> ONE_READER (2). Release: pairs with readers' Acquire, as in
        // `release_writer`.
        lock.state.fetch_add(ONE_READER - WRITER, Ordering::SeqCst);
        lock.no_writer.notify_all();
        lock.gate.unlock();
        lock.read_guard(this.tracked)
    }
}

impl<T: ?Sized> Drop for AsyncRwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.untrack(self.tracked);
        self.lock.release_writer();
    }
}

impl<T: ?Sized> Deref for AsyncRwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the writer holds the lock exclusively.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for AsyncRwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the writer holds the lock exclusively; `&mut self` is unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

/// An upgradable read guard of an [`AsyncRwLock`]: reads now, may become the writer
/// later without letting another writer in between.
#[must_use = "if unused the AsyncRwLock will immediately unlock"]
pub struct AsyncRwLockUpgradableReadGuard<'a, T: ?Sized> {
    lock: &'a AsyncRwLock<T>,
    tracked: Tracked,
    _marker: PhantomData<&'a T>,
}

// SAFETY: it hands out `&T` (needs `T: Sync`) and may become a writer on another
// thread (needs `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Send for AsyncRwLockUpgradableReadGuard<'_, T> {}
// SAFETY: sharing it shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for AsyncRwLockUpgradableReadGuard<'_, T> {}

impl<'a, T: ?Sized> AsyncRwLockUpgradableReadGuard<'a, T> {
    /// Becomes the writer once the other readers are gone, waiting asynchronously.
    ///
    /// Cancel-safe in the sense that dropping the future releases the lock entirely
    /// (the upgradable guard was moved into it) and wakes the readers it held back.
    pub async fn upgrade(this: Self) -> AsyncRwLockWriteGuard<'a, T> {
        let this = ManuallyDrop::new(this);
        let lock = this.lock;
        let tracked = this.tracked;
        // Trade our reader count for WRITER: ONE_READER (2) -> WRITER (1).
        lock.state.fetch_sub(ONE_READER - WRITER, Ordering::SeqCst);
        let undo = DrainUndo { lock };
        // Cancelled mid-drain, the release must still be reported.
        let report = UntrackOnDrop(lock.addr(), tracked);
        lock.drain_readers().await;
        core::mem::forget(report);
        core::mem::forget(undo);
        lock.write_guard(tracked)
    }

    /// [`upgrade`](Self::upgrade), blocking the thread.
    pub fn upgrade_blocking(this: Self) -> AsyncRwLockWriteGuard<'a, T> {
        block_on(Self::upgrade(this), None).expect("no deadline")
    }

    /// Becomes the writer if it is the only reader, without waiting; otherwise hands
    /// the upgradable guard back.
    ///
    /// # Errors
    ///
    /// Returns `Err(this)` while other readers hold the lock.
    pub fn try_upgrade(this: Self) -> Result<AsyncRwLockWriteGuard<'a, T>, Self> {
        // Acquire: pairs with the other readers' Release `fetch_sub`.
        match this.lock.state.compare_exchange(
            ONE_READER,
            WRITER,
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => {
                let this = ManuallyDrop::new(this);
                Ok(this.lock.write_guard(this.tracked))
            }
            Err(_) => Err(this),
        }
    }

    /// Gives up the right to upgrade, staying a reader; lets writers take the gate.
    pub fn downgrade(this: Self) -> AsyncRwLockReadGuard<'a, T> {
        let this = ManuallyDrop::new(this);
        this.lock.gate.unlock();
        this.lock.read_guard(this.tracked)
    }
}

struct UntrackOnDrop(usize, Tracked);

impl Drop for UntrackOnDrop {
    fn drop(&mut self) {
        self.1.release(self.0);
    }
}

impl<T: ?Sized> Drop for AsyncRwLockUpgradableReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.untrack(self.tracked);
        // Relaxed would do for the count, but the Release pairs with a future
        // writer's drain check: our reads happen before its writes.
        self.lock.state.fetch_sub(ONE_READER, Ordering::Release);
        // No writer can be draining (we hold the gate), so nobody to notify.
        self.lock.gate.unlock();
    }
}

impl<T: ?Sized> Deref for AsyncRwLockUpgradableReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a reader count is held and the gate keeps writers out.
        unsafe { &*self.lock.value.get() }
    }
}

macro_rules! debug_guard {
    ($($guard:ident),*) => {$(
        impl<T: ?Sized + fmt::Debug> fmt::Debug for $guard<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }
    )*};
}
debug_guard!(
    AsyncRwLockReadGuard,
    AsyncRwLockWriteGuard,
    AsyncRwLockUpgradableReadGuard
);

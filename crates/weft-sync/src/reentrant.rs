//! `ReentrantMutex<T>`: a mutex its owning thread may lock again.
//!
//! A [`RawMutex`] plus the owner's thread id and a depth count. The first
//! (outermost) `lock` on a thread takes the raw lock and records the owner; nested
//! ones only bump the depth; the last guard dropped clears the owner and unlocks.
//!
//! `owner` is read and written `Relaxed`: a thread only ever finds *its own* id in
//! it if it stored that id itself (ids are unique among live threads), and its own
//! program order makes its own store, and its own later clearing store, visible to
//! it. Another thread's stale view of `owner` is never its own id, so it takes the
//! slow path and waits on the raw lock, whose Acquire/Release orders the data.
//! `depth` is touched only by the owner while it holds the raw lock.

use crate::mutex::RawMutex;
use crate::primitive::UnsafeCell;
use crate::primitive::atomic::{AtomicUsize, Ordering};
use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::Deref;
use std::time::{Duration, Instant};

/// A mutex that the thread holding it may lock again; it is released when the last
/// guard is dropped. Gives `&T` (not `&mut T`): two guards on one thread may be alive
/// at once. Put a `Cell`/`RefCell` inside for mutation.
///
/// Costs: the first lock is a [`Mutex`](crate::Mutex) lock plus a thread-local read
/// and two plain stores; a nested lock is one thread-local read, one load and an
/// increment. No poisoning.
///
/// Pick it only when re-entrance is structural (callbacks that may call back into
/// the locked object, a logger used from within itself). Otherwise prefer
/// [`Mutex`](crate::Mutex): re-entrance hides which invariants hold at each lock site,
/// and a plain mutex gives `&mut T`.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use weft_sync::ReentrantMutex;
///
/// let log = ReentrantMutex::new(RefCell::new(Vec::new()));
/// let outer = log.lock();
/// outer.borrow_mut().push("outer");
/// {
///     let inner = log.lock(); // same thread: does not deadlock
///     inner.borrow_mut().push("inner");
/// }
/// drop(outer);
/// assert_eq!(*log.lock().borrow(), ["outer", "inner"]);
/// ```
pub struct ReentrantMutex<T: ?Sized> {
    raw: RawMutex,
    /// The owning thread's id, 0 when unowned.
    owner: AtomicUsize,
    /// How many guards the owner holds; meaningful only while owned.
    depth: UnsafeCell<usize>,
    data: UnsafeCell<T>,
}

// SAFETY: the lock confines `&T` to one thread at a time, but that thread may be any
// thread, so `T: Send` is needed; `&T` is never shared between threads at once, so
// `T: Sync` is not (the same bound as parking_lot's).
unsafe impl<T: ?Sized + Send> Sync for ReentrantMutex<T> {}
// SAFETY: owning the lock is owning `T`.
unsafe impl<T: ?Sized + Send> Send for ReentrantMutex<T> {}

/// Proof that the current thread holds a [`ReentrantMutex`]; releases one level when
/// dropped. Not `Send`: the ownership is the thread's.
#[must_use = "if unused the ReentrantMutex will immediately unlock"]
pub struct ReentrantMutexGuard<'a, T: ?Sized> {
    mutex: &'a ReentrantMutex<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing the guard only shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for ReentrantMutexGuard<'_, T> {}

impl<T> ReentrantMutex<T> {
    /// A new, unlocked reentrant mutex holding `value`. Usable in `static`s.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::ReentrantMutex;
    ///
    /// static COUNT: ReentrantMutex<u32> = ReentrantMutex::new(0);
    /// assert_eq!(*COUNT.lock(), 0);
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub const fn new(value: T) -> Self {
        Self {
            raw: RawMutex::new(),
            owner: AtomicUsize::new(0),
            depth: UnsafeCell::new(0),
            data: UnsafeCell::new(value),
        }
    }

    /// A new, unlocked reentrant mutex holding `value`.
    #[cfg(loom)]
    #[track_caller]
    pub fn new(value: T) -> Self {
        Self {
            raw: RawMutex::new(),
            owner: AtomicUsize::new(0),
            depth: UnsafeCell::new(0),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning the data.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::ReentrantMutex::new(7);
    /// assert_eq!(mutex.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> ReentrantMutex<T> {
    /// Acquires the lock, blocking until it is free unless this thread already holds
    /// it (then it only counts one more level).
    ///
    /// # Panics
    ///
    /// If one thread nests more than `usize::MAX` guards.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::ReentrantMutex::new(1);
    /// let a = mutex.lock();
    /// let b = mutex.lock();
    /// assert_eq!(*a + *b, 2);
    /// ```
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> ReentrantMutexGuard<'_, T> {
        let me = current_thread_id();
        if !self.enter_if_owned(me) {
            self.raw.lock();
            self.become_owner(me);
        }
        self.guard()
    }

    /// Acquires the lock if it is free or already held by this thread, without
    /// waiting.
    ///
    /// # Panics
    ///
    /// As for [`lock`](Self::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use weft_sync::ReentrantMutex;
    ///
    /// let mutex = Arc::new(ReentrantMutex::new(()));
    /// let held = mutex.lock();
    /// assert!(mutex.try_lock().is_some()); // same thread
    /// let m = Arc::clone(&mutex);
    /// assert!(std::thread::spawn(move || m.try_lock().is_none()).join().unwrap());
    /// # drop(held);
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_lock(&self) -> Option<ReentrantMutexGuard<'_, T>> {
        let me = current_thread_id();
        if self.enter_if_owned(me) {
            return Some(self.guard());
        }
        self.raw.try_lock().then(|| {
            self.become_owner(me);
            self.guard()
        })
    }

    /// Acquires the lock, waiting at most `timeout` for another thread to release it.
    ///
    /// # Panics
    ///
    /// As for [`lock`](Self::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mutex = weft_sync::ReentrantMutex::new(());
    /// assert!(mutex.try_lock_for(Duration::from_millis(1)).is_some());
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<ReentrantMutexGuard<'_, T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.try_lock_until(deadline),
            None => Some(self.lock()),
        }
    }

    /// Acquires the lock, waiting until `deadline` at the latest for another thread
    /// to release it.
    ///
    /// # Panics
    ///
    /// As for [`lock`](Self::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    ///
    /// let mutex = weft_sync::ReentrantMutex::new(());
    /// assert!(mutex.try_lock_until(Instant::now()).is_some());
    /// ```
    #[inline]
    #[track_caller]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<ReentrantMutexGuard<'_, T>> {
        let me = current_thread_id();
        if self.enter_if_owned(me) {
            return Some(self.guard());
        }
        self.raw.try_lock_until(deadline).then(|| {
            self.become_owner(me);
            self.guard()
        })
    }

    /// Whether the current thread holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::ReentrantMutex::new(());
    /// assert!(!mutex.is_owned_by_current_thread());
    /// let _guard = mutex.lock();
    /// assert!(mutex.is_owned_by_current_thread());
    /// ```
    #[inline]
    pub fn is_owned_by_current_thread(&self) -> bool {
        // Relaxed: see the module doc (a thread only finds its own id if it wrote it).
        self.owner.load(Ordering::Relaxed) == current_thread_id()
    }

    /// Whether some thread holds the lock (a snapshot, for diagnostics).
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::ReentrantMutex::new(());
    /// assert!(!mutex.is_locked());
    /// let _guard = mutex.lock();
    /// assert!(mutex.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Mutable access without locking: `&mut self` proves nobody holds it.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut mutex = weft_sync::ReentrantMutex::new(1);
    /// *mutex.get_mut() += 1;
    /// assert_eq!(*mutex.lock(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// A raw pointer to the data, without locking (see
    /// [`Mutex::data_ptr`](crate::Mutex::data_ptr)).
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = weft_sync::ReentrantMutex::new(3);
    /// let _guard = mutex.lock();
    /// // SAFETY: the lock is held, and only `&T` is ever handed out.
    /// assert_eq!(unsafe { *mutex.data_ptr() }, 3);
    /// ```
    pub fn data_ptr(&self) -> *mut T {
        self.data.get()
    }

    /// If this thread owns the lock, counts one more level and returns `true`.
    #[inline]
    fn enter_if_owned(&self, me: usize) -> bool {
        // Relaxed: see the module doc.
        if self.owner.load(Ordering::Relaxed) != me {
            return false;
        }
        self.depth.with_mut(|depth| {
            // SAFETY: `depth` is only touched by the owner, which is this thread.
            let depth = unsafe { &mut *depth };
            *depth = depth
                .checked_add(1)
                .expect("ReentrantMutex nested too deeply");
        });
        true
    }

    /// Records this thread as owner, right after it took the raw lock.
    #[inline]
    fn become_owner(&self, me: usize) {
        // Relaxed: see the module doc.
        self.owner.store(me, Ordering::Relaxed);
        // SAFETY: we hold the raw lock, so no other thread touches `depth`.
        self.depth.with_mut(|depth| unsafe { *depth = 1 });
    }

    #[inline]
    fn guard(&self) -> ReentrantMutexGuard<'_, T> {
        ReentrantMutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }

    /// Releases one level; the last one unlocks, fairly if asked.
    #[inline]
    fn exit(&self, fair: bool) {
        // SAFETY: called from a guard of this thread, the owner: only it touches
        // `depth`.
        let remaining = self.depth.with_mut(|depth| unsafe {
            *depth -= 1;
            *depth
        });
        if remaining == 0 {
            // Relaxed: see the module doc; the raw unlock's Release publishes it.
            self.owner.store(0, Ordering::Relaxed);
            // SAFETY: this thread took the raw lock for the outermost guard, now gone.
            unsafe {
                if fair {
                    self.raw.unlock_fair();
                } else {
                    self.raw.unlock();
                }
            }
        }
    }
}

impl<'a, T: ?Sized> ReentrantMutexGuard<'a, T> {
    /// The mutex this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{ReentrantMutex, ReentrantMutexGuard};
    ///
    /// let mutex = ReentrantMutex::new(());
    /// let guard = mutex.lock();
    /// assert!(std::ptr::eq(ReentrantMutexGuard::remutex(&guard), &mutex));
    /// ```
    pub fn remutex(guard: &Self) -> &'a ReentrantMutex<T> {
        guard.mutex
    }

    /// Releases this level; if it was the last, hands the lock to a waiting thread
    /// (see [`MutexGuard::unlock_fair`](crate::MutexGuard::unlock_fair)).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_sync::{ReentrantMutex, ReentrantMutexGuard};
    ///
    /// let mutex = ReentrantMutex::new(());
    /// ReentrantMutexGuard::unlock_fair(mutex.lock());
    /// assert!(!mutex.is_locked());
    /// ```
    pub fn unlock_fair(guard: Self) {
        let guard = ManuallyDrop::new(guard);
        guard.mutex.exit(true);
    }
}

impl<T: ?Sized> Drop for ReentrantMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.exit(false);
    }
}

impl<T: ?Sized> Deref for ReentrantMutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this thread holds the lock; only `&T` is ever handed out, so the
        // other guards of this thread cannot make a `&mut T`.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: Default> Default for ReentrantMutex<T> {
    #[track_caller]
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for ReentrantMutex<T> {
    #[track_caller]
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ReentrantMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ReentrantMutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ReentrantMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for ReentrantMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// A cheap id for the current thread, never 0: the address of a thread-local byte,
/// which is distinct for every live thread. (An id can be reused after its thread
/// exits; a thread cannot exit while holding a guard, since guards are `!Send` and
/// dropped on its stack, unless the guard is leaked, which leaves the lock held for
/// ever anyway.)
#[inline]
fn current_thread_id() -> usize {
    #[cfg(not(loom))]
    std::thread_local!(static KEY: u8 = const { 0 });
    // loom's thread locals live in a per-thread table and are pinned for the
    // thread's life, like std's.
    #[cfg(loom)]
    loom::thread_local!(static KEY: u8 = 0);
    KEY.with(|key| key as *const u8 as usize)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::sync::Arc;
    use std::sync::mpsc;
    use std::thread;

    #[test]
    fn nests_on_one_thread_and_unlocks_after_the_last_guard() {
        let mutex = ReentrantMutex::new(Cell::new(0));
        let a = mutex.lock();
        let b = mutex.lock();
        let c = mutex.try_lock().unwrap();
        let d = mutex.try_lock_for(Duration::ZERO).unwrap();
        c.set(c.get() + 1);
        assert_eq!(a.get(), 1);
        drop(a);
        drop(c);
        drop(d);
        assert!(mutex.is_locked());
        assert!(mutex.is_owned_by_current_thread());
        drop(b);
        assert!(!mutex.is_locked());
        assert!(!mutex.is_owned_by_current_thread());
    }

    #[test]
    fn other_threads_are_excluded_until_fully_released() {
        let mutex = Arc::new(ReentrantMutex::new(()));
        let outer = mutex.lock();
        let inner = mutex.lock();
        let m = Arc::clone(&mutex);
        let (tx, rx) = mpsc::channel();
        let other = thread::spawn(move || {
            assert!(m.try_lock().is_none());
            assert!(m.try_lock_for(Duration::from_millis(5)).is_none());
            assert!(!m.is_owned_by_current_thread());
            tx.send(()).unwrap();
            let _guard = m.lock();
            assert!(m.is_owned_by_current_thread());
        });
        rx.recv().unwrap();
        drop(inner);
        assert!(mutex.is_locked());
        drop(outer);
        other.join().unwrap();
        assert!(!mutex.is_locked());
    }

    #[test]
    fn counts_exactly_under_contention_with_nesting() {
        const THREADS: usize = 4;
        const ITERS: usize = 5_000;
        let mutex = Arc::new(ReentrantMutex::new(Cell::new(0usize)));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let mutex = Arc::clone(&mutex);
                thread::spawn(move || {
                    for _ in 0..ITERS {
                        let outer = mutex.lock();
                        let inner = mutex.lock();
                        inner.set(inner.get() + 1);
                        drop(inner);
                        outer.set(outer.get() + 1);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(mutex.lock().get(), 2 * THREADS * ITERS);
    }

    #[test]
    fn no_poisoning_and_debug() {
        let mutex = Arc::new(ReentrantMutex::new(5));
        let m = Arc::clone(&mutex);
        assert!(
            thread::spawn(move || {
                let _a = m.lock();
                let _b = m.lock();
                panic!("while holding two levels");
            })
            .join()
            .is_err()
        );
        assert!(!mutex.is_locked());
        assert_eq!(format!("{mutex:?}"), "ReentrantMutex { data: 5, .. }");
    }
}

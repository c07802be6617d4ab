//! The state a simulation's handles share: the ready tasks, the virtual clock with its
//! pending timers, and the list of live tasks to cancel at the end.
//!
//! # Who touches what
//!
//! Everything here is behind a lock because a [`Handle`](crate::Handle) (and a waker)
//! may be used from any thread; in a deterministic run only the simulation's thread
//! does. Each lock is held for a few instructions and never across a call out: wakers
//! are woken and dropped, and Runnables run or cancelled, after the lock is released,
//! since either may run a task's destructor, which may come back here (a `Sleep`
//! deregistering its timer).
//!
//! # Order
//!
//! `ready` keeps tasks in the order they became ready; the runtime picks one at a
//! pseudo-random index. Timers are keyed by (deadline, registration number), so timers
//! with one deadline fire in the order they were registered. With one thread, both
//! orders follow from the program and the seed alone.

use crate::runtime::local::LocalQueue;
use crate::task::{self, AbortHandle, JoinHandle, Runnable, Schedule, ScheduleHint, TaskMeta};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

/// A timer's place in the pending set: its deadline (virtual time), then its
/// registration number.
pub(crate) type TimerKey = (Duration, u64);

/// The shared state of one simulation (module docs).
pub(crate) struct World {
    pub(crate) seed: u64,
    /// Virtual time zero, as an `Instant`: virtual `t` reads as `base + t`.
    base: Instant,
    /// Tasks to poll, in the order they became ready.
    ready: weft_sync::Mutex<Vec<Runnable>>,
    clock: weft_sync::Mutex<Clock>,
    /// Tasks spawned through the simulation, cancelled when it is dropped.
    tasks: weft_sync::Mutex<Tasks>,
    /// Set (under `tasks`) when the runtime is dropped: new tasks are cancelled on
    /// arrival and timers no longer register.
    closed: AtomicBool,
    /// The local queue the free `spawn_local` finds while the simulation runs; the
    /// runtime moves what arrives there into `ready` before each pick.
    pub(crate) intake: Arc<LocalQueue>,
}

struct Clock {
    /// Virtual time since `base`.
    now: Duration,
    next_number: u64,
    pending: BTreeMap<TimerKey, Waker>,
}

struct Tasks {
    live: Vec<AbortHandle>,
    /// `live` is pruned of finished tasks when it reaches this length.
    prune_at: usize,
}

impl World {
    pub(crate) fn new(seed: u64) -> Arc<World> {
        Arc::new(World {
            seed,
            base: Instant::now(),
            ready: weft_sync::Mutex::new(Vec::new()),
            clock: weft_sync::Mutex::new(Clock {
                now: Duration::ZERO,
                next_number: 0,
                pending: BTreeMap::new(),
            }),
            tasks: weft_sync::Mutex::new(Tasks {
                live: Vec::new(),
                prune_at: 64,
            }),
            closed: AtomicBool::new(false),
            intake: LocalQueue::new(),
        })
    }

    // ---- tasks ----

    /// Spawns a `Send` task onto the simulation.
    pub(crate) fn spawn<F>(self: &Arc<Self>, future: F, meta: TaskMeta) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (runnable, handle) = task::spawn(future, SimScheduler(Arc::clone(self)), meta);
        self.admit(runnable, handle.abort_handle());
        handle
    }

    /// Spawns a task that is not `Send` onto the simulation.
    ///
    /// # Safety
    ///
    /// The calling thread is the simulation's: the only one that runs its tasks (the
    /// `Runtime` is `!Send`, and runs them in its `block_on`), and the one that
    /// cancels them all when the runtime is dropped.
    pub(crate) unsafe fn spawn_local<F>(
        self: &Arc<Self>,
        future: F,
        meta: TaskMeta,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        // SAFETY: forwarded to the caller: Runnables run and are cancelled only on
        // this thread, which drains them before the runtime goes away.
        let (runnable, handle) =
            unsafe { task::spawn_local_unchecked(future, SimScheduler(Arc::clone(self)), meta) };
        self.admit(runnable, handle.abort_handle());
        handle
    }

    /// Runs a blocking closure as a task of the simulation: inline, on the
    /// simulation's thread, when the scheduler picks it (so it is deterministic too).
    #[track_caller]
    pub(crate) fn spawn_blocking<F, R>(self: &Arc<Self>, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.spawn(async move { f() }, TaskMeta::here())
    }

    fn admit(&self, runnable: Runnable, abort: AbortHandle) {
        let mut tasks = self.tasks.lock();
        if self.closed.load(Ordering::Relaxed) {
            // Read under `tasks`, where `close` sets it. Cancelled on arrival: the
            // future is dropped here, inside a spawn, not inside a `wake`.
            drop(tasks);
            drop(abort);
            runnable.shutdown();
            return;
        }
        if tasks.live.len() >= tasks.prune_at {
            tasks.live.retain(|task| !task.is_finished());
            tasks.prune_at = (tasks.live.len() * 2).max(64);
        }
        tasks.live.push(abort);
        // Still under `tasks`: `close` takes the list after this push, and the drain
        // that follows it finds the Runnable.
        self.ready.lock().push(runnable);
    }

    /// Tasks spawned through the simulation that have not finished.
    pub(crate) fn live_tasks(&self) -> usize {
        self.tasks
            .lock()
            .live
            .iter()
            .filter(|task| !task.is_finished())
            .count()
    }

    /// Moves the tasks that arrived on the intake queue (local tasks of the free
    /// `spawn_local`) to `ready`, in arrival order; returns how many are ready now.
    pub(crate) fn collect_ready(&self) -> usize {
        let mut arrived = Vec::new();
        while let Some(task) = self.intake.pop() {
            arrived.push(task);
        }
        let mut ready = self.ready.lock();
        ready.append(&mut arrived);
        ready.len()
    }

    /// Takes the ready task at `index` (`swap_remove`: the order stays a function of
    /// the history, which is all determinism needs).
    pub(crate) fn take_ready(&self, index: usize) -> Runnable {
        self.ready.lock().swap_remove(index)
    }

    /// Closes the simulation and cancels every task (on its thread): new tasks are
    /// cancelled on arrival, live ones are aborted and their futures dropped, pending
    /// timers let go of their wakers. Repeats until a round finds nothing, since a
    /// dropped future may wake or spawn others.
    pub(crate) fn shut_down(&self) {
        let live = {
            let mut tasks = self.tasks.lock();
            self.closed.store(true, Ordering::Relaxed);
            std::mem::take(&mut tasks.live)
        };
        for task in &live {
            task.abort();
        }
        drop(live);
        loop {
            let timers = std::mem::take(&mut self.clock.lock().pending);
            let mut queued = std::mem::take(&mut *self.ready.lock());
            while let Some(task) = self.intake.pop() {
                queued.push(task);
            }
            if timers.is_empty() && queued.is_empty() {
                break;
            }
            drop(timers);
            for task in queued {
                task.shutdown();
            }
        }
        self.intake.close();
        self.intake.drain();
    }

    // ---- the clock ----

    /// Virtual time since the start.
    pub(crate) fn elapsed(&self) -> Duration {
        self.clock.lock().now
    }

    /// Virtual time as an `Instant`.
    pub(crate) fn now(&self) -> Instant {
        // The clock only reaches deadlines that `instant_at` could represent.
        self.instant_at(self.elapsed()).unwrap_or(self.base)
    }

    /// The `Instant` of virtual time `at`, if it can be represented.
    pub(crate) fn instant_at(&self, at: Duration) -> Option<Instant> {
        self.base.checked_add(at)
    }

    /// The virtual time of `instant` (instants before the start read as the start).
    pub(crate) fn offset_of(&self, instant: Instant) -> Duration {
        instant.saturating_duration_since(self.base)
    }

    /// Polls a timer: `true` if `deadline` has passed (its registration, if any, is
    /// removed); otherwise registers `waker` under `key` (a new key if `None`) and
    /// returns `false`.
    pub(crate) fn poll_timer(
        &self,
        deadline: Duration,
        key: &mut Option<TimerKey>,
        waker: &Waker,
    ) -> bool {
        let mut clock = self.clock.lock();
        if clock.now >= deadline {
            let old = key.take().and_then(|key| clock.pending.remove(&key));
            drop(clock);
            drop(old);
            return true;
        }
        if self.closed.load(Ordering::Relaxed) {
            return false; // the simulation is gone: this timer never fires
        }
        let old = match key {
            Some(registered) => match clock.pending.get_mut(registered) {
                Some(slot) if slot.will_wake(waker) => None,
                Some(slot) => Some(std::mem::replace(slot, waker.clone())),
                None => {
                    // Fired (and so removed) though it was not due: only possible if a
                    // reset moved the deadline later after the firing.
                    let fresh = clock.register(deadline, waker.clone());
                    *key = Some(fresh);
                    None
                }
            },
            None => {
                *key = Some(clock.register(deadline, waker.clone()));
                None
            }
        };
        drop(clock);
        drop(old);
        false
    }

    /// Moves a registered timer to `deadline` with the waker it had; wakes it at once
    /// if the new deadline has passed.
    pub(crate) fn move_timer(&self, key: &mut Option<TimerKey>, deadline: Option<Duration>) {
        let Some(old_key) = key.take() else { return };
        let mut clock = self.clock.lock();
        let Some(waker) = clock.pending.remove(&old_key) else {
            return;
        };
        match deadline {
            Some(deadline) if deadline > clock.now => {
                *key = Some(clock.register(deadline, waker));
            }
            Some(_) => {
                drop(clock);
                waker.wake();
            }
            None => {
                drop(clock);
                drop(waker); // never fires now
            }
        }
    }

    /// Removes a timer's registration (a dropped `Sleep`).
    pub(crate) fn cancel_timer(&self, key: TimerKey) {
        let old = self.clock.lock().pending.remove(&key);
        drop(old);
    }

    /// Advances the clock to the earliest pending deadline and wakes every timer due
    /// then, in registration order. `None` if no timer is pending; else the new
    /// virtual time.
    pub(crate) fn fire_next(&self) -> Option<Duration> {
        let (now, due) = {
            let mut clock = self.clock.lock();
            let (&(deadline, _), _) = clock.pending.first_key_value()?;
            clock.now = clock.now.max(deadline);
            let now = clock.now;
            let mut due = Vec::new();
            while let Some(entry) = clock.pending.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                due.push(entry.remove());
            }
            (now, due)
        };
        for waker in due {
            waker.wake();
        }
        Some(now)
    }
}

impl Clock {
    fn register(&mut self, deadline: Duration, waker: Waker) -> TimerKey {
        let key = (deadline, self.next_number);
        self.next_number += 1;
        self.pending.insert(key, waker);
        key
    }
}

/// The task core's scheduler for simulated tasks: a woken task joins `ready`.
struct SimScheduler(Arc<World>);

impl Schedule for SimScheduler {
    fn schedule(&self, task: Runnable, _hint: ScheduleHint) {
        // Spawned, woken and yielding tasks are treated alike: the pick is random
        // anyway. Queued even after shutdown; the drain in `shut_down` (or the last
        // reference to the world) cancels it on the simulation's side.
        self.0.ready.lock().push(task);
    }
}

// ---- the thread's current simulation ----

std::thread_local! {
    /// The simulation whose `block_on` this thread is in, for `time` to read its clock.
    static CURRENT: RefCell<Option<Arc<World>>> = const { RefCell::new(None) };
}

/// The simulation this thread is running, if any (one thread-local read).
pub(crate) fn current() -> Option<Arc<World>> {
    CURRENT
        .try_with(|current| current.borrow().clone())
        .ok()
        .flatten()
}

/// Makes `world` the thread's simulation until the guard drops.
pub(crate) fn enter(world: &Arc<World>) -> WorldGuard {
    let previous = CURRENT.with(|current| current.borrow_mut().replace(Arc::clone(world)));
    WorldGuard { previous }
}

/// Restores the previous simulation (usually none) when dropped.
pub(crate) struct WorldGuard {
    previous: Option<Arc<World>>,
}

impl Drop for WorldGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
    }
}

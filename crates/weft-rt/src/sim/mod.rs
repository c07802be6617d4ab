//! Deterministic simulation: a seeded single-threaded scheduler with a virtual clock,
//! so that a concurrency bug found under one seed replays exactly under that seed.
//!
//! A [`Runtime`] runs tasks on the thread that calls [`Runtime::block_on`]. At each
//! step it picks the next task to poll pseudo-randomly (SplitMix64, from the seed)
//! among *all* ready tasks, the main future included, so different seeds explore
//! different interleavings and one seed always gives the same one. When no task is
//! ready, the virtual clock jumps to the earliest pending timer and fires it (a
//! `sleep` of an hour takes no wall time); when no task is ready and no timer is
//! pending while the main future is unfinished, the run is a deadlock, reported as
//! [`SimError::Deadlock`] by [`Runtime::try_block_on`] and as a panic by
//! [`Runtime::block_on`].
//!
//! Inside a simulation the rest of weft-rt follows it:
//!
//! | call | inside a simulation |
//! |---|---|
//! | [`spawn`](crate::spawn), [`spawn_local`](crate::spawn_local), [`Handle::current`](crate::Handle::current) | the simulation's tasks; the handle's flavour is [`RuntimeFlavor::Sim`](crate::RuntimeFlavor::Sim) |
//! | [`spawn_blocking`](crate::spawn_blocking) | a task of the simulation that runs the closure inline when picked |
//! | [`time::sleep`](crate::time::sleep), [`sleep_until`](crate::time::sleep_until), [`timeout`](crate::time::timeout), [`interval`](crate::time::interval) | the virtual clock |
//! | [`time::now`](crate::time::now) | the virtual clock (`Instant::now()` itself reads the real one) |
//! | [`yield_now`](crate::yield_now) | the task goes back among the ready ones (and may well be picked again) |
//!
//! A `Sleep` is bound to the clock it was made on: one made inside a simulation
//! follows it wherever it is polled; one made outside never fires inside it (no
//! thread drives the reactor there), which a run reports as a deadlock. So make
//! timers inside the future: `rt.block_on(async { sleep(d).await })`, not
//! `rt.block_on(sleep(d))`, whose argument is made before the simulation runs (or
//! make them under [`Runtime::enter`]).
//!
//! # What is deterministic
//!
//! A run is a function of the seed for code whose only nondeterminism is the
//! interleaving of its tasks and time. Out of scope, and a source of divergence
//! between runs: sockets and other reactor I/O (their readiness comes from the OS,
//! and nothing drives the reactor inside a simulation, so a socket future just
//! waits and the run ends as a deadlock); [`compute`](crate::compute), which
//! runs on the global pool's real threads (the simulation may report a deadlock
//! while it runs); other threads, including wakes that arrive from them; and
//! randomness, hash-map order and `Instant::now()` in the code under test. Time does
//! not advance while any task is ready: a task that spins on `yield_now` waiting for
//! a timer livelocks, which [`Runtime::set_step_limit`] turns into
//! [`SimError::StepLimit`].
//!
//! The [`trace_hash`](Runtime::trace_hash) folds in which task was polled at each
//! step (tasks numbered in the order they were first polled, the main future 0) and
//! every jump of the clock; two runs with one seed have the same hash.
//!
//! # How it plugs in
//!
//! A simulation is a runtime flavour: its [`Handle`] (`Kind::Sim` inside) is current
//! during `block_on`, so the free functions find it as they find any runtime; its
//! intake queue is the thread's local queue, so `spawn_local` finds it; and a
//! thread-local names the running simulation, which `time` checks once when it
//! makes a timer. Tasks are the task core's, with a scheduler that puts a woken task
//! among the ready ones; each poll gets the same cooperative budget as in the real
//! runtimes. `cargo run -p weft-rt --example sim_race` shows a search and a replay.
//!
//! # Testing under many seeds
//!
//! [`check`] runs a body under each seed of a range, stops at the first seed that
//! fails (an `Err` or a panic) and says how to replay it; [`check_env`] replays just
//! the seed in `WEFT_SIM_SEED` when it is set.
//!
//! # Examples
//!
//! Two tasks increment a shared counter with a read, an await, then a write: some
//! interleavings lose an update, and a search over seeds finds one.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use weft_rt::sim;
//!
//! fn racy_total(rt: &sim::Runtime) -> u32 {
//!     rt.block_on(async {
//!         let counter = Arc::new(Mutex::new(0));
//!         let tasks: Vec<_> = (0..2)
//!             .map(|_| {
//!                 let counter = Arc::clone(&counter);
//!                 weft_rt::spawn(async move {
//!                     let read = *counter.lock().unwrap();
//!                     weft_rt::yield_now().await; // the race window
//!                     *counter.lock().unwrap() = read + 1;
//!                 })
//!             })
//!             .collect();
//!         for task in tasks {
//!             task.await.unwrap();
//!         }
//!         *counter.lock().unwrap()
//!     })
//! }
//!
//! let failure = sim::check(0..100, |rt| match racy_total(rt) {
//!     2 => Ok(()),
//!     lost => Err(format!("lost an update: total {lost}")),
//! })
//! .unwrap_err();
//!
//! // The failing seed replays the same interleaving and the same wrong result.
//! let replay = sim::Runtime::new(failure.seed);
//! assert_eq!(racy_total(&replay), 1);
//! assert_eq!(replay.trace_hash(), failure.trace_hash);
//! ```

mod check;
mod rng;
mod timer;
mod world;

pub use check::{Cause, Failure, SeedVarError, check, check_env, seed_from_env};
pub(crate) use timer::SimTimer;
pub(crate) use world::{World, current};

use crate::blocking::BlockingPool;
use crate::context;
use crate::runtime::{self, Handle, local};
use crate::task::{Id, JoinHandle, TaskMeta};
use rng::SplitMix64;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// What a run of a simulation can end in besides the main future's output.
///
/// # Examples
///
/// ```
/// use weft_rt::sim::{Runtime, SimError};
///
/// let rt = Runtime::new(7);
/// let error = rt.try_block_on(std::future::pending::<()>()).unwrap_err();
/// assert!(matches!(error, SimError::Deadlock { seed: 7, .. }));
/// assert!(error.to_string().starts_with("deadlock: all tasks are waiting"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimError {
    /// The main future is unfinished, no task is ready and no timer is pending:
    /// nothing can ever make progress. (Or a task waits on something the simulation
    /// does not drive: a `Sleep` made outside it, a socket, another thread.)
    Deadlock {
        /// The run's seed.
        seed: u64,
        /// Virtual time when it stopped.
        elapsed: Duration,
        /// Polls made so far ([`Runtime::steps`]).
        steps: u64,
        /// Tasks spawned onto the simulation that have not finished (all waiting).
        /// Tasks of the free `spawn_local` are not counted.
        live_tasks: usize,
    },
    /// The run reached the limit of [`Runtime::set_step_limit`] (a livelock, or a
    /// long run).
    StepLimit {
        /// The run's seed.
        seed: u64,
        /// Virtual time when it stopped.
        elapsed: Duration,
        /// Polls made, the limit.
        steps: u64,
    },
    /// `block_on` was called from a thread that already runs tasks (inside this or
    /// another simulation's `block_on`, a worker or a local executor): blocking there
    /// would stall them.
    Nested,
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Deadlock {
                seed,
                elapsed,
                steps,
                live_tasks,
            } => write!(
                f,
                "deadlock: all tasks are waiting and no timer is pending (seed {seed}, \
                 virtual time {elapsed:?}, {steps} steps, {live_tasks} live tasks)"
            ),
            SimError::StepLimit {
                seed,
                elapsed,
                steps,
            } => write!(
                f,
                "step limit reached: {steps} polls without finishing (seed {seed}, \
                 virtual time {elapsed:?}); a task may be spinning while time stands still"
            ),
            SimError::Nested => f.write_str(
                "sim::Runtime::block_on called from a thread that already runs a \
                 runtime's tasks; use `.await` inside, or run the simulation elsewhere",
            ),
        }
    }
}

impl std::error::Error for SimError {}

/// A deterministic simulation runtime (module docs): a seeded scheduler on one
/// thread, with a virtual clock.
///
/// The runtime is `!Send`: its tasks run on the thread that made it. Its state lasts
/// across calls to `block_on` (tasks left running continue in the next call, the
/// clock keeps its time); dropping it cancels every task left.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_rt::sim;
///
/// let rt = sim::Runtime::new(42);
/// let answer = rt.block_on(async {
///     let task = weft_rt::spawn(async {
///         weft_rt::time::sleep(Duration::from_secs(3600)).await;
///         6 * 7
///     });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// assert_eq!(rt.elapsed(), Duration::from_secs(3600)); // in no wall time
/// ```
pub struct Runtime {
    world: Arc<World>,
    handle: Handle,
    state: RefCell<State>,
    /// Inside `block_on` (which is not reentrant).
    running: Cell<bool>,
    _not_send: PhantomData<Rc<()>>,
}

/// What only the simulation's thread touches.
struct State {
    rng: SplitMix64,
    trace: u64,
    steps: u64,
    step_limit: Option<u64>,
    /// Each task's number in the trace: the order it was first polled (from 1; the
    /// main future is 0). Process-wide task ids would differ between runs.
    numbers: HashMap<Id, u64>,
}

/// Trace words for events that are not polls.
const TRACE_CLOCK_JUMP: u64 = u64::MAX;

impl State {
    fn record(&mut self, word: u64) {
        self.trace = rng::mix(self.trace.rotate_left(7) ^ word);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("sim::Runtime")
            .field("seed", &self.world.seed)
            .field("elapsed", &self.elapsed())
            .field("steps", &self.steps())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A simulation whose scheduling decisions all follow from `seed`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_rt::sim::Runtime::new(1234);
    /// assert_eq!(rt.seed(), 1234);
    /// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    /// ```
    pub fn new(seed: u64) -> Runtime {
        let world = World::new(seed);
        let handle = handle_of(&world);
        Runtime {
            world,
            handle,
            state: RefCell::new(State {
                rng: SplitMix64::new(seed),
                trace: 0,
                steps: 0,
                step_limit: None,
                numbers: HashMap::new(),
            }),
            running: Cell::new(false),
            _not_send: PhantomData,
        }
    }

    /// The seed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_rt::sim::Runtime::new(9).seed(), 9);
    /// ```
    pub fn seed(&self) -> u64 {
        self.world.seed
    }

    /// Runs `future` to completion, running the simulation's tasks meanwhile, and
    /// returns its output.
    ///
    /// Timers follow the virtual clock when they are *made* inside the simulation:
    /// write `rt.block_on(async { sleep(d).await })` (a `sleep(d)` passed as the
    /// argument is made before, on the real clock, and never fires here).
    ///
    /// # Panics
    ///
    /// With the [`SimError`] message if the run deadlocks, reaches the step limit or
    /// is nested (see [`try_block_on`](Self::try_block_on) for the error instead).
    /// Re-throws a panic of `future` (a panic in a spawned task goes to its
    /// `JoinHandle`, as in every weft runtime).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_rt::sim::Runtime::new(0);
    /// let task = rt.spawn(async { "from a task" });
    /// assert_eq!(rt.block_on(task).unwrap(), "from a task");
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self.try_block_on(future) {
            Ok(output) => output,
            Err(error) => panic!("weft-rt sim: {error}"),
        }
    }

    /// Runs `future` to completion as [`block_on`](Self::block_on) does, returning
    /// an error instead of panicking when the run cannot finish.
    ///
    /// # Errors
    ///
    /// [`SimError::Deadlock`] when nothing is ready and no timer is pending while
    /// `future` is unfinished; [`SimError::StepLimit`] at the step limit;
    /// [`SimError::Nested`] when called inside a runtime's tasks. The tasks and the
    /// clock stay as they were: the runtime can still be inspected, and dropped.
    ///
    /// # Panics
    ///
    /// Re-throws a panic of `future`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_rt::sim::{Runtime, SimError};
    ///
    /// let rt = Runtime::new(3);
    /// let result = rt.try_block_on(async {
    ///     // Nobody ever notifies: a deadlock, found without waiting.
    ///     weft_rt::sync::Notify::new().notified().await;
    /// });
    /// assert!(matches!(result, Err(SimError::Deadlock { .. })));
    /// ```
    pub fn try_block_on<F: Future>(&self, future: F) -> Result<F::Output, SimError> {
        if self.running.get() || context::in_runtime_thread() {
            return Err(SimError::Nested);
        }
        let _running = Running::set(&self.running);
        let _context = context::enter(self.handle.clone());
        let _local = local::enter_local(&self.world.intake);
        let _world = world::enter(&self.world);

        let main = Arc::new(MainWake {
            woken: AtomicBool::new(true),
        });
        let main_waker = Waker::from(Arc::clone(&main));
        let mut cx = Context::from_waker(&main_waker);
        let mut future = pin!(future);
        loop {
            let ready = self.world.collect_ready();
            let main_ready = main.woken.load(Ordering::SeqCst);
            let candidates = ready + usize::from(main_ready);
            if candidates == 0 {
                match self.world.fire_next() {
                    Some(now) => {
                        let mut state = self.state.borrow_mut();
                        state.record(TRACE_CLOCK_JUMP);
                        state.record(u64::try_from(now.as_nanos()).unwrap_or(u64::MAX));
                        continue;
                    }
                    None => return Err(self.deadlock()),
                }
            }
            let pick = {
                let mut state = self.state.borrow_mut();
                if state.step_limit.is_some_and(|limit| state.steps >= limit) {
                    return Err(SimError::StepLimit {
                        seed: self.world.seed,
                        elapsed: self.world.elapsed(),
                        steps: state.steps,
                    });
                }
                state.steps += 1;
                state.rng.below(candidates)
            };
            if pick == ready {
                // Only reachable when `main_ready`: the main future is the last slot.
                self.state.borrow_mut().record(0);
                main.woken.store(false, Ordering::SeqCst);
                // As every weft `block_on`: the main future has no poll budget.
                let poll = weft_sync::coop::unconstrained(|| future.as_mut().poll(&mut cx));
                if let Poll::Ready(output) = poll {
                    return Ok(output);
                }
            } else {
                let task = self.world.take_ready(pick);
                {
                    let mut state = self.state.borrow_mut();
                    let next = state.numbers.len() as u64 + 1;
                    let number = *state.numbers.entry(task.id()).or_insert(next);
                    state.record(number);
                }
                // Each poll gets a fresh budget (`weft_sync::coop`), as in the real
                // runtimes: a task on an always-ready resource yields at the same
                // points here.
                weft_sync::coop::with_budget(weft_sync::coop::DEFAULT_BUDGET, || task.run());
            }
        }
    }

    fn deadlock(&self) -> SimError {
        SimError::Deadlock {
            seed: self.world.seed,
            elapsed: self.world.elapsed(),
            steps: self.steps(),
            live_tasks: self.world.live_tasks(),
        }
    }

    /// Spawns a task onto the simulation; it runs inside [`block_on`](Self::block_on)
    /// (the free [`spawn`](crate::spawn) does the same from inside the simulation).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_rt::sim::Runtime::new(5);
    /// let task = rt.spawn(async { 21 * 2 });
    /// assert_eq!(rt.block_on(task).unwrap(), 42);
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.world.spawn(future, TaskMeta::here())
    }

    /// Spawns a task that need not be `Send` onto the simulation (the free
    /// [`spawn_local`](crate::spawn_local) does the same from inside it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let rt = weft_rt::sim::Runtime::new(5);
    /// let shared = Rc::new(41);
    /// let task = rt.spawn_local(async move { *shared + 1 });
    /// assert_eq!(rt.block_on(task).unwrap(), 42);
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        // SAFETY: the runtime is `!Send`, so this is its thread: the one that runs
        // its tasks in `block_on` and cancels them all when it is dropped.
        unsafe { self.world.spawn_local(future, TaskMeta::here()) }
    }

    /// The simulation's [`Handle`]: spawns onto it from anywhere (from another thread
    /// the run is no longer deterministic). Its flavour is
    /// [`RuntimeFlavor::Sim`](crate::RuntimeFlavor::Sim); it cannot `block_on`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_rt::RuntimeFlavor;
    ///
    /// let rt = weft_rt::sim::Runtime::new(0);
    /// assert_eq!(rt.handle().runtime_flavor(), RuntimeFlavor::Sim);
    /// let task = rt.handle().spawn(async { 1 });
    /// assert_eq!(rt.block_on(task).unwrap(), 1);
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Makes the simulation current outside `block_on` until the guard drops: the
    /// free [`spawn`](crate::spawn) spawns onto it and timers made meanwhile use its
    /// clock. (The free `spawn_local` still needs `block_on`.)
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft_rt::sim::Runtime::new(0);
    /// let sleep = {
    ///     let _guard = rt.enter();
    ///     weft_rt::time::sleep(Duration::from_secs(60))
    /// };
    /// rt.block_on(sleep);
    /// assert_eq!(rt.elapsed(), Duration::from_secs(60));
    /// ```
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _context: context::enter(self.handle.clone()),
            _world: world::enter(&self.world),
            _runtime: PhantomData,
        }
    }

    /// The virtual now, as an `Instant` (the real instant the simulation started at,
    /// plus the virtual time elapsed). Inside the simulation,
    /// [`time::now`](crate::time::now) reads the same.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft_rt::sim::Runtime::new(0);
    /// let start = rt.now();
    /// rt.block_on(async { weft_rt::time::sleep(Duration::from_millis(250)).await });
    /// assert_eq!(rt.now() - start, Duration::from_millis(250));
    /// ```
    pub fn now(&self) -> Instant {
        self.world.now()
    }

    /// Virtual time since the simulation started.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = weft_rt::sim::Runtime::new(0);
    /// assert_eq!(rt.elapsed(), Duration::ZERO);
    /// rt.block_on(async { weft_rt::time::sleep(Duration::from_secs(5)).await });
    /// assert_eq!(rt.elapsed(), Duration::from_secs(5));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.world.elapsed()
    }

    /// A hash of the run so far: which task was polled at each step and every jump
    /// of the clock. Equal for two runs of the same code with the same seed; it
    /// differs between seeds whenever their interleavings do.
    ///
    /// # Examples
    ///
    /// ```
    /// fn run(seed: u64) -> u64 {
    ///     let rt = weft_rt::sim::Runtime::new(seed);
    ///     rt.block_on(async {
    ///         let tasks: Vec<_> = (0..4)
    ///             .map(|_| weft_rt::spawn(async { weft_rt::yield_now().await }))
    ///             .collect();
    ///         for task in tasks {
    ///             task.await.unwrap();
    ///         }
    ///     });
    ///     rt.trace_hash()
    /// }
    /// assert_eq!(run(11), run(11));
    /// ```
    pub fn trace_hash(&self) -> u64 {
        self.state.borrow().trace
    }

    /// Polls made so far (of tasks and of main futures), the length of the trace.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = weft_rt::sim::Runtime::new(0);
    /// rt.block_on(async {});
    /// assert_eq!(rt.steps(), 1);
    /// ```
    pub fn steps(&self) -> u64 {
        self.state.borrow().steps
    }

    /// Stops runs after `limit` polls in total ([`SimError::StepLimit`]); `None`
    /// (the default) for no limit. Catches livelocks: time only moves when every
    /// task waits, so a task spinning on `yield_now` until a timer fires never ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_rt::sim::{Runtime, SimError};
    ///
    /// let rt = Runtime::new(0);
    /// rt.set_step_limit(Some(1_000));
    /// let spin = async {
    ///     loop {
    ///         weft_rt::yield_now().await;
    ///     }
    /// };
    /// let error = rt.try_block_on(spin).unwrap_err();
    /// assert!(matches!(error, SimError::StepLimit { steps: 1_000, .. }));
    /// ```
    pub fn set_step_limit(&self, limit: Option<u64>) {
        self.state.borrow_mut().step_limit = limit;
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Destructors of the cancelled futures see the simulation as current: what
        // they spawn is cancelled on arrival, what they sleep on never fires.
        let _context = context::enter(self.handle.clone());
        let _local = local::enter_local(&self.world.intake);
        let _world = world::enter(&self.world);
        self.world.shut_down();
        self.handle.shared.shutdown.store(true, Ordering::SeqCst);
    }
}

/// Keeps a simulation current on this thread; returned by [`Runtime::enter`].
///
/// # Examples
///
/// ```
/// let rt = weft_rt::sim::Runtime::new(0);
/// let task = {
///     let _guard: weft_rt::sim::EnterGuard<'_> = rt.enter();
///     weft_rt::spawn(async { 7 })
/// };
/// assert_eq!(rt.block_on(task).unwrap(), 7);
/// ```
#[must_use = "the simulation stays current only while the guard lives"]
pub struct EnterGuard<'a> {
    _context: context::EnterGuard,
    _world: world::WorldGuard,
    _runtime: PhantomData<&'a Runtime>,
}

impl fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("sim::EnterGuard").finish_non_exhaustive()
    }
}

/// The simulation's [`Handle`]: a runtime of [`Kind::Sim`](runtime::Kind::Sim), so
/// the free functions that look for the current runtime find it.
fn handle_of(world: &Arc<World>) -> Handle {
    Handle {
        shared: Arc::new(runtime::Shared {
            id: runtime::next_runtime_id(),
            kind: runtime::Kind::Sim(Arc::clone(world)),
            // Never used: `spawn_blocking` runs inline in a simulation.
            blocking: BlockingPool::new(1, Duration::ZERO, Arc::new(|| "weft-sim".to_owned())),
            shutdown: AtomicBool::new(false),
            graveyard: weft_sync::Mutex::new(Vec::new()),
        }),
    }
}

/// Clears the `running` flag when `block_on` ends, also by a panic.
struct Running<'a>(&'a Cell<bool>);

impl<'a> Running<'a> {
    fn set(flag: &'a Cell<bool>) -> Running<'a> {
        flag.set(true);
        Running(flag)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// The main future's waker: a flag the loop reads before each pick.
struct MainWake {
    woken: AtomicBool,
}

impl Wake for MainWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
    }
}

//! The raw layer: the task allocation (header, scheduler, stage), its vtable, and the
//! waker vtable. Every function here takes a `NonNull<Header>` that the caller holds a
//! reference on; the safe handles (`Runnable`, `JoinHandle`, `AbortHandle`) sit on top.

use std::any::Any;
use std::future::Future;
use std::mem::{self, ManuallyDrop};
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::thread::{self, ThreadId};

use weft_sync::primitive::UnsafeCell;

use super::error::JoinError;
use super::id::{CurrentIdGuard, Id};
use super::state::{Completion, IdleAction, State, WakeAction};
use super::{Runnable, Schedule, ScheduleHint, TaskMeta};

/// The type-erased start of every task allocation (`Cell` is `repr(C)` with the header
/// first, so a `NonNull<Header>` is also a `NonNull<Cell<F, S>>`).
pub(super) struct Header {
    pub(super) state: State,
    pub(super) vtable: &'static Vtable,
    pub(super) id: Id,
    pub(super) location: &'static Location<'static>,
    pub(super) name: Option<Arc<str>>,
    /// `Some` for a task spawned with `spawn_local_unchecked`: the only thread that
    /// may poll or drop its future.
    pub(super) owner: Option<ThreadId>,
    /// The JoinHandle's waker. Written only by the JoinHandle while `JOIN_WAKER` is
    /// clear and the task is not completed; read by the runner only after it set
    /// `COMPLETED` with `JOIN_WAKER` set; dropped with the allocation otherwise.
    pub(super) join_waker: UnsafeCell<Option<Waker>>,
    /// This task's place in the list of live tasks (`list.rs`; unused under loom).
    #[cfg_attr(loom, allow(dead_code))]
    pub(super) links: UnsafeCell<super::list::Links>,
    /// What dumps show about it.
    pub(super) trace: Trace,
}

/// A task's observable history, for dumps (`dump.rs`). Written by the runner around
/// each poll with plain stores (one runner at a time), read by dumps with loads.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) struct Trace {
    /// The runtime that spawned it (0: unknown).
    pub(crate) runtime: u64,
    pub(crate) polls: AtomicU64,
    /// When the last poll started, in ms of the coarse clock (`dump::coarse_now_ms`).
    pub(crate) last_poll_ms: AtomicU64,
    /// What its last `Pending` poll waited on, if a weft resource said.
    pub(crate) waiting_on: AtomicPtr<weft_sync::coop::WaitSite>,
}

/// The per-`(F, S)` operations, reached through the header.
pub(super) struct Vtable {
    /// Consumes the Runnable's reference: poll once (or cancel), then leave.
    pub(super) run: unsafe fn(NonNull<Header>) -> bool,
    /// Consumes the Runnable's reference without polling: cancel and complete.
    pub(super) shutdown: unsafe fn(NonNull<Header>),
    /// Wraps one counted reference into a Runnable and hands it to the scheduler.
    pub(super) schedule: unsafe fn(NonNull<Header>, ScheduleHint),
    /// Moves the output into `*dst` (a `Poll<Result<F::Output, JoinError>>`).
    pub(super) read_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Drops the output (the JoinHandle is dropped after completion).
    pub(super) drop_output: unsafe fn(NonNull<Header>),
    /// Frees the allocation (the last reference is gone).
    pub(super) dealloc: unsafe fn(NonNull<Header>),
}

/// What the stage cell holds over the task's life.
pub(super) enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    /// Owned by whoever holds `RUNNING`, or, once `COMPLETED`, by the JoinHandle (while
    /// `JOIN_INTEREST`) or the runner that completed it (otherwise).
    stage: UnsafeCell<Stage<F>>,
}

struct VtableOf<F, S>(F, S);

impl<F: Future, S: Schedule> VtableOf<F, S> {
    const VTABLE: Vtable = Vtable {
        run: run::<F, S>,
        shutdown: shutdown::<F, S>,
        schedule: schedule::<F, S>,
        read_output: read_output::<F, S>,
        drop_output: drop_output::<F, S>,
        dealloc: dealloc::<F, S>,
    };
}

/// Allocates a task in state `SCHEDULED | JOIN_INTEREST` with two references.
///
/// # Safety
///
/// If `owner` is `None`, `F` must be safe to poll and drop on any thread (`F: Send`).
/// If `owner` is `Some(t)`, the caller upholds `spawn_local_unchecked`'s contract for
/// thread `t`. `F::Output` is read by the JoinHandle; the caller makes the handle's
/// `Send`-ness match (it is `Send` only when the output is).
pub(super) unsafe fn allocate<F, S>(
    future: F,
    scheduler: S,
    meta: TaskMeta,
    owner: Option<ThreadId>,
) -> NonNull<Header>
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    let cell = Box::new(Cell {
        header: Header {
            state: State::new(),
            vtable: &VtableOf::<F, S>::VTABLE,
            id: Id::next(),
            location: meta.location,
            name: meta.name,
            owner,
            join_waker: UnsafeCell::new(None),
            links: UnsafeCell::new(super::list::Links::new()),
            trace: Trace {
                runtime: meta.runtime,
                polls: AtomicU64::new(0),
                last_poll_ms: AtomicU64::new(0),
                waiting_on: AtomicPtr::new(ptr::null_mut()),
            },
        },
        scheduler,
        stage: UnsafeCell::new(Stage::Running(future)),
    });
    let task = NonNull::from(Box::leak(cell)).cast();
    // Channel handles the spawner used may have just moved into this future: the
    // detector stops taking them to be the spawner's (weft_sync::deadlock).
    #[cfg(all(feature = "deadlock-detection", not(loom)))]
    weft_sync::deadlock::before_spawn();
    // SAFETY: alive and new; `dealloc` unlinks it before freeing.
    unsafe { super::list::insert(task) };
    task
}

/// # Safety
///
/// `ptr` is a live task of type `Cell<F, S>`.
#[inline]
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: `Cell` is `repr(C)` with the header first and the caller guarantees the
    // type and that a reference keeps the allocation alive.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

/// Moves the result out of the stage, leaving `Consumed`. Never for the future
/// (pinned in place; see `drop_future`); outputs are not pinned.
///
/// # Safety
///
/// The caller owns the stage (see `Cell::stage`), which no longer holds the future.
unsafe fn take_stage<F: Future>(stage: &UnsafeCell<Stage<F>>) -> Stage<F> {
    // SAFETY: the caller owns the stage.
    let old = stage.with_mut(|stage| unsafe { mem::replace(&mut *stage, Stage::Consumed) });
    debug_assert!(!matches!(old, Stage::Running(_)), "a pinned future moved");
    old
}

/// Drops the future **in place** (it is pinned there: a future may rely on its
/// address until its destructor has run, as intrusive waiter lists do), then marks the
/// stage `Consumed` whether or not the destructor panicked (the drop glue finishes the
/// remaining fields while unwinding, so nothing is dropped twice). Returns the panic
/// payload, if any. Also used on a `Finished` stage, where moving would be fine too.
///
/// # Safety
///
/// The caller owns the stage.
unsafe fn drop_future<F: Future>(stage: &UnsafeCell<Stage<F>>) -> Option<Box<dyn Any + Send>> {
    stage.with_mut(|stage| {
        // SAFETY: the caller owns the stage; it holds a valid `Stage`, dropped once
        // here and then overwritten without a second drop.
        let panicked =
            panic::catch_unwind(AssertUnwindSafe(|| unsafe { ptr::drop_in_place(stage) })).err();
        // SAFETY: as above; the old value is gone, `write` does not drop it again.
        unsafe { stage.write(Stage::Consumed) };
        panicked
    })
}

/// # Safety
///
/// The caller owns the stage, which is `Consumed`.
unsafe fn store_output<F: Future>(stage: &UnsafeCell<Stage<F>>, out: Result<F::Output, JoinError>) {
    // SAFETY: the caller owns the stage; `Consumed` has nothing to drop.
    stage.with_mut(|stage| unsafe { stage.write(Stage::Finished(out)) });
}

/// The waker handed to `poll`: borrows the Runnable's reference (never dropped).
///
/// # Safety
///
/// The caller holds a reference for as long as the waker is used.
#[inline]
unsafe fn borrowed_waker(ptr: NonNull<Header>) -> ManuallyDrop<Waker> {
    // SAFETY: `WAKER_VTABLE` honours the `RawWaker` contract for task pointers; the
    // `ManuallyDrop` stops this borrowed waker from releasing a reference it never
    // took, and `clone` takes a real one.
    ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr().cast(), &WAKER_VTABLE)) })
}

unsafe fn run<F: Future, S: Schedule>(ptr: NonNull<Header>) -> bool {
    // SAFETY: the Runnable's reference keeps the task alive; `F, S` are its types.
    let cell = unsafe { cell::<F, S>(ptr) };
    let header = &cell.header;
    debug_assert!(
        header
            .owner
            .is_none_or(|owner| owner == thread::current().id()),
        "a local task ran off its owner thread"
    );
    let prev = header.state.transition_to_running();
    // The id is current for the poll and for the future's drop, whichever path.
    let _current = CurrentIdGuard::enter(header.id);
    if prev.is_closed() {
        // SAFETY: we hold RUNNING, so we own the stage; the Runnable's reference.
        unsafe { cancel_and_complete::<F, S>(ptr) };
        return false;
    }

    let trace = &header.trace;
    trace
        .polls
        .store(trace.polls.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    trace
        .last_poll_ms
        .store(super::dump::coarse_now_ms(), Ordering::Relaxed);
    let _ = weft_sync::coop::take_waiting_on();
    // Async locks taken or awaited in this poll are this task's (weft_sync::deadlock).
    #[cfg(all(feature = "deadlock-detection", not(loom)))]
    let _scope = weft_sync::deadlock::TaskScope::enter(weft_sync::deadlock::TaskInfo::new(
        header.id.as_u64(),
        header.name.clone(),
        header.location,
    ));
    let polled = {
        // SAFETY: the Runnable's reference outlives the poll.
        let waker = unsafe { borrowed_waker(ptr) };
        let mut cx = Context::from_waker(&waker);
        panic::catch_unwind(AssertUnwindSafe(|| {
            cell.stage.with_mut(|stage| {
                // SAFETY: RUNNING gives us the stage; the future is never moved while
                // in it (it is dropped in place or moved out only after the last poll).
                match unsafe { &mut *stage } {
                    // SAFETY: see above: the future stays put until dropped in place.
                    Stage::Running(future) => unsafe { Pin::new_unchecked(future) }.poll(&mut cx),
                    _ => unreachable!("a task polled after its future was dropped"),
                }
            })
        }))
    };

    let out = match polled {
        Ok(Poll::Pending) => {
            let site = weft_sync::coop::take_waiting_on()
                .map_or(ptr::null_mut(), |site| ptr::from_ref(site).cast_mut());
            trace.waiting_on.store(site, Ordering::Relaxed);
            return match header.state.transition_to_idle() {
                IdleAction::Idle { last } => {
                    if last {
                        // SAFETY: the last reference is gone.
                        unsafe { dealloc::<F, S>(ptr) };
                    }
                    false
                }
                IdleAction::Reschedule => {
                    // SAFETY: the transition counted the Runnable's reference (moved on)
                    // and the extra one we drop after the call.
                    unsafe {
                        schedule::<F, S>(ptr, ScheduleHint::Yielded);
                        drop_ref(ptr);
                    }
                    true
                }
                IdleAction::Cancel => {
                    // SAFETY: still RUNNING: we own the stage; the Runnable's reference.
                    unsafe { cancel_and_complete::<F, S>(ptr) };
                    false
                }
            };
        }
        Ok(Poll::Ready(output)) => {
            // SAFETY: RUNNING: we own the stage. A panic in the future's drop after it
            // returned a value is dropped: the value stands.
            drop(unsafe { drop_future(&cell.stage) });
            Ok(output)
        }
        Err(payload) => {
            // SAFETY: as above; the poll's panic is the one reported.
            drop(unsafe { drop_future(&cell.stage) });
            Err(JoinError::panic(header.id, payload))
        }
    };
    // SAFETY: RUNNING, the stage is `Consumed`, the Runnable's reference.
    unsafe {
        store_output(&cell.stage, out);
        complete::<F, S>(ptr);
    }
    false
}

/// Drops the future and completes with `Cancelled` (or `Panic` if its drop panicked).
///
/// # Safety
///
/// The caller holds `RUNNING` and the Runnable's reference, which this consumes.
unsafe fn cancel_and_complete<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: forwarded.
    let cell = unsafe { cell::<F, S>(ptr) };
    let id = cell.header.id;
    let _current = CurrentIdGuard::enter(id);
    // SAFETY: RUNNING: we own the stage.
    let error = match unsafe { drop_future(&cell.stage) } {
        None => JoinError::cancelled(id),
        Some(payload) => JoinError::panic(id, payload),
    };
    // SAFETY: as above; then the Runnable's reference goes to `complete`.
    unsafe {
        store_output::<F>(&cell.stage, Err(error));
        complete::<F, S>(ptr);
    }
}

/// Publishes the output, wakes the JoinHandle or drops the output, drops the
/// Runnable's reference.
///
/// # Safety
///
/// The caller holds `RUNNING` and the Runnable's reference; the stage is `Finished`.
unsafe fn complete<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: forwarded.
    let cell = unsafe { cell::<F, S>(ptr) };
    // The future is gone: channel handles it passed on before it ended are no longer
    // taken to be this task's (weft_sync::deadlock).
    #[cfg(all(feature = "deadlock-detection", not(loom)))]
    weft_sync::deadlock::task_finished(cell.header.id.as_u64());
    let state = &cell.header.state;
    // `JOIN_INTEREST` is never set again once cleared, so a detached task's output
    // can be dropped before completing, while RUNNING still makes the stage ours;
    // completing then has nothing left to do after its CAS.
    let detached = !state.load().has_join_interest();
    if detached {
        // SAFETY: RUNNING: the stage is ours.
        unsafe { drop_output_caught(&cell.stage) };
    }
    let prev = match state.transition_to_complete(detached) {
        Completion::Released { last } => {
            if last {
                // SAFETY: the last reference is gone.
                unsafe { dealloc::<F, S>(ptr) };
            }
            return;
        }
        Completion::Held(prev) => prev,
    };
    if !prev.has_join_interest() {
        // The handle left between our load and the CAS: the output is ours to drop.
        // SAFETY: completed without join interest: the runner owns the stage.
        unsafe { drop_output_caught(&cell.stage) };
    } else if prev.has_join_waker() {
        // SAFETY: JOIN_WAKER was set when we completed, so the handle published the
        // slot (our AcqRel pairs with its Release) and will not write it again.
        cell.header.join_waker.with(|waker| {
            // SAFETY: see above (a shared read; nobody writes the slot any more).
            if let Some(waker) = unsafe { &*waker } {
                waker.wake_by_ref();
            }
        });
    }
    // SAFETY: the Runnable's reference.
    unsafe { drop_ref(ptr) };
}

/// Drops whatever the stage holds (an output nobody will read), swallowing a panic
/// from its `drop`: it has no one to be reported to.
///
/// # Safety
///
/// The caller owns the stage.
unsafe fn drop_output_caught<F: Future>(stage: &UnsafeCell<Stage<F>>) {
    // SAFETY: forwarded.
    let out = unsafe { take_stage(stage) };
    drop(panic::catch_unwind(AssertUnwindSafe(move || drop(out))));
}

unsafe fn shutdown<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the Runnable's reference keeps the task alive.
    let header = unsafe { ptr.as_ref() };
    if header
        .owner
        .is_some_and(|owner| owner != thread::current().id())
    {
        // A local task's future must not be dropped here. Leak it (memory-safe; the
        // JoinHandle never resolves). The runtime avoids this by shutting local tasks
        // down on their own thread.
        return;
    }
    header.state.transition_to_running();
    // SAFETY: RUNNING: the stage is ours; the Runnable's reference is consumed.
    unsafe { cancel_and_complete::<F, S>(ptr) };
}

unsafe fn schedule<F: Future, S: Schedule>(ptr: NonNull<Header>, hint: ScheduleHint) {
    // SAFETY: the caller holds the reference the new Runnable takes plus one of its own
    // that keeps `scheduler` alive for the call (the Runnable may complete and drop its
    // reference on another thread before `schedule` returns).
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: one counted reference and SCHEDULED set: that is a Runnable.
    let runnable = unsafe { Runnable::from_header(ptr) };
    cell.scheduler.schedule(runnable, hint);
}

unsafe fn read_output<F: Future, S: Schedule>(ptr: NonNull<Header>, dst: *mut ()) {
    // SAFETY: the JoinHandle's reference; it saw COMPLETED with JOIN_INTEREST, so the
    // stage is its.
    let cell = unsafe { cell::<F, S>(ptr) };
    let dst = dst.cast::<Poll<Result<F::Output, JoinError>>>();
    // SAFETY: as above.
    match unsafe { take_stage(&cell.stage) } {
        // SAFETY: the JoinHandle passes a valid `Poll<Result<T, JoinError>>` with
        // `T = F::Output` (its type parameter is the output type at spawn).
        Stage::Finished(out) => unsafe { *dst = Poll::Ready(out) },
        _ => panic!("JoinHandle polled after it returned Ready"),
    }
}

unsafe fn drop_output<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the JoinHandle's reference; it cleared JOIN_INTEREST after COMPLETED, so
    // the stage is its.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: as above.
    drop(unsafe { take_stage(&cell.stage) });
}

unsafe fn dealloc<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // Out of the list first: a dump may be reading the header until we hold the lock.
    // SAFETY: linked by `allocate`, unlinked only here.
    unsafe { super::list::remove(ptr) };
    // SAFETY: the last reference is gone: nobody else can reach the allocation, made
    // by `allocate` from a `Box<Cell<F, S>>`.
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) };
    let foreign = cell
        .header
        .owner
        .is_some_and(|owner| owner != thread::current().id());
    // SAFETY: exclusive (last reference); reading the discriminant only.
    let holds_future = cell
        .stage
        .with(|stage| matches!(unsafe { &*stage }, Stage::Running(_)));
    if foreign && holds_future {
        // The last waker of an unfinished local task was dropped off its thread: the
        // future must not be dropped here, and its pinned memory must stay valid if
        // it is never dropped, so the whole allocation is leaked.
        mem::forget(cell);
        return;
    }
    // Dropping the future or output here cannot unwind into the waker's caller in a
    // way that leaks: the memory is freed as the box unwinds.
    drop(cell);
}

/// Drops one reference, freeing the task if it was the last.
///
/// # Safety
///
/// The caller holds a reference and gives it up.
#[inline]
pub(super) unsafe fn drop_ref(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the header alive until the decrement.
    let header = unsafe { ptr.as_ref() };
    if header.state.ref_dec() {
        // SAFETY: last reference; `dealloc` is the vtable's, for this task's types.
        unsafe { (header.vtable.dealloc)(ptr) };
    }
}

/// Wakes (by reference): re-schedules an idle task, marks a running one.
///
/// # Safety
///
/// The caller holds a reference for the duration of the call.
#[inline]
pub(super) unsafe fn wake_by_ref(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference.
    let header = unsafe { ptr.as_ref() };
    if header.state.transition_to_notified_by_ref() == WakeAction::Submit {
        // SAFETY: the transition counted the Runnable's reference; ours covers the call.
        unsafe { (header.vtable.schedule)(ptr, ScheduleHint::Woken) };
    }
}

pub(super) static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is the task pointer of a live waker, which holds a reference.
    let header = unsafe { &*data.cast::<Header>() };
    header.state.ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: a waker's data is a non-null task pointer with one reference, consumed.
    let ptr = unsafe { NonNull::new_unchecked(data.cast_mut().cast::<Header>()) };
    // SAFETY: the waker's reference.
    let header = unsafe { ptr.as_ref() };
    match header.state.transition_to_notified_by_val() {
        // SAFETY: the transition counted the Runnable's reference and kept the
        // waker's for the call, dropped after it.
        WakeAction::Submit => unsafe {
            (header.vtable.schedule)(ptr, ScheduleHint::Woken);
            drop_ref(ptr);
        },
        WakeAction::Nothing => {}
        // SAFETY: the waker's reference was the last (dropped by the transition).
        WakeAction::Dealloc => unsafe { (header.vtable.dealloc)(ptr) },
    }
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: a waker's data is a non-null task pointer; the waker holds a reference.
    unsafe { wake_by_ref(NonNull::new_unchecked(data.cast_mut().cast::<Header>())) };
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: a waker's data is a non-null task pointer; its reference is released.
    unsafe { drop_ref(NonNull::new_unchecked(data.cast_mut().cast::<Header>())) };
}

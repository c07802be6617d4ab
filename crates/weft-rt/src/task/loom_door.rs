//! The door loom models (`tests/loom_task.rs`) come through: the crate-internal task
//! API, re-exported for `--cfg loom` builds only. Not part of weft's API.

use std::fmt;
use std::future::Future;

pub use super::{AbortHandle, JoinError, JoinHandle, yield_now};

use super::{Schedule, ScheduleHint, TaskMeta};

/// A [`super::Runnable`], public for the models.
pub struct Runnable(super::Runnable);

impl Runnable {
    /// [`super::Runnable::run`].
    pub fn run(self) -> bool {
        self.0.run()
    }

    /// [`super::Runnable::shutdown`].
    pub fn shutdown(self) {
        self.0.shutdown()
    }
}

impl fmt::Debug for Runnable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

struct ClosureScheduler<F>(F);

impl<F: Fn(Runnable) + Send + Sync + 'static> Schedule for ClosureScheduler<F> {
    fn schedule(&self, task: super::Runnable, _hint: ScheduleHint) {
        (self.0)(Runnable(task))
    }
}

/// [`super::spawn`] with a closure as the scheduler (dropped when the task is freed).
#[track_caller]
pub fn spawn<Fut, F>(future: Fut, schedule: F) -> (Runnable, JoinHandle<Fut::Output>)
where
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
    F: Fn(Runnable) + Send + Sync + 'static,
{
    let (runnable, handle) = super::spawn(future, ClosureScheduler(schedule), TaskMeta::here());
    (Runnable(runnable), handle)
}

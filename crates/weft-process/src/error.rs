//! The pool's errors: [`ProcessError`], generic over the task's own error type, and
//! the untyped [`Failure`] the machinery passes around before the caller's type is
//! known.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The error type of a task that cannot fail (its function does not return a
/// `Result`). It has no values, so `ProcessError<NoError>::Task` never happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NoError {}

impl fmt::Display for NoError {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

impl std::error::Error for NoError {}

/// Which payload failed to (de)serialize.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Payload {
    /// The task's arguments (serialized by the caller, deserialized by the worker).
    Args,
    /// The task's successful output (serialized by the worker, deserialized by the
    /// caller).
    Output,
    /// The task's own error value.
    Error,
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Payload::Args => "arguments",
            Payload::Output => "output",
            Payload::Error => "error value",
        })
    }
}

/// Why a task submitted to a [`ProcessPool`](crate::ProcessPool) did not give its
/// output.
///
/// `E` is the task's own error type (the `E` of its `fn(..) -> Result<Out, E>`),
/// carried back typed in [`Task`](ProcessError::Task); pool-level operations that run
/// no task (like [`Builder::build`](crate::Builder::build)) use the default,
/// [`NoError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ProcessError<E = NoError> {
    /// The task ran and returned `Err(E)`; this is that value, deserialized.
    Task(E),
    /// The task panicked in the worker (the worker survives: the panic is caught).
    /// Under `panic = "abort"` a panic kills the worker instead, and the task fails
    /// with [`WorkerDied`](ProcessError::WorkerDied).
    Panicked {
        /// The panic message, or a placeholder if the payload was not a string.
        message: String,
    },
    /// The worker process running the task died: killed by a signal (SIGKILL, the
    /// OOM killer, `abort()`'s SIGABRT, a segfault) or exited (`std::process::exit`).
    /// The worker is replaced; the task is not retried unless
    /// [`Builder::retries`](crate::Builder::retries) asked for it.
    WorkerDied {
        /// The registered name of the task that was running.
        task: String,
        /// The signal that killed the worker, if it was killed.
        signal: Option<i32>,
        /// The worker's exit code, if it exited.
        exit_code: Option<i32>,
    },
    /// The task ran longer than the timeout given to
    /// [`ProcessPool::submit_with_timeout`](crate::ProcessPool::submit_with_timeout):
    /// its worker was killed and replaced.
    Timeout {
        /// The registered name of the task.
        task: String,
        /// The timeout it exceeded.
        after: Duration,
    },
    /// The task was cancelled before it finished: by
    /// [`TaskFuture::cancel`](crate::TaskFuture::cancel), by
    /// [`ProcessPool::shutdown`](crate::ProcessPool::shutdown) with `cancel_pending`,
    /// or by [`terminate`](crate::ProcessPool::terminate) / [`kill`](crate::ProcessPool::kill).
    Cancelled,
    /// The worker has no task registered under this name (a task defined in code the
    /// worker binary does not link, or a hand-written [`Task`](crate::Task) that was
    /// never registered).
    NotRegistered {
        /// The name that was looked up.
        name: String,
    },
    /// A payload could not be serialized or deserialized (for example, arguments
    /// whose `Deserialize` rejects the value the caller's `Serialize` produced).
    Serde {
        /// Which payload.
        payload: Payload,
        /// The serializer's message.
        message: String,
    },
    /// A frame (a task's arguments or results, or a `map` chunk of them) would be
    /// larger than [`Builder::max_frame_size`](crate::Builder::max_frame_size).
    FrameTooLarge {
        /// The frame's size in bytes (at least; the encoder stops counting early).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The pool cannot run tasks any more: the binary cannot be re-executed, workers
    /// die before their handshake again and again (is `weft_process::init()` at the
    /// top of `main`?), or the initializer failed.
    PoolBroken {
        /// What happened.
        reason: String,
        /// The operating system's error, when there was one.
        source: Option<Arc<std::io::Error>>,
    },
    /// The pool was shut down before this task was submitted.
    Shutdown,
}

impl<E: fmt::Display> fmt::Display for ProcessError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessError::Task(error) => write!(f, "task failed: {error}"),
            ProcessError::Panicked { message } => write!(f, "task panicked: {message}"),
            ProcessError::WorkerDied {
                task,
                signal,
                exit_code,
            } => {
                write!(f, "the worker running `{task}` died")?;
                match (signal, exit_code) {
                    (Some(signal), _) => write!(f, ", killed by signal {signal}"),
                    (None, Some(code)) => write!(f, ", exit code {code}"),
                    (None, None) => Ok(()),
                }
            }
            ProcessError::Timeout { task, after } => {
                write!(
                    f,
                    "task `{task}` ran longer than {after:?}; its worker was killed"
                )
            }
            ProcessError::Cancelled => f.write_str("task cancelled"),
            ProcessError::NotRegistered { name } => {
                write!(f, "no task registered as `{name}` in the worker")
            }
            ProcessError::Serde { payload, message } => {
                write!(f, "task {payload} failed to (de)serialize: {message}")
            }
            ProcessError::FrameTooLarge { size, limit } => {
                write!(f, "frame of {size} bytes exceeds the {limit}-byte limit")
            }
            ProcessError::PoolBroken { reason, source } => {
                write!(f, "process pool broken: {reason}")?;
                match source {
                    Some(source) => write!(f, ": {source}"),
                    None => Ok(()),
                }
            }
            ProcessError::Shutdown => f.write_str("the process pool is shut down"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for ProcessError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProcessError::Task(error) => Some(error),
            ProcessError::PoolBroken {
                source: Some(source),
                ..
            } => Some(&**source),
            _ => None,
        }
    }
}

impl<E> ProcessError<E> {
    /// The task's own error, if that is what this is.
    pub fn into_task_error(self) -> Option<E> {
        match self {
            ProcessError::Task(error) => Some(error),
            _ => None,
        }
    }
}

/// Every [`ProcessError`] but `Task`, cloneable, for the machinery that fails many
/// items at once (a crashed `map` chunk) before the caller's `E` is known.
#[derive(Clone, Debug)]
pub(crate) enum Failure {
    WorkerDied {
        task: &'static str,
        signal: Option<i32>,
        exit_code: Option<i32>,
    },
    Timeout {
        task: &'static str,
        after: Duration,
    },
    Cancelled,
    Serde(Payload, String),
    FrameTooLarge {
        size: usize,
        limit: usize,
    },
    PoolBroken {
        reason: String,
        source: Option<Arc<std::io::Error>>,
    },
    Shutdown,
}

impl Failure {
    pub(crate) fn typed<E>(self) -> ProcessError<E> {
        match self {
            Failure::WorkerDied {
                task,
                signal,
                exit_code,
            } => ProcessError::WorkerDied {
                task: task.to_owned(),
                signal,
                exit_code,
            },
            Failure::Timeout { task, after } => ProcessError::Timeout {
                task: task.to_owned(),
                after,
            },
            Failure::Cancelled => ProcessError::Cancelled,
            Failure::Serde(payload, message) => ProcessError::Serde { payload, message },
            Failure::FrameTooLarge { size, limit } => ProcessError::FrameTooLarge { size, limit },
            Failure::PoolBroken { reason, source } => ProcessError::PoolBroken { reason, source },
            Failure::Shutdown => ProcessError::Shutdown,
        }
    }
}

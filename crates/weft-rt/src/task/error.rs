//! `JoinError`: why a task produced no value.

use std::any::Any;
use std::fmt;
use std::io;
use std::sync::Mutex;

use super::id::Id;

/// A task ended without producing its value: it was cancelled (aborted, or dropped by
/// a runtime shutting down) or it panicked.
///
/// # Examples
///
/// ```
/// use weft_rt::task::{JoinError, JoinHandle};
///
/// async fn value_or_zero(handle: JoinHandle<u32>) -> u32 {
///     match handle.await {
///         Ok(value) => value,
///         Err(error) if error.is_cancelled() => 0,
///         // Re-raise the task's panic in the awaiting task.
///         Err(error) => std::panic::resume_unwind(error.into_panic()),
///     }
/// }
/// # let _ = value_or_zero;
/// ```
pub struct JoinError {
    id: Id,
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic {
        /// A `Mutex` only to make the error `Sync` (the payload is `Send` only); it is
        /// reached by value (`into_panic`), never locked while shared.
        payload: Mutex<Box<dyn Any + Send + 'static>>,
        /// The payload's message when it is a `&str` or `String`, copied at creation
        /// so `Display` needs no access to the payload.
        message: Option<String>,
    },
}

impl JoinError {
    pub(crate) fn cancelled(id: Id) -> Self {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(id: Id, payload: Box<dyn Any + Send + 'static>) -> Self {
        let message = payload
            .downcast_ref::<&'static str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        JoinError {
            id,
            repr: Repr::Panic {
                payload: Mutex::new(payload),
                message,
            },
        }
    }

    /// Whether the task was cancelled (aborted, or shut down before it finished).
    ///
    /// # Examples
    ///
    /// ```
    /// async fn was_aborted(handle: weft_rt::task::JoinHandle<()>) -> bool {
    ///     handle.abort();
    ///     handle.await.is_err_and(|error| error.is_cancelled())
    /// }
    /// # let _ = was_aborted;
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// Whether the task panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// async fn panicked(handle: weft_rt::task::JoinHandle<()>) -> bool {
    ///     handle.await.is_err_and(|error| error.is_panic())
    /// }
    /// # let _ = panicked;
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic { .. })
    }

    /// The panic payload, to re-raise with [`std::panic::resume_unwind`] or inspect.
    ///
    /// # Panics
    ///
    /// If the task was cancelled rather than panicked; [`try_into_panic`] is the
    /// non-panicking form.
    ///
    /// [`try_into_panic`]: Self::try_into_panic
    ///
    /// # Examples
    ///
    /// ```
    /// async fn rethrow(handle: weft_rt::task::JoinHandle<()>) {
    ///     if let Err(error) = handle.await {
    ///         if error.is_panic() {
    ///             std::panic::resume_unwind(error.into_panic());
    ///         }
    ///     }
    /// }
    /// # let _ = rethrow;
    /// ```
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self.try_into_panic() {
            Ok(payload) => payload,
            Err(error) => {
                panic!("`JoinError::into_panic` called on an error that is not a panic: {error}")
            }
        }
    }

    /// The panic payload, or the error back if the task was cancelled.
    ///
    /// # Errors
    ///
    /// Returns `Err(self)` when the task did not panic.
    ///
    /// # Examples
    ///
    /// ```
    /// async fn panic_message(handle: weft_rt::task::JoinHandle<()>) -> Option<String> {
    ///     let payload = handle.await.err()?.try_into_panic().ok()?;
    ///     payload.downcast_ref::<&str>().map(|s| s.to_string())
    /// }
    /// # let _ = panic_message;
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic { payload, .. } => Ok(payload
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner())),
            Repr::Cancelled => Err(self),
        }
    }

    /// The id of the task that failed.
    ///
    /// # Examples
    ///
    /// ```
    /// fn describe(error: &weft_rt::task::JoinError) -> String {
    ///     format!("task {} failed", error.id())
    /// }
    /// # let _ = describe;
    /// ```
    pub fn id(&self) -> Id {
        self.id
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic {
                message: Some(message),
                ..
            } => write!(f, "task {} panicked with message {message:?}", self.id),
            Repr::Panic { message: None, .. } => write!(f, "task {} panicked", self.id),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f
                .debug_tuple("JoinError::Cancelled")
                .field(&self.id)
                .finish(),
            Repr::Panic { message, .. } => f
                .debug_tuple("JoinError::Panic")
                .field(&self.id)
                .field(&message.as_deref().unwrap_or("..."))
                .finish(),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for io::Error {
    /// An [`io::ErrorKind::Other`] error whose source is the `JoinError`, for code
    /// that awaits a blocking I/O call on another thread and speaks `io::Result`.
    fn from(error: JoinError) -> Self {
        io::Error::other(error)
    }
}

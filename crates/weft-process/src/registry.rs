//! Tasks and their registration: the [`Task`] trait a `#[task]` function's handle
//! implements, and the [`Registration`] that lets a worker find it by name.

use std::io;
use std::panic::{self, AssertUnwindSafe};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol::{self, Cursor};
use crate::worker::Answer;

/// A function that can run in a worker process, named so the worker can find it.
///
/// Rust cannot send a closure to another process, so a pool runs *registered*
/// functions: the caller sends the task's [`NAME`](Task::NAME) and its serialized
/// arguments, and the worker (the same binary) looks the name up in its table of
/// [`Registration`]s and calls [`call`](Task::call).
///
/// Implement it with the [`task`](crate::task) attribute, which also registers the
/// task. By hand, implement it on a unit struct and register it with
/// [`register!`](crate::register) or pass [`Registration::of`] to
/// [`init_with`](crate::init_with).
///
/// # Examples
///
/// A hand-written task (the attribute writes the same):
///
/// ```
/// use weft_process::Task;
///
/// #[derive(Clone, Copy, Debug)]
/// struct Double;
///
/// impl Task for Double {
///     type Args = u64;
///     type Output = u64;
///     type Error = weft_process::NoError;
///     const NAME: &'static str = concat!(module_path!(), "::Double");
///     fn call(x: u64) -> Result<u64, weft_process::NoError> {
///         Ok(2 * x)
///     }
/// }
/// weft_process::register!(Double);
///
/// assert_eq!(Double::call(21), Ok(42));
/// ```
pub trait Task: Copy + Send + Sync + 'static {
    /// The arguments, sent from the caller to the worker.
    type Args: Serialize + DeserializeOwned;
    /// What a successful run returns to the caller.
    type Output: Serialize + DeserializeOwned;
    /// What a failed run returns to the caller, inside
    /// [`ProcessError::Task`](crate::ProcessError::Task).
    type Error: Serialize + DeserializeOwned;
    /// The name the worker looks the task up by; the attribute uses the function's
    /// module path and name. Unique per binary.
    const NAME: &'static str;
    /// Runs the task (in the worker, or directly in this process).
    fn call(args: Self::Args) -> Result<Self::Output, Self::Error>;
}

/// What running task `T` in a pool gives: its output, or why there is none.
pub type TaskResult<T> = Result<<T as Task>::Output, crate::ProcessError<<T as Task>::Error>>;

/// The type-erased entry a worker calls for a RUN (or INIT) frame: for each of the
/// `count` items read from the cursor, deserialize its arguments, run the task, and
/// append one result item (status, length, bytes) to the answer.
///
/// One call per frame, not per item: the loop over a chunk's items is then
/// monomorphized for the task, with its (de)serialization inlined, instead of an
/// indirect call and an unwind guard per item.
pub(crate) type Dispatch = fn(&mut Cursor<'_>, u32, &mut Answer<'_>) -> io::Result<()>;

/// A task's entry in a worker's table: its name and how to run it from bytes.
///
/// Made by [`Registration::of`]; collected from every `#[task]` and
/// [`register!`](crate::register) in the binary, plus the ones given to
/// [`init_with`](crate::init_with).
#[derive(Clone, Copy)]
pub struct Registration {
    pub(crate) name: &'static str,
    pub(crate) dispatch: Dispatch,
}

impl Registration {
    /// The registration of task `T`.
    pub const fn of<T: Task>() -> Registration {
        Registration {
            name: T::NAME,
            dispatch: dispatch::<T>,
        }
    }

    /// The task's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

inventory::collect!(Registration);

fn dispatch<T: Task>(
    items: &mut Cursor<'_>,
    count: u32,
    answer: &mut Answer<'_>,
) -> io::Result<()> {
    let mut left = count;
    // Where the item being run starts in the answer, and whether the task's own code
    // (its call, its output's `Serialize`) is running: a panic there is the item's
    // `Panicked`; anywhere else (the arguments' `Deserialize`) it kills the worker,
    // as it always has.
    let mut item_start = 0;
    let mut in_task = false;
    while left > 0 {
        // One unwind guard for the rest of the frame, not one per item; after a
        // panic the loop takes up again at the next item under a new guard.
        let ran = panic::catch_unwind(AssertUnwindSafe(|| {
            while left > 0 {
                let Some(args) = items.item() else {
                    crate::worker::malformed_item();
                };
                item_start = answer.out.len();
                run_item::<T>(args, answer.out, &mut in_task);
                left -= 1;
                answer.item_done(item_start)?;
            }
            Ok(())
        }));
        match ran {
            Ok(result) => return result,
            Err(payload) if in_task => {
                in_task = false;
                answer.out.truncate(item_start);
                let message = crate::worker::panic_message(&*payload);
                text_item(answer.out, protocol::STATUS_PANICKED, message);
                left -= 1;
                answer.item_done(item_start)?;
            }
            Err(payload) => panic::resume_unwind(payload),
        }
    }
    Ok(())
}

/// Runs one item and appends its result; `in_task` is true while the task's code
/// runs (a panic then leaves a partial item, which the caller cuts off).
#[inline(always)]
fn run_item<T: Task>(args: &[u8], out: &mut Vec<u8>, in_task: &mut bool) {
    let args: T::Args = match protocol::from_bytes_exact(args) {
        Ok(args) => args,
        Err(error) => return text_item(out, protocol::STATUS_BAD_ARGS, &error),
    };
    *in_task = true;
    match T::call(args) {
        Ok(output) => value_item(out, protocol::STATUS_OK, &output),
        Err(error) => value_item(out, protocol::STATUS_TASK_ERROR, &error),
    }
    *in_task = false;
}

#[inline(always)]
fn value_item<V: Serialize>(out: &mut Vec<u8>, status: u8, value: &V) {
    let start = out.len();
    let at = protocol::open_result_item(out, status);
    match protocol::append(value, out) {
        Ok(()) => protocol::close_result_item(out, at),
        Err(error) => {
            out.truncate(start);
            text_item(out, protocol::STATUS_BAD_OUTPUT, &error.to_string());
        }
    }
}

#[cold]
#[inline(never)]
pub(crate) fn text_item(out: &mut Vec<u8>, status: u8, text: &str) {
    let at = protocol::open_result_item(out, status);
    out.extend_from_slice(text.as_bytes());
    protocol::close_result_item(out, at);
}

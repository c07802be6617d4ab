//! `yield_now`: give the other tasks a turn.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields to the scheduler once: the first poll wakes the task and returns `Pending`,
/// the second returns `Ready`.
///
/// Under weft's task state machine the wake lands while the task is running, so the
/// runner re-queues it with the `Yielded` hint, behind the work already waiting (not
/// in the slot for freshly woken tasks). It needs nothing from a runtime and works
/// under any executor.
///
/// # Examples
///
/// ```
/// use std::pin::pin;
/// use std::sync::Arc;
/// use std::task::{Context, Poll, Wake};
///
/// struct Noop;
/// impl Wake for Noop {
///     fn wake(self: Arc<Self>) {}
/// }
///
/// let waker = Arc::new(Noop).into();
/// let mut cx = Context::from_waker(&waker);
/// let mut yielding = pin!(weft_rt::task::yield_now());
/// assert!(yielding.as_mut().poll(&mut cx).is_pending());
/// assert!(yielding.as_mut().poll(&mut cx).is_ready());
/// ```
pub fn yield_now() -> impl Future<Output = ()> {
    YieldNow { yielded: false }
}

#[must_use = "futures do nothing unless awaited"]
struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

//! [`Timer`]: a future that completes at an instant, through the reactor's wheel.

use crate::reactor::{Reactor, TimerId};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A future that completes, with its deadline, once that deadline has passed.
///
/// The timer is registered with the [reactor](crate::reactor) when first polled (and
/// re-registered only if polled with a different waker); dropping it or re-arming it
/// with [`set_at`](Self::set_at)/[`set_after`](Self::set_after) removes the
/// registration. Precision is one millisecond, never early. Polling it again after it
/// completed completes again at once.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use weft_io::{block_on, Timer};
///
/// let start = Instant::now();
/// let deadline = block_on(Timer::after(Duration::from_millis(2)));
/// assert!(deadline >= start + Duration::from_millis(2));
/// assert!(Instant::now() >= deadline);
/// ```
pub struct Timer {
    when: Option<Instant>,
    registered: Option<(TimerId, Waker)>,
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer").field("when", &self.when).finish()
    }
}

impl Timer {
    /// Completes `duration` from now (never, if that instant is not representable).
    pub fn after(duration: Duration) -> Timer {
        match Instant::now().checked_add(duration) {
            Some(when) => Timer::at(when),
            None => Timer::never(),
        }
    }

    /// Completes at `when` (at once if it has passed).
    pub fn at(when: Instant) -> Timer {
        Timer {
            when: Some(when),
            registered: None,
        }
    }

    /// Never completes (and registers nothing).
    pub fn never() -> Timer {
        Timer {
            when: None,
            registered: None,
        }
    }

    /// The deadline, or `None` for a timer that never completes.
    pub fn deadline(&self) -> Option<Instant> {
        self.when
    }

    /// Re-arms the timer to complete at `when`, whether or not it completed before.
    pub fn set_at(&mut self, when: Instant) {
        self.unregister();
        self.when = Some(when);
    }

    /// Re-arms the timer to complete `duration` from now.
    pub fn set_after(&mut self, duration: Duration) {
        self.unregister();
        self.when = Instant::now().checked_add(duration);
    }

    fn unregister(&mut self) {
        if let Some((id, _)) = self.registered.take() {
            Reactor::get().remove_timer(id);
        }
    }
}

impl Future for Timer {
    type Output = Instant;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Instant> {
        let this = self.get_mut();
        let Some(when) = this.when else {
            weft_sync::coop::waiting_on(&WAIT_TIMER);
            return Poll::Pending;
        };
        if Instant::now() >= when {
            this.unregister();
            return Poll::Ready(when);
        }
        match &this.registered {
            Some((_, waker)) if waker.will_wake(cx.waker()) => {}
            _ => {
                this.unregister();
                let id = Reactor::get().insert_timer(when, cx.waker());
                this.registered = Some((id, cx.waker().clone()));
            }
        }
        weft_sync::coop::waiting_on(&WAIT_TIMER);
        Poll::Pending
    }
}

/// What a task waiting on a timer shows in a task dump.
static WAIT_TIMER: weft_sync::coop::WaitSite = weft_sync::coop::WaitSite::new("timer");

impl Drop for Timer {
    fn drop(&mut self) {
        self.unregister();
    }
}

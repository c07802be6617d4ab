//! A timer on a simulation's virtual clock: what a [`Sleep`](crate::time::Sleep) made
//! inside a simulation waits on instead of the reactor's timer wheel.

use super::world::{TimerKey, World};
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A virtual timer: fires when the simulation's clock reaches its deadline, which
/// happens when every task is waiting and it is the earliest one.
pub(crate) struct SimTimer {
    world: Arc<World>,
    /// Virtual deadline; `None`: too far to represent, never fires.
    deadline: Option<Duration>,
    /// The registration in the world's pending set, while there is one.
    key: Option<TimerKey>,
}

impl fmt::Debug for SimTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimTimer")
            .field("deadline", &self.deadline)
            .field("registered", &self.key.is_some())
            .finish()
    }
}

impl SimTimer {
    /// Fires `duration` after the virtual now.
    pub(crate) fn after(world: Arc<World>, duration: Duration) -> SimTimer {
        // As on the real clock, a deadline no `Instant` can hold never comes.
        let deadline = world
            .elapsed()
            .checked_add(duration)
            .filter(|&at| world.instant_at(at).is_some());
        SimTimer {
            world,
            deadline,
            key: None,
        }
    }

    /// Fires at `when` (read on the virtual clock: instants before the simulation
    /// started are its start).
    pub(crate) fn at(world: Arc<World>, when: Instant) -> SimTimer {
        let deadline = Some(world.offset_of(when));
        SimTimer {
            world,
            deadline,
            key: None,
        }
    }

    /// The deadline as an `Instant` (`None`: never).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline.and_then(|at| self.world.instant_at(at))
    }

    /// The virtual now.
    pub(crate) fn now(&self) -> Instant {
        self.world.now()
    }

    /// Moves the deadline; a waiting task stays registered (and is woken at once if
    /// the new deadline has passed).
    pub(crate) fn set_at(&mut self, when: Instant) {
        self.deadline = Some(self.world.offset_of(when));
        self.world.move_timer(&mut self.key, self.deadline);
    }

    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.deadline else {
            return Poll::Pending;
        };
        if self.world.poll_timer(deadline, &mut self.key, cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for SimTimer {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.world.cancel_timer(key);
        }
    }
}

//! Time: [`sleep`], [`sleep_until`], [`timeout`] and [`interval`], on the reactor's
//! timer wheel (1 ms resolution; a timer never fires early).
//!
//! The timers live in weft-io's process-wide reactor, so they work in every runtime
//! flavour and in any executor that drives that reactor. Inside a
//! [`sim`](crate::sim) runtime they are made on its virtual clock instead, and
//! [`now`] reads that clock.

use crate::sim::SimTimer;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
pub use std::time::Instant;
use weft_io::Timer;

/// The current instant: the virtual clock inside a [`sim`](crate::sim) runtime,
/// `Instant::now()` everywhere else. Code that wants its timing simulated reads the
/// time here.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_rt::time;
///
/// let rt = weft_rt::sim::Runtime::new(0);
/// let waited = rt.block_on(async {
///     let start = time::now();
///     time::sleep(Duration::from_secs(90)).await;
///     time::now() - start
/// });
/// assert_eq!(waited, Duration::from_secs(90));
/// ```
pub fn now() -> Instant {
    match crate::sim::current() {
        Some(world) => world.now(),
        None => Instant::now(),
    }
}

/// Waits until `duration` has passed.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// let rt = weft_rt::Runtime::new().unwrap();
/// let start = Instant::now();
/// rt.block_on(weft_rt::time::sleep(Duration::from_millis(5)));
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
///
/// # Cancel safety
///
/// Cancel-safe: dropping the `Sleep` cancels its timer; nothing else is lost.
pub fn sleep(duration: Duration) -> Sleep {
    if let Some(world) = crate::sim::current() {
        return Sleep::on_sim(SimTimer::after(world, duration));
    }
    // One clock read for both the timer and the recorded deadline.
    let deadline = Instant::now().checked_add(duration);
    Sleep {
        timer: Clock::Real(deadline.map_or_else(Timer::never, Timer::at)),
        deadline,
    }
}

/// Waits until `deadline`.
///
/// # Cancel safety
///
/// Cancel-safe: dropping the `Sleep` cancels its timer; nothing else is lost.
pub fn sleep_until(deadline: Instant) -> Sleep {
    if let Some(world) = crate::sim::current() {
        return Sleep::on_sim(SimTimer::at(world, deadline));
    }
    Sleep {
        timer: Clock::Real(Timer::at(deadline)),
        deadline: Some(deadline),
    }
}

/// The future of [`sleep`] and [`sleep_until`]. Dropping it cancels the timer.
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    timer: Clock,
    /// `None`: too far in the future to represent (never fires).
    deadline: Option<Instant>,
}

/// The timer a [`Sleep`] waits on: the reactor's, or a simulation's virtual one
/// (chosen once, when the `Sleep` is made).
enum Clock {
    Real(Timer),
    Sim(SimTimer),
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Sleep {
    fn on_sim(timer: SimTimer) -> Sleep {
        Sleep {
            deadline: timer.deadline(),
            timer: Clock::Sim(timer),
        }
    }

    /// The now of this sleep's clock.
    fn now(&self) -> Instant {
        match &self.timer {
            Clock::Real(_) => Instant::now(),
            Clock::Sim(timer) => timer.now(),
        }
    }

    /// When it fires (`None` if too far away to represent: never).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// `true` once the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        self.deadline.is_some_and(|deadline| self.now() >= deadline)
    }

    /// Moves the deadline (the future may be polled again after it completed).
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = Some(deadline);
        match &mut self.timer {
            Clock::Real(timer) => timer.set_at(deadline),
            Clock::Sim(timer) => timer.set_at(deadline),
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.timer {
            Clock::Real(timer) => Pin::new(timer).poll(cx).map(|_| ()),
            Clock::Sim(timer) => timer.poll(cx),
        }
    }
}

/// The error of [`timeout`]: the deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(error: Elapsed) -> Self {
        std::io::Error::new(std::io::ErrorKind::TimedOut, error)
    }
}

/// Runs `future` for at most `duration`: its output, or [`Elapsed`]. The future is
/// polled first, so a ready future wins even with a zero duration.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = weft_rt::Runtime::new().unwrap();
/// let never = std::future::pending::<()>();
/// let result = rt.block_on(weft_rt::time::timeout(Duration::from_millis(5), never));
/// assert!(result.is_err());
/// ```
///
/// # Cancel safety
///
/// As cancel-safe as `future`: dropping the `Timeout` drops `future` and cancels the timer.
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// Runs `future` until `deadline` at the latest (see [`timeout`]).
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

/// The future of [`timeout`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Gives the wrapped future back.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned (never moved out while pinned);
        // `sleep` is `Unpin` and reached by a plain `&mut`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(output) = future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What an [`Interval`] does when ticks were missed (the task was late by more than a
/// period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks at once, one per poll, until caught up; the schedule stays
    /// on the original grid (`start + k * period`).
    #[default]
    Burst,
    /// Fire once now, then `period` after now: the grid shifts.
    Delay,
    /// Fire once now, then at the next point of the original grid.
    Skip,
}

/// Ticks every `period`; the first tick completes at once.
///
/// # Panics
///
/// If `period` is zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = weft_rt::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut interval = weft_rt::time::interval(Duration::from_millis(2));
///     let first = interval.tick().await;
///     let second = interval.tick().await;
///     assert!(second >= first + Duration::from_millis(2));
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
///
/// If `period` is zero.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        period > Duration::ZERO,
        "weft-rt: interval period must be non-zero"
    );
    Interval {
        period,
        next: start,
        sleep: sleep_until(start),
        missed: MissedTickBehavior::default(),
    }
}

/// A stream of ticks (see [`interval`]).
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    /// The deadline of the next tick.
    next: Instant,
    sleep: Sleep,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick; returns its scheduled instant.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a tick is consumed only when `tick` returns it; after a dropped `tick`
    /// the next one returns the same tick.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let tick = self.next;
        let now = self.sleep.now();
        self.next = self.next_after(tick, now);
        self.sleep.reset(self.next);
        Poll::Ready(tick)
    }

    fn next_after(&self, tick: Instant, now: Instant) -> Instant {
        let on_grid = tick + self.period;
        if now < on_grid {
            return on_grid; // not late
        }
        match self.missed {
            MissedTickBehavior::Burst => on_grid,
            MissedTickBehavior::Delay => now + self.period,
            MissedTickBehavior::Skip => {
                let late = now.duration_since(tick).as_nanos();
                let periods = late / self.period.as_nanos() + 1;
                tick + self.period * u32::try_from(periods).unwrap_or(u32::MAX)
            }
        }
    }

    /// The behaviour for missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets the behaviour for missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.next = self.sleep.now() + self.period;
        self.sleep.reset(self.next);
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.poll_tick(cx).map(Some)
    }
}

//! `tick(d)`: a channel that delivers the current `Instant` periodically. Ticks that
//! nobody receives are not queued: at most one is ready at a time, and the next is
//! due one period after the last one was received (as crossbeam-channel's `tick`).

use crate::err::{RecvTimeoutError, TryRecvError};
use crate::select::Token;
use std::time::{Duration, Instant};
use weft_sync::Mutex;

/// The tick claimed by `try_select`.
#[derive(Debug, Default)]
pub(crate) struct TickToken(Option<Instant>);

#[derive(Debug)]
pub(crate) struct Channel {
    delivery_time: Mutex<Instant>,
    duration: Duration,
}

impl Channel {
    pub(crate) fn new(duration: Duration) -> Self {
        Channel {
            delivery_time: Mutex::new(
                Instant::now()
                    .checked_add(duration)
                    .unwrap_or_else(far_future),
            ),
            duration,
        }
    }

    pub(crate) fn try_recv(&self) -> Result<Instant, TryRecvError> {
        let mut due = self.delivery_time.lock();
        let now = Instant::now();
        if now < *due {
            return Err(TryRecvError::Empty);
        }
        let msg = *due;
        *due = now.checked_add(self.duration).unwrap_or_else(far_future);
        Ok(msg)
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<Instant, RecvTimeoutError> {
        loop {
            let due = *self.delivery_time.lock();
            let now = Instant::now();
            if now >= due {
                if let Ok(msg) = self.try_recv() {
                    return Ok(msg);
                }
                // Another receiver took this tick; wait for the next.
                continue;
            }
            if let Some(d) = deadline
                && now >= d
            {
                return Err(RecvTimeoutError::Timeout);
            }
            let until = deadline.map_or(due, |d| d.min(due));
            std::thread::sleep(until - now);
        }
    }

    /// # Safety
    ///
    /// `token` was filled by `try_select` on this channel.
    pub(crate) unsafe fn read(&self, token: &mut Token) -> Result<Instant, ()> {
        token.tick.0.ok_or(())
    }

    pub(crate) fn try_select(&self, token: &mut Token) -> bool {
        match self.try_recv() {
            Ok(msg) => {
                token.tick.0 = Some(msg);
                true
            }
            Err(_) => false,
        }
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        Some(*self.delivery_time.lock())
    }

    pub(crate) fn is_ready(&self) -> bool {
        Instant::now() >= *self.delivery_time.lock()
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.is_ready())
    }
}

/// An instant about 30 years away, standing for "never" where `Instant` arithmetic
/// would overflow.
pub(crate) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

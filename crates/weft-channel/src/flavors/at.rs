//! `after(d)` / `at(t)`: a channel that delivers one message, the `Instant` it was due,
//! once that instant has passed.

use crate::err::{RecvTimeoutError, TryRecvError};
use crate::primitive::atomic::{AtomicBool, Ordering};
use crate::select::Token;
use std::time::Instant;

/// The delivery time claimed by `try_select` (None: nothing claimed).
#[derive(Debug, Default)]
pub(crate) struct AtToken(Option<Instant>);

#[derive(Debug)]
pub(crate) struct Channel {
    delivery_time: Instant,
    /// Whether the one message has been received.
    received: AtomicBool,
}

fn sleep_until(deadline: Option<Instant>) {
    loop {
        let now = Instant::now();
        match deadline {
            None => std::thread::sleep(std::time::Duration::from_secs(1000)),
            Some(d) if now >= d => return,
            Some(d) => std::thread::sleep(d - now),
        }
    }
}

impl Channel {
    pub(crate) fn new_deadline(when: Instant) -> Self {
        Channel {
            delivery_time: when,
            received: AtomicBool::new(false),
        }
    }

    pub(crate) fn try_recv(&self) -> Result<Instant, TryRecvError> {
        // Relaxed: the flag guards no data; the swap decides the one winner.
        if !self.received.load(Ordering::Relaxed)
            && Instant::now() >= self.delivery_time
            && !self.received.swap(true, Ordering::Relaxed)
        {
            Ok(self.delivery_time)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<Instant, RecvTimeoutError> {
        if self.received.load(Ordering::Relaxed) {
            // Delivered already: nothing more will ever come (and it never
            // disconnects), so wait out the deadline.
            sleep_until(deadline);
            return Err(RecvTimeoutError::Timeout);
        }
        loop {
            let now = Instant::now();
            if now >= self.delivery_time {
                break;
            }
            if let Some(d) = deadline
                && now >= d
            {
                return Err(RecvTimeoutError::Timeout);
            }
            let until = deadline.map_or(self.delivery_time, |d| d.min(self.delivery_time));
            std::thread::sleep(until - now);
        }
        if self.received.swap(true, Ordering::Relaxed) {
            sleep_until(deadline);
            Err(RecvTimeoutError::Timeout)
        } else {
            Ok(self.delivery_time)
        }
    }

    /// # Safety
    ///
    /// `token` was filled by `try_select` on this channel.
    pub(crate) unsafe fn read(&self, token: &mut Token) -> Result<Instant, ()> {
        token.at.0.ok_or(())
    }

    pub(crate) fn try_select(&self, token: &mut Token) -> bool {
        match self.try_recv() {
            Ok(msg) => {
                token.at.0 = Some(msg);
                true
            }
            Err(_) => false,
        }
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        (!self.received.load(Ordering::Relaxed)).then_some(self.delivery_time)
    }

    pub(crate) fn is_ready(&self) -> bool {
        !self.received.load(Ordering::Relaxed) && Instant::now() >= self.delivery_time
    }

    pub(crate) fn is_empty(&self) -> bool {
        !self.is_ready()
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.is_ready())
    }

    /// When the message is (or was) due.
    pub(crate) fn delivery_time(&self) -> Option<Instant> {
        self.deadline()
    }
}

//! `never()`: a channel that never delivers and never disconnects; a `select!` arm
//! over it is never taken (useful to switch an arm off).

use crate::err::{RecvTimeoutError, TryRecvError};
use crate::select::Token;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Channel<T> {
    _marker: PhantomData<T>,
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Self {
        Channel {
            _marker: PhantomData,
        }
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        Err(TryRecvError::Empty)
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            let now = Instant::now();
            match deadline {
                None => std::thread::sleep(Duration::from_secs(1000)),
                Some(d) if now >= d => return Err(RecvTimeoutError::Timeout),
                Some(d) => std::thread::sleep(d - now),
            }
        }
    }

    /// # Safety
    ///
    /// Never called: `try_select` never succeeds.
    pub(crate) unsafe fn read(&self, _token: &mut Token) -> Result<T, ()> {
        Err(())
    }
}

//! The channels' side of weft-sync's deadlock detector (the `deadlock-detection`
//! feature): each [`Sender`](crate::Sender) and [`Receiver`](crate::Receiver) keeps an
//! [`End`], and each wait a [`Wait`]. With the feature off (or under loom, where the
//! detector is off) both are zero-sized and every method is an empty
//! `#[inline(always)]` function, so the channels compile to what they were.
//!
//! The contract with the detector (`weft_sync::deadlock::ChannelEnd`): every
//! operation of a handle calls [`End::used`]; `clone` calls [`End::another`]; `drop`
//! calls [`End::release`] *before* releasing the channel (the probe reads the channel
//! while any end is registered); a blocking operation that is about to block holds a
//! [`Wait::blocking`] guard; an async operation that returns `Pending` calls
//! [`Wait::pending`] and, when it completes, [`Wait::done`] (drop does too).

#[cfg(all(feature = "deadlock-detection", not(loom)))]
mod on {
    use weft_sync::deadlock::{ChannelEnd, ChannelProbe, ChannelSide};
    pub(crate) use weft_sync::deadlock::{ChannelEnd as End, ChannelWait as Wait};

    /// A channel flavour the detector can ask whether an operation could complete.
    pub(crate) trait Ready {
        /// A receive would complete now (a message, a waiting sender, disconnected).
        fn ready_recv(&self) -> bool;
        /// A send would complete now (room, a waiting receiver, disconnected).
        fn ready_send(&self) -> bool;
    }

    /// # Safety
    ///
    /// `data` points to a live `C`.
    unsafe fn ready<C: Ready>(data: *const (), waiting_for: ChannelSide) -> bool {
        // SAFETY: the caller's contract (the detector calls it only while an end of
        // the channel is registered, and ends are released before the channel).
        let chan = unsafe { &*data.cast::<C>() };
        match waiting_for {
            ChannelSide::Senders => chan.ready_recv(),
            _ => chan.ready_send(),
        }
    }

    /// The sender's and the receiver's end of a new channel created at the caller.
    #[track_caller]
    pub(crate) fn pair<C: Ready>(chan: &C) -> (End, End) {
        let data = (chan as *const C).cast::<()>();
        // SAFETY: the readiness checks read only the channel's indices, flags and
        // waiter lists (atomics and its short internal lock), never a message, so
        // they are safe on any thread, concurrently with every operation, as the
        // handles' own `Sync` relies on; the channel lives inside its counter's
        // allocation until the last handle releases it, and every handle releases
        // its end first (`Sender::drop`, `Receiver::drop`), so `data` is live while
        // any end is registered.
        unsafe { ChannelEnd::new_pair(ChannelProbe::new(data, ready::<C>)) }
    }

    impl<T> Ready for crate::flavors::array::Channel<T> {
        fn ready_recv(&self) -> bool {
            self.is_ready_recv()
        }
        fn ready_send(&self) -> bool {
            self.is_ready_send()
        }
    }

    impl<T> Ready for crate::flavors::list::Channel<T> {
        fn ready_recv(&self) -> bool {
            self.is_ready_recv()
        }
        fn ready_send(&self) -> bool {
            true // unbounded: a send never waits
        }
    }

    impl<T> Ready for crate::flavors::zero::Channel<T> {
        fn ready_recv(&self) -> bool {
            self.is_ready_recv()
        }
        fn ready_send(&self) -> bool {
            self.is_ready_send()
        }
    }

    /// The end of a receiver that is no channel's (timers, `never`).
    #[track_caller]
    pub(crate) fn untracked() -> End {
        ChannelEnd::untracked(ChannelSide::Receivers)
    }
}
#[cfg(all(feature = "deadlock-detection", not(loom)))]
pub(crate) use on::*;

#[cfg(not(all(feature = "deadlock-detection", not(loom))))]
mod off {
    /// A handle's place in the detector: nothing.
    #[derive(Debug)]
    pub(crate) struct End;

    impl End {
        #[inline(always)]
        pub(crate) fn another(&self) -> End {
            End
        }
        #[inline(always)]
        pub(crate) fn used(&self) {}
        #[inline(always)]
        pub(crate) fn release(&mut self) {}
    }

    /// A wait on a channel: not recorded.
    #[derive(Debug, Default)]
    pub(crate) struct Wait;

    impl Wait {
        #[inline(always)]
        pub(crate) const fn new() -> Self {
            Wait
        }
        #[inline(always)]
        pub(crate) fn pending(&mut self, _end: &End) {}
        #[inline(always)]
        pub(crate) fn done(&mut self) {}
    }

    #[inline(always)]
    pub(crate) fn pair<C>(_chan: &C) -> (End, End) {
        (End, End)
    }

    #[inline(always)]
    pub(crate) fn untracked() -> End {
        End
    }
}
#[cfg(not(all(feature = "deadlock-detection", not(loom))))]
pub(crate) use off::*;

#[cfg(all(test, not(all(feature = "deadlock-detection", not(loom)))))]
mod tests {
    /// Without the feature the handles and futures carry nothing: the channels are
    /// what they were.
    #[test]
    fn off_means_zero_sized() {
        assert_eq!(size_of::<super::End>(), 0);
        assert_eq!(size_of::<super::Wait>(), 0);
    }
}

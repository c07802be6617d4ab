//! The detector behind the `deadlock-detection` feature (being written: lock-order
//! graph and wait-for graph). Until then the hooks record nothing.

use super::{Access, LockClass};

#[inline]
pub(crate) fn on_wait(_lock: usize, _class: &LockClass) {}
#[inline]
pub(crate) fn on_wait_abort(_lock: usize) {}
#[inline]
#[track_caller]
pub(crate) fn on_acquire(_lock: usize, _class: &LockClass, _access: Access) {}
#[inline]
pub(crate) fn on_release(_lock: usize) {}

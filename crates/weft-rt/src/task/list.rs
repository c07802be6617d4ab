//! Every live task, for dumps: a process-wide set of intrusive doubly linked lists,
//! sharded by task id, one lock per shard (so spawns on different workers rarely meet
//! on a lock).
//!
//! A task links itself in when it is allocated and unlinks as the first step of its
//! deallocation, under its shard's lock; a dump walks the shards under their locks, so
//! every header it reads is alive. Linking costs one uncontended lock and two pointer
//! writes per spawn, unlinking the same per task freed.
//!
//! Under loom the list is off (a `static` lock cannot live across loom's executions).

use super::raw::Header;
use std::ptr::{self, NonNull};
#[cfg(not(loom))]
use weft_sync::{CachePadded, Mutex};

#[cfg(not(loom))]
const SHARDS: usize = 16;

/// The links of one task, reached only under its shard's lock.
#[cfg_attr(loom, allow(dead_code))]
pub(super) struct Links {
    prev: *mut Header,
    next: *mut Header,
}

impl Links {
    pub(super) const fn new() -> Links {
        Links {
            prev: ptr::null_mut(),
            next: ptr::null_mut(),
        }
    }
}

#[cfg_attr(loom, allow(dead_code))]
struct Shard {
    head: *mut Header,
    len: usize,
}

// SAFETY: the raw pointers are reached only under the shard's lock, and every header
// they point to is alive while linked (see the module docs).
unsafe impl Send for Shard {}

#[cfg(not(loom))]
static LIST: [CachePadded<Mutex<Shard>>; SHARDS] = [const {
    CachePadded::new(Mutex::new(Shard {
        head: ptr::null_mut(),
        len: 0,
    }))
}; SHARDS];

#[cfg(not(loom))]
fn shard_of(header: &Header) -> &'static Mutex<Shard> {
    &LIST[(header.id.as_u64() as usize) % SHARDS]
}

/// Links a new task in.
///
/// # Safety
///
/// `task` is alive and not linked; it is unlinked (`remove`) before it is freed.
#[cfg(not(loom))]
pub(super) unsafe fn insert(task: NonNull<Header>) {
    // SAFETY: alive (caller).
    let header = unsafe { task.as_ref() };
    let mut shard = shard_of(header).lock();
    let old_head = shard.head;
    // SAFETY: we hold the shard lock, which guards every `links` in it; `old_head`,
    // if not null, is linked and therefore alive.
    unsafe {
        header.links.with_mut(|links| {
            (*links).prev = ptr::null_mut();
            (*links).next = old_head;
        });
        if let Some(old) = old_head.as_ref() {
            old.links.with_mut(|links| (*links).prev = task.as_ptr());
        }
    }
    shard.head = task.as_ptr();
    shard.len += 1;
}

/// Unlinks a task about to be freed.
///
/// # Safety
///
/// `task` was linked by `insert` and not removed since.
#[cfg(not(loom))]
pub(super) unsafe fn remove(task: NonNull<Header>) {
    // SAFETY: alive until the caller frees it, after this.
    let header = unsafe { task.as_ref() };
    let mut shard = shard_of(header).lock();
    // SAFETY: under the shard lock; neighbours are linked, hence alive.
    unsafe {
        let (prev, next) = header.links.with(|links| ((*links).prev, (*links).next));
        match prev.as_ref() {
            Some(prev) => prev.links.with_mut(|links| (*links).next = next),
            None => shard.head = next,
        }
        if let Some(next) = next.as_ref() {
            next.links.with_mut(|links| (*links).prev = prev);
        }
    }
    shard.len -= 1;
}

/// Calls `f` with every live task's header, shard by shard (each under its lock: keep
/// `f` short, it delays spawns and frees in that shard).
#[cfg(not(loom))]
pub(crate) fn for_each(mut f: impl FnMut(&Header)) {
    for shard in &LIST {
        let shard = shard.lock();
        let mut cursor = shard.head;
        // SAFETY: under the lock every linked header is alive.
        while let Some(header) = unsafe { cursor.as_ref() } {
            f(header);
            // SAFETY: as above.
            cursor = header.links.with(|links| unsafe { (*links).next });
        }
    }
}

/// The number of live tasks.
#[cfg(not(loom))]
pub(crate) fn len() -> usize {
    LIST.iter().map(|shard| shard.lock().len).sum()
}

#[cfg(loom)]
pub(super) unsafe fn insert(_task: NonNull<Header>) {}

#[cfg(loom)]
pub(super) unsafe fn remove(_task: NonNull<Header>) {}

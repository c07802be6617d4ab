//! The thread-per-core flavour: one pinned thread per core, each running its own
//! single-threaded loop ([`local`](super::local)).
//!
//! Tasks never move between cores, so they may be `!Send` (spawned on the core with
//! [`spawn_local`](crate::spawn_local) or [`Runtime::spawn_on`](crate::Runtime::spawn_on)),
//! and a core's tasks share its caches and need no cross-core synchronisation. The
//! price is balance: a core with more work than another does not give any away.
//! [`spawn`](crate::spawn) from a core keeps the task on that core; from outside, it
//! picks cores round-robin.

use super::local::{self, LocalQueue};
use super::{Handle, Kind, Owned, Runtime, Shared};
use crate::blocking::BlockingPool;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub(crate) struct Cores {
    queues: Box<[Arc<LocalQueue>]>,
    next: AtomicUsize,
}

impl Cores {
    /// The queue for a new task: the current core's, else the next one round-robin.
    pub(crate) fn pick(&self) -> Arc<LocalQueue> {
        if let Some(current) = local::current_local()
            && self.queues.iter().any(|queue| Arc::ptr_eq(queue, &current))
        {
            return current;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len();
        Arc::clone(&self.queues[index])
    }

    pub(crate) fn len(&self) -> usize {
        self.queues.len()
    }

    /// Core `index` (modulo the count).
    pub(crate) fn get(&self, index: usize) -> Arc<LocalQueue> {
        Arc::clone(&self.queues[index % self.queues.len()])
    }

    pub(crate) fn close(&self) {
        for queue in &self.queues {
            queue.close();
        }
    }
}

pub(super) fn build(
    threads: usize,
    thread_name: Arc<super::ThreadNameFn>,
    blocking: BlockingPool,
) -> io::Result<Runtime> {
    let queues: Box<[Arc<LocalQueue>]> = (0..threads).map(|_| LocalQueue::new()).collect();
    let shared = Arc::new(Shared {
        id: super::next_runtime_id(),
        kind: Kind::ThreadPerCore(Cores {
            queues: queues.clone(),
            next: AtomicUsize::new(0),
        }),
        blocking,
        shutdown: AtomicBool::new(false),
        graveyard: weft_sync::Mutex::new(Vec::new()),
    });
    let handle = Handle { shared };
    let cpus = allowed_cpus();
    let mut joins = Vec::with_capacity(threads);
    for (index, queue) in queues.iter().enumerate() {
        let queue = Arc::clone(queue);
        let handle = handle.clone();
        let cpu = (!cpus.is_empty()).then(|| cpus[index % cpus.len()]);
        let spawned = std::thread::Builder::new()
            .name(thread_name(index))
            .spawn(move || {
                if let Some(cpu) = cpu {
                    pin_to(cpu);
                }
                let _enter = handle.enter();
                local::run_until_closed(&queue);
            });
        match spawned {
            Ok(join) => joins.push(join),
            Err(error) => {
                for queue in queues.iter() {
                    queue.close();
                }
                for join in joins {
                    let _ = join.join();
                }
                return Err(error);
            }
        }
    }
    Ok(Runtime {
        handle,
        owned: Owned::Cores(joins),
    })
}

/// The CPUs this process may run on, in order.
fn allowed_cpus() -> Vec<usize> {
    match rustix::thread::sched_getaffinity(None) {
        Ok(set) => (0..rustix::thread::CpuSet::MAX_CPU)
            .filter(|&cpu| set.is_set(cpu))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Pins the current thread to `cpu`; on failure (a restricted container) the thread
/// runs unpinned, which changes performance, not behaviour.
fn pin_to(cpu: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

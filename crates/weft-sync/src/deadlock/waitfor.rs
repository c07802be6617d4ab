//! The wait-for graph: threads as nodes, an edge from each blocked thread to each
//! holder of the lock it waits for; a deadlock is a knot of threads that can reach
//! each other along these edges (a strongly connected component with a cycle).
//!
//! Built from per-thread snapshots that are not taken at one instant, so a cycle in
//! them may never have existed at once. `detector::check` therefore re-reads the
//! generation of each thread in a candidate after all snapshots are taken and keeps
//! the candidate only if none changed. That suffices: thread `i`'s state was constant
//! on `[read_i, recheck_i]`, and every read precedes every recheck, so at the instant
//! `max(read_i)` all of them held at once: each thread was waiting for a lock held by
//! the next. (A thread's recorded holds are a subset of what it really holds, since
//! `on_acquire` runs after acquiring and `on_release` before releasing; its recorded
//! wait starts before it blocks. So a recorded cycle is a real one.)
//!
//! The same argument covers channels (`channel.rs`). A channel side is a holder-less
//! resource: its "holders" are the parties its handles are attributed to, added to
//! their records by `check` from the channel's record, read after every party's
//! snapshot, with the channel's readiness (could the waiting operation complete?).
//! Each channel record has a stamp of its own, re-checked with the parties; whether
//! the channel is ready is not stamped, but at the instant it was read every party it
//! rests on was in its recorded state already, and no stuck holder can make it
//! ready afterwards (sending needs a handle, and every handle is a stuck party's);
//! dropping a handle changes the stamp. A knot's stuckness rests on more than its
//! members: an `any_holder` waiter (semaphore, channel) is stuck only because *every*
//! holder is, and a holder may be stuck in another knot, so the re-check covers every
//! party reachable from the knot ([`Knot::depends_on`]).
//!
//! Components are found with Tarjan's algorithm (R. Tarjan, "Depth-first search and
//! linear graph algorithms", SIAM J. Computing 1972), iteratively so a large number
//! of threads cannot overflow the stack.

use super::Access;
use core::panic::Location;
use std::collections::{HashMap, HashSet};

/// One lock a thread holds, as recorded by `on_acquire`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Held {
    pub(super) address: usize,
    pub(super) class: &'static Location<'static>,
    pub(super) acquired_at: &'static Location<'static>,
    pub(super) access: Access,
}

/// The lock a thread is blocked on, as recorded by `on_wait` (or a task awaits).
#[derive(Clone, Copy, Debug)]
pub(super) struct Waiting {
    pub(super) address: usize,
    pub(super) class: &'static Location<'static>,
    /// One holder's release is enough for the waiter (a semaphore permit), so it is
    /// stuck only if *every* holder is; a lock waiter is stuck if any holder is.
    pub(super) any_holder: bool,
}

/// What [`find_knots`] needs to know about one thread.
#[derive(Clone, Debug, Default)]
pub(super) struct ThreadLocks {
    pub(super) held: Vec<Held>,
    pub(super) waiting: Option<Waiting>,
}

/// The threads (indices into `threads`) holding the lock at each address.
pub(super) fn holders(threads: &[&ThreadLocks]) -> HashMap<usize, Vec<usize>> {
    let mut holders: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, t) in threads.iter().enumerate() {
        for h in &t.held {
            let list = holders.entry(h.address).or_default();
            // A reentrant lock held twice by one thread is one holder.
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
    }
    holders
}

/// The threads thread `i` waits for.
///
/// A blocked thread waits for every holder of its lock: it only blocks when it
/// could not get in, and a shared holder it is compatible with can still be in its
/// way through a writer queued between them. A thread that holds the lock it waits
/// for waits for itself (a non-reentrant re-lock: deadlocked alone), except when it
/// holds it upgradable, where waiting is the upgrade to exclusive and only the other
/// holders are in the way.
fn successors<'h>(
    i: usize,
    threads: &'h [&ThreadLocks],
    holders: &'h HashMap<usize, Vec<usize>>,
) -> impl Iterator<Item = usize> + 'h {
    let waiting = threads[i].waiting;
    let list = waiting
        .and_then(|w| holders.get(&w.address))
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    list.iter().copied().filter(move |&j| {
        j != i
            || threads[i].held.iter().any(|h| {
                waiting.is_some_and(|w| w.address == h.address) && h.access != Access::Upgradable
            })
    })
}

/// Every knot of deadlocked threads: strongly connected components of the wait-for
/// graph that contain a cycle. Each is returned as indices into `threads`, those of
/// one cycle first, in wait-for order (each waits for the next, the last for the
/// first), then the rest of the component.
#[cfg(test)]
pub(super) fn find_knots(threads: &[&ThreadLocks]) -> Vec<Vec<usize>> {
    find_knots_open(threads, &HashSet::new())
        .into_iter()
        .map(|k| k.members)
        .collect()
}

/// One knot, and what its being stuck rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Knot {
    /// The parties of the knot, one cycle first in wait-for order (see [`find_knots`]).
    pub(super) members: Vec<usize>,
    /// Every party reachable from the knot along stuck edges, members included,
    /// sorted: an `any_holder` waiter is stuck only because *every* holder is, and
    /// those holders may be stuck in another knot, so the re-check must cover them
    /// all, not just the members.
    pub(super) depends_on: Vec<usize>,
}

/// [`find_knots`], where the semaphores at the addresses in `open` have holders the
/// graph does not see (so their `any_holder` waiters are never stuck).
///
/// Before the components are searched, the graph is cut down to the parties that are
/// stuck (the greatest fixpoint of: a lock waiter is stuck if some holder it waits for
/// is; an `any_holder` waiter, if it waits for at least one holder, all of them are
/// stuck, and none is unseen). Without `any_holder` waiters this keeps every party
/// that can reach a cycle, so the knots are those of the whole graph.
pub(super) fn find_knots_open(threads: &[&ThreadLocks], open: &HashSet<usize>) -> Vec<Knot> {
    if threads.iter().all(|t| t.waiting.is_none()) {
        return Vec::new();
    }
    let holders = holders(threads);
    let n = threads.len();
    let mut succ: Vec<Vec<usize>> = (0..n)
        .map(|i| successors(i, threads, &holders).collect())
        .collect();
    let mut stuck: Vec<bool> = threads.iter().map(|t| t.waiting.is_some()).collect();
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..n {
            let Some(waiting) = threads[i].waiting.filter(|_| stuck[i]) else {
                continue;
            };
            let holds = if waiting.any_holder {
                !open.contains(&waiting.address)
                    && !succ[i].is_empty()
                    && succ[i].iter().all(|&j| stuck[j])
            } else {
                succ[i].iter().any(|&j| stuck[j])
            };
            if !holds {
                stuck[i] = false;
                changed = true;
            }
        }
    }
    for (i, next) in succ.iter_mut().enumerate() {
        if stuck[i] {
            next.retain(|&j| stuck[j]);
        } else {
            next.clear();
        }
    }

    let mut knots = Vec::new();
    for component in strongly_connected_components(&succ) {
        let is_knot = component.len() > 1 || succ[component[0]].contains(&component[0]);
        if is_knot {
            knots.push(Knot {
                members: cycle_first(&component, &succ),
                depends_on: reachable(&component, &succ),
            });
        }
    }
    knots
}

/// Every node reachable from `from` along `succ`, `from` included, sorted.
fn reachable(from: &[usize], succ: &[Vec<usize>]) -> Vec<usize> {
    let mut seen = vec![false; succ.len()];
    let mut stack: Vec<usize> = from.to_vec();
    for &i in from {
        seen[i] = true;
    }
    let mut out = Vec::new();
    while let Some(i) = stack.pop() {
        out.push(i);
        for &j in &succ[i] {
            if !seen[j] {
                seen[j] = true;
                stack.push(j);
            }
        }
    }
    out.sort_unstable();
    out
}

/// Tarjan's algorithm, iterative.
fn strongly_connected_components(succ: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNVISITED: usize = usize::MAX;
    let n = succ.len();
    let mut index = vec![UNVISITED; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next_index = 0;
    let mut components = Vec::new();
    // (node, position of the next successor to look at)
    let mut frames: Vec<(usize, usize)> = Vec::new();

    for root in 0..n {
        if index[root] != UNVISITED || succ[root].is_empty() {
            continue;
        }
        frames.push((root, 0));
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (node, ref mut pos)) = frames.last_mut() {
            if let Some(&next) = succ[node].get(*pos) {
                *pos += 1;
                if index[next] == UNVISITED {
                    index[next] = next_index;
                    low[next] = next_index;
                    next_index += 1;
                    stack.push(next);
                    on_stack[next] = true;
                    frames.push((next, 0));
                } else if on_stack[next] {
                    low[node] = low[node].min(index[next]);
                }
                continue;
            }
            frames.pop();
            if let Some(&(parent, _)) = frames.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == index[node] {
                let mut component = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component.push(member);
                    if member == node {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

/// Reorders a knot so that one cycle comes first, in wait-for order. Every member of
/// a knot has a successor inside it, so walking from any member must revisit one.
fn cycle_first(component: &[usize], succ: &[Vec<usize>]) -> Vec<usize> {
    let inside = |j: &usize| component.contains(j);
    let mut path: Vec<usize> = vec![*component.iter().min().unwrap_or(&component[0])];
    let start = loop {
        let last = path[path.len() - 1];
        let Some(&next) = succ[last].iter().find(|j| inside(j)) else {
            // Unreachable for a knot; keep the component as it is.
            return component.to_vec();
        };
        if let Some(pos) = path.iter().position(|&p| p == next) {
            break pos;
        }
        path.push(next);
    };
    let mut ordered = path.split_off(start);
    let mut rest: Vec<usize> = component
        .iter()
        .copied()
        .filter(|j| !ordered.contains(j))
        .collect();
    rest.sort_unstable();
    ordered.append(&mut rest);
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class() -> &'static Location<'static> {
        Location::caller()
    }

    fn holding(locks: &[(usize, Access)], waiting: Option<usize>) -> ThreadLocks {
        ThreadLocks {
            held: locks
                .iter()
                .map(|&(address, access)| Held {
                    address,
                    class: class(),
                    acquired_at: class(),
                    access,
                })
                .collect(),
            waiting: waiting.map(|address| Waiting {
                address,
                class: class(),
                any_holder: false,
            }),
        }
    }

    fn knots(threads: &[ThreadLocks]) -> Vec<Vec<usize>> {
        let refs: Vec<&ThreadLocks> = threads.iter().collect();
        find_knots(&refs)
    }

    const X: Access = Access::Exclusive;

    #[test]
    fn no_waiters_no_deadlock() {
        assert!(knots(&[holding(&[(1, X)], None), holding(&[(2, X)], None)]).is_empty());
    }

    #[test]
    fn contention_is_not_a_deadlock() {
        // 1 and 2 wait for lock 10 held by 0, which runs.
        let threads = [
            holding(&[(10, X)], None),
            holding(&[], Some(10)),
            holding(&[(11, X)], Some(10)),
        ];
        assert!(knots(&threads).is_empty());
    }

    #[test]
    fn chain_waiting_on_a_running_thread_is_not_a_deadlock() {
        let threads = [
            holding(&[(10, X)], Some(11)),
            holding(&[(11, X)], Some(12)),
            holding(&[(12, X)], None),
        ];
        assert!(knots(&threads).is_empty());
    }

    #[test]
    fn three_thread_cycle_is_found_in_wait_for_order() {
        // 0 holds 10 waits 11; 1 holds 11 waits 12; 2 holds 12 waits 10; 3 waits on 0.
        let threads = [
            holding(&[(10, X)], Some(11)),
            holding(&[(11, X)], Some(12)),
            holding(&[(12, X)], Some(10)),
            holding(&[], Some(10)),
        ];
        assert_eq!(knots(&threads), vec![vec![0, 1, 2]]);
    }

    #[test]
    fn two_separate_deadlocks_are_two_knots() {
        let threads = [
            holding(&[(10, X)], Some(11)),
            holding(&[(11, X)], Some(10)),
            holding(&[(20, X)], Some(21)),
            holding(&[(21, X)], Some(20)),
        ];
        let mut found = knots(&threads);
        found.sort();
        assert_eq!(found, vec![vec![0, 1], vec![2, 3]]);
    }

    #[test]
    fn relocking_a_held_lock_deadlocks_alone() {
        assert_eq!(knots(&[holding(&[(10, X)], Some(10))]), vec![vec![0]]);
    }

    #[test]
    fn upgrading_waits_only_for_the_other_readers() {
        let alone = [holding(&[(10, Access::Upgradable)], Some(10))];
        assert!(knots(&alone).is_empty());
        // A reader that waits for something the upgrader holds closes a cycle.
        let threads = [
            holding(&[(10, Access::Upgradable), (11, X)], Some(10)),
            holding(&[(10, Access::Shared)], Some(11)),
        ];
        assert_eq!(knots(&threads), vec![vec![0, 1]]);
    }

    #[test]
    fn one_blocked_shared_holder_is_enough() {
        // 0 wants to write 10, read-held by 1 (running) and 2; 2 waits for 11 held by 0.
        let threads = [
            holding(&[(11, X)], Some(10)),
            holding(&[(10, Access::Shared)], None),
            holding(&[(10, Access::Shared)], Some(11)),
        ];
        assert_eq!(knots(&threads), vec![vec![0, 2]]);
    }

    fn awaiting_permit(locks: &[(usize, Access)], semaphore: usize) -> ThreadLocks {
        let mut t = holding(locks, Some(semaphore));
        if let Some(w) = t.waiting.as_mut() {
            w.any_holder = true;
        }
        t
    }

    fn knots_open(threads: &[ThreadLocks], open: &[usize]) -> Vec<Vec<usize>> {
        let refs: Vec<&ThreadLocks> = threads.iter().collect();
        find_knots_open(&refs, &open.iter().copied().collect())
            .into_iter()
            .map(|k| k.members)
            .collect()
    }

    #[test]
    fn a_permit_waiter_is_stuck_only_if_every_holder_is() {
        const S: Access = Access::Shared;
        // 0 holds permit 20 and waits for lock 10; 1 holds 10 and awaits a permit of 20.
        let stuck = [
            holding(&[(20, S)], Some(10)),
            awaiting_permit(&[(10, X)], 20),
        ];
        assert_eq!(knots(&stuck), vec![vec![0, 1]]);
        // A second permit holder that runs: its release is enough for 1.
        let running_holder = [
            holding(&[(20, S)], Some(10)),
            awaiting_permit(&[(10, X)], 20),
            holding(&[(20, S)], None),
        ];
        assert!(knots(&running_holder).is_empty());
        // A permit held by someone the graph does not see: the same.
        assert!(knots_open(&stuck, &[20]).is_empty());
        // A permit waiter with no holder at all waits for a release that may come
        // from anywhere (`add_permits`): not stuck.
        assert!(knots(&[awaiting_permit(&[], 20)]).is_empty());
    }

    #[test]
    fn channel_waiters_are_any_holder_waiters() {
        // Channel sides as keys 100 (C's senders), 101 (C's receivers), 200, 201 (D's).
        const S: Access = Access::Shared;
        // 0 holds C's receiver and D's sender and awaits recv on C; 1 holds C's
        // sender and D's receiver and awaits recv on D: each waits for the other.
        let crossed = [
            awaiting_permit(&[(101, S), (200, S)], 100),
            awaiting_permit(&[(100, S), (201, S)], 200),
        ];
        assert_eq!(knots(&crossed), vec![vec![0, 1]]);
        // A second sender of C held by a party that runs: 0 is not stuck, so neither
        // is 1.
        let mut running = crossed.to_vec();
        running.push(holding(&[(100, S)], None));
        assert!(knots(&running).is_empty());
        // An unattributed sender of C makes its side open: the same.
        assert!(knots_open(&crossed, &[100]).is_empty());
        // Holding the only sender of the channel one awaits is a knot of one.
        assert_eq!(
            knots(&[awaiting_permit(&[(100, S), (101, S)], 100)]),
            vec![vec![0]]
        );
    }

    #[test]
    fn a_knot_depends_on_every_holder_it_waits_for() {
        const S: Access = Access::Shared;
        // 0 and 1 wait for each other through lock 10 / channel side 100; side 100
        // also has a sender held by 2, stuck in a knot of its own with 3 (locks 20,
        // 21). The 0-1 knot holds only while 2 stays stuck.
        let threads = [
            awaiting_permit(&[(10, X)], 100),
            holding(&[(100, S)], Some(10)),
            holding(&[(100, S), (20, X)], Some(21)),
            holding(&[(21, X)], Some(20)),
        ];
        let refs: Vec<&ThreadLocks> = threads.iter().collect();
        let mut found = find_knots_open(&refs, &HashSet::new());
        found.sort_by_key(|k| k.members[0]);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].members, [0, 1]);
        assert_eq!(found[0].depends_on, [0, 1, 2, 3]);
        assert_eq!(found[1].depends_on, [2, 3]);
    }

    #[test]
    fn reentrant_holds_count_once() {
        let threads = [holding(&[(10, X), (10, X)], None)];
        let refs: Vec<&ThreadLocks> = threads.iter().collect();
        assert_eq!(holders(&refs)[&10], vec![0]);
    }

    #[test]
    fn knot_members_beyond_the_cycle_come_after_it() {
        // 0 and 1 read-hold 10 and each waits for 11 / 12; 2 holds 11 and 12 and waits
        // to write 10: both 0 -> 2 -> 0 and 1 -> 2 -> 1 are cycles, one knot.
        let threads = [
            holding(&[(10, Access::Shared)], Some(11)),
            holding(&[(10, Access::Shared)], Some(12)),
            holding(&[(11, X), (12, X)], Some(10)),
        ];
        let found = knots(&threads);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0][..2], [0, 2]);
        assert_eq!(found[0][2], 1);
    }
}

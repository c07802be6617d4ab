//! The lock-order graph: one node per lock class (creation site), one edge per
//! "held A, then acquired B" seen in this run, and the cycle search run when an edge
//! is first added.
//!
//! The design is lockdep's (Linux, `Documentation/locking/lockdep-design.rst`): classes
//! instead of instances, so one run that takes A then B on one path and B then A on
//! another reveals the inversion even if the two paths never overlapped in time. A
//! cycle can only close when a new edge appears, so the search runs only then, and
//! a cycle is reported exactly once: it contains its closing edge, which is new only
//! once.

use super::report::{LockOrderInversion, OrderEdge};
use core::panic::Location;
use std::collections::{BTreeMap, VecDeque};

type ClassId = u32;

/// All classes and edges seen so far. Lives behind the detector's global
/// `std::sync::Mutex`; only a thread that meets an edge it has not seen before takes
/// that lock, so its size does not matter to the common path.
#[derive(Debug)]
pub(super) struct OrderGraph {
    /// Class interning by the creation site's value (file, line, column): two
    /// `&Location`s for one site need not be the same pointer.
    class_ids: BTreeMap<Location<'static>, ClassId>,
    /// `out[a]`: the classes `a` has an edge to, in insertion order.
    out: Vec<Vec<ClassId>>,
    /// The first occurrence of each edge, for reports.
    edges: BTreeMap<(ClassId, ClassId), OrderEdge>,
    /// Every inversion reported so far, oldest first.
    inversions: Vec<LockOrderInversion>,
}

/// What [`OrderGraph::add_edge`] did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum EdgeOutcome {
    /// The edge was already known (nothing new).
    Known,
    /// A new edge that closes no cycle.
    Added,
    /// A new edge that closes this cycle (also kept in the inversion log).
    Cycle(LockOrderInversion),
}

impl OrderGraph {
    pub(super) const fn new() -> Self {
        Self {
            class_ids: BTreeMap::new(),
            out: Vec::new(),
            edges: BTreeMap::new(),
            inversions: Vec::new(),
        }
    }

    fn intern(&mut self, site: &'static Location<'static>) -> ClassId {
        if let Some(&id) = self.class_ids.get(site) {
            return id;
        }
        let id = ClassId::try_from(self.out.len()).unwrap_or(ClassId::MAX);
        self.class_ids.insert(*site, id);
        self.out.push(Vec::new());
        id
    }

    /// Records `edge` (its `held` class before its `then_acquired` class) and, if it
    /// is new and closes a cycle, returns the shortest such cycle through it.
    ///
    /// Edges within one class (two locks created at the same site) are never
    /// recorded: see the module docs of `deadlock` for why.
    pub(super) fn add_edge(&mut self, edge: OrderEdge) -> EdgeOutcome {
        let from = self.intern(edge.held.lock_created_at);
        let to = self.intern(edge.then_acquired.lock_created_at);
        if from == to || self.edges.contains_key(&(from, to)) {
            return EdgeOutcome::Known;
        }
        self.edges.insert((from, to), edge);
        self.out[from as usize].push(to);
        match self.shortest_path(to, from) {
            None => EdgeOutcome::Added,
            Some(path) => {
                // path: to -> ... -> from; the cycle is from -> to -> ... -> from, and
                // the reader sees the closing edge last.
                let mut cycle: Vec<OrderEdge> = path
                    .windows(2)
                    .map(|w| self.edges[&(w[0], w[1])].clone())
                    .collect();
                cycle.push(self.edges[&(from, to)].clone());
                let inversion = LockOrderInversion { cycle };
                self.inversions.push(inversion.clone());
                EdgeOutcome::Cycle(inversion)
            }
        }
    }

    /// Breadth-first search, so the report names the fewest classes.
    fn shortest_path(&self, start: ClassId, goal: ClassId) -> Option<Vec<ClassId>> {
        let mut parent: BTreeMap<ClassId, ClassId> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        parent.insert(start, start);
        while let Some(node) = queue.pop_front() {
            if node == goal {
                let mut path = vec![goal];
                let mut at = goal;
                while at != start {
                    at = parent[&at];
                    path.push(at);
                }
                path.reverse();
                return Some(path);
            }
            for &next in &self.out[node as usize] {
                if let std::collections::btree_map::Entry::Vacant(slot) = parent.entry(next) {
                    slot.insert(node);
                    queue.push_back(next);
                }
            }
        }
        None
    }

    pub(super) fn inversions(&self) -> &[LockOrderInversion] {
        &self.inversions
    }

    #[cfg(test)]
    fn edge_count(&self) -> usize {
        self.edges.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadlock::report::{Acquisition, LockMode, ThreadInfo};

    fn site_a() -> &'static Location<'static> {
        Location::caller()
    }
    fn site_b() -> &'static Location<'static> {
        Location::caller()
    }
    fn site_c() -> &'static Location<'static> {
        Location::caller()
    }
    fn site_d() -> &'static Location<'static> {
        Location::caller()
    }

    fn edge(from: &'static Location<'static>, to: &'static Location<'static>) -> OrderEdge {
        let here = Location::caller();
        OrderEdge {
            thread: ThreadInfo {
                id: std::thread::current().id(),
                name: None,
            },
            task: None,
            held: Acquisition {
                lock_created_at: from,
                acquired_at: here,
                mode: LockMode::Exclusive,
            },
            then_acquired: Acquisition {
                lock_created_at: to,
                acquired_at: here,
                mode: LockMode::Exclusive,
            },
        }
    }

    #[test]
    fn consistent_order_has_no_cycle() {
        let mut g = OrderGraph::new();
        assert_eq!(g.add_edge(edge(site_a(), site_b())), EdgeOutcome::Added);
        assert_eq!(g.add_edge(edge(site_b(), site_c())), EdgeOutcome::Added);
        assert_eq!(g.add_edge(edge(site_a(), site_c())), EdgeOutcome::Added);
        assert!(g.inversions().is_empty());
    }

    #[test]
    fn duplicate_edges_are_recorded_once() {
        let mut g = OrderGraph::new();
        assert_eq!(g.add_edge(edge(site_a(), site_b())), EdgeOutcome::Added);
        assert_eq!(g.add_edge(edge(site_a(), site_b())), EdgeOutcome::Known);
        assert_eq!(g.edge_count(), 1);
    }

    #[test]
    fn same_class_nesting_adds_no_edge() {
        let mut g = OrderGraph::new();
        assert_eq!(g.add_edge(edge(site_a(), site_a())), EdgeOutcome::Known);
        assert_eq!(g.edge_count(), 0);
    }

    #[test]
    fn two_class_cycle_is_reported_once_with_both_edges() {
        let mut g = OrderGraph::new();
        g.add_edge(edge(site_a(), site_b()));
        let EdgeOutcome::Cycle(inv) = g.add_edge(edge(site_b(), site_a())) else {
            panic!("the reverse edge must close a cycle");
        };
        assert_eq!(inv.classes(), vec![site_a(), site_b()]);
        // The closing edge comes last.
        assert_eq!(inv.cycle[1].held.lock_created_at, site_b());
        assert_eq!(g.add_edge(edge(site_b(), site_a())), EdgeOutcome::Known);
        assert_eq!(g.add_edge(edge(site_a(), site_b())), EdgeOutcome::Known);
        assert_eq!(g.inversions().len(), 1);
    }

    #[test]
    fn three_class_cycle_is_found() {
        let mut g = OrderGraph::new();
        g.add_edge(edge(site_a(), site_b()));
        g.add_edge(edge(site_b(), site_c()));
        let EdgeOutcome::Cycle(inv) = g.add_edge(edge(site_c(), site_a())) else {
            panic!("C -> A must close A -> B -> C -> A");
        };
        assert_eq!(inv.classes(), vec![site_a(), site_b(), site_c()]);
        for (i, e) in inv.cycle.iter().enumerate() {
            let next = &inv.cycle[(i + 1) % inv.cycle.len()];
            assert_eq!(e.then_acquired.lock_created_at, next.held.lock_created_at);
        }
    }

    #[test]
    fn shortest_cycle_through_the_new_edge_is_reported() {
        let mut g = OrderGraph::new();
        // B -> C -> D -> A and B -> A: adding A -> B closes both A-B-A and A-B-C-D-A.
        g.add_edge(edge(site_b(), site_c()));
        g.add_edge(edge(site_c(), site_d()));
        g.add_edge(edge(site_d(), site_a()));
        g.add_edge(edge(site_b(), site_a()));
        let EdgeOutcome::Cycle(inv) = g.add_edge(edge(site_a(), site_b())) else {
            panic!("A -> B closes a cycle");
        };
        assert_eq!(inv.cycle.len(), 2);
    }

    #[test]
    fn equal_sites_behind_different_pointers_are_one_class() {
        let a = site_a();
        let copy: &'static Location<'static> = Box::leak(Box::new(*a));
        let mut g = OrderGraph::new();
        g.add_edge(edge(a, site_b()));
        assert!(matches!(
            g.add_edge(edge(site_b(), copy)),
            EdgeOutcome::Cycle(_)
        ));
    }
}

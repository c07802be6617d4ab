//! `lock-free`: one FIFO queue four ways, coarse-locked, fine-grained (two locks),
//! lock-free linked and lock-free bounded, as the number of threads grows from 1 to
//! twice the cores.
//!
//! Every thread loops: push a value, do a few nanoseconds of work, pop a value, do a
//! few nanoseconds of work: the benchmark of Michael and Scott's paper (PODC 1996),
//! where each process alternates an enqueue and a dequeue. One operation is one push
//! or one pop. Each sample starts from a queue holding `PREFILL` (64) values, and
//! every thread pops only after its own push, so no pop finds the queue empty and the
//! head stays `PREFILL` values behind the tail: a push and a pop touch different
//! nodes, which is what lets the two-lock queue run one of each at once. (Dedicated
//! producers and consumers, with consumers spinning on an empty queue, were tried
//! first: on two cores their samples varied up to fourfold within one run.)
//!
//! The contenders:
//!
//! - `Mutex<VecDeque>`: weft's `Mutex` around a `VecDeque`, one lock for everything.
//! - `two-lock queue`: Michael and Scott's two-lock queue (same paper, figure 2), a
//!   linked list with a dummy node, one weft `Mutex` for the head and one for the
//!   tail, written below (`TwoLockQueue`).
//! - `MsQueue`: weft-lockfree's Michael–Scott lock-free queue (a CAS on `tail.next`
//!   and on `head`, epoch reclamation).
//! - `ArrayQueue`: weft-lockfree's bounded queue (Vyukov's design): a CAS claims a
//!   position, but a thread that reaches a slot whose writer was preempted between its
//!   claim and its store waits for it, so it is not lock-free in the strict sense.
//!
//! Past the number of cores, threads get preempted mid-operation. A preempted lock
//! holder stops every thread that needs its lock; a preempted thread in the middle of
//! an `MsQueue` operation stops nobody: the others' CASes still succeed (and they
//! finish its half-done push for it). That is the progress guarantee the notes
//! describe, and the oversubscribed column is where it can show in throughput.

use crate::experiment::{Claim, Config, Experiment, Outcome, Quote, Report, Verdict};
use std::collections::VecDeque;
use std::hint::black_box;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, Ordering};
use weft::lockfree::{ArrayQueue, MsQueue};
use weft::sync::{CachePadded, Mutex};
use weft_bench::format::{format_rate, format_ratio};
use weft_bench::{Budget, Comparison, Results, Table, Tally, Throughput, busy_work, run_threads};

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct LockFree;

const CLAIM: Claim = Claim {
    gist: "lock-free queues scale past coarse and fine-grained locked ones",
    quotes: &[
        Quote {
            text: "Lock-based concurrent data structures range from coarse-grained locking (a \
                   single lock protecting the entire structure, simple but poor scalability) \
                   to fine-grained locking (per-node or per-bucket locks, better concurrency \
                   but more complex).",
            source: "Multitasking, 3.3 Data Structures and Performance",
        },
        Quote {
            text: "Lock-free data structures use atomic compare-and-swap (CAS) operations \
                   instead of locks, ensuring system-wide progress even if individual threads \
                   are delayed.",
            source: "Multitasking, 3.3 Data Structures and Performance",
        },
        Quote {
            text: "Lock-free algorithms: reducing contention",
            source: "Multitasking (outline), 3.3 Performance Considerations",
        },
    ],
};

/// Values in each queue before a sample starts.
const PREFILL: usize = 64;

/// [`busy_work`] steps after each push and after each pop.
const OUTSIDE_STEPS: u32 = 4;

/// How a queue synchronizes, which decides which claim its row speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One lock around the whole queue.
    CoarseLock,
    /// A head lock and a tail lock.
    FineLocks,
    /// CAS only; every operation is lock-free.
    LockFree,
    /// CAS on positions, but a thread may wait for another's half-done slot.
    CasWithSlotWait,
}

impl Kind {
    /// Whether the queue takes locks.
    pub fn locks(self) -> bool {
        matches!(self, Kind::CoarseLock | Kind::FineLocks)
    }

    fn label(self) -> &'static str {
        match self {
            Kind::CoarseLock => "1 lock",
            Kind::FineLocks => "2 locks",
            Kind::LockFree => "lock-free",
            Kind::CasWithSlotWait => "CAS, slot waits",
        }
    }
}

/// One queue's medians, one per thread count of [`Figures::threads`].
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The contender's name.
    pub name: String,
    /// How it synchronizes.
    pub kind: Kind,
    /// Median operations (pushes plus pops) per second at each thread count.
    pub rates: Vec<f64>,
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Cores available.
    pub cores: usize,
    /// The thread counts measured, ascending.
    pub threads: Vec<usize>,
    /// One row per queue.
    pub rows: Vec<Row>,
}

impl Figures {
    /// The index of the largest thread count that fits on the cores.
    fn at_cores(&self) -> usize {
        self.threads
            .iter()
            .rposition(|&t| t <= self.cores)
            .unwrap_or(0)
    }

    /// The index of the largest thread count beyond the cores, if any was measured.
    fn oversubscribed(&self) -> Option<usize> {
        let last = self.threads.len().checked_sub(1)?;
        (self.threads[last] > self.cores).then_some(last)
    }

    fn best(&self, kind: impl Fn(Kind) -> bool, at: usize) -> Option<&Row> {
        self.rows
            .iter()
            .filter(|r| kind(r.kind))
            .max_by(|a, b| a.rates[at].total_cmp(&b.rates[at]))
    }
}

/// The best CAS-based queue must beat the best locked one by this much.
const LOCK_FREE_WINS: f64 = 1.1;
/// The two-lock queue must beat the coarse-locked one by this much.
const FINE_WINS: f64 = 1.1;
/// When threads are preempted, the lock-free queue must keep this many times the
/// share of its at-cores throughput that the best-keeping locked queue keeps.
const PROGRESS_EDGE: f64 = 1.15;

/// Judges the claims from the figures.
pub fn verdict(f: &Figures) -> Verdict {
    let c = f.at_cores();
    if f.threads.len() < 2 || f.threads[c] < 2 {
        return Verdict {
            outcome: Outcome::Inconclusive,
            text: "no two threads ran at once on separate cores (one core, or --threads 1): \
                   no queue was contended"
                .into(),
        };
    }
    let top = f.threads.len() - 1;
    let (at_cores, at_top) = (f.threads[c], f.threads[top]);
    let (mut lines, mut shown, mut tested) = (Vec::new(), 0, 0);

    // What was measured, before any judgement: the winner at the top thread count and
    // every queue against the coarse lock there.
    if let Some(fastest) = f.best(|_| true, top) {
        let mut line = format!(
            "fastest at {at_top} threads: {} ({} ops/s)",
            fastest.name,
            format_rate(fastest.rates[top])
        );
        if let Some(coarse) = f.rows.iter().find(|r| r.kind == Kind::CoarseLock) {
            let others: Vec<String> = f
                .rows
                .iter()
                .filter(|r| r.name != coarse.name)
                .map(|r| {
                    format!(
                        "{} {}",
                        r.name,
                        format_ratio(r.rates[top] / coarse.rates[top])
                    )
                })
                .collect();
            line.push_str(&format!(
                "; against {} there: {}",
                coarse.name,
                others.join(", ")
            ));
        }
        lines.push(line);
    }

    // CAS against locks, at the top thread count (the most contended run).
    let cas = f.best(|k| !k.locks(), top);
    let locked = f.best(Kind::locks, top);
    if let (Some(cas), Some(locked)) = (cas, locked) {
        tested += 1;
        let factor = cas.rates[top] / locked.rates[top];
        let figures = format!(
            "the best CAS-based queue ({}) did {} the throughput of the best locked one ({}) \
             at {at_top} threads",
            cas.name,
            format_ratio(factor),
            locked.name
        );
        if factor >= LOCK_FREE_WINS {
            shown += 1;
            lines.push(format!("lock-free won: {figures}"));
        } else {
            lines.push(format!("not reproduced: {figures}"));
        }
    }

    // Fine-grained against coarse locking, with as many threads as cores.
    let fine = f.best(|k| k == Kind::FineLocks, c);
    let coarse = f.best(|k| k == Kind::CoarseLock, c);
    if let (Some(fine), Some(coarse)) = (fine, coarse) {
        tested += 1;
        let factor = fine.rates[c] / coarse.rates[c];
        let figures = format!(
            "{} did {} the throughput of {} at {at_cores} threads",
            fine.name,
            format_ratio(factor),
            coarse.name
        );
        if factor >= FINE_WINS {
            shown += 1;
            lines.push(format!("fine-grained locking paid off: {figures}"));
        } else {
            lines.push(format!(
                "not reproduced: {figures} (every thread takes both of its locks in turn, \
                 and each push allocates a node that a pop frees)"
            ));
        }
    }

    // Progress when threads are delayed: preempted, past the number of cores.
    let kept = |r: &Row, o: usize| r.rates[o] / r.rates[c];
    match f.oversubscribed() {
        None => lines.push(format!(
            "delayed threads not measured: no thread count above the {} cores \
             (--threads {} or more)",
            f.cores,
            f.cores + 1
        )),
        Some(o) => {
            let shares = |pick: &dyn Fn(Kind) -> bool| -> Vec<String> {
                f.rows
                    .iter()
                    .filter(|r| pick(r.kind))
                    .map(|r| format!("{} {:.0}%", r.name, kept(r, o) * 100.0))
                    .collect()
            };
            let kept_by = |pick: &dyn Fn(Kind) -> bool| -> Vec<f64> {
                f.rows
                    .iter()
                    .filter(|r| pick(r.kind))
                    .map(|r| kept(r, o))
                    .collect()
            };
            let weakest_lock_free = kept_by(&|k| k == Kind::LockFree)
                .into_iter()
                .reduce(f64::min);
            let strongest_locked = kept_by(&Kind::locks).into_iter().reduce(f64::max);
            if let (Some(lock_free), Some(locked)) = (weakest_lock_free, strongest_locked) {
                tested += 1;
                let mut figures = format!(
                    "at {} threads on {} cores (threads preempted mid-operation), of their \
                     {at_cores}-thread throughput the lock-free queue kept {}, the locked ones \
                     {}",
                    f.threads[o],
                    f.cores,
                    shares(&|k| k == Kind::LockFree).join(", "),
                    shares(&Kind::locks).join(", ")
                );
                let others = shares(&|k| k == Kind::CasWithSlotWait);
                if !others.is_empty() {
                    figures.push_str(&format!(" ({})", others.join(", ")));
                }
                if lock_free >= locked * PROGRESS_EDGE {
                    shown += 1;
                    lines.push(format!(
                        "progress despite delayed threads: the lock-free queue held up better \
                         than any locked one: {figures}"
                    ));
                } else {
                    lines.push(format!(
                        "not reproduced: the lock-free queue held up no better than the \
                         locked ones: {figures}"
                    ));
                }
            }
        }
    }

    // Scaling: does adding threads add throughput?
    let scaling: Vec<String> = f
        .rows
        .iter()
        .map(|r| format!("{} {}", r.name, format_ratio(r.rates[c] / r.rates[0])))
        .collect();
    let best_scaling = f
        .rows
        .iter()
        .max_by(|a, b| (a.rates[c] / a.rates[0]).total_cmp(&(b.rates[c] / b.rates[0])));
    if let Some(best) = best_scaling {
        let best = if best.rates[c] > best.rates[0] {
            format!("scaled best: {}", best.name)
        } else {
            format!("none gained throughput; {} lost least", best.name)
        };
        lines.push(format!(
            "from 1 to {at_cores} threads: {} ({best})",
            scaling.join(", ")
        ));
    }

    let outcome = match (shown, tested) {
        (_, 0) => Outcome::Inconclusive,
        (s, t) if s == t => Outcome::Reproduced,
        (0, _) => Outcome::NotReproduced,
        _ => Outcome::Partly,
    };
    Verdict {
        outcome,
        text: lines.join("\n"),
    }
}

/// A node of [`TwoLockQueue`]. `value` is written before the node is published and
/// never again. `next` is written once, by the push that links the node's successor
/// under the tail lock, and read by pops under the head lock: the two locks never
/// exclude each other, so it is atomic, where the paper has a plain pointer and relies
/// on the hardware's store order.
#[derive(Debug)]
struct Node {
    value: u64,
    next: AtomicPtr<Node>,
}

impl Node {
    /// A new node, owned by the caller until it is linked into a queue.
    fn allocate(value: u64) -> NonNull<Node> {
        NonNull::from(Box::leak(Box::new(Node {
            value,
            next: AtomicPtr::new(ptr::null_mut()),
        })))
    }
}

/// A node pointer held inside one of the queue's locks.
#[derive(Debug)]
struct NodePtr(NonNull<Node>);

// SAFETY: a `NodePtr` is only dereferenced by the thread holding the lock it lives in,
// under the invariants of `TwoLockQueue`; sending it elsewhere is like sending a
// `Box<Node>`, and `Node` is `Send`.
unsafe impl Send for NodePtr {}

/// Michael and Scott's two-lock queue (*Simple, Fast, and Practical Non-Blocking and
/// Blocking Concurrent Queue Algorithms*, PODC 1996, figure 2): a singly linked list
/// that always starts with a dummy node, a lock for the head and a lock for the tail.
///
/// A pop, under the head lock only, makes the dummy's successor the new dummy, copies
/// its value and frees the old dummy. A push, under the tail lock only, links a new
/// node after the last one and moves `tail`. They meet only on the `next` field of the
/// last node when the queue is empty, and that field is atomic.
///
/// Written with raw pointers, as in the paper: a safe version with `Arc` nodes ran at
/// less than half this one's single-thread throughput here, which would have measured
/// reference counting rather than the locking scheme.
///
/// # Invariants
///
/// 1. The nodes form a list from the node in `head` (the dummy) to the node in `tail`
///    (the last), linked by `next`; the last node's `next` is null. Each node was
///    allocated by [`Node::allocate`] and belongs to the queue.
/// 2. A node is freed only by a pop holding the head lock, and only the dummy it has
///    just replaced by that dummy's non-null successor. A non-null `next` means the
///    push that stored it has made its last access to the node (the store itself),
///    and that push moves `tail` past the node before releasing the tail lock, so
///    every later push finds a newer node in `tail`. No pop reaches the freed node
///    either: it is no longer in `head`.
/// 3. Hence the node in `head` stays allocated while the head lock is held, and so do
///    its successor and the node in `tail` while the tail lock is held.
#[derive(Debug)]
struct TwoLockQueue {
    head: CachePadded<Mutex<NodePtr>>,
    tail: CachePadded<Mutex<NodePtr>>,
}

impl TwoLockQueue {
    fn new() -> Self {
        let dummy = Node::allocate(0);
        Self {
            head: CachePadded::new(Mutex::new(NodePtr(dummy))),
            tail: CachePadded::new(Mutex::new(NodePtr(dummy))),
        }
    }

    fn push(&self, value: u64) {
        // Allocate outside the lock, as the paper does.
        let node = Node::allocate(value);
        let mut tail = self.tail.lock();
        // SAFETY: invariant 3, we hold the tail lock.
        let last = unsafe { tail.0.as_ref() };
        // Release: publishes `node.value` to the Acquire load of `next` in `pop`.
        last.next.store(node.as_ptr(), Ordering::Release);
        tail.0 = node;
    }

    fn pop(&self) -> Option<u64> {
        let mut head = self.head.lock();
        let dummy = head.0;
        // Acquire: pairs with the Release store in `push`, so the successor's value
        // is visible.
        // SAFETY: invariant 3, we hold the head lock.
        let next = NonNull::new(unsafe { dummy.as_ref() }.next.load(Ordering::Acquire))?;
        // SAFETY: invariant 3: the dummy's successor, under the head lock.
        let value = unsafe { next.as_ref() }.value;
        head.0 = next;
        drop(head);
        // SAFETY: invariant 2: `dummy` is out of `head` and has a successor, so no
        // thread can reach it any more; it came from `Node::allocate`. Freed outside
        // the lock, as in the paper.
        drop(unsafe { Box::from_raw(dummy.as_ptr()) });
        Some(value)
    }
}

impl Drop for TwoLockQueue {
    fn drop(&mut self) {
        let mut node = self.head.get_mut().0.as_ptr();
        while !node.is_null() {
            // SAFETY: `&mut self`: no other thread can reach the nodes; by invariant 1
            // each node still on the list came from `Node::allocate` and belongs to the
            // queue, and the walk frees each once, after reading nothing else from it.
            let boxed = unsafe { Box::from_raw(node) };
            node = boxed.next.load(Ordering::Relaxed);
        }
    }
}

/// What the experiment needs of a queue.
trait Queue: Sync {
    /// `false` if the queue was full (only a bounded queue ever is).
    fn push(&self, value: u64) -> bool;
    fn pop(&self) -> Option<u64>;
}

impl Queue for Mutex<VecDeque<u64>> {
    fn push(&self, value: u64) -> bool {
        self.lock().push_back(value);
        true
    }
    fn pop(&self) -> Option<u64> {
        self.lock().pop_front()
    }
}

impl Queue for TwoLockQueue {
    fn push(&self, value: u64) -> bool {
        TwoLockQueue::push(self, value);
        true
    }
    fn pop(&self) -> Option<u64> {
        TwoLockQueue::pop(self)
    }
}

impl Queue for MsQueue<u64> {
    fn push(&self, value: u64) -> bool {
        MsQueue::push(self, value);
        true
    }
    fn pop(&self) -> Option<u64> {
        MsQueue::pop(self)
    }
}

impl Queue for ArrayQueue<u64> {
    fn push(&self, value: u64) -> bool {
        ArrayQueue::push(self, value).is_ok()
    }
    fn pop(&self) -> Option<u64> {
        ArrayQueue::pop(self)
    }
}

/// Empties `queue` and refills it with `PREFILL` values, so that every sample starts
/// from the same state; returns how many values it held.
fn reset(queue: &dyn Queue) -> usize {
    let held = std::iter::from_fn(|| queue.pop()).count();
    for value in 0..PREFILL as u64 {
        assert!(queue.push(value), "a queue too small for its prefill");
    }
    held
}

/// One sample: `threads` threads on `queue` for `budget`, each pushing then popping.
/// Each call of the operation is a push and a pop, so the tally counts two operations
/// per call.
fn sample<Q: Queue>(queue: &Q, threads: usize, budget: Budget) -> Tally {
    let tally = run_threads(threads, budget, |thread| {
        let mut local = thread as u64;
        move || {
            assert!(
                queue.push(local),
                "the capacity covers the prefill and every thread"
            );
            local = black_box(busy_work(local, OUTSIDE_STEPS));
            let value = queue
                .pop()
                .expect("a pop follows its thread's push, so the queue is never empty");
            local = black_box(busy_work(local ^ value, OUTSIDE_STEPS));
        }
    });
    Tally {
        ops: 2 * tally.ops,
        ..tally
    }
}

/// Adds `queue` as a contender; every sample starts from a queue holding the prefill.
fn add_queue<'a, Q: Queue>(
    comparison: Comparison<'a, Throughput>,
    name: &str,
    queue: &'a Q,
    threads: usize,
) -> Comparison<'a, Throughput> {
    comparison.contender(name, move |budget| {
        let tally = sample(queue, threads, budget);
        reset(queue);
        tally
    })
}

/// The contenders and what each is, in table order.
const CONTENDERS: &[(&str, Kind)] = &[
    ("Mutex<VecDeque>", Kind::CoarseLock),
    ("two-lock queue", Kind::FineLocks),
    ("MsQueue", Kind::LockFree),
    ("ArrayQueue", Kind::CasWithSlotWait),
];

/// The four queues, prefilled.
struct Queues {
    coarse: Mutex<VecDeque<u64>>,
    two_lock: TwoLockQueue,
    lock_free: MsQueue<u64>,
    bounded: ArrayQueue<u64>,
}

impl Queues {
    fn new(threads: usize) -> Self {
        // The prefill plus one value per thread, doubled for room to spare.
        let capacity = 2 * (PREFILL + threads);
        let queues = Self {
            coarse: Mutex::new(VecDeque::with_capacity(capacity)),
            two_lock: TwoLockQueue::new(),
            lock_free: MsQueue::new(),
            bounded: ArrayQueue::new(capacity),
        };
        for queue in queues.all() {
            reset(queue);
        }
        queues
    }

    fn all(&self) -> [&dyn Queue; 4] {
        [&self.coarse, &self.two_lock, &self.lock_free, &self.bounded]
    }
}

fn measure(config: &Config, threads: usize, queues: &Queues) -> Results {
    let name = format!("lock-free queues, {threads} threads");
    let mut comparison =
        Comparison::throughput(name, Budget::Duration(config.sample)).rounds(config.rounds);
    comparison = add_queue(comparison, CONTENDERS[0].0, &queues.coarse, threads);
    comparison = add_queue(comparison, CONTENDERS[1].0, &queues.two_lock, threads);
    comparison = add_queue(comparison, CONTENDERS[2].0, &queues.lock_free, threads);
    comparison = add_queue(comparison, CONTENDERS[3].0, &queues.bounded, threads);
    comparison.run()
}

/// Powers of two below `max`, the core count if below `max`, and `max` itself.
fn thread_counts(cores: usize, max: usize) -> Vec<usize> {
    let max = max.max(1);
    let mut counts: Vec<usize> = std::iter::successors(Some(1), |n| Some(n * 2))
        .take_while(|&n| n < max)
        .chain([cores.min(max), max])
        .collect();
    counts.sort_unstable();
    counts.dedup();
    counts
}

impl Experiment for LockFree {
    fn name(&self) -> &'static str {
        "lock-free"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads N`: the largest thread count tried (default: twice the cores).
    fn run(&self, config: &Config) -> Report {
        let threads = thread_counts(config.cores, config.threads.unwrap_or(2 * config.cores));
        let comparisons: Vec<Results> = threads
            .iter()
            .map(|&t| measure(config, t, &Queues::new(t)))
            .collect();
        let rows = CONTENDERS
            .iter()
            .map(|&(name, kind)| Row {
                name: name.to_string(),
                kind,
                rates: comparisons.iter().map(|r| r.median(name)).collect(),
            })
            .collect();
        let figures = Figures {
            cores: config.cores,
            threads,
            rows,
        };
        Report::new(table(&figures), verdict(&figures), comparisons)
    }
}

fn table(f: &Figures) -> Table {
    let c = f.at_cores();
    let top = f.threads.len() - 1;
    let mut header = vec!["queue".to_string(), "sync".to_string()];
    header.extend(f.threads.iter().map(|t| format!("{t} thr ops/s")));
    header.push(format!("{} thr / 1 thr", f.threads[c]));
    let coarse = f.rows.iter().find(|r| r.kind == Kind::CoarseLock);
    if let Some(coarse) = coarse {
        header.push(format!("vs {} @{}", coarse.name, f.threads[top]));
    }
    let mut table = Table::new(header);
    for row in &f.rows {
        let mut cells = vec![row.name.clone(), row.kind.label().to_string()];
        cells.extend(row.rates.iter().map(|&r| format_rate(r)));
        cells.push(format_ratio(row.rates[c] / row.rates[0]));
        if let Some(coarse) = coarse {
            cells.push(format_ratio(row.rates[top] / coarse.rates[top]));
        }
        table.row(cells);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, kind: Kind, rates: &[f64]) -> Row {
        Row {
            name: name.into(),
            kind,
            rates: rates.to_vec(),
        }
    }

    fn two_cores(rows: Vec<Row>) -> Figures {
        Figures {
            cores: 2,
            threads: vec![1, 2, 4],
            rows,
        }
    }

    #[test]
    fn lock_free_winning_everywhere_is_reproduced() {
        let f = two_cores(vec![
            row("coarse", Kind::CoarseLock, &[100.0, 60.0, 30.0]),
            row("two-lock", Kind::FineLocks, &[75.0, 90.0, 40.0]),
            row("ms", Kind::LockFree, &[90.0, 120.0, 110.0]),
        ]);
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        let lines: Vec<&str> = v.text.lines().collect();
        assert_eq!(
            lines[0],
            "fastest at 4 threads: ms (110 ops/s); against coarse there: two-lock 1.33x, \
             ms 3.67x"
        );
        assert_eq!(
            lines[1],
            "lock-free won: the best CAS-based queue (ms) did 2.75x the throughput of the \
             best locked one (two-lock) at 4 threads"
        );
        assert_eq!(
            lines[2],
            "fine-grained locking paid off: two-lock did 1.50x the throughput of coarse at \
             2 threads"
        );
        assert_eq!(
            lines[3],
            "progress despite delayed threads: the lock-free queue held up better than any \
             locked one: at 4 threads on 2 cores (threads preempted mid-operation), of their \
             2-thread throughput the lock-free queue kept ms 92%, the locked ones coarse 50%, \
             two-lock 44%"
        );
        assert_eq!(
            lines[4],
            "from 1 to 2 threads: coarse 0.60x, two-lock 1.20x, ms 1.33x (scaled best: ms)"
        );
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn locks_winning_on_two_cores_is_not_reproduced_and_says_what_was_measured() {
        let f = two_cores(vec![
            row("coarse", Kind::CoarseLock, &[100.0, 50.0, 48.0]),
            row("two-lock", Kind::FineLocks, &[60.0, 45.0, 40.0]),
            row("ms", Kind::LockFree, &[70.0, 40.0, 20.0]),
            row("array", Kind::CasWithSlotWait, &[90.0, 45.0, 44.0]),
        ]);
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::NotReproduced, "{}", v.text);
        assert!(
            v.text
                .starts_with("fastest at 4 threads: coarse (48.0 ops/s)")
        );
        assert!(v.text.contains(
            "not reproduced: the best CAS-based queue (array) did 0.92x the throughput of \
             the best locked one (coarse) at 4 threads"
        ));
        assert!(
            v.text
                .contains("not reproduced: two-lock did 0.90x the throughput of coarse")
        );
        assert!(v.text.contains(
            "not reproduced: the lock-free queue held up no better than the locked ones"
        ));
        assert!(
            v.text
                .contains("the lock-free queue kept ms 50%, the locked ones coarse 96%")
        );
        assert!(v.text.contains("(array 98%)"), "{}", v.text);
        assert!(
            v.text
                .contains("(none gained throughput; two-lock lost least)")
        );
    }

    #[test]
    fn some_claims_holding_is_partial() {
        let f = two_cores(vec![
            row("coarse", Kind::CoarseLock, &[100.0, 50.0, 48.0]),
            row("two-lock", Kind::FineLocks, &[60.0, 45.0, 40.0]),
            row("ms", Kind::LockFree, &[90.0, 80.0, 78.0]),
        ]);
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Partly, "{}", v.text);
        assert!(v.text.contains("lock-free won"));
        // 98% kept against the coarse lock's 96%: no better, within the margin.
        assert!(v.text.contains("held up no better than the locked ones"));
        assert!(v.text.contains("not reproduced: two-lock did 0.90x"));
    }

    #[test]
    fn without_oversubscription_progress_is_not_judged() {
        let f = Figures {
            cores: 2,
            threads: vec![1, 2],
            rows: vec![
                row("coarse", Kind::CoarseLock, &[100.0, 50.0]),
                row("ms", Kind::LockFree, &[90.0, 80.0]),
            ],
        };
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Reproduced);
        assert!(v.text.contains("delayed threads not measured"));
        assert!(v.text.contains("--threads 3 or more"));
    }

    #[test]
    fn one_thread_is_inconclusive() {
        let f = Figures {
            cores: 1,
            threads: vec![1, 2],
            rows: vec![row("ms", Kind::LockFree, &[1.0, 1.0])],
        };
        assert_eq!(verdict(&f).outcome, Outcome::Inconclusive);
    }

    #[test]
    fn thread_counts_double_and_include_cores_and_the_maximum() {
        assert_eq!(thread_counts(2, 4), [1, 2, 4]);
        assert_eq!(thread_counts(6, 12), [1, 2, 4, 6, 8, 12]);
        assert_eq!(thread_counts(4, 1), [1]);
    }

    #[test]
    fn the_two_lock_queue_is_fifo_and_frees_long_chains() {
        let queue = TwoLockQueue::new();
        assert_eq!(queue.pop(), None);
        for value in 0..1000 {
            queue.push(value);
        }
        for value in 0..500 {
            assert_eq!(queue.pop(), Some(value));
        }
        // A chain deep enough to overflow the stack if dropped recursively.
        for value in 0..200_000 {
            queue.push(value);
        }
        drop(queue);
    }

    #[test]
    fn the_two_lock_queue_loses_and_duplicates_nothing_under_threads() {
        let queue = TwoLockQueue::new();
        let (producers, per_producer) = (2u64, 20_000u64);
        let popped: Vec<Vec<u64>> = std::thread::scope(|s| {
            for p in 0..producers {
                let queue = &queue;
                s.spawn(move || {
                    for i in 0..per_producer {
                        queue.push(p * per_producer + i);
                    }
                });
            }
            let consumers: Vec<_> = (0..2)
                .map(|_| {
                    let queue = &queue;
                    s.spawn(move || {
                        let mut got = Vec::new();
                        while got.len() < per_producer as usize {
                            if let Some(v) = queue.pop() {
                                got.push(v);
                            }
                        }
                        got
                    })
                })
                .collect();
            consumers.into_iter().map(|c| c.join().unwrap()).collect()
        });
        // Each producer's values come out in order, and all of them come out once.
        for got in &popped {
            for p in 0..producers {
                let mine: Vec<u64> = got
                    .iter()
                    .copied()
                    .filter(|v| v / per_producer == p)
                    .collect();
                assert!(mine.windows(2).all(|w| w[0] < w[1]));
            }
        }
        let mut all: Vec<u64> = popped.concat();
        all.sort_unstable();
        assert_eq!(all, (0..producers * per_producer).collect::<Vec<_>>());
        assert_eq!(queue.pop(), None);
    }

    /// One sample on `queue`, then checks that the queue holds exactly the prefill:
    /// every push was matched by a pop, and nothing was lost or duplicated.
    fn conserves<Q: Queue>(name: &str, queue: &Q, threads: usize) {
        let tally = sample(queue, threads, Budget::Ops(3_000));
        assert_eq!(tally.ops, 6_000);
        assert_eq!(reset(queue), PREFILL, "{name}, {threads} threads");
    }

    #[test]
    fn every_queue_holds_its_prefill_after_a_sample() {
        for threads in [1, 2, 3] {
            let queues = Queues::new(threads);
            conserves("Mutex<VecDeque>", &queues.coarse, threads);
            conserves("two-lock queue", &queues.two_lock, threads);
            conserves("MsQueue", &queues.lock_free, threads);
            conserves("ArrayQueue", &queues.bounded, threads);
        }
    }

    #[test]
    fn a_tiny_run_measures_every_queue_at_every_thread_count() {
        let config = Config {
            quick: true,
            threads: Some(3),
            sample: std::time::Duration::from_millis(1),
            rounds: 1,
            cores: 2,
        };
        let report = LockFree.run(&config);
        assert_eq!(report.comparisons.len(), 3);
        for results in &report.comparisons {
            assert_eq!(results.contenders.len(), CONTENDERS.len());
            assert!(results.contenders.iter().all(|c| c.samples[0].ops > 0));
        }
        assert_eq!(report.table.rows().len(), CONTENDERS.len());
        assert_eq!(report.table.header()[2], "1 thr ops/s");
        assert_ne!(report.verdict.outcome, Outcome::Inconclusive);
    }
}

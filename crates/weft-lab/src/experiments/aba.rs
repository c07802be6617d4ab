//! `aba`: the ABA problem on a Treiber stack whose head CAS compares a bare node index,
//! against the same stack with a version counter beside the index (weft-lockfree's
//! `AtomicTaggedPtr`).
//!
//! Both stacks are pools of nodes: a pop hands a node to its caller, a push gives it
//! back, as in a lock-free free list (the setting where Treiber's stack, IBM RJ 5118,
//! 1986, first needed its version counter). Nodes are indices into a fixed arena and are
//! never freed, so reuse corrupts the structure without undefined behaviour: the naive
//! stack gives wrong answers, never dangling pointers.
//!
//! # The interleaving
//!
//! Two threads step in turns, each waiting at a barrier between steps, so the run is
//! the same every time:
//!
//! 1. The stack holds `A → B → C → D`. Thread 1 starts a pop: it reads head `A` and
//!    `A`'s next, `B`, and pauses before its CAS.
//! 2. Thread 2 pops `A`, pops `B` (and keeps it), and pushes `A` back: `A → C → D`.
//! 3. Thread 1 resumes: its CAS expects head `A` and installs `B`. The head *is* `A`
//!    again, so a bare-index CAS succeeds and makes `B`, which thread 2 holds, the
//!    head: `B → C → D`. A versioned CAS sees `A` at a newer version, fails, and the
//!    retry pops `A` correctly: `C → D`.
//! 4. Thread 2 pushes `B` back. On the naive stack `B` was already the head, so `B`
//!    now points to itself: `C` and `D` are lost and the stack is a cycle. On the
//!    versioned stack: `B → C → D`, what any one-at-a-time order of the same
//!    operations leaves.
//!
//! # Free-running trials
//!
//! Then the same two stacks without the barriers: threads pop and push nodes at
//! random, each holding at most two, so that "pop `A`, pop `B`, push `A`" happens all
//! the time, on a pool of two nodes per thread plus two. A trial counts as corrupted
//! if a pop ever hands out a node another thread holds, or if at the end, with every
//! node returned, the stack does not hold each node exactly once. Two kinds of trial:
//!
//! - no pause: the window between a pop's read of `next` and its CAS is as wide as
//!   the hardware makes it (a cache miss, an interrupt, a preemption);
//! - a random pause of up to `WINDOW` (64) spins in that window, standing for such a
//!   preemption and widening the window.
//!
//! How often a trial is corrupted is a property of the machine and its load more than
//! of the code: on a shared two-core virtual machine the naive stack's share ranged
//! from 1% to over 60% of trials from one run to the next. The versioned stack's is
//! zero every time, and the interleaving above, being forced, reproduces the same
//! corruption on every run.

use crate::experiment::{Claim, Config, Experiment, Outcome, Quote, Report, Verdict};
use crate::report::{Chart, Point, Series, Unit};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use weft::lockfree::{AtomicTaggedPtr, TaggedPtr};
use weft::sync::Mutex;
use weft_bench::Table;

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct Aba;

const CLAIM: Claim = Claim {
    gist: "a CAS on a bare pointer is fooled by A→B→A; a version tag catches it",
    quotes: &[
        Quote {
            text: "The ABA problem, where a value changes from A to B and back to A making \
                   CAS believe nothing changed, is addressed through versioning (tagged \
                   pointers) or hazard pointers.",
            source: "Multitasking, 3.3 Data Structures and Performance",
        },
        Quote {
            text: "ABA problem and solutions (versioning, hazard pointers)",
            source: "Multitasking (outline), 2.4 Concurrent Data Structures",
        },
    ],
};

/// The null index.
const NULL: u32 = u32::MAX;

/// The most spins between a free-running pop's read of `next` and its CAS.
const WINDOW: u32 = 64;
/// Pops and pushes per thread in one free-running trial.
const ITERATIONS: u32 = 2_000;
/// Free-running trials per stack and kind of pause, for each of `--rounds`.
const TRIALS_PER_ROUND: usize = 100;

/// One stack's run through the interleaving.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// What the stack looked like after each step of the interleaving, for the table.
    pub steps: Vec<String>,
    /// Whether thread 1's CAS, expecting the head it read before being paused,
    /// succeeded.
    pub stale_cas_succeeded: bool,
    /// Nodes that were on the stack while a thread held them, after thread 1's pop.
    pub duplicated: Vec<char>,
    /// The stack at the end, from the head, each node once.
    pub chain: Vec<char>,
    /// The node of `chain` that the last one's `next` leads back to, if it does: the
    /// stack is then a cycle.
    pub cycle: Option<char>,
}

impl Run {
    /// Nodes of `expected` the stack no longer reaches.
    pub fn lost(&self, expected: &[char]) -> Vec<char> {
        expected
            .iter()
            .copied()
            .filter(|n| !self.chain.contains(n))
            .collect()
    }

    /// Whether the stack ended as it should, and never handed out a node twice.
    pub fn intact(&self, expected: &[char]) -> bool {
        self.cycle.is_none() && self.chain == expected && self.duplicated.is_empty()
    }
}

/// Free-running trials of both stacks, with one kind of pause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stress {
    /// The most spins between a pop's read of `next` and its CAS (0: no pause).
    pub pause: u32,
    /// Trials per stack.
    pub trials: usize,
    /// Threads per trial.
    pub threads: usize,
    /// Trials that corrupted the naive stack.
    pub naive_corrupted: usize,
    /// Trials that corrupted the versioned stack.
    pub versioned_corrupted: usize,
}

impl Stress {
    fn pause_label(&self) -> String {
        match self.pause {
            0 => "no pause".into(),
            spins => format!("pause ≤ {spins} spins"),
        }
    }
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figures {
    /// The stack whose head is a bare index.
    pub naive: Run,
    /// The stack whose head is an index and a version.
    pub versioned: Run,
    /// The stack a correct implementation ends with.
    pub expected: Vec<char>,
    /// The free-running trials, one entry per kind of pause.
    pub stress: Vec<Stress>,
}

fn list(nodes: &[char]) -> String {
    let names: Vec<String> = nodes.iter().map(char::to_string).collect();
    names.join(", ")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What went wrong with a run: "lost 2 nodes (C, D)", "has a cycle (B → B → …)", …
fn damage(run: &Run, expected: &[char]) -> Vec<String> {
    let lost = run.lost(expected);
    let mut parts = Vec::new();
    if !lost.is_empty() {
        parts.push(format!(
            "lost {} ({})",
            plural(lost.len(), "node", "nodes"),
            list(&lost)
        ));
    }
    if run.cycle.is_some() {
        parts.push(format!("has a cycle ({})", render(&run.chain, run.cycle)));
    }
    if !run.duplicated.is_empty() {
        parts.push(format!(
            "had {} on the stack while a thread held it",
            list(&run.duplicated)
        ));
    }
    if parts.is_empty() && run.chain != expected {
        parts.push(format!(
            "ended as {} instead of {}",
            render(&run.chain, None),
            render(expected, None)
        ));
    }
    parts
}

/// `["a", "b", "c"]` as "a, b and c".
fn and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Judges the claim from the figures.
pub fn verdict(f: &Figures) -> Verdict {
    let expected = &f.expected;
    let stress_corrupted: usize = f.stress.iter().map(|s| s.versioned_corrupted).sum();
    let naive_broken = !f.naive.intact(expected);
    let versioned_broken = !f.versioned.intact(expected) || stress_corrupted > 0;
    let versioned = if f.versioned.intact(expected) {
        format!(
            "versioned stack intact ({}): its stale CAS {}",
            render(&f.versioned.chain, None),
            if f.versioned.stale_cas_succeeded {
                "succeeded all the same"
            } else {
                "failed and the retry popped the right node"
            }
        )
    } else {
        format!("versioned stack {}", and(&damage(&f.versioned, expected)))
    };
    let mut lines = vec![match (naive_broken, versioned_broken) {
        (true, false) => format!(
            "ABA reproduced: naive stack {}; {versioned}",
            and(&damage(&f.naive, expected))
        ),
        (true, true) => format!(
            "ABA reproduced: naive stack {}; but versioning did not prevent it: {versioned}{}",
            and(&damage(&f.naive, expected)),
            if stress_corrupted > 0 {
                format!(
                    ", and {} corrupted it",
                    plural(
                        stress_corrupted,
                        "free-running trial",
                        "free-running trials"
                    )
                )
            } else {
                String::new()
            }
        ),
        (false, _) => format!(
            "not reproduced: the naive stack came through the interleaving intact ({}, its \
             stale CAS {}); {versioned}",
            render(&f.naive.chain, f.naive.cycle),
            if f.naive.stale_cas_succeeded {
                "succeeded"
            } else {
                "failed"
            }
        ),
    }];
    for s in &f.stress {
        let percent = |n: usize| n as f64 * 100.0 / s.trials.max(1) as f64;
        lines.push(format!(
            "free-running, {}, {} threads, {} per stack: naive stack corrupted in {} ({:.0}%), \
             versioned in {}",
            s.pause_label(),
            s.threads,
            plural(s.trials, "trial", "trials"),
            s.naive_corrupted,
            percent(s.naive_corrupted),
            s.versioned_corrupted
        ));
    }
    let outcome = match (naive_broken, versioned_broken) {
        (true, false) => Outcome::Reproduced,
        (true, true) => Outcome::Partly,
        (false, _) => Outcome::NotReproduced,
    };
    Verdict {
        outcome,
        text: lines.join("\n"),
    }
}

/// A node's name in the report: 0 is `A` (the interleaving's stacks have four nodes).
fn name(index: u32) -> char {
    char::from(b'A' + u8::try_from(index).expect("a small arena"))
}

/// `A → B → C`, or with a cycle `B → B → …`: the node the walk came back to, then
/// an ellipsis.
fn render(chain: &[char], cycle: Option<char>) -> String {
    if chain.is_empty() {
        return "(empty)".into();
    }
    let mut text: Vec<String> = chain.iter().map(char::to_string).collect();
    if let Some(back) = cycle {
        text.push(back.to_string());
        text.push("…".into());
    }
    text.join(" → ")
}

/// The head word of a stack, and the CAS on it.
trait Head: Sync + Default {
    type Word: Copy + Send;
    fn index(word: Self::Word) -> u32;
    fn load(&self) -> Self::Word;
    /// Replaces `current` by a word naming `index`; the word found instead on failure.
    fn replace(&self, current: Self::Word, index: u32) -> Result<(), Self::Word>;
    /// How the report shows a word: `A`, or `A v7`.
    fn show(word: Self::Word) -> String;
    /// What the report adds after a stack's nodes: nothing, or the head's version.
    fn note(word: Self::Word) -> String;
}

/// The naive head: a bare index, so any word naming `A` looks like any other.
#[derive(Debug)]
struct NaiveHead(AtomicU32);

impl Default for NaiveHead {
    fn default() -> Self {
        Self(AtomicU32::new(NULL))
    }
}

// SeqCst throughout this file: the experiment is about which CAS succeeds, not about
// orderings, and one total order keeps the reasoning to that.
impl Head for NaiveHead {
    type Word = u32;
    fn index(word: u32) -> u32 {
        word
    }
    fn load(&self) -> u32 {
        self.0.load(SeqCst)
    }
    fn replace(&self, current: u32, index: u32) -> Result<(), u32> {
        self.0
            .compare_exchange(current, index, SeqCst, SeqCst)
            .map(drop)
    }
    fn show(word: u32) -> String {
        show_index(word)
    }
    fn note(_: u32) -> String {
        String::new()
    }
}

/// The versioned head: index and version in one word, the version bumped by every
/// successful CAS.
#[derive(Debug, Default)]
struct VersionedHead(AtomicTaggedPtr);

impl Head for VersionedHead {
    type Word = TaggedPtr;
    fn index(word: TaggedPtr) -> u32 {
        word.index
    }
    fn load(&self) -> TaggedPtr {
        self.0.load(SeqCst)
    }
    fn replace(&self, current: TaggedPtr, index: u32) -> Result<(), TaggedPtr> {
        self.0
            .compare_exchange(current, current.next_version(index), SeqCst, SeqCst)
            .map(drop)
    }
    fn show(word: TaggedPtr) -> String {
        format!("{} v{}", show_index(word.index), word.version)
    }
    fn note(word: TaggedPtr) -> String {
        format!(" (v{})", word.version)
    }
}

fn show_index(index: u32) -> String {
    if index == NULL {
        "null".into()
    } else {
        name(index).to_string()
    }
}

/// A node of the arena: its successor on the stack, and whether a thread holds it
/// (set by the pop that hands it out, cleared by the push that gives it back).
#[derive(Debug)]
struct Node {
    next: AtomicU32,
    held: AtomicBool,
}

/// A Treiber stack over a fixed arena of nodes, every node on the stack at first, with
/// `pop` split into its two steps so that a thread can pause between them.
#[derive(Debug)]
struct Stack<H> {
    head: H,
    nodes: Vec<Node>,
}

/// A pop between its read and its CAS: the head word read, and that node's `next`.
type Begun<W> = (W, u32);

impl<H: Head> Stack<H> {
    /// A stack of `size` nodes, `0 → 1 → … → size - 1`.
    fn full(size: u32) -> Self {
        let stack = Self {
            head: H::default(),
            nodes: (0..size)
                .map(|_| Node {
                    next: AtomicU32::new(NULL),
                    held: AtomicBool::new(false),
                })
                .collect(),
        };
        for index in (0..size).rev() {
            stack.push(index);
        }
        stack
    }

    fn node(&self, index: u32) -> &Node {
        &self.nodes[index as usize]
    }

    fn push(&self, index: u32) {
        self.node(index).held.store(false, SeqCst);
        let mut head = self.head.load();
        loop {
            self.node(index).next.store(H::index(head), SeqCst);
            match self.head.replace(head, index) {
                Ok(()) => return,
                Err(found) => head = found,
            }
        }
    }

    /// Step 1 of a pop: the head and its successor, or `None` if the stack is empty.
    fn pop_begin(&self) -> Option<Begun<H::Word>> {
        let head = self.head.load();
        let index = H::index(head);
        (index != NULL).then(|| (head, self.node(index).next.load(SeqCst)))
    }

    /// Step 2 of a pop: the CAS from the head read to its successor. On success, the
    /// popped node and whether some thread already held it (a corrupted stack handing
    /// out a node twice); on failure, the head word found instead.
    fn pop_commit(&self, (head, next): Begun<H::Word>) -> Result<(u32, bool), H::Word> {
        self.head.replace(head, next)?;
        let index = H::index(head);
        let was_held = self.node(index).held.swap(true, SeqCst);
        Ok((index, was_held))
    }

    /// A whole pop, with `pause()` between its two steps.
    fn pop_with(&self, mut pause: impl FnMut()) -> Option<(u32, bool)> {
        loop {
            let begun = self.pop_begin()?;
            pause();
            if let Ok(popped) = self.pop_commit(begun) {
                return Some(popped);
            }
        }
    }

    fn pop(&self) -> Option<u32> {
        self.pop_with(|| {}).map(|(index, _)| index)
    }

    /// The nodes from the head, each once, and the node the walk came back to if it
    /// did.
    fn chain(&self) -> (Vec<u32>, Option<u32>) {
        let mut seen = vec![false; self.nodes.len()];
        let mut chain = Vec::new();
        let mut index = H::index(self.head.load());
        while index != NULL {
            if std::mem::replace(&mut seen[index as usize], true) {
                return (chain, Some(index));
            }
            chain.push(index);
            index = self.node(index).next.load(SeqCst);
        }
        (chain, None)
    }

    fn chain_names(&self) -> (Vec<char>, Option<char>) {
        let (chain, cycle) = self.chain();
        (chain.into_iter().map(name).collect(), cycle.map(name))
    }

    /// The stack for the report: `A → B → C`, plus the head's version if it has one.
    fn render(&self) -> String {
        let (chain, cycle) = self.chain_names();
        format!("{}{}", render(&chain, cycle), H::note(self.head.load()))
    }

    /// The nodes on the stack that a thread holds, by name.
    fn held_and_linked(&self) -> Vec<char> {
        let (chain, _) = self.chain();
        chain
            .into_iter()
            .filter(|&i| self.node(i).held.load(SeqCst))
            .map(name)
            .collect()
    }

    /// Whether a stack of `size` nodes, with every node given back, is corrupted:
    /// not each node exactly once, or a cycle.
    fn corrupted(&self, size: usize) -> bool {
        let (chain, cycle) = self.chain();
        cycle.is_some() || chain.len() != size
    }
}

/// The step descriptions, in the order of [`Run::steps`].
const STEPS: [&str; 4] = [
    "thread 1: pop reads head A, next B; paused",
    "thread 2: pops A, pops B (keeps it), pushes A",
    "thread 1: resumes, CAS head A → B",
    "thread 2: pushes B",
];

/// Runs the interleaving of the module docs on a fresh stack of `A → B → C → D`, with
/// two threads that take turns at a barrier.
fn interleave<H: Head>() -> Run {
    let stack: Stack<H> = Stack::full(4);
    let start = stack.render();
    let log = Mutex::new(vec![start]);
    // Both threads wait here at the end of every step, so exactly one of them moves at
    // a time, in the order of `STEPS`.
    let turn = Barrier::new(2);
    let record = |text: String| log.lock().push(text);
    let (stale_cas_succeeded, duplicated) = std::thread::scope(|s| {
        let thread_1 = s.spawn(|| {
            let begun = stack.pop_begin().expect("the stack starts full");
            record(stack.render());
            turn.wait();
            turn.wait(); // thread 2's step
            let (succeeded, outcome) = match stack.pop_commit(begun) {
                Ok((index, _)) => (
                    true,
                    format!("CAS succeeds, pops {}: {}", name(index), stack.render()),
                ),
                Err(found) => {
                    let expected = H::show(begun.0);
                    let popped = stack
                        .pop()
                        .map_or("nothing".into(), |i| name(i).to_string());
                    let outcome = format!(
                        "CAS fails ({} ≠ {expected}), retry pops {popped}: {}",
                        H::show(found),
                        stack.render()
                    );
                    (false, outcome)
                }
            };
            record(outcome);
            turn.wait();
            turn.wait(); // thread 2's step
            succeeded
        });
        let thread_2 = s.spawn(|| {
            turn.wait(); // thread 1's step
            let a = stack.pop().expect("A");
            let b = stack.pop().expect("B");
            stack.push(a);
            record(stack.render());
            turn.wait();
            turn.wait(); // thread 1's step
            // Thread 1 holds A and thread 2 holds B: is either on the stack as well?
            let duplicated = stack.held_and_linked();
            stack.push(b);
            record(stack.render());
            turn.wait();
            duplicated
        });
        let succeeded = thread_1.join().expect("thread 1");
        (succeeded, thread_2.join().expect("thread 2"))
    });
    let (chain, cycle) = stack.chain_names();
    Run {
        steps: log.into_inner(),
        stale_cas_succeeded,
        duplicated,
        chain,
        cycle,
    }
}

/// What a correct stack holds after the interleaving: thread 2's pops and push, then
/// thread 1's pop, then thread 2's last push, one at a time.
const EXPECTED: [char; 3] = ['B', 'C', 'D'];

/// A small, fast random number generator (Marsaglia's xorshift), one per thread.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n)) as u32
    }
}

/// One free-running trial: `threads` threads pop and push nodes of a fresh stack at
/// random, pausing up to `pause` spins inside each pop. Returns whether the stack was
/// corrupted.
fn trial<H: Head>(threads: usize, pause: u32, seed: u64) -> bool {
    let size = 2 * threads as u32 + 2;
    let stack: Stack<H> = Stack::full(size);
    let corrupted = AtomicBool::new(false);
    // Without it, a thread spawned first can be done before the last one starts.
    let start = Barrier::new(threads);
    std::thread::scope(|s| {
        for thread in 0..threads {
            let (stack, corrupted, start) = (&stack, &corrupted, &start);
            s.spawn(move || {
                start.wait();
                let mut rng =
                    XorShift(seed ^ (thread as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                let mut held: Vec<u32> = Vec::with_capacity(2);
                for _ in 0..ITERATIONS {
                    if corrupted.load(SeqCst) {
                        break;
                    }
                    let pop = match held.len() {
                        0 => true,
                        2 => false,
                        _ => rng.below(2) == 0,
                    };
                    if pop {
                        let spins = if pause == 0 { 0 } else { rng.below(pause + 1) };
                        let pause = || (0..spins).for_each(|_| std::hint::spin_loop());
                        match stack.pop_with(pause) {
                            Some((_, true)) => corrupted.store(true, SeqCst),
                            Some((index, false)) => held.push(index),
                            None => {}
                        }
                    } else {
                        let which = rng.below(held.len() as u32) as usize;
                        stack.push(held.swap_remove(which));
                    }
                }
                for index in held {
                    stack.push(index);
                }
            });
        }
    });
    corrupted.into_inner() || stack.corrupted(size as usize)
}

/// Runs `trials` trials of each stack, alternating, and counts the corrupted ones.
fn stress(trials: usize, threads: usize, pause: u32) -> Stress {
    let mut figures = Stress {
        pause,
        trials,
        threads,
        naive_corrupted: 0,
        versioned_corrupted: 0,
    };
    for t in 0..trials {
        let seed = 0x5eed_0000 + t as u64;
        figures.naive_corrupted += usize::from(trial::<NaiveHead>(threads, pause, seed));
        figures.versioned_corrupted += usize::from(trial::<VersionedHead>(threads, pause, seed));
    }
    figures
}

impl Experiment for Aba {
    fn name(&self) -> &'static str {
        "aba"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    /// `--threads N`: threads in each free-running trial (default: the cores, at least
    /// 2); `--rounds R`: R × 100 free-running trials per stack and kind of pause. The
    /// interleaving always has two threads.
    fn run(&self, config: &Config) -> Report {
        let threads = config.threads.unwrap_or(config.cores).max(2);
        let figures = Figures {
            naive: interleave::<NaiveHead>(),
            versioned: interleave::<VersionedHead>(),
            expected: EXPECTED.to_vec(),
            stress: [0, WINDOW]
                .into_iter()
                .map(|pause| stress(config.rounds * TRIALS_PER_ROUND, threads, pause))
                .collect(),
        };
        Report::new(table(&figures), verdict(&figures), Vec::new()).with_chart(chart(&figures))
    }
}

/// Corrupted free-running trials per stack, one group per kind of pause.
fn chart(f: &Figures) -> Chart {
    let groups = f.stress.iter().map(|s| match s.pause {
        0 => "no pause".to_string(),
        pause => format!("pause <= {pause} spins"),
    });
    let series = |name: &str, count: fn(&Stress) -> usize| {
        let points = f
            .stress
            .iter()
            .enumerate()
            .map(|(i, s)| Point::new(i as f64, count(s) as f64))
            .collect();
        Series::new(name, points)
    };
    Chart::bars("corrupted free-running trials", groups, "trials corrupted")
        .unit(Unit::Count)
        .series(series("naive stack", |s| s.naive_corrupted))
        .series(series("versioned (TaggedPtr)", |s| s.versioned_corrupted))
}

fn table(f: &Figures) -> Table {
    let mut table = Table::new(["step", "naive stack (index CAS)", "versioned (TaggedPtr)"]);
    table.row(["start", &f.naive.steps[0], &f.versioned.steps[0]]);
    for (i, step) in STEPS.iter().enumerate() {
        let cell = |run: &Run| run.steps.get(i + 1).cloned().unwrap_or_default();
        table.row([step.to_string(), cell(&f.naive), cell(&f.versioned)]);
    }
    let outcome = |run: &Run| {
        let mut parts = Vec::new();
        let lost = run.lost(&f.expected);
        if !lost.is_empty() {
            parts.push(format!("lost {}", list(&lost)));
        }
        if let Some(back) = run.cycle {
            parts.push(format!("cycle at {back}"));
        }
        if !run.duplicated.is_empty() {
            parts.push(format!("{} linked while held", list(&run.duplicated)));
        }
        if run.intact(&f.expected) {
            "intact".to_string()
        } else if parts.is_empty() {
            "wrong order".to_string()
        } else {
            parts.join("; ")
        }
    };
    table.row([
        format!("expected: {}", render(&f.expected, None)),
        outcome(&f.naive),
        outcome(&f.versioned),
    ]);
    for s in &f.stress {
        table.row([
            format!(
                "free-running, {}: {} trials × {} threads",
                s.pause_label(),
                s.trials,
                s.threads
            ),
            format!("{} corrupted", s.naive_corrupted),
            format!("{} corrupted", s.versioned_corrupted),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chain: &[char], cycle: Option<char>, duplicated: &[char], stale: bool) -> Run {
        Run {
            steps: vec![String::new(); 5],
            stale_cas_succeeded: stale,
            duplicated: duplicated.to_vec(),
            chain: chain.to_vec(),
            cycle,
        }
    }

    fn stress(pause: u32, naive: usize, versioned: usize) -> Stress {
        Stress {
            pause,
            trials: 100,
            threads: 2,
            naive_corrupted: naive,
            versioned_corrupted: versioned,
        }
    }

    fn figures(naive: Run, versioned: Run, stress: Vec<Stress>) -> Figures {
        Figures {
            naive,
            versioned,
            expected: EXPECTED.to_vec(),
            stress,
        }
    }

    #[test]
    fn a_corrupted_naive_stack_and_an_intact_versioned_one_reproduce_the_claim() {
        let f = figures(
            run(&['B'], Some('B'), &['B'], true),
            run(&['B', 'C', 'D'], None, &[], false),
            vec![stress(0, 40, 0), stress(64, 97, 0)],
        );
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Reproduced);
        let lines: Vec<&str> = v.text.lines().collect();
        assert_eq!(
            lines[0],
            "ABA reproduced: naive stack lost 2 nodes (C, D), has a cycle (B → B → …) and had \
             B on the stack while a thread held it; versioned stack intact (B → C → D): its \
             stale CAS failed and the retry popped the right node"
        );
        assert_eq!(
            lines[1],
            "free-running, no pause, 2 threads, 100 trials per stack: naive stack corrupted in \
             40 (40%), versioned in 0"
        );
        assert!(lines[2].starts_with("free-running, pause ≤ 64 spins, 2 threads"));
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn a_versioned_stack_corrupted_in_free_running_is_partial() {
        let f = figures(
            run(&['B'], Some('B'), &[], true),
            run(&['B', 'C', 'D'], None, &[], false),
            vec![stress(0, 40, 1)],
        );
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Partly);
        assert!(v.text.contains("but versioning did not prevent it"));
        assert!(v.text.contains("and 1 free-running trial corrupted it"));
    }

    #[test]
    fn a_versioned_stack_that_loses_nodes_is_partial() {
        let f = figures(
            run(&['B', 'C'], None, &[], true),
            run(&['C', 'D'], None, &[], true),
            vec![],
        );
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Partly);
        assert!(v.text.contains("naive stack lost 1 node (D)"), "{}", v.text);
        assert!(
            v.text.contains("versioned stack lost 1 node (B)"),
            "{}",
            v.text
        );
    }

    #[test]
    fn an_intact_naive_stack_is_not_reproduced() {
        let f = figures(
            run(&['B', 'C', 'D'], None, &[], false),
            run(&['B', 'C', 'D'], None, &[], false),
            vec![stress(0, 0, 0)],
        );
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::NotReproduced);
        assert!(v.text.starts_with(
            "not reproduced: the naive stack came through the interleaving intact (B → C → D, \
             its stale CAS failed)"
        ));
    }

    #[test]
    fn a_reordered_stack_is_damaged_too() {
        let reordered = run(&['C', 'B', 'D'], None, &[], false);
        assert!(!reordered.intact(&EXPECTED));
        assert_eq!(
            damage(&reordered, &EXPECTED),
            ["ended as C → B → D instead of B → C → D"]
        );
    }

    #[test]
    fn the_interleaving_corrupts_the_naive_stack_every_time() {
        for _ in 0..20 {
            let naive = interleave::<NaiveHead>();
            assert!(naive.stale_cas_succeeded);
            assert_eq!(naive.duplicated, ['B']);
            assert_eq!(
                (naive.chain.as_slice(), naive.cycle),
                (&['B'][..], Some('B'))
            );
            assert_eq!(naive.lost(&EXPECTED), ['C', 'D']);
            assert_eq!(naive.steps.len(), 1 + STEPS.len());
            assert_eq!(naive.steps[2], "A → C → D");
        }
    }

    #[test]
    fn the_interleaving_leaves_the_versioned_stack_correct_every_time() {
        for _ in 0..20 {
            let versioned = interleave::<VersionedHead>();
            assert!(!versioned.stale_cas_succeeded);
            assert!(versioned.intact(&EXPECTED), "{versioned:?}");
            assert_eq!(
                versioned.steps[3],
                "CAS fails (A v7 ≠ A v4), retry pops A: C → D (v8)"
            );
        }
    }

    #[test]
    fn a_cycle_and_a_short_chain_count_as_corrupted() {
        let stack: Stack<NaiveHead> = Stack::full(3);
        assert!(!stack.corrupted(3));
        let a = stack.pop().unwrap();
        assert!(stack.corrupted(3), "a node out of the stack");
        stack.push(a);
        // Link A to itself, as a push of the head onto itself does.
        stack.node(a).next.store(a, SeqCst);
        assert_eq!(stack.chain(), (vec![a], Some(a)));
        assert!(stack.corrupted(3));
    }

    #[test]
    fn free_running_trials_never_corrupt_the_versioned_stack() {
        for pause in [0, WINDOW] {
            let s = super::stress(20, 2, pause);
            assert_eq!(s.versioned_corrupted, 0, "{s:?}");
            assert!(s.naive_corrupted <= s.trials);
        }
    }

    #[test]
    fn a_tiny_run_reproduces_aba_and_prints_every_step() {
        let config = Config {
            quick: true,
            threads: Some(2),
            sample: std::time::Duration::from_millis(1),
            rounds: 1,
            cores: 2,
        };
        let report = Aba.run(&config);
        assert_eq!(
            report.verdict.outcome,
            Outcome::Reproduced,
            "{}",
            report.verdict.text
        );
        let rows = report.table.rows();
        // Start, four steps, the outcome, two kinds of free-running trial.
        assert_eq!(rows.len(), 8);
        assert_eq!(rows[4][1], "B → B → …");
        assert_eq!(rows[5][1], "lost C, D; cycle at B; B linked while held");
        assert_eq!(rows[5][2], "intact");
        assert!(rows[6][0].contains(&format!("{TRIALS_PER_ROUND} trials")));
        assert!(report.comparisons.is_empty());
    }
}

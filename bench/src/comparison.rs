//! The `Comparison` builder: contenders run in interleaved rounds.
//!
//! # Why interleaved rounds
//!
//! On a shared machine the speed of the hardware drifts: a neighbour wakes up, the CPU
//! changes frequency, the page cache fills. Running all of contender A and then all of
//! contender B charges that drift to one of them. Instead, each round runs every
//! contender once, and the order rotates from round to round (round `r` starts with
//! contender `r mod n`), so a slow spell hits everyone alike and no contender always
//! runs first (cold) or last (after the others warmed the caches). The medians over the
//! rounds, and their ratio, are then robust to both drift and outliers.

use crate::results::{ContenderResults, Metric, Results, Sample};
use crate::stats::Summary;
use crate::workload::{Budget, Tally, time_batch};
use std::fmt;
use std::time::Duration;

/// Marks a [`Comparison`] of throughput: each contender does a [`Budget`] of work per
/// sample and reports a [`Tally`]; results are in operations per second.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    budget: Budget,
}

/// Marks a [`Comparison`] of latency: each contender is one operation, called in
/// batches large enough to time reliably; results are in nanoseconds per operation.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    min_sample: Duration,
}

/// One contender's way of producing samples, whatever the kind of comparison.
trait Contender {
    fn warm_up(&mut self);
    fn sample(&mut self) -> (u64, Duration);
}

struct ThroughputContender<'a> {
    budget: Budget,
    run: Box<dyn FnMut(Budget) -> Tally + 'a>,
}

impl Contender for ThroughputContender<'_> {
    fn warm_up(&mut self) {
        // A quarter of a sample: enough to fault in memory, spawn-and-join threads
        // once and settle the CPU frequency, without doubling the run time.
        let warm = match self.budget {
            Budget::Duration(d) => Budget::Duration(d / 4),
            Budget::Ops(n) => Budget::Ops((n / 4).max(1)),
        };
        (self.run)(warm);
    }

    fn sample(&mut self) -> (u64, Duration) {
        let tally = (self.run)(self.budget);
        (tally.ops, tally.elapsed)
    }
}

struct LatencyContender<'a> {
    min_sample: Duration,
    /// Operations per sample, found by `warm_up`.
    batch: u64,
    op: Box<dyn FnMut() + 'a>,
}

/// Batches stop doubling here even if the operation is too fast to time (an empty
/// closure the compiler removed): 2^30 calls is already far past a millisecond for any
/// real operation.
const MAX_BATCH: u64 = 1 << 30;

impl Contender for LatencyContender<'_> {
    fn warm_up(&mut self) {
        // Calibration doubles as the warm-up: the batch doubles until one batch takes
        // at least `min_sample`, so the clock's resolution and the cost of reading it
        // are negligible next to the operations timed.
        let mut batch = 1;
        while batch < MAX_BATCH && time_batch(&mut self.op, batch) < self.min_sample {
            batch *= 2;
        }
        self.batch = batch;
    }

    fn sample(&mut self) -> (u64, Duration) {
        (self.batch, time_batch(&mut self.op, self.batch))
    }
}

/// Compares contenders by running each once per round, for several rounds, in rotating
/// order, and summarizing each contender's samples (see the module docs for why).
///
/// Build one with [`Comparison::throughput`] or [`Comparison::latency`], add
/// contenders, then [`run`](Comparison::run) it. The first contender is the baseline
/// for the "vs" column of the printed table unless [`baseline`](Comparison::baseline)
/// names another.
///
/// # Examples
///
/// Latency (nanoseconds per operation, batches sized automatically):
///
/// ```
/// use std::sync::Mutex;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use weft_bench::Comparison;
///
/// let mutex = Mutex::new(0u64);
/// let atomic = AtomicU64::new(0);
/// let results = Comparison::latency("increment")
///     .min_sample(std::time::Duration::from_micros(100))
///     .rounds(3)
///     .contender("mutex", || *mutex.lock().unwrap() += 1)
///     .contender("atomic", || {
///         atomic.fetch_add(1, Ordering::Relaxed);
///     })
///     .run();
/// assert!(results.median("mutex") > 0.0); // nanoseconds per operation
/// let speedup = results.ratio("mutex", "atomic"); // >= 1.0: atomic as fast or faster
/// println!("{results}\natomic vs mutex: {speedup:.2}x");
/// ```
///
/// Throughput (operations per second over all threads):
///
/// ```
/// use std::sync::Mutex;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use weft_bench::{Budget, Comparison, run_threads};
///
/// let atomic = AtomicU64::new(0);
/// let mutex = Mutex::new(0u64);
/// let results = Comparison::throughput("shared counter, 2 threads", Budget::millis(5))
///     .rounds(3)
///     .contender("atomic", |budget| {
///         run_threads(2, budget, |_| || {
///             atomic.fetch_add(1, Ordering::Relaxed);
///         })
///     })
///     .contender("mutex", |budget| {
///         run_threads(2, budget, |_| || *mutex.lock().unwrap() += 1)
///     })
///     .run();
/// assert_eq!(results.contenders.len(), 2);
/// assert_eq!(results.contenders[0].samples.len(), 3);
/// ```
pub struct Comparison<'a, K> {
    name: String,
    kind: K,
    rounds: usize,
    warm_up: bool,
    baseline: Option<String>,
    contenders: Vec<(String, Box<dyn Contender + 'a>)>,
}

/// Rounds when [`Comparison::rounds`] is not called: an odd number, so the median is a
/// measured sample, and enough that two bad rounds cannot move it.
pub const DEFAULT_ROUNDS: usize = 7;

/// The latency batch length when [`Comparison::min_sample`] is not called.
pub const DEFAULT_MIN_SAMPLE: Duration = Duration::from_millis(1);

impl<'a> Comparison<'a, Throughput> {
    /// A throughput comparison: every sample gives each contender `budget`.
    pub fn throughput(name: impl Into<String>, budget: Budget) -> Self {
        Self::new(name.into(), Throughput { budget })
    }

    /// Adds a contender. `run(budget)` does the work (usually through
    /// [`run_threads`](crate::run_threads)) and reports what it did.
    pub fn contender(
        mut self,
        name: impl Into<String>,
        run: impl FnMut(Budget) -> Tally + 'a,
    ) -> Self {
        let contender = ThroughputContender {
            budget: self.kind.budget,
            run: Box::new(run),
        };
        self.contenders.push((name.into(), Box::new(contender)));
        self
    }
}

impl<'a> Comparison<'a, Latency> {
    /// A latency comparison: each contender is one operation, timed in batches of at
    /// least [`DEFAULT_MIN_SAMPLE`].
    pub fn latency(name: impl Into<String>) -> Self {
        Self::new(
            name.into(),
            Latency {
                min_sample: DEFAULT_MIN_SAMPLE,
            },
        )
    }

    /// Sets the shortest time one timed batch may take (the batch size is found during
    /// warm-up). Must be set before adding contenders to apply to them.
    pub fn min_sample(mut self, min_sample: Duration) -> Self {
        self.kind.min_sample = min_sample;
        self
    }

    /// Adds a contender: `op` is one operation. Wrap inputs and outputs the compiler
    /// could see through in [`std::hint::black_box`].
    pub fn contender(mut self, name: impl Into<String>, op: impl FnMut() + 'a) -> Self {
        let contender = LatencyContender {
            min_sample: self.kind.min_sample,
            batch: 1,
            op: Box::new(op),
        };
        self.contenders.push((name.into(), Box::new(contender)));
        self
    }
}

impl<'a, K: KindOf> Comparison<'a, K> {
    fn new(name: String, kind: K) -> Self {
        Self {
            name,
            kind,
            rounds: DEFAULT_ROUNDS,
            warm_up: true,
            baseline: None,
            contenders: Vec::new(),
        }
    }

    /// Sets the number of rounds (samples per contender), at least 1.
    pub fn rounds(mut self, rounds: usize) -> Self {
        self.rounds = rounds.max(1);
        self
    }

    /// Turns the per-contender warm-up on (the default) or off. Latency comparisons
    /// size their batches during warm-up, so without it every sample is one operation.
    pub fn warm_up(mut self, warm_up: bool) -> Self {
        self.warm_up = warm_up;
        self
    }

    /// Names the contender the printed table compares the others with.
    pub fn baseline(mut self, name: impl Into<String>) -> Self {
        self.baseline = Some(name.into());
        self
    }

    /// Runs the rounds and summarizes them.
    ///
    /// # Panics
    ///
    /// If there are no contenders, if two share a name, if the baseline names none of
    /// them, or if a contender panics.
    pub fn run(mut self) -> Results {
        assert!(!self.contenders.is_empty(), "{}: no contenders", self.name);
        for (i, (name, _)) in self.contenders.iter().enumerate() {
            let duplicate = self.contenders[..i].iter().any(|(other, _)| other == name);
            assert!(!duplicate, "{}: two contenders named {name:?}", self.name);
        }
        let baseline = self
            .baseline
            .take()
            .unwrap_or_else(|| self.contenders[0].0.clone());
        assert!(
            self.contenders.iter().any(|(name, _)| *name == baseline),
            "{}: baseline {baseline:?} is not a contender",
            self.name
        );

        if self.warm_up {
            for (_, contender) in &mut self.contenders {
                contender.warm_up();
            }
        }
        let metric = K::METRIC;
        let count = self.contenders.len();
        let mut samples: Vec<Vec<Sample>> = vec![Vec::with_capacity(self.rounds); count];
        for round in 0..self.rounds {
            for position in 0..count {
                let index = (round + position) % count;
                let (ops, elapsed) = self.contenders[index].1.sample();
                samples[index].push(Sample {
                    round,
                    position,
                    ops,
                    elapsed_ns: u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
                    value: metric.value(ops, elapsed),
                });
            }
        }

        let contenders = self
            .contenders
            .into_iter()
            .zip(samples)
            .map(|((name, _), samples)| {
                let values: Vec<f64> = samples.iter().map(|s| s.value).collect();
                ContenderResults {
                    name,
                    summary: Summary::of(&values).expect("at least one round, never NaN"),
                    samples,
                }
            })
            .collect();
        Results {
            name: self.name,
            metric,
            rounds: self.rounds,
            baseline,
            contenders,
        }
    }
}

/// Which metric each kind of comparison measures. Sealed: only the two kinds above.
pub trait KindOf: private::Sealed {
    #[doc(hidden)]
    const METRIC: Metric;
}

impl KindOf for Throughput {
    const METRIC: Metric = Metric::Throughput;
}

impl KindOf for Latency {
    const METRIC: Metric = Metric::Latency;
}

mod private {
    pub trait Sealed {}
    impl Sealed for super::Throughput {}
    impl Sealed for super::Latency {}
}

impl<K: fmt::Debug> fmt::Debug for Comparison<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.contenders.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Comparison")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("rounds", &self.rounds)
            .field("warm_up", &self.warm_up)
            .field("baseline", &self.baseline)
            .field("contenders", &names)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn rounds_rotate_the_order_of_contenders() {
        let order = RefCell::new(Vec::new());
        let tally = Tally {
            ops: 1,
            elapsed: Duration::from_millis(1),
        };
        let mut comparison = Comparison::throughput("order", Budget::Ops(1))
            .rounds(3)
            .warm_up(false);
        for name in ["a", "b", "c"] {
            let order = &order;
            comparison = comparison.contender(name, move |_| {
                order.borrow_mut().push(name);
                tally
            });
        }
        let results = comparison.run();
        assert_eq!(
            *order.borrow(),
            ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
        );
        let b = results.get("b").unwrap();
        let rounds: Vec<_> = b.samples.iter().map(|s| (s.round, s.position)).collect();
        assert_eq!(rounds, [(0, 1), (1, 0), (2, 2)]);
    }

    #[test]
    fn throughput_values_are_ops_per_second() {
        let mut ops = 0;
        let results = Comparison::throughput("rate", Budget::Ops(1))
            .rounds(3)
            .warm_up(false)
            .contender("x", |_| {
                ops += 100;
                Tally {
                    ops,
                    elapsed: Duration::from_millis(100),
                }
            })
            .run();
        let x = results.get("x").unwrap();
        let values: Vec<f64> = x.samples.iter().map(|s| s.value).collect();
        assert_eq!(values, [1000.0, 2000.0, 3000.0]);
        assert_eq!(x.summary.median, 2000.0);
    }

    #[test]
    fn warm_up_sizes_latency_batches_to_the_minimum_sample() {
        let calls = RefCell::new(0u64);
        let results = Comparison::latency("sleepy")
            .min_sample(Duration::from_micros(200))
            .rounds(2)
            .contender("sleep", || {
                *calls.borrow_mut() += 1;
                std::thread::sleep(Duration::from_micros(50));
            })
            .run();
        let sample = &results.get("sleep").unwrap().samples[0];
        // Each call sleeps at least 50 µs, so a batch of at least 200 µs needs at most
        // four calls, and the batch never stopped doubling before reaching 200 µs.
        assert!((1..=4).contains(&sample.ops), "batch of {}", sample.ops);
        assert!(sample.value >= 50_000.0, "{} ns per sleep", sample.value);
    }

    #[test]
    #[should_panic(expected = "two contenders named")]
    fn duplicate_names_are_rejected() {
        Comparison::latency("dup")
            .contender("a", || {})
            .contender("a", || {})
            .run();
    }

    #[test]
    #[should_panic(expected = "is not a contender")]
    fn unknown_baseline_is_rejected() {
        Comparison::latency("base")
            .baseline("nobody")
            .contender("a", || {})
            .run();
    }
}

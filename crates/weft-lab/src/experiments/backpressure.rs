//! `backpressure`: a fast producer and a slow consumer, through an unbounded channel
//! and through a bounded one, sampling the queue's length and the process's resident
//! memory over time.
//!
//! With the unbounded channel nothing slows the producer, so the backlog (and the
//! memory holding it) grows for as long as the run lasts; with the bounded channel a
//! full queue blocks the producer, which then runs at the consumer's pace, and the
//! backlog stays at the capacity.

use crate::experiment::{Claim, Config, Experiment, Outcome, Quote, Report, Verdict};
use crate::report::{Chart, Point as ChartPoint, Series, Unit};
use std::thread;
use std::time::{Duration, Instant};
use weft::channel::{Receiver, Sender, bounded, unbounded};
use weft_bench::Table;

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct Backpressure;

const CLAIM: Claim = Claim {
    gist: "a bounded queue between a fast producer and a slow consumer keeps memory flat",
    quotes: &[
        Quote {
            text: "producer-consumer patterns with bounded queues decouple components with \
                   different throughput characteristics. Backpressure mechanisms handle \
                   situations where producers outpace consumers, preventing unbounded memory \
                   growth.",
            source: "Multitasking, 2.3 I/O-Bound vs CPU-Bound Workloads",
        },
        Quote {
            text: "Backpressure: handling when producers outpace consumers",
            source: "Multitasking (outline), Producer-consumer with bounded queues",
        },
    ],
};

/// The size of one message: big enough that a backlog shows in resident memory.
const PAYLOAD: usize = 1024;

/// One sample of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Milliseconds since the run started.
    pub at_ms: f64,
    /// Messages waiting in the channel.
    pub queue_len: usize,
    /// Resident memory of the process, in bytes (`None` where it cannot be read).
    pub rss_bytes: Option<u64>,
}

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// The bounded channel's capacity.
    pub capacity: usize,
    /// Samples of the unbounded run.
    pub unbounded: Vec<Point>,
    /// Samples of the bounded run.
    pub bounded: Vec<Point>,
}

fn peak_len(points: &[Point]) -> usize {
    points.iter().map(|p| p.queue_len).max().unwrap_or(0)
}

/// Growth of resident memory over the run: the last samples' peak above the first
/// sample; `None` if memory could not be read.
fn memory_growth(points: &[Point]) -> Option<u64> {
    let first = points.first()?.rss_bytes?;
    let peak = points.iter().filter_map(|p| p.rss_bytes).max()?;
    Some(peak.saturating_sub(first))
}

/// Judges the claim: the bounded backlog never exceeds its capacity while the
/// unbounded one grows well past it, and (where memory can be read) the bounded
/// run's memory grows by less than a quarter of the unbounded run's growth.
pub fn verdict(f: &Figures) -> Verdict {
    if f.unbounded.is_empty() || f.bounded.is_empty() {
        return Verdict {
            outcome: Outcome::Inconclusive,
            text: "no samples were taken: run longer (--duration-ms)".into(),
        };
    }
    let (peak_u, peak_b) = (peak_len(&f.unbounded), peak_len(&f.bounded));
    let lengths = format!(
        "peak backlog: unbounded {peak_u} messages, bounded({}) {peak_b}",
        f.capacity
    );
    if peak_u < 10 * f.capacity.max(1) {
        return Verdict {
            outcome: Outcome::Inconclusive,
            text: format!(
                "{lengths}: the producer never got far ahead of the consumer, so there was no \
                 pressure to push back (run longer)"
            ),
        };
    }
    if peak_b > f.capacity {
        return Verdict {
            outcome: Outcome::NotReproduced,
            text: format!("{lengths}: the bounded channel held more than its capacity"),
        };
    }
    let kib = |b: u64| b / 1024;
    match (memory_growth(&f.unbounded), memory_growth(&f.bounded)) {
        (Some(gu), Some(gb)) if gu > 0 && gb.saturating_mul(4) < gu => Verdict {
            outcome: Outcome::Reproduced,
            text: format!(
                "{lengths}; resident memory grew {} KiB with the unbounded channel and {} KiB \
                 with the bounded one: backpressure kept memory flat",
                kib(gu),
                kib(gb)
            ),
        },
        (Some(gu), Some(gb)) => Verdict {
            outcome: Outcome::Partly,
            text: format!(
                "{lengths}, but resident memory grew {} KiB (unbounded) against {} KiB \
                 (bounded): the allocator hid the difference",
                kib(gu),
                kib(gb)
            ),
        },
        _ => Verdict {
            outcome: Outcome::Partly,
            text: format!("{lengths}; resident memory could not be read on this system"),
        },
    }
}

/// Resident set size from `/proc/self/statm` (Linux).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Runs the producer, the slow consumer and a sampler for `duration`.
fn run_one(
    s: Sender<Vec<u8>>,
    r: Receiver<Vec<u8>>,
    duration: Duration,
    work: Duration,
) -> Vec<Point> {
    let start = Instant::now();
    let stop = start + duration;
    let producer = thread::spawn(move || {
        while Instant::now() < stop {
            // A timeout so that a producer blocked on a full channel still stops.
            if s.send_timeout(vec![1u8; PAYLOAD], Duration::from_millis(5))
                .is_err()
                && s.is_full()
            {
                continue;
            }
        }
    });
    let sampler_r = r.clone();
    let consumer = thread::spawn(move || {
        while let Ok(msg) = r.recv() {
            std::hint::black_box(msg);
            let until = Instant::now() + work;
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            if Instant::now() >= stop + duration {
                break; // drained long enough; the rest is dropped with the channel
            }
        }
    });
    let mut points = Vec::new();
    let every = (duration / 20).max(Duration::from_micros(200));
    while Instant::now() < stop {
        points.push(Point {
            at_ms: start.elapsed().as_secs_f64() * 1e3,
            queue_len: sampler_r.len(),
            rss_bytes: rss_bytes(),
        });
        thread::sleep(every);
    }
    producer.join().expect("producer");
    drop(sampler_r);
    consumer.join().expect("consumer");
    points
}

impl Experiment for Backpressure {
    fn name(&self) -> &'static str {
        "backpressure"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    fn run(&self, config: &Config) -> Report {
        let capacity = 64;
        // Each run lasts ten samples' worth, at least 20 ms.
        let duration = (config.sample * 10).max(Duration::from_millis(20));
        let work = Duration::from_micros(20);
        let (s, r) = unbounded();
        let unbounded_points = run_one(s, r, duration, work);
        let (s, r) = bounded(capacity);
        let bounded_points = run_one(s, r, duration, work);
        let figures = Figures {
            capacity,
            unbounded: unbounded_points,
            bounded: bounded_points,
        };
        Report::new(table(&figures), verdict(&figures), Vec::new()).with_chart(chart(&figures))
    }
}

/// Queue length over time, unbounded against bounded.
fn chart(f: &Figures) -> Chart {
    let series = |name: String, points: &[Point]| {
        let points = points
            .iter()
            .map(|p| ChartPoint::new(p.at_ms, p.queue_len as f64))
            .collect();
        Series::new(name, points)
    };
    Chart::line(
        "messages waiting in the channel",
        "time (ms)",
        "queue length",
    )
    .unit(Unit::Count)
    .series(series("unbounded".into(), &f.unbounded))
    .series(series(format!("bounded({})", f.capacity), &f.bounded))
}

fn table(f: &Figures) -> Table {
    let mut table = Table::new([
        "channel",
        "samples",
        "peak backlog",
        "final backlog",
        "memory growth",
    ]);
    for (name, points) in [
        ("unbounded".to_string(), &f.unbounded),
        (format!("bounded({})", f.capacity), &f.bounded),
    ] {
        table.row([
            name,
            points.len().to_string(),
            peak_len(points).to_string(),
            points.last().map_or(0, |p| p.queue_len).to_string(),
            memory_growth(points).map_or("n/a".into(), |b| format!("{} KiB", b / 1024)),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(lens: &[usize], rss_kib: &[u64]) -> Vec<Point> {
        lens.iter()
            .zip(rss_kib)
            .enumerate()
            .map(|(i, (&queue_len, &kib))| Point {
                at_ms: i as f64,
                queue_len,
                rss_bytes: Some(kib * 1024),
            })
            .collect()
    }

    #[test]
    fn growing_unbounded_and_flat_bounded_is_reproduced() {
        let f = Figures {
            capacity: 64,
            unbounded: points(&[0, 5_000, 20_000], &[2_000, 8_000, 24_000]),
            bounded: points(&[0, 64, 64], &[2_000, 2_100, 2_100]),
        };
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        assert!(v.text.contains("unbounded 20000 messages, bounded(64) 64"));
        assert!(v.text.contains("grew 22000 KiB"));
    }

    #[test]
    fn bounded_over_capacity_is_not_reproduced() {
        let f = Figures {
            capacity: 64,
            unbounded: points(&[0, 5_000], &[1, 2]),
            bounded: points(&[0, 65], &[1, 1]),
        };
        assert_eq!(verdict(&f).outcome, Outcome::NotReproduced);
    }

    #[test]
    fn memory_that_does_not_show_the_difference_is_partial() {
        let f = Figures {
            capacity: 64,
            unbounded: points(&[0, 5_000], &[2_000, 2_100]),
            bounded: points(&[0, 64], &[2_000, 2_080]),
        };
        let v = verdict(&f);
        assert_eq!(v.outcome, Outcome::Partly);
        assert!(v.text.contains("allocator"));
    }

    #[test]
    fn no_backlog_is_inconclusive() {
        let f = Figures {
            capacity: 64,
            unbounded: points(&[0, 3], &[1, 1]),
            bounded: points(&[0, 3], &[1, 1]),
        };
        assert_eq!(verdict(&f).outcome, Outcome::Inconclusive);
        let empty = Figures {
            capacity: 64,
            unbounded: vec![],
            bounded: vec![],
        };
        assert_eq!(verdict(&empty).outcome, Outcome::Inconclusive);
    }

    #[test]
    fn runs_in_a_tiny_config() {
        let config = Config {
            quick: true,
            threads: Some(2),
            sample: Duration::from_millis(2),
            rounds: 1,
            cores: 2,
        };
        let report = Backpressure.run(&config);
        assert_eq!(report.table.rows().len(), 2);
        let bounded_peak: usize = report.table.rows()[1][2].parse().unwrap();
        assert!(
            bounded_peak <= 64,
            "the bounded channel never exceeds its capacity"
        );
    }
}

//! `csp-select`: fan-in of four producers, each on its own channel, into one consumer
//! that receives with `select!`: throughput, and the share each producer got.
//!
//! Every producer has filled its channel before the consumer starts, and the consumer
//! takes only half of all messages, so at every `select!` all four arms are ready; a selection that always tried the arms in order would serve the first
//! producer only. Go's `select` picks among ready cases at random, and so does weft's:
//! each producer should get about a quarter.

use crate::experiment::{Claim, Config, Experiment, Outcome, Quote, Report, Verdict};
use crate::report::{Chart, Point, Series, Unit};
use std::thread;
use std::time::Instant;
use weft::channel::{select, unbounded};
use weft_bench::Table;
use weft_bench::format::format_rate;

/// The experiment; see the module docs.
#[derive(Debug)]
pub struct CspSelect;

const CLAIM: Claim = Claim {
    gist: "select over channels is non-deterministic: no ready producer starves",
    quotes: &[
        Quote {
            text: "Go uses channels for CSP-style message passing with non-deterministic select",
            source: "Multitasking, 2.2 Language-Specific Implementations",
        },
        Quote {
            text: "Select statement: non-deterministic channel operations",
            source: "Multitasking (outline), Go",
        },
    ],
};

/// Producers in the fan-in (the arms of the `select!`).
pub(crate) const PRODUCERS: usize = 4;

/// The figures the verdict is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Messages received from each producer.
    pub received: [u64; PRODUCERS],
    /// Messages received per second, all producers together.
    pub throughput: f64,
}

/// Jain's fairness index of the shares: 1 when equal, 1/n when one gets everything.
pub(crate) fn jain(received: &[u64]) -> f64 {
    let sum: f64 = received.iter().map(|&x| x as f64).sum();
    let squares: f64 = received.iter().map(|&x| (x as f64).powi(2)).sum();
    if squares == 0.0 {
        0.0
    } else {
        sum * sum / (received.len() as f64 * squares)
    }
}

/// Judges the claim: reproduced when every producer got at least half its fair share
/// (and Jain's index is at least 0.9); partly when every producer got something;
/// not reproduced when one starved.
pub fn verdict(f: &Figures) -> Verdict {
    let total: u64 = f.received.iter().sum();
    if total < 100 * PRODUCERS as u64 {
        return Verdict {
            outcome: Outcome::Inconclusive,
            text: format!("only {total} messages received: run longer (--duration-ms)"),
        };
    }
    let shares: Vec<String> = f
        .received
        .iter()
        .map(|&r| format!("{:.1}%", r as f64 * 100.0 / total as f64))
        .collect();
    let min = *f.received.iter().min().unwrap_or(&0);
    let index = jain(&f.received);
    let summary = format!(
        "{} producers, {} msgs/s through one select!; shares {}; Jain's index {index:.3}",
        PRODUCERS,
        format_rate(f.throughput),
        shares.join(" / ")
    );
    let fair = total as f64 / PRODUCERS as f64;
    if min as f64 >= fair / 2.0 && index >= 0.9 {
        Verdict {
            outcome: Outcome::Reproduced,
            text: format!("{summary}: every ready producer was served about equally"),
        }
    } else if min > 0 {
        Verdict {
            outcome: Outcome::Partly,
            text: format!("{summary}: no producer starved, but the shares were uneven"),
        }
    } else {
        Verdict {
            outcome: Outcome::NotReproduced,
            text: format!("{summary}: a producer starved"),
        }
    }
}

/// Runs the fan-in: each producer first sends `per_producer` messages into its own
/// unbounded channel (so that every arm stays ready: producers descheduled on a busy
/// machine would otherwise look like unfairness), then the consumer selects half of
/// all messages. Returns the counts and the elapsed seconds of the selecting.
fn measure(per_producer: u64) -> ([u64; PRODUCERS], f64) {
    let mut receivers = Vec::new();
    let mut producers = Vec::new();
    for _ in 0..PRODUCERS {
        let (s, r) = unbounded::<u64>();
        receivers.push(r);
        producers.push(thread::spawn(move || {
            for i in 0..per_producer {
                s.send(i).expect("the consumer is alive");
            }
        }));
    }
    for p in producers {
        p.join().expect("producer");
    }
    let mut received = [0u64; PRODUCERS];
    let (r0, r1, r2, r3) = (&receivers[0], &receivers[1], &receivers[2], &receivers[3]);
    let start = Instant::now();
    for _ in 0..per_producer * PRODUCERS as u64 / 2 {
        select! {
            recv(r0) -> m => { m.expect("buffered"); received[0] += 1; },
            recv(r1) -> m => { m.expect("buffered"); received[1] += 1; },
            recv(r2) -> m => { m.expect("buffered"); received[2] += 1; },
            recv(r3) -> m => { m.expect("buffered"); received[3] += 1; },
        }
    }
    (received, start.elapsed().as_secs_f64())
}

impl Experiment for CspSelect {
    fn name(&self) -> &'static str {
        "csp-select"
    }

    fn claim(&self) -> Claim {
        CLAIM
    }

    fn run(&self, config: &Config) -> Report {
        // About a million selects per second of sample time, at least 2,000 messages.
        let per_producer = ((config.sample.as_secs_f64() * 1e6) as u64).clamp(1_000, 5_000_000);
        let (received, secs) = measure(per_producer);
        let total: u64 = received.iter().sum();
        let figures = Figures {
            received,
            throughput: if secs > 0.0 { total as f64 / secs } else { 0.0 },
        };
        Report::new(table(&figures), verdict(&figures), Vec::new()).with_chart(chart(&figures))
    }
}

/// Messages received from each producer through `select!`.
fn chart(f: &Figures) -> Chart {
    let groups = (0..f.received.len()).map(|i| format!("producer {i}"));
    let points = f
        .received
        .iter()
        .enumerate()
        .map(|(i, &r)| Point::new(i as f64, r as f64))
        .collect();
    Chart::bars("messages received per producer", groups, "messages")
        .unit(Unit::Count)
        .series(Series::new("received", points))
}

fn table(f: &Figures) -> Table {
    let total: u64 = f.received.iter().sum::<u64>().max(1);
    let mut table = Table::new(["producer", "received", "share"]);
    for (i, &r) in f.received.iter().enumerate() {
        table.row([
            i.to_string(),
            r.to_string(),
            format!("{:.1}%", r as f64 * 100.0 / total as f64),
        ]);
    }
    table.row([
        "all".to_string(),
        format!("{}/s", format_rate(f.throughput)),
        String::new(),
    ]);
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_shares_are_reproduced() {
        let v = verdict(&Figures {
            received: [2500, 2510, 2490, 2500],
            throughput: 1e6,
        });
        assert_eq!(v.outcome, Outcome::Reproduced, "{}", v.text);
        assert!(v.text.contains("Jain's index 1.000"));
    }

    #[test]
    fn uneven_but_no_starvation_is_partial() {
        let v = verdict(&Figures {
            received: [7000, 1000, 1000, 1000],
            throughput: 1e6,
        });
        assert_eq!(v.outcome, Outcome::Partly);
    }

    #[test]
    fn a_starved_producer_is_not_reproduced() {
        let v = verdict(&Figures {
            received: [10_000, 0, 0, 0],
            throughput: 1e6,
        });
        assert_eq!(v.outcome, Outcome::NotReproduced);
        assert!((jain(&[10_000, 0, 0, 0]) - 0.25).abs() < 1e-9);
    }

    #[test]
    fn too_few_messages_is_inconclusive() {
        let v = verdict(&Figures {
            received: [1, 2, 3, 4],
            throughput: 10.0,
        });
        assert_eq!(v.outcome, Outcome::Inconclusive);
    }

    #[test]
    fn runs_in_a_tiny_config() {
        let (received, secs) = measure(1_000);
        assert!(secs > 0.0);
        assert_eq!(received.iter().sum::<u64>(), 2_000);
    }
}

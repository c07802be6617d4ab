//! The timer wheel against a sorted reference model, on random operation sequences.

use proptest::prelude::*;
use weft_io::timer::{TimerKey, TimerWheel};

#[derive(Debug, Clone)]
enum Op {
    /// Insert at `now + offset` (negative: in the past).
    Insert(i64),
    /// Cancel the n-th key ever handed out (live or stale).
    Cancel(usize),
    /// Advance by this much.
    Advance(u64),
    /// Advance to `next_deadline()`, as a driver does.
    AdvanceToNext,
}

fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        -100i64..=0,
        0i64..70,
        0i64..5_000,
        0i64..300_000,
        0i64..(1 << 37),
        Just(1i64 << 36),
        Just((1i64 << 36) - 1),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => offset().prop_map(Op::Insert),
        2 => any::<usize>().prop_map(Op::Cancel),
        2 => prop_oneof![0u64..3, 0u64..100, 0u64..10_000, 0u64..(1 << 38)].prop_map(Op::Advance),
        1 => Just(Op::AdvanceToNext),
    ]
}

struct Model {
    now: u64,
    seq: u64,
    /// (deadline, seq, id)
    pending: Vec<(u64, u64, u32)>,
}

impl Model {
    fn advance(&mut self, now: u64) -> Vec<u32> {
        self.now = self.now.max(now);
        let now = self.now;
        let mut due: Vec<_> = self
            .pending
            .iter()
            .copied()
            .filter(|p| p.0 <= now)
            .collect();
        self.pending.retain(|p| p.0 > now);
        due.sort();
        due.into_iter().map(|p| p.2).collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn wheel_matches_sorted_model(ops in proptest::collection::vec(op(), 1..200)) {
        let mut wheel = TimerWheel::new();
        let mut model = Model { now: 0, seq: 0, pending: Vec::new() };
        let mut keys: Vec<(TimerKey, u32)> = Vec::new();
        for op in ops {
            match op {
                Op::Insert(off) => {
                    let deadline = model.now.saturating_add_signed(off);
                    let id = keys.len() as u32;
                    keys.push((wheel.insert(deadline, id), id));
                    model.pending.push((deadline, model.seq, id));
                    model.seq += 1;
                }
                Op::Cancel(n) => {
                    if keys.is_empty() { continue; }
                    let (key, id) = keys[n % keys.len()];
                    let expected = model.pending.iter().position(|p| p.2 == id)
                        .map(|i| model.pending.remove(i).2);
                    prop_assert_eq!(wheel.cancel(key), expected);
                }
                Op::Advance(by) => {
                    let now = model.now.saturating_add(by);
                    let mut fired = Vec::new();
                    wheel.advance(now, |_, v| fired.push(v));
                    prop_assert_eq!(fired, model.advance(now));
                }
                Op::AdvanceToNext => {
                    if let Some(next) = wheel.next_deadline() {
                        let mut fired = Vec::new();
                        wheel.advance(next, |_, v| fired.push(v));
                        prop_assert_eq!(fired, model.advance(next));
                    }
                }
            }
            prop_assert_eq!(wheel.len(), model.pending.len());
            prop_assert_eq!(wheel.now(), model.now);
            let earliest = model.pending.iter().map(|p| p.0).min();
            match (wheel.next_deadline(), earliest) {
                (None, None) => {}
                (Some(next), Some(earliest)) => {
                    prop_assert!(next >= model.now || earliest < model.now);
                    prop_assert!(next <= earliest.max(model.now),
                        "next_deadline {} after earliest {} (now {})", next, earliest, model.now);
                }
                (next, earliest) => prop_assert!(false, "next_deadline {:?}, earliest {:?}", next, earliest),
            }
        }
        // Everything left fires, in order, by driving with next_deadline.
        let mut fired = Vec::new();
        let mut rounds = 0;
        while let Some(next) = wheel.next_deadline() {
            wheel.advance(next, |_, v| fired.push(v));
            rounds += 1;
            prop_assert!(rounds < 100_000);
        }
        prop_assert_eq!(fired, model.advance(u64::MAX));
    }
}

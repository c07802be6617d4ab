//! Unit tests of the wheel's mechanism: levels, cascading, stale keys, far timers.

use super::*;

fn drain(wheel: &mut TimerWheel<u32>, now: u64) -> Vec<u32> {
    let mut out = Vec::new();
    wheel.advance(now, |_, v| out.push(v));
    out
}

#[test]
fn level_choice() {
    assert_eq!(level_for(0, 0), 0);
    assert_eq!(level_for(0, 63), 0);
    assert_eq!(level_for(0, 64), 1);
    assert_eq!(level_for(60, 70), 1);
    assert_eq!(level_for(64, 127), 0);
    assert_eq!(level_for(0, (1 << 36) - 1), 5);
    assert_eq!(level_for(0, 1 << 36), 6);
}

#[test]
fn fires_in_deadline_order_with_cascading() {
    let mut wheel = TimerWheel::new();
    let deadlines = [5_000_000u64, 3, 64, 65, 4095, 4096, 262_145, 1, 1];
    for (i, &d) in deadlines.iter().enumerate() {
        wheel.insert(d, i as u32);
    }
    let fired = drain(&mut wheel, 10_000_000);
    let mut expected: Vec<(u64, u32)> = deadlines
        .iter()
        .enumerate()
        .map(|(i, &d)| (d, i as u32))
        .collect();
    expected.sort();
    assert_eq!(fired, expected.iter().map(|&(_, i)| i).collect::<Vec<_>>());
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn advance_fires_only_due_timers() {
    let mut wheel = TimerWheel::new();
    wheel.insert(10, 1);
    wheel.insert(100, 2);
    assert_eq!(drain(&mut wheel, 9), Vec::<u32>::new());
    assert_eq!(drain(&mut wheel, 10), vec![1]);
    assert_eq!(drain(&mut wheel, 99), Vec::<u32>::new());
    assert_eq!(drain(&mut wheel, 100), vec![2]);
}

#[test]
fn past_deadlines_fire_on_next_advance() {
    let mut wheel = TimerWheel::new();
    drain(&mut wheel, 1000);
    wheel.insert(5, 1);
    wheel.insert(1000, 2);
    wheel.insert(3, 3);
    assert_eq!(wheel.next_deadline(), Some(1000));
    // Even an advance to an earlier time fires them.
    assert_eq!(drain(&mut wheel, 0), vec![3, 1, 2]);
    assert_eq!(wheel.now(), 1000);
}

#[test]
fn stale_keys_return_none() {
    let mut wheel = TimerWheel::new();
    let a = wheel.insert(10, 1);
    assert_eq!(wheel.cancel(a), Some(1));
    assert_eq!(wheel.cancel(a), None);
    // The slot is reused; the old key must not cancel the new timer.
    let b = wheel.insert(20, 2);
    assert_eq!(wheel.cancel(a), None);
    assert_eq!(wheel.deadline(b), Some(20));
    drain(&mut wheel, 20);
    assert_eq!(wheel.cancel(b), None);
    assert_eq!(wheel.deadline(b), None);
}

#[test]
fn cancel_keeps_lists_consistent() {
    let mut wheel = TimerWheel::new();
    let keys: Vec<_> = (0..5).map(|i| wheel.insert(70, i)).collect();
    assert_eq!(wheel.cancel(keys[2]), Some(2));
    assert_eq!(wheel.cancel(keys[0]), Some(0));
    assert_eq!(wheel.cancel(keys[4]), Some(4));
    assert_eq!(drain(&mut wheel, 70), vec![1, 3]);
    // Emptying a slot clears its occupancy bit.
    let k = wheel.insert(200, 9);
    wheel.cancel(k);
    assert_eq!(wheel.next_deadline(), None);
    assert_eq!(wheel.occupied, [0; LEVELS]);
}

#[test]
fn next_deadline_is_a_lower_bound_that_makes_progress() {
    let mut wheel = TimerWheel::new();
    wheel.insert(1_000_000, 1);
    let mut wakes = 0;
    loop {
        let next = wheel.next_deadline().unwrap();
        assert!(next <= 1_000_000);
        wakes += 1;
        if wheel.advance(next, |_, _| {}) == 1 {
            break;
        }
        assert!(wakes <= LEVELS, "no progress after {wakes} wake-ups");
    }
    assert_eq!(wheel.now(), 1_000_000);
}

#[test]
fn far_timers_beyond_the_top_level() {
    let mut wheel = TimerWheel::new();
    let far = 3 * WHEEL_RANGE + 12_345;
    wheel.insert(far, 1);
    let k = wheel.insert(far + 1, 2);
    wheel.insert(u64::MAX, 3);
    wheel.insert(10, 4);
    assert_eq!(wheel.cancel(k), Some(2));
    assert_eq!(drain(&mut wheel, far - 1), vec![4]);
    assert_eq!(wheel.len(), 2);
    assert_eq!(drain(&mut wheel, far), vec![1]);
    assert_eq!(drain(&mut wheel, u64::MAX), vec![3]);
}

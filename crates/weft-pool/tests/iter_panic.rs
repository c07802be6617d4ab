//! Early exit and panics: `find_any`/`any`/`all` stop the other pieces, a panic stops
//! them too and reaches the caller with its payload, and every item is dropped exactly
//! once whatever happens (drop-counting items).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use weft_pool::prelude::*;

/// Counts live instances in its own pair of counters, so tests can run in parallel.
struct Tally {
    created: AtomicUsize,
    dropped: AtomicUsize,
}

impl Tally {
    const fn new() -> Self {
        Tally {
            created: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
        }
    }

    fn item(&'static self, value: u64) -> Counted {
        self.created.fetch_add(1, Ordering::Relaxed);
        Counted {
            value,
            payload: value.to_string(),
            tally: self,
        }
    }

    fn assert_balanced(&self) {
        let created = self.created.load(Ordering::SeqCst);
        let dropped = self.dropped.load(Ordering::SeqCst);
        assert_eq!(created, dropped, "{created} created, {dropped} dropped");
    }
}

/// An item that owns heap memory (a double drop would be a double free) and counts
/// its drops.
struct Counted {
    value: u64,
    payload: String,
    tally: &'static Tally,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.tally.item(self.value)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        assert_eq!(self.payload, self.value.to_string(), "dropped a torn item");
        self.tally.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

fn items(tally: &'static Tally, n: u64) -> Vec<Counted> {
    (0..n).map(|i| tally.item(i)).collect()
}

/// Waits (yielding) until `flag` is set, or gives up after a while so a broken
/// implementation fails its assertion instead of hanging (and a test whose pieces
/// happen to run one after the other still ends).
fn wait_for(flag: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !flag.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::yield_now();
    }
}

#[test]
fn vec_by_value_drops_every_item_once() {
    static TALLY: Tally = Tally::new();
    let kept: Vec<Counted> = items(&TALLY, 50_000)
        .into_par_iter()
        .skip(100)
        .take(20_000)
        .collect();
    assert_eq!(kept.len(), 20_000);
    assert!(
        kept.iter()
            .enumerate()
            .all(|(i, c)| c.value == i as u64 + 100)
    );
    drop(kept);
    let evens: Vec<Counted> = items(&TALLY, 30_000)
        .into_par_iter()
        .filter(|c| c.value % 2 == 0)
        .collect();
    assert_eq!(evens.len(), 15_000);
    drop(evens);
    let found = items(&TALLY, 30_000)
        .into_par_iter()
        .find_any(|c| c.value == 12_345);
    assert_eq!(found.as_ref().map(|c| c.value), Some(12_345));
    drop(found);
    let cloned: Vec<Counted> = items(&TALLY, 10_000).par_iter().cloned().collect();
    drop(cloned);
    TALLY.assert_balanced();
}

#[test]
fn panic_payload_reaches_the_caller() {
    let result = catch_unwind(|| {
        (0..100_000u32).into_par_iter().for_each(|i| {
            if i == 77_777 {
                std::panic::panic_any(String::from("item 77777"));
            }
        })
    });
    let payload = result.expect_err("the panic must be re-thrown");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("item 77777")
    );

    let result = catch_unwind(|| {
        (0..1000i32)
            .into_par_iter()
            .map(|i: i32| if i == 500 { panic!("static") } else { i })
            .sum::<i32>()
    });
    assert_eq!(result.unwrap_err().downcast_ref::<&str>(), Some(&"static"));
}

#[test]
fn panic_while_collecting_drops_everything_once() {
    static TALLY: Tally = Tally::new();
    for panic_at in [0u64, 1, 4095, 4096, 20_000, 49_999] {
        let source = items(&TALLY, 50_000);
        let result = catch_unwind(AssertUnwindSafe(|| {
            source
                .into_par_iter()
                .map(|c| {
                    if c.value == panic_at {
                        panic!("boom");
                    }
                    c
                })
                .collect::<Vec<Counted>>()
        }));
        assert!(result.is_err());
        TALLY.assert_balanced();
        // The same through an unindexed pipeline (collected in pieces).
        let source = items(&TALLY, 50_000);
        let result = catch_unwind(AssertUnwindSafe(|| {
            source
                .into_par_iter()
                .filter(|c| c.value % 3 != 1 || c.value == panic_at)
                .map(|c| {
                    if c.value == panic_at {
                        panic!("boom")
                    } else {
                        c
                    }
                })
                .collect::<Vec<Counted>>()
        }));
        assert!(result.is_err());
        TALLY.assert_balanced();
    }
}

/// Sets its flag when dropped.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_panic_stops_the_other_pieces() {
    const N: usize = 1_000_000;
    let started = AtomicBool::new(false);
    let panicked = AtomicBool::new(false);
    let processed = AtomicUsize::new(0);
    let result = catch_unwind(AssertUnwindSafe(|| {
        (0..N).into_par_iter().for_each(|i| {
            if i == 0 {
                // Panic only once another piece is running, so that stopping it is
                // the pieces' business, not the splitter's.
                wait_for(&started);
                // The leftmost piece runs first, on the calling thread. The flag goes
                // up while unwinding, after the panic hook (which may take long to
                // print a backtrace) and just before the pool can see the panic.
                let _announce = SetOnDrop(&panicked);
                panic!("first item");
            }
            started.store(true, Ordering::SeqCst);
            wait_for(&panicked);
            processed.fetch_add(1, Ordering::Relaxed);
        })
    }));
    assert!(result.is_err());
    let processed = processed.into_inner();
    // Every other running piece finishes at most the block (4096 items) it was in when
    // the flag went up, and no piece starts after it; without the flag, the piece
    // running beside the panicking one would run to its end (tens of thousands).
    assert!(
        processed < 20_000,
        "{processed} of {N} items still ran after the panic"
    );
}

#[test]
fn find_any_stops_the_other_pieces() {
    const N: usize = 1_000_000;
    let started = AtomicBool::new(false);
    let found = AtomicBool::new(false);
    let visited = AtomicUsize::new(0);
    let result = (0..N).into_par_iter().find_any(|&i| {
        visited.fetch_add(1, Ordering::Relaxed);
        if i == 0 {
            wait_for(&started);
            found.store(true, Ordering::SeqCst);
            return true;
        }
        started.store(true, Ordering::SeqCst);
        wait_for(&found);
        false
    });
    assert_eq!(result, Some(0));
    let visited = visited.into_inner();
    // After the hit, each piece looks at no more than the item it was on.
    assert!(visited < 1000, "{visited} items visited");
}

#[test]
fn any_and_all_stop_early() {
    const N: usize = 1_000_000;
    for want_any in [true, false] {
        let started = AtomicBool::new(false);
        let found = AtomicBool::new(false);
        let visited = AtomicUsize::new(0);
        let check = |i: usize| {
            visited.fetch_add(1, Ordering::Relaxed);
            if i == 0 {
                wait_for(&started);
                found.store(true, Ordering::SeqCst);
                return true;
            }
            started.store(true, Ordering::SeqCst);
            wait_for(&found);
            false
        };
        if want_any {
            assert!((0..N).into_par_iter().any(check));
        } else {
            assert!(!(0..N).into_par_iter().all(|i| !check(i)));
        }
        let visited = visited.into_inner();
        assert!(visited < 1000, "{visited} items visited");
    }
}

#[test]
fn sort_with_panicking_comparator_keeps_a_permutation() {
    static TALLY: Tally = Tally::new();
    for len in [10usize, 5000, 100_000] {
        for panic_after in [0usize, 1, 1000, 50_000, 500_000] {
            for stable in [true, false] {
                let mut v: Vec<Counted> = (0..len as u64)
                    .map(|i| TALLY.item(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 1000))
                    .collect();
                let mut expected: Vec<u64> = v.iter().map(|c| c.value).collect();
                let comparisons = AtomicUsize::new(0);
                let compare = |a: &Counted, b: &Counted| {
                    if comparisons.fetch_add(1, Ordering::Relaxed) == panic_after {
                        panic!("comparator");
                    }
                    a.value.cmp(&b.value)
                };
                let result = catch_unwind(AssertUnwindSafe(|| {
                    if stable {
                        v.par_sort_by(compare);
                    } else {
                        v.par_sort_unstable_by(compare);
                    }
                }));
                let mut after: Vec<u64> = v.iter().map(|c| c.value).collect();
                if result.is_ok() {
                    assert!(after.windows(2).all(|w| w[0] <= w[1]));
                }
                after.sort_unstable();
                expected.sort_unstable();
                assert_eq!(
                    after, expected,
                    "len {len}, panic after {panic_after}, stable {stable}"
                );
                drop(v);
                TALLY.assert_balanced();
            }
        }
    }
}

/// Runs pipeline number `shape` over `source`, panicking at the item whose value is
/// `panic_at` (if it gets there), and collects.
fn pipeline(shape: u8, source: Vec<Counted>, other: Vec<Counted>, panic_at: u64) -> usize {
    let check = move |c: Counted| {
        if c.value == panic_at {
            panic!("pipeline");
        }
        c
    };
    match shape {
        0 => source.into_par_iter().map(check).collect::<Vec<_>>().len(),
        1 => source
            .into_par_iter()
            .rev()
            .skip(3)
            .map(check)
            .collect::<Vec<_>>()
            .len(),
        2 => source
            .into_par_iter()
            .zip(other)
            .map(|(a, _b)| check(a))
            .collect::<Vec<_>>()
            .len(),
        3 => source
            .into_par_iter()
            .chain(other)
            .map(check)
            .take(40_000)
            .collect::<Vec<_>>()
            .len(),
        4 => source
            .into_par_iter()
            .enumerate()
            .filter(|(i, _)| i % 5 != 1)
            .map(|(_, c)| check(c))
            .collect::<Vec<_>>()
            .len(),
        5 => source
            .into_par_iter()
            .with_max_len(100)
            .flat_map_iter(|c| [check(c)])
            .collect::<Vec<_>>()
            .len(),
        _ => source
            .into_par_iter()
            .fold(Vec::new, |mut acc, c| {
                acc.push(check(c));
                acc
            })
            .map(|v| v.len())
            .sum(),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(40))]

    #[test]
    fn panics_anywhere_in_a_pipeline_drop_everything_once(
        shape in 0u8..7,
        len in 0u64..30_000,
        panic_at in 0u64..30_000,
    ) {
        static TALLY: Tally = Tally::new();
        let source = items(&TALLY, len);
        let other = items(&TALLY, len / 2 + 7);
        let result = catch_unwind(AssertUnwindSafe(|| pipeline(shape, source, other, panic_at)));
        // Pipelines that look at every item must have panicked.
        let reached = if shape == 2 { len.min(len / 2 + 7) } else { len };
        if matches!(shape, 0 | 2 | 5 | 6) && panic_at < reached {
            proptest::prop_assert!(result.is_err());
        }
        if let Err(payload) = result {
            proptest::prop_assert_eq!(payload.downcast_ref::<&str>(), Some(&"pipeline"));
        }
        TALLY.assert_balanced();
    }
}

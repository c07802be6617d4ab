#![cfg(feature = "deadlock-detection")]
//! Lock-order checking end to end, through `SpinLock`: inversions are reported the
//! first time the order closes a cycle, although no thread ever blocks here (every
//! pair of paths runs one after the other).
//!
//! Reports are process-wide, and the tests of this file run in parallel, so each
//! test creates its own locks (at its own lines of this file: its own classes) and
//! looks only at reports that name one of them.

use std::panic::Location;
use std::sync::{Mutex, Once, PoisonError};
use std::thread;
use weft_sync::SpinLock;
use weft_sync::deadlock::{self, LockOrderInversion, Report};

static REPORTS: Mutex<Vec<LockOrderInversion>> = Mutex::new(Vec::new());

/// Collect reports instead of printing them (every test calls this first).
fn collect_reports() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        deadlock::set_hook(|report| {
            if let Report::LockOrderInversion(inversion) = report {
                REPORTS
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(inversion.clone());
            }
        });
    });
}

fn is_ours(site: &Location<'_>, lines: &[u32]) -> bool {
    site.file() == file!() && lines.contains(&site.line())
}

/// The reports that name a lock created on one of `lines` of this file.
fn reports_naming(lines: &[u32]) -> Vec<LockOrderInversion> {
    REPORTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|inv| inv.classes().iter().any(|site| is_ours(site, lines)))
        .cloned()
        .collect()
}

/// Runs `f` on a named thread and waits for it: the paths never overlap in time.
fn on_thread(name: &str, f: impl FnOnce() + Send) {
    thread::scope(|s| {
        thread::Builder::new()
            .name(name.into())
            .spawn_scoped(s, f)
            .unwrap()
            .join()
            .unwrap();
    });
}

#[test]
fn opposite_orders_on_two_threads_are_reported_naming_both_sites() {
    collect_reports();
    let (a, a_line) = (SpinLock::new(0), line!());
    let (b, b_line) = (SpinLock::new(0), line!());

    let mut lock_sites = Vec::new();
    on_thread("a-then-b", || {
        let _a = a.lock();
        let _b = b.lock();
    });
    assert!(
        reports_naming(&[a_line, b_line]).is_empty(),
        "one order alone is fine"
    );
    on_thread("b-then-a", || {
        let _b = b.lock();
        lock_sites.push(line!() + 1);
        let _a = a.lock();
    });

    let reports = reports_naming(&[a_line, b_line]);
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let inversion = &reports[0];
    assert_eq!(inversion.cycle.len(), 2);
    let mut classes: Vec<u32> = inversion.classes().iter().map(|s| s.line()).collect();
    classes.sort_unstable();
    assert_eq!(classes, [a_line, b_line]);
    // The closing edge comes last: held b, then acquired a on "b-then-a", at the line
    // recorded above; the other edge was "a-then-b"'s.
    let closing = &inversion.cycle[1];
    assert_eq!(closing.thread.name.as_deref(), Some("b-then-a"));
    assert_eq!(closing.held.lock_created_at.line(), b_line);
    assert_eq!(closing.then_acquired.lock_created_at.line(), a_line);
    assert!(is_ours(closing.then_acquired.acquired_at, &lock_sites));
    assert_eq!(inversion.cycle[0].thread.name.as_deref(), Some("a-then-b"));

    // The human-readable report names both creation sites.
    let text = Report::LockOrderInversion(inversion.clone()).to_string();
    assert!(text.contains("potential deadlock"), "{text}");
    assert!(text.contains(&format!("{}:{a_line}:", file!())), "{text}");
    assert!(text.contains(&format!("{}:{b_line}:", file!())), "{text}");

    // And the process-wide log has it too.
    assert!(deadlock::lock_order_violations().contains(inversion));
}

#[test]
fn one_consistent_order_is_never_reported() {
    collect_reports();
    let (a, a_line) = (SpinLock::new(0), line!());
    let (b, b_line) = (SpinLock::new(0), line!());
    let (c, c_line) = (SpinLock::new(0), line!());
    for name in ["first", "second"] {
        on_thread(name, || {
            for _ in 0..10 {
                let _a = a.lock();
                let _b = b.lock();
                let _c = c.lock();
            }
            let _a = a.lock();
            let _c = c.lock();
            drop(_a);
            let _b = b.try_lock();
        });
    }
    assert!(reports_naming(&[a_line, b_line, c_line]).is_empty());
}

#[test]
fn three_class_cycle_is_found() {
    collect_reports();
    let (a, a_line) = (SpinLock::new(0), line!());
    let (b, b_line) = (SpinLock::new(0), line!());
    let (c, c_line) = (SpinLock::new(0), line!());
    on_thread("a-b", || {
        let _a = a.lock();
        let _b = b.lock();
    });
    on_thread("b-c", || {
        let _b = b.lock();
        let _c = c.lock();
    });
    assert!(reports_naming(&[a_line, b_line, c_line]).is_empty());
    on_thread("c-a", || {
        let _c = c.lock();
        let _a = a.lock();
    });
    let reports = reports_naming(&[a_line, b_line, c_line]);
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let lines: Vec<u32> = reports[0].classes().iter().map(|s| s.line()).collect();
    assert_eq!(lines, [a_line, b_line, c_line]);
    // Each edge leads to the next one's held lock, and the last back to the first.
    let cycle = &reports[0].cycle;
    for (i, edge) in cycle.iter().enumerate() {
        let next = &cycle[(i + 1) % cycle.len()];
        assert_eq!(
            edge.then_acquired.lock_created_at,
            next.held.lock_created_at
        );
    }
}

#[test]
fn a_cycle_is_reported_once_however_often_it_recurs() {
    collect_reports();
    let (a, a_line) = (SpinLock::new(0), line!());
    let (b, b_line) = (SpinLock::new(0), line!());
    for round in 0..5 {
        on_thread(&format!("forward-{round}"), || {
            let _a = a.lock();
            let _b = b.lock();
        });
        on_thread(&format!("backward-{round}"), || {
            let _b = b.lock();
            let _a = a.lock();
        });
    }
    assert_eq!(reports_naming(&[a_line, b_line]).len(), 1);
}

#[test]
fn try_lock_adds_no_edge_into_the_lock_it_takes() {
    collect_reports();
    let (a, a_line) = (SpinLock::new(0), line!());
    let (b, b_line) = (SpinLock::new(0), line!());
    on_thread("a-then-b", || {
        let _a = a.lock();
        let _b = b.lock();
    });
    on_thread("b-then-try-a", || {
        let _b = b.lock();
        // Cannot block, so cannot deadlock: no b -> a edge.
        let _a = a.try_lock().expect("a is free");
    });
    assert!(reports_naming(&[a_line, b_line]).is_empty());
}

#[test]
fn a_try_locked_lock_still_counts_as_held() {
    collect_reports();
    let (a, a_line) = (SpinLock::new(0), line!());
    let (b, b_line) = (SpinLock::new(0), line!());
    on_thread("try-a-then-b", || {
        let _a = a.try_lock().expect("a is free");
        let _b = b.lock(); // a -> b: this thread could wait for b while holding a
    });
    on_thread("b-then-a", || {
        let _b = b.lock();
        let _a = a.lock();
    });
    assert_eq!(reports_naming(&[a_line, b_line]).len(), 1);
}

#[test]
fn releasing_out_of_order_leaves_nothing_behind() {
    collect_reports();
    let (a, a_line) = (SpinLock::new(0), line!());
    let (b, b_line) = (SpinLock::new(0), line!());
    let (c, c_line) = (SpinLock::new(0), line!());
    on_thread("out-of-order", || {
        let guard_a = a.lock();
        let guard_b = b.try_lock().expect("b is free"); // no a -> b edge
        drop(guard_a);
        // Only b is held: b -> c. A stale `a` would add a -> c ...
        let guard_c = c.lock();
        drop(guard_b);
        drop(guard_c);
    });
    on_thread("c-then-a", || {
        // ... and c -> a would then close a -> c -> a. With b -> c and c -> a only,
        // there is no cycle.
        let _c = c.lock();
        let _a = a.lock();
    });
    assert!(reports_naming(&[a_line, b_line, c_line]).is_empty());
}

#[test]
fn nesting_two_locks_of_one_class_is_not_checked() {
    collect_reports();
    // One creation site, so one class (see the module docs for why this is not
    // reported): opposite orders between instances of a class are left to the
    // wait-for check.
    let (locks, line) = ((0..2).map(SpinLock::new).collect::<Vec<_>>(), line!());
    on_thread("forward", || {
        let _first = locks[0].lock();
        let _second = locks[1].lock();
    });
    on_thread("backward", || {
        let _second = locks[1].lock();
        let _first = locks[0].lock();
    });
    assert!(reports_naming(&[line]).is_empty());
}

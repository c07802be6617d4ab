//! Stress tests for hazard pointers: readers protect and read a pointer writers keep
//! replacing; every object is freed exactly once and never while protected; and the
//! unfreed garbage stays bounded while a reader holds a protection indefinitely.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::thread;

use weft_lockfree::hazard::{Domain, HazardPointer};

/// A payload that records its own drop, and refuses to be dropped twice.
struct Tracked<'a> {
    /// Set by `Drop`; a reader that sees it set under protection found a use after free.
    /// (The object's memory stays valid for the check because `deleter` below does not
    /// deallocate: it drops in place and parks the allocation in `graveyard`.)
    freed: AtomicBool,
    value: u64,
    checksum: u64,
    drops: &'a AtomicUsize,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        assert!(
            !self.freed.swap(true, Ordering::Relaxed),
            "object freed twice"
        );
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

fn checksum(value: u64) -> u64 {
    value.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA5A5
}

/// Drops the object but keeps its memory (leaked, like a graveyard), so a reader that
/// dereferences a freed object reads the `freed` flag instead of reused memory.
unsafe fn drop_in_place_keep_memory(object: *mut Tracked<'_>) {
    // SAFETY: `object` came from `Box::into_raw` and is dropped once (the domain's
    // contract); its memory is intentionally never deallocated.
    unsafe { std::ptr::drop_in_place(object) };
}

fn new_tracked(value: u64, drops: &AtomicUsize) -> *mut Tracked<'_> {
    Box::into_raw(Box::new(Tracked {
        freed: AtomicBool::new(false),
        value,
        checksum: checksum(value),
        drops,
    }))
}

#[test]
fn readers_never_see_freed_objects_and_everything_is_freed_once() {
    const READERS: usize = 3;
    const WRITERS: usize = 2;
    const SWAPS_PER_WRITER: u64 = 100_000;

    let drops = AtomicUsize::new(0);
    let domain = Domain::new();
    let shared = AtomicPtr::new(new_tracked(0, &drops));
    let writers_done = AtomicUsize::new(0);
    let reads = AtomicU64::new(0);

    thread::scope(|scope| {
        for _ in 0..READERS {
            scope.spawn(|| {
                let mut hazard = HazardPointer::new_in_domain(&domain);
                let mut local_reads = 0_u64;
                // Keep reading until the writers are done, and long enough to overlap them.
                while writers_done.load(Ordering::Acquire) < WRITERS || local_reads < 2_000 {
                    // SAFETY: `shared` only holds `Tracked`s from `Box::into_raw`,
                    // each retired into `domain` after being swapped out.
                    let object = unsafe { hazard.protect(&shared) }.expect("never null");
                    for _ in 0..4 {
                        assert!(!object.freed.load(Ordering::Relaxed), "read after free");
                        assert_eq!(object.checksum, checksum(object.value));
                        thread::yield_now();
                    }
                    local_reads += 1;
                    if local_reads.is_multiple_of(8) {
                        hazard.reset_protection();
                    }
                }
                reads.fetch_add(local_reads, Ordering::Relaxed);
            });
        }
        for writer in 0..WRITERS as u64 {
            let (shared, domain, drops, writers_done) = (&shared, &domain, &drops, &writers_done);
            scope.spawn(move || {
                for i in 0..SWAPS_PER_WRITER {
                    let value = writer * SWAPS_PER_WRITER + i + 1;
                    let old = shared.swap(new_tracked(value, drops), Ordering::AcqRel);
                    // SAFETY: `old` is unlinked by the swap and retired exactly once.
                    unsafe { domain.retire(old, drop_in_place_keep_memory) };
                    if i.is_multiple_of(32) {
                        // Let readers run between swaps on a machine with few cores.
                        thread::yield_now();
                    }
                }
                writers_done.fetch_add(1, Ordering::Release);
            });
        }
    });

    assert!(reads.load(Ordering::Relaxed) > 0);
    let retired = (WRITERS as u64 * SWAPS_PER_WRITER) as usize;
    domain.eager_reclaim();
    // No hazard is alive any more, so one scan frees all that was retired.
    assert_eq!(drops.load(Ordering::Relaxed), retired);
    assert_eq!(domain.retired_count(), 0);

    // The last object was never retired: free it, and check drop(domain) frees nothing
    // twice (the counter would assert).
    // SAFETY: all threads are done; the last object is ours.
    unsafe { drop_in_place_keep_memory(shared.load(Ordering::Acquire)) };
    drop(domain);
    assert_eq!(drops.load(Ordering::Relaxed), retired + 1);
}

#[test]
fn stalled_reader_pins_one_object_and_garbage_stays_bounded() {
    const RETIRES: u64 = 20_000;

    let drops = AtomicUsize::new(0);
    let domain = Domain::new();
    let shared = AtomicPtr::new(new_tracked(0, &drops));
    let first = shared.load(Ordering::Relaxed);
    let protected = AtomicBool::new(false);
    let release = AtomicBool::new(false);

    thread::scope(|scope| {
        // The "stalled" reader: protects the first object and then does nothing with
        // the domain until told to let go.
        scope.spawn(|| {
            let mut hazard = HazardPointer::new_in_domain(&domain);
            // SAFETY: `shared` holds boxed `Tracked`s retired into `domain`.
            let object = unsafe { hazard.protect(&shared) }.unwrap();
            assert_eq!(object.value, 0);
            protected.store(true, Ordering::Release);
            while !release.load(Ordering::Acquire) {
                thread::yield_now();
            }
            // Protection held all along: still intact.
            assert!(!object.freed.load(Ordering::Relaxed));
            assert_eq!(object.checksum, checksum(0));
        });

        while !protected.load(Ordering::Acquire) {
            thread::yield_now();
        }
        let mut most_unfreed = 0;
        for value in 1..=RETIRES {
            let old = shared.swap(new_tracked(value, &drops), Ordering::AcqRel);
            // SAFETY: unlinked by the swap, retired exactly once.
            unsafe { domain.retire(old, drop_in_place_keep_memory) };
            let unfreed = value as usize - drops.load(Ordering::Relaxed);
            most_unfreed = most_unfreed.max(unfreed);
            // The bound: below the scan threshold, which is 2 × H + constant, however
            // long the reader stalls. (With one retiring thread the list never exceeds
            // the threshold: the retire that reaches it scans.)
            assert!(
                unfreed < domain.reclaim_threshold(),
                "{unfreed} unfreed objects, threshold {}",
                domain.reclaim_threshold()
            );
            // SAFETY: `first` is protected by the reader, so its memory is valid (and
            // with this deleter it is never deallocated anyway).
            let first = unsafe { &*first };
            assert!(
                !first.freed.load(Ordering::Relaxed),
                "protected object freed"
            );
        }
        assert_eq!(domain.hazard_count(), 1);
        assert!(most_unfreed >= 2, "the test exercised nothing");
        // Eager reclaim frees everything but the protected object.
        domain.eager_reclaim();
        assert_eq!(drops.load(Ordering::Relaxed), RETIRES as usize - 1);
        assert_eq!(domain.retired_count(), 1);
        release.store(true, Ordering::Release);
    });

    // The reader has released its hazard: now the pinned object goes too.
    domain.eager_reclaim();
    assert_eq!(drops.load(Ordering::Relaxed), RETIRES as usize);
    // SAFETY: single-threaded now; the last object is ours.
    unsafe { drop_in_place_keep_memory(shared.load(Ordering::Acquire)) };
    assert_eq!(drops.load(Ordering::Relaxed), RETIRES as usize + 1);
}

#[test]
fn records_are_reused_and_global_domain_works() {
    let domain = Domain::new();
    for _ in 0..10 {
        let a = HazardPointer::new_in_domain(&domain);
        let b = HazardPointer::new_in_domain(&domain);
        drop((a, b));
    }
    assert_eq!(domain.hazard_count(), 2);

    let drops = AtomicUsize::new(0);
    let shared = AtomicPtr::new(new_tracked(1, &drops));
    let mut hazard = HazardPointer::new();
    let pointer = hazard.protect_ptr(&shared);
    assert_eq!(hazard.try_protect(pointer, &shared), Ok(pointer));
    assert_eq!(
        hazard.try_protect(std::ptr::null_mut(), &shared),
        Err(pointer)
    );
    hazard.reset_protection();
    let null: AtomicPtr<Tracked<'_>> = AtomicPtr::new(std::ptr::null_mut());
    // SAFETY: null is never dereferenced.
    assert!(unsafe { hazard.protect(&null) }.is_none());
    // SAFETY: single-threaded; the object is ours.
    unsafe { drop_in_place_keep_memory(pointer) };
}

#[test]
fn garbage_stays_bounded_with_concurrent_retirers_and_a_stalled_reader() {
    const RETIRERS: usize = 2;
    const RETIRES_PER_THREAD: u64 = 10_000;

    let drops = AtomicUsize::new(0);
    let domain = Domain::new();
    let shared = AtomicPtr::new(new_tracked(0, &drops));
    let first = shared.load(Ordering::Relaxed);
    let protected = AtomicBool::new(false);
    let retirers_done = AtomicUsize::new(0);
    let most_retired = AtomicUsize::new(0);

    thread::scope(|scope| {
        // Stalls holding the first object until every retirer is done.
        scope.spawn(|| {
            let mut hazard = HazardPointer::new_in_domain(&domain);
            // SAFETY: `shared` holds boxed `Tracked`s retired into `domain`.
            let object = unsafe { hazard.protect(&shared) }.unwrap();
            protected.store(true, Ordering::Release);
            while retirers_done.load(Ordering::Acquire) < RETIRERS {
                thread::yield_now();
            }
            assert!(!object.freed.load(Ordering::Relaxed));
        });
        while !protected.load(Ordering::Acquire) {
            thread::yield_now();
        }
        for _ in 0..RETIRERS {
            scope.spawn(|| {
                // Each retirer also reads, so H counts more than the stalled slot.
                let mut hazard = HazardPointer::new_in_domain(&domain);
                for value in 1..=RETIRES_PER_THREAD {
                    // SAFETY: as above.
                    let current = unsafe { hazard.protect(&shared) }.unwrap();
                    assert!(!current.freed.load(Ordering::Relaxed), "read after free");
                    hazard.reset_protection();
                    let old = shared.swap(new_tracked(value, &drops), Ordering::AcqRel);
                    // SAFETY: unlinked by the swap, retired exactly once.
                    unsafe { domain.retire(old, drop_in_place_keep_memory) };
                    let retired = domain.retired_count();
                    most_retired.fetch_max(retired, Ordering::Relaxed);
                    // A loose O(H) bound: a scan starts at the threshold, and what the
                    // other retirer adds while it runs is freed by its own scan.
                    assert!(
                        retired <= 2 * domain.reclaim_threshold(),
                        "{retired} retired, threshold {}",
                        domain.reclaim_threshold()
                    );
                }
                retirers_done.fetch_add(1, Ordering::Release);
            });
        }
    });

    let total = RETIRERS * RETIRES_PER_THREAD as usize;
    assert!(most_retired.load(Ordering::Relaxed) > 0);
    // A retirer that finished early may have handed its record to the other one.
    assert!((2..=1 + RETIRERS).contains(&domain.hazard_count()));
    // The stalled reader is gone: everything retired can go now.
    // SAFETY: `first` was retired but its memory is never deallocated by this deleter.
    let first = unsafe { &*first };
    assert!(first.freed.load(Ordering::Relaxed) || domain.retired_count() > 0);
    domain.eager_reclaim();
    assert_eq!(drops.load(Ordering::Relaxed), total);
    assert!(first.freed.load(Ordering::Relaxed));
    // SAFETY: single-threaded now; the last object is ours.
    unsafe { drop_in_place_keep_memory(shared.load(Ordering::Acquire)) };
}

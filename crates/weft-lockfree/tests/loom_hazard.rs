//! Loom models of hazard pointers: a reader protecting while a writer swaps, retires
//! and reclaims.
//!
//! Run with
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 cargo test --release -p weft-lockfree --test loom_hazard`.
//!
//! Each object carries a loom-tracked cell the reader reads and the deleter overwrites:
//! if a free were not ordered after the reader's last read, loom reports the data race
//! (a use after free in real memory), and the `freed` flag catches a logically early
//! free. Deleters never deallocate, so the flag stays readable; the model frees the
//! memory itself at the end.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use loom::thread;

use weft_lockfree::hazard::{self, Domain, HazardPointer};

const POISON: u64 = 0xDEAD;

struct Object {
    value: UnsafeCell<u64>,
    freed: AtomicBool,
    drops: Arc<AtomicUsize>,
}

fn new_object(value: u64, drops: &Arc<AtomicUsize>) -> *mut Object {
    Box::into_raw(Box::new(Object {
        value: UnsafeCell::new(value),
        freed: AtomicBool::new(false),
        drops: Arc::clone(drops),
    }))
}

/// The deleter: poisons the object (a tracked write) and marks it freed, keeping the
/// memory so late readers would see the flag rather than garbage.
unsafe fn poison(object: *mut Object) {
    // SAFETY: the domain calls this once per retired object, which is still allocated
    // (the model frees memory only at its end).
    let object = unsafe { &*object };
    // SAFETY: the tracked write loom checks against every reader's read.
    object.value.with_mut(|value| unsafe { *value = POISON });
    assert!(!object.freed.swap(true, Ordering::Relaxed), "freed twice");
    object.drops.fetch_add(1, Ordering::Relaxed);
}

/// Reads a protected object: it must be intact.
fn read(object: &Object, expected: u64) {
    assert!(!object.freed.load(Ordering::Relaxed), "read after free");
    // SAFETY: a tracked read; loom reports a race if a deleter's write is concurrent.
    let value = object.value.with(|value| unsafe { *value });
    assert_eq!(value, expected);
}

/// Frees the memory of an object at the end of a model.
///
/// # Safety
///
/// Every thread is done with `object`, and it came from `new_object`.
unsafe fn free_memory(object: *mut Object) {
    // SAFETY: per the contract.
    drop(unsafe { Box::from_raw(object) });
}

#[test]
fn reader_protects_while_writer_swaps_retires_and_reclaims() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let domain = Arc::new(Domain::new());
        let first = new_object(1, &drops);
        let second = new_object(2, &drops);
        let shared = Arc::new(AtomicPtr::new(first));

        let reader = {
            let (domain, shared) = (Arc::clone(&domain), Arc::clone(&shared));
            thread::spawn(move || {
                let mut hazard = HazardPointer::new_in_domain(&domain);
                // SAFETY: `shared` holds `new_object`s retired into `domain`.
                let object = unsafe { hazard.protect(&shared) }.unwrap();
                let expected = if core::ptr::eq(object, first) { 1 } else { 2 };
                read(object, expected);
            })
        };

        let old = shared.swap(second, Ordering::AcqRel);
        assert_eq!(old, first);
        // SAFETY: unlinked by the swap, retired once.
        unsafe { domain.retire(old, poison) };
        domain.eager_reclaim();

        reader.join().unwrap();
        // The reader has dropped its hazard: a reclaim now frees the old object.
        domain.eager_reclaim();
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        assert_eq!(domain.retired_count(), 0);

        // SAFETY: all threads are done.
        unsafe {
            free_memory(first);
            free_memory(second);
        }
    });
}

#[test]
fn two_reclaimers_never_free_twice_or_early() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let domain = Arc::new(Domain::new());
        let first = new_object(1, &drops);
        let second = new_object(2, &drops);
        let shared = Arc::new(AtomicPtr::new(first));

        let reader = {
            let (domain, shared) = (Arc::clone(&domain), Arc::clone(&shared));
            thread::spawn(move || {
                let mut hazard = HazardPointer::new_in_domain(&domain);
                // SAFETY: `shared` holds `new_object`s retired into `domain`.
                if let Some(object) = unsafe { hazard.protect(&shared) } {
                    let expected = if core::ptr::eq(object, first) { 1 } else { 2 };
                    read(object, expected);
                }
            })
        };
        let writer = {
            let (domain, shared) = (Arc::clone(&domain), Arc::clone(&shared));
            thread::spawn(move || {
                let old = shared.swap(second, Ordering::AcqRel);
                // SAFETY: unlinked by the swap, retired once.
                unsafe { domain.retire(old, poison) };
            })
        };
        // A second reclaimer racing with the writer's retire and the reader.
        domain.eager_reclaim();

        writer.join().unwrap();
        reader.join().unwrap();
        domain.eager_reclaim();
        assert_eq!(drops.load(Ordering::Relaxed), 1);

        // SAFETY: all threads are done.
        unsafe {
            free_memory(first);
            free_memory(second);
        }
    });
}

#[test]
fn protected_object_survives_reclaim_until_released() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let domain = Arc::new(Domain::new());
        let first = new_object(1, &drops);
        let shared = Arc::new(AtomicPtr::new(first));
        let protected = Arc::new(AtomicBool::new(false));
        let release = Arc::new(AtomicBool::new(false));

        let reader = {
            let (domain, shared) = (Arc::clone(&domain), Arc::clone(&shared));
            let (protected, release) = (Arc::clone(&protected), Arc::clone(&release));
            thread::spawn(move || {
                let mut hazard = HazardPointer::new_in_domain(&domain);
                // SAFETY: `shared` holds `new_object`s retired into `domain`.
                let object = unsafe { hazard.protect(&shared) }.unwrap();
                protected.store(true, Ordering::Release);
                while !release.load(Ordering::Acquire) {
                    thread::yield_now();
                }
                read(object, 1);
            })
        };

        while !protected.load(Ordering::Acquire) {
            thread::yield_now();
        }
        let old = shared.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: unlinked by the swap, retired once.
        unsafe { domain.retire(old, poison) };
        domain.eager_reclaim();
        // Protected before it was unlinked: no scan may free it.
        assert_eq!(drops.load(Ordering::Relaxed), 0);
        assert_eq!(domain.retired_count(), 1);
        release.store(true, Ordering::Release);

        reader.join().unwrap();
        domain.eager_reclaim();
        assert_eq!(drops.load(Ordering::Relaxed), 1);

        // SAFETY: all threads are done.
        unsafe { free_memory(first) };
    });
}

#[test]
fn reprotecting_ends_the_previous_protection_safely() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let domain = Arc::new(Domain::new());
        let first = new_object(1, &drops);
        let second = new_object(2, &drops);
        let shared = Arc::new(AtomicPtr::new(first));

        let reader = {
            let (domain, shared) = (Arc::clone(&domain), Arc::clone(&shared));
            thread::spawn(move || {
                let mut hazard = HazardPointer::new_in_domain(&domain);
                for _ in 0..2 {
                    // Protecting again moves the slot on: the reads of the previous
                    // object must happen-before a scan that then frees it.
                    // SAFETY: `shared` holds `new_object`s retired into `domain`.
                    let object = unsafe { hazard.protect(&shared) }.unwrap();
                    let expected = if core::ptr::eq(object, first) { 1 } else { 2 };
                    read(object, expected);
                }
                // Keep the hazard alive: only the re-protection released `first`.
                core::mem::forget(hazard);
            })
        };

        let old = shared.swap(second, Ordering::AcqRel);
        // SAFETY: unlinked by the swap, retired once.
        unsafe { domain.retire(old, poison) };
        domain.eager_reclaim();

        reader.join().unwrap();
        // Dropping the domain frees `first` if the scan above did not (and ignores
        // the forgotten hazard); `second` is never retired.
        drop(domain);
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        // SAFETY: all threads are done.
        unsafe {
            free_memory(first);
            free_memory(second);
        }
    });
}

#[test]
fn records_are_shared_and_reused_in_the_global_domain() {
    loom::model(|| {
        let other = thread::spawn(|| {
            let hazard = HazardPointer::new();
            drop(hazard);
            let _again = HazardPointer::new();
        });
        let hazard = HazardPointer::new();
        drop(hazard);
        other.join().unwrap();
        // Never more than two alive at once, so never more than two records.
        assert!(Domain::global().hazard_count() <= 2);

        let drops = Arc::new(AtomicUsize::new(0));
        let object = new_object(7, &drops);
        // SAFETY: never shared; retired once.
        unsafe { hazard::retire(object, poison) };
        Domain::global().eager_reclaim();
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        // SAFETY: done with it.
        unsafe { free_memory(object) };
    });
}

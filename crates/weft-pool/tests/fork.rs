//! Fork safety: a child forked after the global pool started rebuilds it and can
//! `join`; a non-global pool inherited by the child panics with a message instead of
//! hanging. Its own test binary with one test: `fork` in a process with other test
//! threads running would copy them mid-flight.

#![cfg(target_os = "linux")]

use std::panic::{AssertUnwindSafe, catch_unwind};

fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = weft_pool::join(|| fib(n - 1), || fib(n - 2));
    a + b
}

/// Forks; the child runs `child` under a 30 s alarm (so a hang kills it with SIGALRM)
/// and exits with its return value; the parent returns the child's wait status.
fn in_child(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `child` and then `_exit`s; the test binary runs this
    // test alone (`--test fork` has one test), so no other thread's state is copied
    // mid-operation except the pools' idle workers, which the child never touches.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: plain libc calls in the child.
        unsafe { libc::alarm(30) };
        let code = catch_unwind(AssertUnwindSafe(child)).unwrap_or(101);
        // SAFETY: leaves the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    status
}

#[test]
fn forked_child_rebuilds_the_global_pool_and_rejects_inherited_pools() {
    // The parent uses the global pool first, so the child inherits a started one.
    assert_eq!(fib(15), 610);
    let private = weft_pool::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    assert_eq!(private.install(|| fib(10)), 55);

    let status = in_child(|| {
        if fib(15) == 610 && fib(20) == 6765 {
            0
        } else {
            1
        }
    });
    assert!(
        libc::WIFEXITED(status),
        "child did not exit normally: {status:#x}"
    );
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "child's join gave a wrong result"
    );

    let status = in_child(|| {
        let outcome = catch_unwind(AssertUnwindSafe(|| private.install(|| 1)));
        match outcome {
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_default();
                if message.contains("fork") { 0 } else { 2 }
            }
            Ok(_) => 3,
        }
    });
    assert!(
        libc::WIFEXITED(status),
        "child did not exit normally: {status:#x}"
    );
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "inherited pool did not fail clearly"
    );

    // The parent's pools still work.
    assert_eq!(fib(12), 144);
    assert_eq!(private.install(|| fib(12)), 144);
}

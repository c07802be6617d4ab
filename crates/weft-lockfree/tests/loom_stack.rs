//! Loom model of `TreiberStack`: no element lost or duplicated.
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
//!  cargo test --release -p weft-lockfree --test loom_stack`
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use weft_lockfree::TreiberStack;

#[test]
fn push_pop_no_loss_no_duplicate() {
    loom::model(|| {
        let stack = Arc::new(TreiberStack::new());
        let threads: Vec<_> = [10, 20]
            .into_iter()
            .map(|base| {
                let stack = Arc::clone(&stack);
                thread::spawn(move || {
                    stack.push(base);
                    stack.push(base + 1);
                    stack.pop()
                })
            })
            .collect();
        let mut seen: Vec<u32> = threads
            .into_iter()
            .filter_map(|thread| thread.join().unwrap())
            .collect();
        while let Some(value) = stack.pop() {
            seen.push(value);
        }
        seen.sort_unstable();
        assert_eq!(seen, [10, 11, 20, 21]);
    });
}

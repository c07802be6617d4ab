//! The expansions compile and run against a stand-in runtime with the `Builder` shape
//! weft-rt will have: `?` in a `-> Result` body, `#[should_panic]`, `#[ignore]`, and
//! every flavour's constructor.

// `::weft` in the default expansion names this test crate, whose `rt` module stands in
// for weft-rt.
extern crate self as weft;

use std::cell::Cell;
use std::io;

/// A stand-in for `weft::rt` that records what the expansion asked of it.
pub mod rt {
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    use std::thread::{self, Thread};

    thread_local! {
        /// The last runtime built on this thread: constructor name and worker count.
        pub static BUILT: Cell<Option<(&'static str, Option<usize>)>> = const { Cell::new(None) };
    }

    #[derive(Debug)]
    pub struct Builder {
        flavor: &'static str,
        workers: Option<usize>,
    }

    impl Builder {
        pub fn new_multi_thread() -> Self {
            Builder {
                flavor: "multi_thread",
                workers: None,
            }
        }
        pub fn new_current_thread() -> Self {
            Builder {
                flavor: "current_thread",
                workers: None,
            }
        }
        pub fn thread_per_core() -> Self {
            Builder {
                flavor: "thread_per_core",
                workers: None,
            }
        }
        pub fn worker_threads(mut self, n: usize) -> Self {
            self.workers = Some(n);
            self
        }
        pub fn enable_all(self) -> Self {
            self
        }
        pub fn build(self) -> std::io::Result<Runtime> {
            BUILT.with(|b| b.set(Some((self.flavor, self.workers))));
            Ok(Runtime)
        }
    }

    #[derive(Debug)]
    pub struct Runtime;

    struct Unpark(Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    impl Runtime {
        pub fn block_on<F: Future>(&self, future: F) -> F::Output {
            let mut future = pin!(future);
            let waker = Waker::from(Arc::new(Unpark(thread::current())));
            let mut cx = Context::from_waker(&waker);
            loop {
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
                thread::park();
            }
        }
    }
}

/// Also a renamed path: a module re-exporting the stand-in.
mod reexport {
    pub(crate) use crate::rt;
}

fn built() -> Option<(&'static str, Option<usize>)> {
    rt::BUILT.with(Cell::get)
}

async fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

/// A wake from another thread, so `block_on` really waits.
async fn yield_via_thread() {
    struct Once(bool);
    impl std::future::Future for Once {
        type Output = ();
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            if self.0 {
                return std::task::Poll::Ready(());
            }
            self.0 = true;
            let waker = cx.waker().clone();
            std::thread::spawn(move || waker.wake());
            std::task::Poll::Pending
        }
    }
    Once(false).await
}

#[weft_macros::main]
async fn main_with_question_mark() -> Result<u32, io::Error> {
    yield_via_thread().await;
    let n = parse("41").await.map_err(io::Error::other)?;
    Ok(n + 1)
}

#[weft_macros::main(worker_threads = 3)]
async fn main_with_workers() {}

#[weft_macros::main(flavor = "thread_per_core", crate = "crate::reexport_root")]
async fn main_thread_per_core() -> &'static str {
    "done"
}

mod reexport_root {
    pub(crate) use crate::reexport::rt;
}

#[test]
fn main_runs_the_body_and_returns_its_output() {
    assert_eq!(main_with_question_mark().unwrap(), 42);
    assert_eq!(built(), Some(("multi_thread", None)));
}

#[test]
fn main_passes_worker_threads() {
    main_with_workers();
    assert_eq!(built(), Some(("multi_thread", Some(3))));
}

#[test]
fn main_thread_per_core_and_renamed_crate() {
    assert_eq!(main_thread_per_core(), "done");
    assert_eq!(built(), Some(("thread_per_core", None)));
}

#[weft_macros::test]
async fn test_is_current_thread_by_default() {
    yield_via_thread().await;
    assert_eq!(built(), Some(("current_thread", None)));
}

#[weft_macros::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_takes_options() {
    assert_eq!(built(), Some(("multi_thread", Some(2))));
}

#[weft_macros::test]
async fn test_may_return_result() -> Result<(), std::num::ParseIntError> {
    assert_eq!(parse("7").await?, 7);
    Ok(())
}

#[weft_macros::test]
#[should_panic(expected = "from inside the body")]
async fn test_keeps_should_panic() {
    yield_via_thread().await;
    panic!("from inside the body");
}

#[weft_macros::test]
#[ignore = "checks only that #[ignore] is kept; it would fail if run"]
async fn test_keeps_ignore() {
    panic!("an ignored test ran");
}

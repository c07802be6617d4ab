//! The `#[weft::main]`, `#[weft::test]` and `#[weft::process::task]` attributes.
//!
//! Both turn an `async fn` into the sync function Rust expects (`fn main()`, a
//! `#[test] fn`) that builds a weft runtime and blocks on the body:
//!
//! ```text
//! #[weft::main]                         fn main() -> Result<(), Error> {
//! async fn main() -> Result<(), Error> {    let body = async move { ..body.. };
//!     ..body..                     =>       let runtime = ::weft::rt::Builder::new_multi_thread()
//! }                                             .enable_all().build().expect("..");
//!                                           runtime.block_on(body)
//!                                       }
//! ```
//!
//! Use them through the facade, as `weft::main` and `weft::test`; this crate is the
//! proc-macro half and names the runtime only by path (`::weft::rt::Builder`, or
//! the path given with `crate = ".."`).
//!
//! # Options
//!
//! | option | values | effect |
//! |---|---|---|
//! | `flavor` | `"multi_thread"` (default for `main`), `"current_thread"` (default for `test`), `"thread_per_core"` | `Builder::new_multi_thread()`, `Builder::new_current_thread()`, `Builder::thread_per_core()` |
//! | `worker_threads` | an integer ≥ 1 | `.worker_threads(n)`; refused with `current_thread`, which has no workers |
//! | `crate` | a path in a string, `crate = "my_reexport::weft"` | where the weft facade is, for crates that re-export it |
//!
//! `#[weft::test]` keeps the function's other attributes, so `#[should_panic]`,
//! `#[ignore]` and doc comments work as on a plain test, and it refuses a function
//! that already carries `#[test]` (the test would be registered twice).
//!
//! # Examples
//!
//! ```
//! # extern crate self as weft;
//! # pub use weft_macros::main;
//! # pub mod rt { // a stand-in for weft-rt, which this crate cannot depend on
//! #     pub struct Builder;
//! #     impl Builder {
//! #         pub fn new_multi_thread() -> Self { Builder }
//! #         pub fn worker_threads(self, _: usize) -> Self { self }
//! #         pub fn enable_all(self) -> Self { self }
//! #         pub fn build(self) -> std::io::Result<Runtime> { Ok(Runtime) }
//! #     }
//! #     pub struct Runtime;
//! #     impl Runtime {
//! #         pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
//! #             let mut future = std::pin::pin!(future);
//! #             let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! #             loop {
//! #                 if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) { return v; }
//! #             }
//! #         }
//! #     }
//! # }
//! async fn answer() -> Result<u32, std::num::ParseIntError> {
//!     "42".parse()
//! }
//!
//! #[weft::main(worker_threads = 2)]
//! async fn main() -> Result<(), std::num::ParseIntError> {
//!     assert_eq!(answer().await?, 42);
//!     Ok(())
//! }
//! ```
//!
//! # Mistakes are compile errors
//!
//! Each is reported at the offending token, all at once, before any weft path is
//! resolved. The examples below do not compile (each has a hidden stand-in for
//! `weft::rt`, so the attribute's error is the only one).
//!
//! The function must be `async`:
//!
//! ```compile_fail
//! # extern crate self as weft;
//! # pub mod rt { // a stand-in for weft-rt, so only the attribute's own error remains
//! #     pub struct Builder;
//! #     pub struct Runtime;
//! #     impl Builder {
//! #         pub fn new_multi_thread() -> Self { Builder }
//! #         pub fn new_current_thread() -> Self { Builder }
//! #         pub fn worker_threads(self, _: usize) -> Self { self }
//! #         pub fn enable_all(self) -> Self { self }
//! #         pub fn build(self) -> std::io::Result<Runtime> { Ok(Runtime) }
//! #     }
//! #     impl Runtime {
//! #         pub fn block_on<F: std::future::Future>(&self, _: F) -> F::Output { todo!() }
//! #     }
//! # }
//! #[weft_macros::main]
//! fn main() {}
//! ```
//!
//! It takes no arguments:
//!
//! ```compile_fail
//! # extern crate self as weft;
//! # pub mod rt { // a stand-in for weft-rt, so only the attribute's own error remains
//! #     pub struct Builder;
//! #     pub struct Runtime;
//! #     impl Builder {
//! #         pub fn new_multi_thread() -> Self { Builder }
//! #         pub fn new_current_thread() -> Self { Builder }
//! #         pub fn worker_threads(self, _: usize) -> Self { self }
//! #         pub fn enable_all(self) -> Self { self }
//! #         pub fn build(self) -> std::io::Result<Runtime> { Ok(Runtime) }
//! #     }
//! #     impl Runtime {
//! #         pub fn block_on<F: std::future::Future>(&self, _: F) -> F::Output { todo!() }
//! #     }
//! # }
//! #[weft_macros::test]
//! async fn with_argument(n: u32) {}
//! # fn main() {}
//! ```
//!
//! `main` has no generic parameters:
//!
//! ```compile_fail
//! # extern crate self as weft;
//! # pub mod rt { // a stand-in for weft-rt, so only the attribute's own error remains
//! #     pub struct Builder;
//! #     pub struct Runtime;
//! #     impl Builder {
//! #         pub fn new_multi_thread() -> Self { Builder }
//! #         pub fn new_current_thread() -> Self { Builder }
//! #         pub fn worker_threads(self, _: usize) -> Self { self }
//! #         pub fn enable_all(self) -> Self { self }
//! #         pub fn build(self) -> std::io::Result<Runtime> { Ok(Runtime) }
//! #     }
//! #     impl Runtime {
//! #         pub fn block_on<F: std::future::Future>(&self, _: F) -> F::Output { todo!() }
//! #     }
//! # }
//! #[weft_macros::main]
//! async fn main<T>() {}
//! ```
//!
//! Options are `flavor`, `worker_threads` and `crate`, nothing else:
//!
//! ```compile_fail
//! # extern crate self as weft;
//! # pub mod rt { // a stand-in for weft-rt, so only the attribute's own error remains
//! #     pub struct Builder;
//! #     pub struct Runtime;
//! #     impl Builder {
//! #         pub fn new_multi_thread() -> Self { Builder }
//! #         pub fn new_current_thread() -> Self { Builder }
//! #         pub fn worker_threads(self, _: usize) -> Self { self }
//! #         pub fn enable_all(self) -> Self { self }
//! #         pub fn build(self) -> std::io::Result<Runtime> { Ok(Runtime) }
//! #     }
//! #     impl Runtime {
//! #         pub fn block_on<F: std::future::Future>(&self, _: F) -> F::Output { todo!() }
//! #     }
//! # }
//! #[weft_macros::main(threads = 4)]
//! async fn main() {}
//! ```
//!
//! Each option takes the documented kind of literal:
//!
//! ```compile_fail
//! # extern crate self as weft;
//! # pub mod rt { // a stand-in for weft-rt, so only the attribute's own error remains
//! #     pub struct Builder;
//! #     pub struct Runtime;
//! #     impl Builder {
//! #         pub fn new_multi_thread() -> Self { Builder }
//! #         pub fn new_current_thread() -> Self { Builder }
//! #         pub fn worker_threads(self, _: usize) -> Self { self }
//! #         pub fn enable_all(self) -> Self { self }
//! #         pub fn build(self) -> std::io::Result<Runtime> { Ok(Runtime) }
//! #     }
//! #     impl Runtime {
//! #         pub fn block_on<F: std::future::Future>(&self, _: F) -> F::Output { todo!() }
//! #     }
//! # }
//! #[weft_macros::main(worker_threads = "4")]
//! async fn main() {}
//! ```
//!
//! ```compile_fail
//! # extern crate self as weft;
//! # pub mod rt { // a stand-in for weft-rt, so only the attribute's own error remains
//! #     pub struct Builder;
//! #     pub struct Runtime;
//! #     impl Builder {
//! #         pub fn new_multi_thread() -> Self { Builder }
//! #         pub fn new_current_thread() -> Self { Builder }
//! #         pub fn worker_threads(self, _: usize) -> Self { self }
//! #         pub fn enable_all(self) -> Self { self }
//! #         pub fn build(self) -> std::io::Result<Runtime> { Ok(Runtime) }
//! #     }
//! #     impl Runtime {
//! #         pub fn block_on<F: std::future::Future>(&self, _: F) -> F::Output { todo!() }
//! #     }
//! # }
//! #[weft_macros::main(flavor = current_thread)]
//! async fn main() {}
//! ```
//!
//! A current-thread runtime has no worker threads to count:
//!
//! ```compile_fail
//! # extern crate self as weft;
//! # pub mod rt { // a stand-in for weft-rt, so only the attribute's own error remains
//! #     pub struct Builder;
//! #     pub struct Runtime;
//! #     impl Builder {
//! #         pub fn new_multi_thread() -> Self { Builder }
//! #         pub fn new_current_thread() -> Self { Builder }
//! #         pub fn worker_threads(self, _: usize) -> Self { self }
//! #         pub fn enable_all(self) -> Self { self }
//! #         pub fn build(self) -> std::io::Result<Runtime> { Ok(Runtime) }
//! #     }
//! #     impl Runtime {
//! #         pub fn block_on<F: std::future::Future>(&self, _: F) -> F::Output { todo!() }
//! #     }
//! # }
//! #[weft_macros::main(flavor = "current_thread", worker_threads = 2)]
//! async fn main() {}
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use proc_macro::TokenStream;

mod expand;
mod options;
mod task;

use options::Kind;

/// Runs `async fn main` on a weft runtime: multi-threaded unless `flavor` says
/// otherwise.
///
/// The body becomes an `async move` block passed to `block_on` on a runtime built with
/// `::weft::rt::Builder` and `.enable_all()`. The return type is kept, so
/// `-> Result<(), E>` with `?` in the body works as in a sync `main`. See the
/// [crate docs](crate) for the options and the errors.
///
/// # Examples
///
/// (Not run here: it needs weft-rt behind `weft::rt`; the [crate docs](crate) have a
/// runnable example against a stand-in.)
///
/// ```ignore
/// #[weft::main(flavor = "current_thread")]
/// async fn main() {
///     println!("hello from a task");
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on its own weft runtime: current-thread unless `flavor`
/// says otherwise.
///
/// Expands to `#[::core::prelude::v1::test] fn name() { .. }` with the function's other
/// attributes (`#[should_panic]`, `#[ignore]`) kept. See the [crate docs](crate) for the
/// options and the errors.
///
/// # Examples
///
/// (Not run here: it needs weft-rt behind `weft::rt`.)
///
/// ```ignore
/// #[weft::test(flavor = "multi_thread", worker_threads = 2)]
/// async fn spawns_on_two_workers() {
///     let handle = weft::rt::spawn(async { 1 + 1 });
///     assert_eq!(handle.await.unwrap(), 2);
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Test, args.into(), item.into()).into()
}

/// Declares a weft-process task: the function becomes a zero-sized handle of the same
/// name implementing `weft::process::Task`, registered so worker processes find it by
/// its module path and name.
///
/// ```text
/// #[weft::process::task]
/// fn square(x: u64) -> u64 { x * x }
/// // pool.submit(square, 7).wait() == Ok(49); square::run(7) == 49 in this process
/// ```
///
/// Several parameters become one tuple of arguments; a return type spelled
/// `Result<Out, E>` gives the task's output and error types, any other return type is
/// an infallible output. Options: `crate = "path"` (where weft-process's API is;
/// default `::weft::process`) and `name = ".."` (the registered name).
///
/// Refused, each with its own error: `async fn`, `unsafe fn`, generic functions,
/// methods (`self`), variadics.
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    task::expand(args.into(), item.into(), syn::parse_quote!(::weft::process)).into()
}

/// `#[task]` for users of weft-process without the facade: the same attribute, with
/// `::weft_process` as the default path. Re-exported as `weft_process::task`.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn task_in_weft_process(args: TokenStream, item: TokenStream) -> TokenStream {
    task::expand(args.into(), item.into(), syn::parse_quote!(::weft_process)).into()
}

//! `fib(n)` by `join` with no sequential cut-off: a stress of `join`'s fast path, and
//! the program to profile it with (`perf record cargo run --release --example fib`).
//!
//! `cargo run --release -p weft-pool --example fib -- 32 [repetitions]`

fn fib(n: u32) -> u64 {
    if n < 2 {
        return u64::from(n);
    }
    let (a, b) = weft_pool::join(|| fib(n - 1), || fib(n - 2));
    a + b
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let repetitions: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let pool = weft_pool::ThreadPoolBuilder::new().build().unwrap();
    for _ in 0..repetitions {
        let start = std::time::Instant::now();
        let result = pool.install(|| fib(n));
        println!("fib({n}) = {result} in {:?}", start.elapsed());
    }
}

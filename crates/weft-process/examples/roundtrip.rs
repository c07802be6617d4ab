//! Measures the pool's per-task round trip (submit → wait of a trivial task) and the
//! throughput of `map` over many small inputs.
//!
//! ```text
//! cargo run --release -p weft-process --example roundtrip [-- ITEMS CHUNKSIZE]
//! ```

use std::time::Instant;

use weft_process::ProcessPool;

#[weft_process::task]
fn increment(x: u64) -> u64 {
    x + 1
}

fn main() -> Result<(), weft_process::ProcessError> {
    weft_process::init();
    let mut args = std::env::args().skip(1);
    let items: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let chunksize: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());

    let started = Instant::now();
    let pool = ProcessPool::builder().workers(workers).build()?;
    println!("{workers} workers started in {:?}", started.elapsed());

    // Sequential round trips: each submit waits for the previous result.
    for x in 0..200 {
        pool.submit(increment, x).wait().expect("warm-up");
    }
    let rounds = 5_000;
    let started = Instant::now();
    for x in 0..rounds {
        let y = pool.submit(increment, x).wait().expect("round trip");
        assert_eq!(y, x + 1);
    }
    let per_task = started.elapsed() / rounds as u32;
    println!(
        "round trip (submit + wait, trivial task): {:.1} µs",
        per_task.as_secs_f64() * 1e6
    );

    // Many small tasks in flight at once.
    let started = Instant::now();
    let futures: Vec<_> = (0..20_000u64).map(|x| pool.submit(increment, x)).collect();
    let sum: u64 = futures.into_iter().map(|f| f.wait().expect("burst")).sum();
    let elapsed = started.elapsed();
    assert_eq!(sum, (1..=20_000u64).sum());
    println!(
        "20,000 submits in flight: {:.0} tasks/s",
        20_000.0 / elapsed.as_secs_f64()
    );

    let started = Instant::now();
    let mut sum = 0u64;
    for result in pool.map(increment, 0..items).chunksize(chunksize) {
        sum += result.expect("map item");
    }
    let elapsed = started.elapsed();
    assert_eq!(sum, (1..=items).sum());
    println!(
        "map over {items} inputs, chunksize {chunksize}: {:.2} M items/s ({elapsed:?})",
        items as f64 / elapsed.as_secs_f64() / 1e6
    );
    Ok(())
}

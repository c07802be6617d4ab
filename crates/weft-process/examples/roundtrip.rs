//! Measures the pool's per-task round trip (submit → wait of a trivial task) and the
//! throughput of `map` over many small inputs.
//!
//! ```text
//! cargo run --release -p weft-process --example roundtrip [-- ITEMS CHUNKSIZE [map-only]]
//! ```

use std::time::Instant;

use weft_process::ProcessPool;

#[weft_process::task]
fn increment(x: u64) -> u64 {
    x + 1
}

#[weft_process::task]
fn byte_len(data: Vec<u8>) -> usize {
    data.len()
}

/// Large payloads: the round trip of 16 MiB of arguments against serializing and
/// deserializing them locally, to see what moving the bytes through the socket
/// costs (and so what shared memory could save).
fn large_payload(pool: &ProcessPool) {
    let data = vec![0xA5u8; 16 << 20];
    let rounds = 5;
    let started = Instant::now();
    for _ in 0..rounds {
        assert_eq!(
            pool.submit(byte_len, data.clone()).wait().unwrap(),
            data.len()
        );
    }
    let pool_time = started.elapsed() / rounds;
    let started = Instant::now();
    for _ in 0..rounds {
        let clone = data.clone();
        let bytes = postcard::to_allocvec(&clone).unwrap();
        let back: Vec<u8> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.len(), data.len());
    }
    let local_time = started.elapsed() / rounds;
    println!(
        "16 MiB argument: round trip {pool_time:?}, of which serializing locally {local_time:?} \
         (the socket's share: {:.0}%)",
        100.0 * (pool_time.as_secs_f64() - local_time.as_secs_f64()).max(0.0)
            / pool_time.as_secs_f64()
    );
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

    let map_only = args.next().as_deref() == Some("map-only");
    // Sequential round trips: each submit waits for the previous result.
    for x in 0..if map_only { 0 } else { 200 } {
        pool.submit(increment, x).wait().expect("warm-up");
    }
    let rounds = if map_only { 1 } else { 5_000 };
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
    let burst = if map_only { 1 } else { 20_000u64 };
    let futures: Vec<_> = (0..burst).map(|x| pool.submit(increment, x)).collect();
    let sum: u64 = futures.into_iter().map(|f| f.wait().expect("burst")).sum();
    let elapsed = started.elapsed();
    assert_eq!(sum, (1..=burst).sum());
    println!(
        "{burst} submits in flight: {:.0} tasks/s",
        burst as f64 / elapsed.as_secs_f64()
    );

    if !map_only {
        large_payload(&pool);
    }

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

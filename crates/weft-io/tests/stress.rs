//! Many threads in `block_on` at once, each ping-ponging over socketpairs and pipes:
//! the driver role passes between them, and every byte arrives exactly once, in order.

mod common;

use common::{guard, join, read_exact, write_all};
use std::fs::File;
use std::thread;
use weft_io::net::UnixStream;
use weft_io::{Async, block_on};

#[test]
fn block_on_threads_share_the_reactor() {
    const THREADS: u32 = 6;
    const ROUNDS: u32 = 300;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            thread::spawn(move || {
                let (a, b) = UnixStream::pair().unwrap();
                block_on(guard("ping-pong", async move {
                    let ping = async {
                        let mut sum = 0u64;
                        for i in 0..ROUNDS {
                            let msg = (t * 1_000_000 + i).to_le_bytes();
                            write_all(&a, &msg).await.unwrap();
                            let mut back = [0; 4];
                            read_exact(&a, &mut back).await.unwrap();
                            assert_eq!(u32::from_le_bytes(back), t * 1_000_000 + i + 1);
                            sum += u64::from(i);
                        }
                        sum
                    };
                    let pong = async {
                        for _ in 0..ROUNDS {
                            let mut msg = [0; 4];
                            read_exact(&b, &mut msg).await.unwrap();
                            let reply = u32::from_le_bytes(msg) + 1;
                            write_all(&b, &reply.to_le_bytes()).await.unwrap();
                        }
                    };
                    join(ping, pong).await.0
                }))
            })
        })
        .collect();
    let expected: u64 = (0..u64::from(ROUNDS)).sum();
    for h in handles {
        assert_eq!(h.join().unwrap(), expected);
    }
}

#[test]
fn pipes_in_order_across_threads() {
    const BYTES: usize = 1 << 20;
    let (r, w) = rustix::pipe::pipe().unwrap();
    let (r, w) = (File::from(r), File::from(w));
    let reader = thread::spawn(move || {
        let r = Async::new(r).unwrap();
        let mut got = vec![0; BYTES];
        block_on(guard("pipe read", read_exact(&r, &mut got))).unwrap();
        got
    });
    let payload: Vec<u8> = (0..BYTES).map(|i| (i % 251) as u8).collect();
    let w = Async::new(w).unwrap();
    block_on(guard("pipe write", write_all(&w, &payload))).unwrap();
    assert_eq!(reader.join().unwrap(), payload);
}

/// Two threads read one socket at once, so both wait on the same direction's
/// readiness (two wakers in its list, registrations racing each other and the edges).
/// Every byte is read exactly once, and the end of file reaches both: a lost wake-up
/// leaves a reader asleep with nothing to wake it but the hang timer, which fails.
#[test]
fn two_readers_share_one_direction() {
    const BYTES: u32 = 20_000;
    let (a, b) = UnixStream::pair().unwrap();
    let a = std::sync::Arc::new(a);
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let a = a.clone();
            thread::spawn(move || {
                block_on(fail_if_stalled("shared reader", async move {
                    let (mut count, mut sum) = (0u32, 0u64);
                    let mut byte = [0; 1];
                    while common::read(&*a, &mut byte).await.unwrap() == 1 {
                        count += 1;
                        sum += u64::from(byte[0]);
                    }
                    (count, sum)
                }))
            })
        })
        .collect();
    block_on(guard("writer", async {
        for i in 0..BYTES {
            write_all(&b, &[(i % 251) as u8]).await.unwrap();
            if i % 64 == 0 {
                // Let the readers drain and go to sleep now and then.
                thread::yield_now();
            }
        }
        common::close(&b).await.unwrap();
    }));
    drop(b);
    let (mut count, mut sum) = (0, 0);
    for reader in readers {
        let (c, s) = reader.join().unwrap();
        count += c;
        sum += s;
    }
    assert_eq!(count, BYTES);
    assert_eq!(sum, (0..BYTES).map(|i| u64::from(i % 251)).sum::<u64>());
}

/// Fails if `future` has not finished when a generous timer fires. Unlike `guard`, the
/// timer is checked first, so a future that slept through a lost wake-up and would
/// finish on the timer's re-poll still fails.
async fn fail_if_stalled<F: std::future::Future>(what: &str, future: F) -> F::Output {
    use std::pin::{Pin, pin};
    let mut future = pin!(future);
    let mut timer = weft_io::Timer::after(std::time::Duration::from_secs(20));
    std::future::poll_fn(|cx| {
        if Pin::new(&mut timer).poll(cx).is_ready() {
            panic!("{what}: no progress after 20 s (a lost wake-up?)");
        }
        future.as_mut().poll(cx)
    })
    .await
}

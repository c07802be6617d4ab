//! `Async<T>` over pipes and socketpairs, and `Timer`, driven by `weft_io::block_on`.

use futures_io::{AsyncRead, AsyncWrite};
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};
use weft_io::{Async, Timer, block_on};

async fn read_exact(mut r: impl AsyncRead + Unpin, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut r).poll_read(cx, buf)).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
    }
    Ok(())
}

async fn write_all(mut w: impl AsyncWrite + Unpin, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut w).poll_write(cx, buf)).await?;
        buf = &buf[n..];
    }
    Ok(())
}

#[test]
fn read_waits_for_data_from_another_thread() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut a = Async::new(a).unwrap();
    let writer = thread::spawn(move || {
        for chunk in 0..20u8 {
            thread::sleep(Duration::from_millis(1));
            b.write_all(&[chunk; 100]).unwrap();
        }
    });
    let mut buf = vec![0; 2000];
    block_on(read_exact(&mut a, &mut buf)).unwrap();
    for (i, chunk) in buf.chunks(100).enumerate() {
        assert!(chunk.iter().all(|&x| x == i as u8));
    }
    writer.join().unwrap();
}

#[test]
fn readable_blocks_until_data() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let a = Async::new(a).unwrap();
    let writer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(10));
        b.write_all(b"x").unwrap();
        b
    });
    block_on(a.readable()).unwrap();
    // Readable means the byte is there (the writer has written it).
    let mut buf = [0; 1];
    assert_eq!(a.get_ref().read(&mut buf).unwrap(), 1);
    drop(writer.join().unwrap());
}

#[test]
fn partial_reads_of_one_edge_get_everything() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let a = Async::new(a).unwrap();
    b.write_all(&[7; 100]).unwrap();
    // One edge for 100 bytes, consumed one byte at a time: each read after the first
    // must run without a new edge.
    let total = block_on(async {
        let mut total = 0;
        for _ in 0..100 {
            total += a.read_with(|mut s| s.read(&mut [0; 1])).await.unwrap();
        }
        total
    });
    assert_eq!(total, 100);
    // Then the buffer is empty; more data later makes a new edge.
    let writer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(5));
        b.write_all(&[8; 10]).unwrap();
        b
    });
    let n = block_on(a.read_with(|mut s| s.read(&mut [0; 64]))).unwrap();
    assert!((1..=10).contains(&n));
    drop(writer.join().unwrap());
}

#[test]
fn write_with_waits_for_buffer_space() {
    let (a, b) = UnixStream::pair().unwrap();
    let mut a = Async::new(a).unwrap();
    let payload = vec![3u8; 1 << 20];
    let reader = thread::spawn(move || {
        let mut b = b;
        let mut got = vec![0; 1 << 20];
        b.read_exact(&mut got).unwrap();
        got
    });
    block_on(write_all(&mut a, &payload)).unwrap();
    assert_eq!(reader.join().unwrap(), payload);
    // write_with / write_with_mut directly.
    let (c, mut d) = UnixStream::pair().unwrap();
    let mut c = Async::new(c).unwrap();
    assert_eq!(block_on(c.write_with(|mut s| s.write(b"ab"))).unwrap(), 2);
    assert_eq!(block_on(c.write_with_mut(|s| s.write(b"cd"))).unwrap(), 2);
    let mut buf = [0; 4];
    d.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"abcd");
    let mut e = Async::new(d).unwrap();
    drop(c);
    // EOF from read_with_mut.
    assert_eq!(
        block_on(e.read_with_mut(|s| s.read(&mut [0; 4]))).unwrap(),
        0
    );
}

#[test]
fn shared_reference_io() {
    let (a, b) = UnixStream::pair().unwrap();
    let a = Async::new(a).unwrap();
    let b = Async::new(b).unwrap();
    block_on(async {
        write_all(&a, b"ping").await.unwrap();
        let mut buf = [0; 4];
        read_exact(&b, &mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
    });
}

#[test]
fn into_inner_deregisters_and_leaves_the_fd_usable() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let a = Async::new(a).unwrap();
    let mut a = a.into_inner().unwrap();
    // Still non-blocking and open.
    let err = a.read(&mut [0; 1]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    b.write_all(b"q").unwrap();
    let mut buf = [0; 1];
    a.read_exact(&mut buf).unwrap();
    // Deregistered: registering the same descriptor again works.
    let a = Async::new(a).unwrap();
    b.write_all(b"r").unwrap();
    assert_eq!(block_on(a.read_with(|mut s| s.read(&mut buf))).unwrap(), 1);
}

#[test]
fn regular_files_are_refused_with_the_os_error() {
    let file = std::fs::File::open("/proc/self/status").unwrap();
    let err = Async::new(file).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPERM));
}

#[test]
fn timers() {
    let start = Instant::now();
    let at = block_on(Timer::after(Duration::from_millis(3)));
    assert!(Instant::now() >= at && at >= start + Duration::from_millis(3));
    // In the past: completes at once.
    let past = Instant::now() - Duration::from_millis(1);
    assert_eq!(block_on(Timer::at(past)), past);
    // Never, raced against a short timer: the short one wins.
    let (never_done, short_done) = block_on(async {
        let mut never = Timer::never();
        let mut short = Timer::after(Duration::from_millis(2));
        poll_fn(|cx| {
            let n = Pin::new(&mut never).poll(cx).is_ready();
            let s = Pin::new(&mut short).poll(cx).is_ready();
            if n || s {
                Poll::Ready((n, s))
            } else {
                Poll::Pending
            }
        })
        .await
    });
    assert!(!never_done && short_done);
    // Re-arming.
    let mut timer = Timer::after(Duration::from_secs(3600));
    timer.set_after(Duration::from_millis(2));
    let fired = block_on(&mut timer);
    assert_eq!(Some(fired), timer.deadline());
    let later = Instant::now() + Duration::from_millis(2);
    timer.set_at(later);
    assert_eq!(block_on(&mut timer), later);
    // Many timers fire in order.
    let order = block_on(async {
        let mut timers: Vec<Timer> = (0..10u64)
            .rev()
            .map(|i| Timer::after(Duration::from_millis(i)))
            .collect();
        let mut done = Vec::new();
        poll_fn(|cx| {
            for (i, t) in timers.iter_mut().enumerate() {
                if !done.contains(&i) && Pin::new(t).poll(cx).is_ready() {
                    done.push(i);
                }
            }
            if done.len() == 10 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        timers
            .iter()
            .map(|t| t.deadline().unwrap())
            .collect::<Vec<_>>()
    });
    assert!(order.windows(2).all(|w| w[0] >= w[1]));
    // Dropping a pending timer is fine (it is removed from the wheel).
    drop(Timer::after(Duration::from_millis(1)));
}

use std::future::Future;

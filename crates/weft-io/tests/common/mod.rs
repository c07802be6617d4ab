//! Helpers for the async tests: futures-io read/write loops, join, and a hang guard.
#![allow(dead_code)]

use futures_io::{AsyncRead, AsyncWrite};
use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;
use weft_io::Timer;

pub(crate) async fn read(mut r: impl AsyncRead + Unpin, buf: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut r).poll_read(cx, buf)).await
}

pub(crate) async fn read_exact(
    mut r: impl AsyncRead + Unpin,
    mut buf: &mut [u8],
) -> io::Result<()> {
    while !buf.is_empty() {
        let n = read(&mut r, buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
    }
    Ok(())
}

pub(crate) async fn read_to_end(mut r: impl AsyncRead + Unpin) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let n = read(&mut r, &mut buf).await?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

pub(crate) async fn write_all(mut w: impl AsyncWrite + Unpin, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut w).poll_write(cx, buf)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

pub(crate) async fn close(mut w: impl AsyncWrite + Unpin) -> io::Result<()> {
    poll_fn(|cx| Pin::new(&mut w).poll_close(cx)).await
}

/// Runs both futures to completion, concurrently.
pub(crate) async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// `future`'s output, or a panic naming `what` if it has not completed after a
/// generous bound (a hang guard, not a timing assertion).
pub(crate) async fn guard<F: Future>(what: &str, future: F) -> F::Output {
    let mut future = pin!(future);
    let mut timer = Timer::after(Duration::from_secs(20));
    poll_fn(|cx| {
        if let Poll::Ready(v) = future.as_mut().poll(cx) {
            return Poll::Ready(v);
        }
        if Pin::new(&mut timer).poll(cx).is_ready() {
            panic!("{what}: no progress after 20 s");
        }
        Poll::Pending
    })
    .await
}

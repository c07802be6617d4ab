//! Networking on the runtime: an echo server with 1,000 concurrent clients, all tasks
//! of one multi-thread runtime; every byte comes back in order.

use futures_io::{AsyncRead, AsyncWrite};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use weft_rt::net::{TcpListener, TcpStream};

async fn write_all<W: AsyncWrite + Unpin>(w: &mut W, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, buf)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

async fn read_exact<R: AsyncRead + Unpin>(r: &mut R, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, buf)).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
    }
    Ok(())
}

/// Raises the soft descriptor limit to the hard one; returns the new soft limit.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

#[test]
fn echo_server_with_a_thousand_concurrent_clients() {
    let limit = raise_fd_limit();
    // Each connection costs two descriptors in this process (both ends).
    let clients: usize = if limit >= 2_200 {
        1_000
    } else {
        eprintln!("descriptor limit {limit}: running with fewer clients");
        ((limit as usize).saturating_sub(200) / 2).max(10)
    };
    let rt = weft_rt::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = weft_rt::spawn(async move {
            let mut connections = Vec::with_capacity(clients);
            for _ in 0..clients {
                let (mut stream, _) = listener.accept().await.unwrap();
                connections.push(weft_rt::spawn(async move {
                    let mut buf = [0u8; 256];
                    loop {
                        let n = poll_fn(|cx| Pin::new(&mut stream).poll_read(cx, &mut buf))
                            .await
                            .unwrap();
                        if n == 0 {
                            return;
                        }
                        write_all(&mut stream, &buf[..n]).await.unwrap();
                    }
                }));
            }
            for connection in connections {
                connection.await.unwrap();
            }
        });
        let mut handles = Vec::with_capacity(clients);
        for client in 0..clients {
            handles.push(weft_rt::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                for round in 0..3u32 {
                    let message = format!("client {client} round {round};").into_bytes();
                    write_all(&mut stream, &message).await.unwrap();
                    let mut echoed = vec![0u8; message.len()];
                    read_exact(&mut stream, &mut echoed).await.unwrap();
                    assert_eq!(echoed, message, "client {client} round {round}");
                }
                stream.shutdown(std::net::Shutdown::Write).unwrap();
                // The server closes its side after our half-close: EOF.
                let mut rest = [0u8; 1];
                let n = poll_fn(|cx| Pin::new(&mut stream).poll_read(cx, &mut rest))
                    .await
                    .unwrap();
                assert_eq!(n, 0);
            }));
        }
        for handle in handles {
            handle.await.unwrap();
        }
        server.await.unwrap();
    });
}

#[test]
fn connection_refused_is_an_error_with_the_os_cause() {
    let rt = weft_rt::Builder::new_current_thread().build().unwrap();
    // A port nobody listens on: bind one, take its address, close it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let error = rt.block_on(TcpStream::connect(addr)).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
}

//! Networking: a 1,000-client echo server, half-close, refused and reset connections,
//! split halves, UDP and Unix sockets.

mod common;

use common::{close, guard, join, read, read_exact, read_to_end, write_all};
use futures_core::Stream;
use std::future::{Future, poll_fn};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::pin::Pin;
use std::task::Poll;
use std::thread;
use std::time::Duration;
use weft_io::block_on;
use weft_io::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};

type Task = Pin<Box<dyn Future<Output = io::Result<()>>>>;

async fn echo(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = [0; 1024];
    loop {
        let n = read(&mut stream, &mut buf).await?;
        if n == 0 {
            return close(&mut stream).await;
        }
        write_all(&mut stream, &buf[..n]).await?;
    }
}

/// Serves `expected` connections from `incoming()`, each echoed by its own future, all
/// polled by one `block_on` (the runtime is not in this crate).
fn serve(listener: TcpListener, expected: usize) {
    block_on(guard("echo server", async move {
        let mut incoming = listener.incoming();
        let mut tasks: Vec<Task> = Vec::new();
        let (mut accepted, mut finished) = (0, 0);
        poll_fn(|cx| {
            while accepted < expected {
                match Pin::new(&mut incoming).poll_next(cx) {
                    Poll::Ready(Some(stream)) => {
                        accepted += 1;
                        tasks.push(Box::pin(echo(stream.expect("accept"))));
                    }
                    Poll::Ready(None) => unreachable!("incoming never ends"),
                    Poll::Pending => break,
                }
            }
            tasks.retain_mut(|task| match task.as_mut().poll(cx) {
                Poll::Ready(result) => {
                    result.expect("echo");
                    finished += 1;
                    false
                }
                Poll::Pending => true,
            });
            if finished == expected {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }));
}

#[test]
fn echo_server_with_a_thousand_concurrent_clients() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 250;
    const ROUNDS: usize = 3;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || serve(listener, THREADS * PER_THREAD));
    let clients: Vec<_> = (0..THREADS)
        .map(|t| {
            thread::spawn(move || {
                // All connections of all threads are open at once.
                let mut conns: Vec<std::net::TcpStream> = (0..PER_THREAD)
                    .map(|_| std::net::TcpStream::connect(addr).unwrap())
                    .collect();
                for conn in &conns {
                    conn.set_read_timeout(Some(Duration::from_secs(20)))
                        .unwrap();
                }
                for round in 0..ROUNDS {
                    let messages: Vec<Vec<u8>> = (0..PER_THREAD)
                        .map(|i| format!("t{t} c{i} r{round} {}", "x".repeat(i % 97)).into_bytes())
                        .collect();
                    for (conn, msg) in conns.iter_mut().zip(&messages) {
                        conn.write_all(msg).unwrap();
                    }
                    for (conn, msg) in conns.iter_mut().zip(&messages) {
                        let mut back = vec![0; msg.len()];
                        conn.read_exact(&mut back).unwrap();
                        assert_eq!(&back, msg, "echoed out of order or corrupted");
                    }
                }
                for conn in &mut conns {
                    conn.shutdown(Shutdown::Write).unwrap();
                    let mut rest = Vec::new();
                    conn.read_to_end(&mut rest).unwrap();
                    assert!(rest.is_empty());
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    server.join().unwrap();
}

#[test]
fn half_close_peer_reads_eof_then_writes_back() {
    block_on(guard("half-close", async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = async {
            let (mut stream, peer) = listener.accept().await?;
            assert_eq!(peer, stream.peer_addr()?);
            let got = read_to_end(&mut stream).await?;
            assert_eq!(got, b"request");
            write_all(&mut stream, b"response after EOF").await?;
            close(&mut stream).await
        };
        let client = async {
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            assert!(stream.nodelay()?);
            write_all(&mut stream, b"request").await?;
            stream.shutdown(Shutdown::Write)?;
            read_to_end(&mut stream).await
        };
        let (served, answer) = join(server, client).await;
        served?;
        assert_eq!(answer?, b"response after EOF");
        Ok::<(), io::Error>(())
    }))
    .unwrap();
}

#[test]
fn connection_refused() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let err = block_on(guard("refused", TcpStream::connect(addr))).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn connect_timeout_gives_timed_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // A zero timeout expires before the reactor could report the connection.
    let err = block_on(TcpStream::connect_timeout(&addr, Duration::ZERO)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    let stream = block_on(guard(
        "connect_timeout",
        TcpStream::connect_timeout(&addr, Duration::from_secs(20)),
    ))
    .unwrap();
    assert_eq!(stream.peer_addr().unwrap(), addr);
}

#[test]
fn peer_reset_mid_read_is_an_error_not_a_hang() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        // Let the client block in its read first.
        thread::sleep(Duration::from_millis(20));
        rustix::net::sockopt::set_socket_linger(&stream, Some(Duration::ZERO)).unwrap();
        drop(stream); // RST
    });
    let err = block_on(guard("reset", async {
        let mut stream = TcpStream::connect(addr).await?;
        let mut buf = [0; 16];
        read(&mut stream, &mut buf).await
    }))
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
    server.join().unwrap();
}

#[test]
fn split_halves_work_concurrently() {
    block_on(guard("split", async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (client, accepted) = join(TcpStream::connect(addr), listener.accept()).await;
        let (client, (server, _)) = (client?, accepted?);
        // Borrowed halves: the server echoes through its two halves at once.
        let (mut sr, mut sw) = server.split();
        let payload: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let (mut cr, mut cw) = client.into_split();
        assert_eq!(cr.stream().local_addr()?, cw.stream().local_addr()?);
        let send = async {
            write_all(&mut cw, &payload).await?;
            close(&mut cw).await
        };
        let pump = async {
            let mut buf = vec![0; 8192];
            loop {
                let n = read(&mut sr, &mut buf).await?;
                if n == 0 {
                    return close(&mut sw).await;
                }
                write_all(&mut sw, &buf[..n]).await?;
            }
        };
        let receive = read_to_end(&mut cr);
        let ((sent, pumped), received) = join(join(send, pump), receive).await;
        sent?;
        pumped?;
        assert_eq!(received?, payload);
        Ok::<(), io::Error>(())
    }))
    .unwrap();
}

#[test]
fn udp_send_recv() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b_addr = b.local_addr().unwrap();
    let a_addr = a.local_addr().unwrap();
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(5));
        block_on(a.send_to(b"one", b_addr)).unwrap();
        a.connect(b_addr).unwrap();
        assert_eq!(a.peer_addr().unwrap(), b_addr);
        block_on(a.send(b"two")).unwrap();
        a
    });
    let mut buf = [0; 16];
    let (n, from) = block_on(guard("recv_from", b.recv_from(&mut buf))).unwrap();
    assert_eq!((&buf[..n], from), (&b"one"[..], a_addr));
    b.connect(a_addr).unwrap();
    let n = block_on(guard("recv", b.recv(&mut buf))).unwrap();
    assert_eq!(&buf[..n], b"two");
    drop(sender.join().unwrap());
}

#[test]
fn unix_listener_stream_and_pair() {
    let dir = std::env::temp_dir().join(format!("weft-io-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    assert_eq!(
        listener.local_addr().unwrap().as_pathname(),
        Some(path.as_path())
    );
    block_on(guard("unix", async {
        let server = async {
            let mut incoming = listener.incoming();
            let stream = poll_fn(|cx| Pin::new(&mut incoming).poll_next(cx)).await;
            let mut stream = stream.unwrap()?;
            let got = read_to_end(&mut stream).await?;
            write_all(&mut stream, &got).await?;
            close(&mut stream).await
        };
        let client = async {
            let mut stream = UnixStream::connect(&path).await?;
            write_all(&mut stream, b"over unix").await?;
            stream.shutdown(Shutdown::Write)?;
            read_to_end(&mut stream).await
        };
        let (served, got) = join(server, client).await;
        served?;
        assert_eq!(got?, b"over unix");

        let (a, b) = UnixStream::pair()?;
        write_all(&a, b"pair").await?;
        let mut buf = [0; 4];
        read_exact(&b, &mut buf).await?;
        assert_eq!(&buf, b"pair");
        Ok::<(), io::Error>(())
    }))
    .unwrap();
    let err = block_on(UnixStream::connect(dir.join("missing.sock"))).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    std::fs::remove_dir_all(&dir).unwrap();
}

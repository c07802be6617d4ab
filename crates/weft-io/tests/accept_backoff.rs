//! `accept` out of descriptors backs off on a timer instead of spinning, then succeeds
//! once descriptors are free. Its own test binary: it lowers this process's
//! RLIMIT_NOFILE and fills the descriptor table, which would break parallel tests.

use std::fs::File;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};
use weft_io::block_on;
use weft_io::net::TcpListener;

struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn nofile() -> libc::rlimit {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim
}

fn set_nofile(lim: libc::rlimit) {
    // SAFETY: `lim` is a valid rlimit with cur <= max.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

#[test]
fn accept_backs_off_on_emfile_then_recovers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Two connections in the backlog (connect returns once the handshake is done).
    let _first = std::net::TcpStream::connect(addr).unwrap();
    let _second = std::net::TcpStream::connect(addr).unwrap();
    // Accepting the first records the listener's edge; a success does not consume it,
    // so the next accept goes straight to the syscall.
    drop(block_on(listener.accept()).unwrap());

    let saved = nofile();
    set_nofile(libc::rlimit {
        rlim_cur: 256,
        rlim_max: saved.rlim_max,
    });
    let mut hog = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(f) => hog.push(f),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
            Err(e) => panic!("{e}"),
        }
    }

    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    let mut cx = Context::from_waker(&waker);
    let mut accept = pin!(listener.accept());
    // EMFILE: the future sleeps on a back-off timer. A spinning implementation would
    // loop inside this poll forever, or return Pending having woken itself.
    assert!(accept.as_mut().poll(&mut cx).is_pending());
    assert!(accept.as_mut().poll(&mut cx).is_pending());
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        0,
        "accept woke itself instead of backing off"
    );

    drop(hog);
    set_nofile(saved);
    // The timer fires (the reactor is driven by block_on) and the retry succeeds.
    let (stream, peer) = block_on(accept).unwrap();
    assert_eq!(stream.peer_addr().unwrap(), peer);
}

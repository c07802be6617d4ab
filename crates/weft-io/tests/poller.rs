//! Poller behaviour on both backends, with pipes and socketpairs.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread;
use std::time::Duration;
use weft_io::poller::{Backend, Events, Interest, PollMode, Poller};

const BACKENDS: [Backend; 2] = [Backend::Epoll, Backend::Poll];
/// Bounds every wait that should succeed, so a bug fails instead of hanging.
const LONG: Option<Duration> = Some(Duration::from_secs(10));
const NOW: Option<Duration> = Some(Duration::ZERO);

fn pipe() -> (std::fs::File, std::fs::File) {
    let (r, w) = rustix::pipe::pipe().unwrap();
    (std::fs::File::from(r), std::fs::File::from(w))
}

fn set_nonblocking(fd: impl AsFd) {
    let flags = rustix::fs::fcntl_getfl(&fd).unwrap();
    rustix::fs::fcntl_setfl(&fd, flags | rustix::fs::OFlags::NONBLOCK).unwrap();
}

fn keys(events: &Events) -> Vec<usize> {
    let mut keys: Vec<usize> = events.iter().map(|e| e.key).collect();
    keys.sort_unstable();
    keys
}

#[test]
fn level_triggered_keeps_reporting() {
    for backend in BACKENDS {
        let poller = Poller::with_backend(backend).unwrap();
        let (mut r, mut w) = pipe();
        poller
            .add(&r, 1, Interest::READABLE, PollMode::Level)
            .unwrap();
        let mut events = Events::new();
        assert_eq!(poller.wait(&mut events, NOW).unwrap(), 0, "{backend:?}");
        w.write_all(b"abc").unwrap();
        for _ in 0..3 {
            assert_eq!(poller.wait(&mut events, LONG).unwrap(), 1, "{backend:?}");
            let e = events.iter().next().unwrap();
            assert!(e.readable && e.key == 1, "{backend:?}: {e:?}");
        }
        let mut buf = [0; 3];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(poller.wait(&mut events, NOW).unwrap(), 0, "{backend:?}");
        poller.delete(&r).unwrap();
    }
}

#[test]
fn level_socketpair_both_directions() {
    for backend in BACKENDS {
        let poller = Poller::with_backend(backend).unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        poller.add(&a, 5, Interest::BOTH, PollMode::Level).unwrap();
        let mut events = Events::new();
        poller.wait(&mut events, LONG).unwrap();
        let e = events.iter().next().unwrap();
        assert!(e.writable && !e.readable, "{backend:?}: {e:?}");
        b.write_all(b"x").unwrap();
        poller.wait(&mut events, LONG).unwrap();
        let e = events.iter().next().unwrap();
        assert!(e.writable && e.readable, "{backend:?}: {e:?}");
        // Writable only: the pending byte is no longer reported.
        poller
            .modify(&a, 6, Interest::WRITABLE, PollMode::Level)
            .unwrap();
        poller.wait(&mut events, LONG).unwrap();
        let e = events.iter().next().unwrap();
        assert!(
            e.key == 6 && e.writable && !e.readable,
            "{backend:?}: {e:?}"
        );
        // Hang-up is reported as readable + hangup.
        poller
            .modify(&a, 6, Interest::READABLE, PollMode::Level)
            .unwrap();
        drop(b);
        poller.wait(&mut events, LONG).unwrap();
        let e = events.iter().next().unwrap();
        assert!(e.readable && e.hangup, "{backend:?}: {e:?}");
    }
}

#[test]
fn edge_triggered_reports_once_per_new_data() {
    for stream in [false, true] {
        let poller = Poller::new().unwrap();
        let (mut r, mut w): (Box<dyn ReadFd>, Box<dyn Write>) = if stream {
            let (a, b) = UnixStream::pair().unwrap();
            (Box::new(a), Box::new(b))
        } else {
            let (r, w) = pipe();
            (Box::new(r), Box::new(w))
        };
        set_nonblocking(r.fd());
        poller
            .add(r.fd(), 3, Interest::READABLE, PollMode::Edge)
            .unwrap();
        let mut events = Events::new();
        assert_eq!(poller.wait(&mut events, NOW).unwrap(), 0);
        w.write_all(&[1; 100]).unwrap();
        assert_eq!(poller.wait(&mut events, LONG).unwrap(), 1);
        // No new data: no new edge, although 100 bytes are unread.
        assert_eq!(poller.wait(&mut events, NOW).unwrap(), 0);
        // A partial read does not re-arm by itself ...
        let mut buf = [0; 40];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(poller.wait(&mut events, NOW).unwrap(), 0);
        // ... but more data does, and all of it is there to drain.
        w.write_all(&[2; 10]).unwrap();
        assert_eq!(poller.wait(&mut events, LONG).unwrap(), 1);
        let mut rest = Vec::new();
        let mut chunk = [0; 64];
        loop {
            match r.read(&mut chunk) {
                Ok(n) => rest.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(rest.len(), 70);
        assert_eq!(poller.wait(&mut events, NOW).unwrap(), 0);
        w.write_all(&[3]).unwrap();
        assert_eq!(poller.wait(&mut events, LONG).unwrap(), 1);
    }
}

trait ReadFd: Read {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_>;
}
impl ReadFd for std::fs::File {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.as_fd()
    }
}
impl ReadFd for UnixStream {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.as_fd()
    }
}

#[test]
fn edge_triggered_writable_after_buffer_frees() {
    let poller = Poller::new().unwrap();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    poller
        .add(&a, 1, Interest::WRITABLE, PollMode::Edge)
        .unwrap();
    let mut events = Events::new();
    assert_eq!(poller.wait(&mut events, LONG).unwrap(), 1);
    assert_eq!(poller.wait(&mut events, NOW).unwrap(), 0);
    let mut written = 0;
    loop {
        match a.write(&[0; 4096]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    let mut sink = vec![0; written];
    b.read_exact(&mut sink).unwrap();
    assert_eq!(poller.wait(&mut events, LONG).unwrap(), 1);
    assert!(events.iter().next().unwrap().writable);
}

#[test]
fn poll_backend_refuses_edge() {
    let poller = Poller::with_backend(Backend::Poll).unwrap();
    let (r, _w) = pipe();
    let err = poller
        .add(&r, 1, Interest::READABLE, PollMode::Edge)
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
}

#[test]
fn oneshot_until_modify() {
    for backend in BACKENDS {
        let poller = Poller::with_backend(backend).unwrap();
        let (_r, w) = pipe();
        let (a, mut b) = UnixStream::pair().unwrap();
        poller
            .add(&a, 9, Interest::READABLE, PollMode::Oneshot)
            .unwrap();
        b.write_all(b"x").unwrap();
        let mut events = Events::new();
        assert_eq!(poller.wait(&mut events, LONG).unwrap(), 1, "{backend:?}");
        assert_eq!(poller.wait(&mut events, NOW).unwrap(), 0, "{backend:?}");
        b.write_all(b"y").unwrap();
        assert_eq!(poller.wait(&mut events, NOW).unwrap(), 0, "{backend:?}");
        poller
            .modify(&a, 10, Interest::READABLE, PollMode::Oneshot)
            .unwrap();
        assert_eq!(poller.wait(&mut events, LONG).unwrap(), 1, "{backend:?}");
        assert_eq!(events.iter().next().unwrap().key, 10);
        assert_eq!(poller.wait(&mut events, NOW).unwrap(), 0, "{backend:?}");
        drop(w);
    }
}

#[test]
fn add_twice_and_delete_unknown_are_errors() {
    for backend in BACKENDS {
        let poller = Poller::with_backend(backend).unwrap();
        let (r, _w) = pipe();
        poller
            .add(&r, 1, Interest::READABLE, PollMode::Level)
            .unwrap();
        let err = poller
            .add(&r, 2, Interest::READABLE, PollMode::Level)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{backend:?}");
        poller.delete(&r).unwrap();
        let err = poller.delete(&r).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{backend:?}");
        let err = poller
            .modify(&r, 1, Interest::READABLE, PollMode::Level)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{backend:?}");
        let err = poller
            .add(&r, usize::MAX, Interest::READABLE, PollMode::Level)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{backend:?}");
    }
}

#[test]
fn notify_wakes_a_blocked_wait() {
    for backend in BACKENDS {
        let poller = Arc::new(Poller::with_backend(backend).unwrap());
        let waiter = {
            let poller = poller.clone();
            thread::spawn(move || {
                let mut events = Events::new();
                // No timeout: only the notify can end this wait.
                poller.wait(&mut events, None).unwrap()
            })
        };
        // Whether the notify lands before or during the wait, the wait returns.
        thread::sleep(Duration::from_millis(20));
        poller.notify().unwrap();
        assert_eq!(waiter.join().unwrap(), 0, "{backend:?}");
    }
}

#[test]
fn notifies_coalesce() {
    for backend in BACKENDS {
        let poller = Poller::with_backend(backend).unwrap();
        for _ in 0..5 {
            poller.notify().unwrap();
        }
        let mut events = Events::new();
        assert_eq!(poller.wait(&mut events, LONG).unwrap(), 0);
        // Whether the burst left a stale wake-up cannot be told apart from a timeout
        // without a clock; what is checked is that later waits still work.
        let (r, mut w) = pipe();
        poller
            .add(&r, 1, Interest::READABLE, PollMode::Level)
            .unwrap();
        w.write_all(b"z").unwrap();
        // A real event after a coalesced burst is still delivered.
        assert_eq!(poller.wait(&mut events, LONG).unwrap(), 1, "{backend:?}");
        poller.delete(&r).unwrap();
        assert_eq!(
            poller
                .wait(&mut events, Some(Duration::from_millis(10)))
                .unwrap(),
            0
        );
    }
}

#[test]
fn add_from_another_thread_while_waiting() {
    for backend in BACKENDS {
        let poller = Arc::new(Poller::with_backend(backend).unwrap());
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"ready").unwrap();
        let waiter = {
            let poller = poller.clone();
            thread::spawn(move || {
                let mut events = Events::new();
                poller.wait(&mut events, LONG).unwrap();
                keys(&events)
            })
        };
        thread::sleep(Duration::from_millis(20));
        // Already readable when added: the blocked wait must notice it.
        poller
            .add(&a, 42, Interest::READABLE, PollMode::Level)
            .unwrap();
        assert_eq!(waiter.join().unwrap(), vec![42], "{backend:?}");
    }
}

/// Raises the soft descriptor limit as far as the hard limit allows and returns it.
fn raise_nofile_limit(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    if lim.rlim_cur < want {
        lim.rlim_cur = want.min(lim.rlim_max);
        // SAFETY: `lim` is a valid rlimit with cur <= max.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    }
    lim.rlim_cur
}

#[test]
fn ten_thousand_idle_and_one_active() {
    const IDLE: usize = 10_000;
    let limit = raise_nofile_limit(IDLE as u64 + 200);
    if limit < IDLE as u64 + 200 {
        println!("skipped: RLIMIT_NOFILE hard limit {limit} is too low for {IDLE} descriptors");
        return;
    }
    // Idle descriptors: eventfds at zero, watched for reading, are never ready.
    let idle: Vec<OwnedFd> = (0..IDLE)
        .map(|_| rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).unwrap())
        .collect();
    for backend in BACKENDS {
        let poller = Poller::with_backend(backend).unwrap();
        for (i, fd) in idle.iter().enumerate() {
            poller
                .add(fd, i, Interest::READABLE, PollMode::Level)
                .unwrap();
        }
        let (a, mut b) = UnixStream::pair().unwrap();
        poller
            .add(&a, IDLE, Interest::READABLE, PollMode::Level)
            .unwrap();
        let mut events = Events::new();
        assert_eq!(poller.wait(&mut events, NOW).unwrap(), 0, "{backend:?}");
        for round in 0..3 {
            b.write_all(b"!").unwrap();
            poller.wait(&mut events, LONG).unwrap();
            assert_eq!(keys(&events), vec![IDLE], "{backend:?} round {round}");
            let mut buf = [0];
            (&a).read_exact(&mut buf).unwrap();
        }
        for fd in &idle {
            poller.delete(fd).unwrap();
        }
    }
}

#[test]
fn modify_and_delete_from_another_thread_while_waiting() {
    for backend in BACKENDS {
        let poller = Arc::new(Poller::with_backend(backend).unwrap());
        let (a, mut b) = UnixStream::pair().unwrap();
        let (c, mut d) = UnixStream::pair().unwrap();
        poller
            .add(&a, 1, Interest::READABLE, PollMode::Oneshot)
            .unwrap();
        poller
            .add(&c, 2, Interest::READABLE, PollMode::Level)
            .unwrap();
        b.write_all(b"x").unwrap();
        let mut events = Events::new();
        assert_eq!(poller.wait(&mut events, LONG).unwrap(), 1, "{backend:?}");
        // `a` is disarmed and `c` is about to go away: a waiter now blocks ...
        let waiter = {
            let poller = poller.clone();
            thread::spawn(move || {
                let mut events = Events::new();
                poller.wait(&mut events, LONG).unwrap();
                keys(&events)
            })
        };
        thread::sleep(Duration::from_millis(20));
        poller.delete(&c).unwrap();
        d.write_all(b"ignored").unwrap();
        // ... until the re-arm from this thread, which it must notice.
        poller
            .modify(&a, 3, Interest::READABLE, PollMode::Oneshot)
            .unwrap();
        assert_eq!(waiter.join().unwrap(), vec![3], "{backend:?}");
    }
}

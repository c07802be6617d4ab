//! The worker side: what `init()` runs instead of returning, in a process the pool
//! re-executed from the same binary.
//!
//! Start-up, in order: ask the kernel for SIGKILL when the parent goes
//! (`PR_SET_PDEATHSIG`), then check the parent is still the one that started us (it may
//! have died before the request was made, and the signal would never come); check fd 0
//! is a socket whose peer is that parent (so a stray `__weft_process_worker__` argument
//! does not make an unrelated process speak the protocol); move the socket off fd 0 to a
//! close-on-exec descriptor and put `/dev/null` on stdin, so processes a task spawns
//! neither read the pool's frames nor keep the socket open (which would hide this
//! worker's death from the pool); say HELLO; then serve frames until EOF.

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::process::Signal;

use crate::Registration;
use crate::protocol::{self, Cursor, FrameRead};

/// Set once this process has become a worker; read by `ProcessPool::build` to tell a
/// nested pool inside a task (fine) from `main` running in a worker because `init()`
/// was forgotten (refused).
static IS_WORKER: AtomicBool = AtomicBool::new(false);

pub(crate) fn is_worker() -> bool {
    // Relaxed: written once on the main thread before any task code runs; task code
    // is the only reader that can observe `true`.
    IS_WORKER.load(Ordering::Relaxed)
}

/// Exit code of a worker started wrongly (bad arguments, no pool socket on stdin).
pub(crate) const EXIT_BAD_START: i32 = 121;
/// Exit code of a worker whose parent was gone before it started.
pub(crate) const EXIT_ORPHANED: i32 = 122;

fn fail_start(message: &str) -> ! {
    eprintln!("weft-process worker: {message}");
    std::process::exit(EXIT_BAD_START)
}

/// Runs the worker loop; never returns.
pub(crate) fn run(parent: u32, limit: usize, extra: &[Registration]) -> ! {
    if rustix::process::set_parent_process_death_signal(Some(Signal::KILL)).is_err() {
        fail_start("cannot set PR_SET_PDEATHSIG");
    }
    let parent_now = rustix::process::getppid().map(|pid| pid.as_raw_nonzero().get() as u32);
    if parent_now != Some(parent) {
        std::process::exit(EXIT_ORPHANED);
    }
    let stdin = rustix::stdio::stdin();
    match rustix::net::sockopt::socket_peercred(stdin) {
        Ok(cred) if cred.pid.as_raw_nonzero().get() as u32 == parent => {}
        _ => fail_start("started in worker mode without the pool's socket on stdin"),
    }
    let socket = rustix::io::fcntl_dupfd_cloexec(stdin, 3)
        .unwrap_or_else(|_| fail_start("cannot duplicate the pool socket"));
    match rustix::fs::open(
        "/dev/null",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) {
        Ok(null) => {
            if rustix::stdio::dup2_stdin(&null).is_err() {
                fail_start("cannot replace stdin with /dev/null");
            }
        }
        Err(_) => fail_start("cannot open /dev/null"),
    }
    IS_WORKER.store(true, Ordering::Relaxed);

    let table = Table::new(extra);
    let stream = UnixStream::from(socket);
    let mut writer = stream
        .try_clone()
        .unwrap_or_else(|_| fail_start("cannot clone the pool socket"));
    let mut reader = BufReader::with_capacity(64 * 1024, stream);

    let mut hello = Vec::with_capacity(13);
    hello.extend_from_slice(&9u32.to_le_bytes());
    hello.push(protocol::KIND_HELLO);
    hello.extend_from_slice(&protocol::PROTOCOL_VERSION.to_le_bytes());
    hello.extend_from_slice(&std::process::id().to_le_bytes());
    if writer.write_all(&hello).is_err() {
        std::process::exit(0);
    }

    let mut body = Vec::new();
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        if reader.buffer().is_empty() {
            spin_for_next_job(reader.get_ref());
        }
        match protocol::read_frame(&mut reader, limit, &mut body) {
            Ok(FrameRead::Frame) => {}
            // The pool closed our socket (shutdown, retirement) or died.
            Ok(FrameRead::Eof) | Err(_) => std::process::exit(0),
            Ok(FrameRead::TooLarge(_)) => fail_start("the pool sent a frame over the limit"),
        }
        if serve(&table, &body, limit, &mut out, &mut writer).is_err() {
            std::process::exit(0);
        }
    }
}

/// How long a worker that just answered watches its socket before it blocks in
/// `read`. On a virtual machine an idle vCPU halts, and waking it costs tens of
/// microseconds (measured: a trivial round trip took ~70 µs with the cores idle and
/// ~6 µs with a busy loop keeping them awake); a caller that submits its next task
/// within this window finds the worker running and pays no wake-up. What it costs
/// is this much CPU after the last job of a burst.
const SPIN_FOR_NEXT_JOB: std::time::Duration = std::time::Duration::from_micros(50);

/// Polls `socket` without blocking until it is readable or [`SPIN_FOR_NEXT_JOB`]
/// has passed, whichever is first; the blocking read that follows does the rest.
fn spin_for_next_job(socket: &UnixStream) {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let start = std::time::Instant::now();
    loop {
        let mut fds = [PollFd::new(socket, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&zero)) {
            Ok(0) => {}
            // Readable, hung up, or an error the read will report.
            _ => return,
        }
        if start.elapsed() >= SPIN_FOR_NEXT_JOB {
            return;
        }
        // Yield, not spin: the threads that bring the next job (the pool's, on a
        // machine with as many workers as cores) may need this CPU; a yield with
        // nothing else runnable keeps the CPU awake all the same.
        std::thread::yield_now();
    }
}

/// The registered tasks by name. A name registered twice (two tasks with one module
/// path and name, e.g. defined in two function bodies) maps to `None`: running either
/// would be a guess.
struct Table {
    tasks: HashMap<&'static str, Option<crate::registry::Dispatch>>,
}

impl Table {
    fn new(extra: &[Registration]) -> Table {
        let mut tasks = HashMap::new();
        for registration in inventory::iter::<Registration>
            .into_iter()
            .copied()
            .chain(extra.iter().copied())
        {
            tasks
                .entry(registration.name)
                .and_modify(|slot: &mut Option<crate::registry::Dispatch>| {
                    if slot.map(|d| d as usize) != Some(registration.dispatch as usize) {
                        *slot = None;
                    }
                })
                .or_insert(Some(registration.dispatch));
        }
        Table { tasks }
    }
}

/// Runs one RUN or INIT frame and writes its RESULTS frames.
fn serve(
    table: &Table,
    body: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
    writer: &mut UnixStream,
) -> std::io::Result<()> {
    let mut cursor = Cursor::new(body);
    let parsed = (|| {
        let kind = cursor.u8()?;
        if kind != protocol::KIND_RUN && kind != protocol::KIND_INIT {
            return None;
        }
        let name_len = cursor.u16()? as usize;
        let name = cursor.bytes(name_len)?;
        let count = cursor.u32()?;
        Some((name, count))
    })();
    let Some((name, count)) = parsed else {
        fail_start("malformed frame from the pool");
    };
    let name = String::from_utf8_lossy(name);
    let mut answer = Answer::new(out, writer, limit);
    match table.tasks.get(&*name).copied().flatten() {
        Some(dispatch) => dispatch(&mut cursor, count, &mut answer)?,
        None => {
            for _ in 0..count {
                if cursor.item().is_none() {
                    malformed_item();
                }
                let item_start = answer.out.len();
                crate::registry::text_item(answer.out, protocol::STATUS_NOT_REGISTERED, &name);
                answer.item_done(item_start)?;
            }
        }
    }
    answer.finish()
}

/// A RUN frame whose items do not match its count: the pool and this worker disagree
/// on the protocol.
#[cold]
pub(crate) fn malformed_item() -> ! {
    fail_start("malformed item from the pool")
}

/// The RESULTS frames answering one job, built in one buffer and written as each
/// fills (one frame unless the results pass the frame limit).
pub(crate) struct Answer<'a> {
    /// The frame being built; the dispatch appends result items to it.
    pub(crate) out: &'a mut Vec<u8>,
    writer: &'a mut UnixStream,
    limit: usize,
    /// The index of the frame's first item, and how many items it holds.
    start: u32,
    in_frame: u32,
}

impl<'a> Answer<'a> {
    fn new(out: &'a mut Vec<u8>, writer: &'a mut UnixStream, limit: usize) -> Answer<'a> {
        begin_results(out, 0);
        Answer {
            out,
            writer,
            limit,
            start: 0,
            in_frame: 0,
        }
    }

    /// Counts the result item just appended at `item_start`, once it is sure to fit.
    #[inline(always)]
    pub(crate) fn item_done(&mut self, item_start: usize) -> std::io::Result<()> {
        // An item too large alone also makes the frame too large: one test for both.
        if self.out.len() - 4 > self.limit {
            self.overflow(item_start)?;
        }
        self.in_frame += 1;
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn overflow(&mut self, item_start: usize) -> std::io::Result<()> {
        let out = &mut *self.out;
        let item_len = out.len() - item_start;
        if protocol::RESULTS_HEADER + item_len > self.limit {
            // This result alone can never fit: say so, in a few bytes.
            out.truncate(item_start);
            let at = protocol::open_result_item(out, protocol::STATUS_TOO_LARGE);
            out.extend_from_slice(&(item_len as u64).to_le_bytes());
            protocol::close_result_item(out, at);
        } else {
            // It fits alone but not after the others: send those first.
            let item = out.split_off(item_start);
            finish_results(out, self.in_frame);
            self.writer.write_all(out)?;
            self.start += self.in_frame;
            self.in_frame = 0;
            begin_results(out, self.start);
            out.extend_from_slice(&item);
        }
        Ok(())
    }

    fn finish(self) -> std::io::Result<()> {
        finish_results(self.out, self.in_frame);
        self.writer.write_all(self.out)
    }
}

fn begin_results(out: &mut Vec<u8>, start: u32) {
    out.clear();
    out.extend_from_slice(&[0; 4]);
    out.push(protocol::KIND_RESULTS);
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
}

fn finish_results(out: &mut [u8], count: u32) {
    let body = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&body.to_le_bytes());
    out[9..13].copy_from_slice(&count.to_le_bytes());
}

/// The message of a caught panic.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "(a panic payload that is not a string)"
    }
}

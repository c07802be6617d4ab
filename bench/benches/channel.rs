//! weft's channels against crossbeam-channel, flume and std::sync::mpsc, in the shapes
//! of crossbeam-channel's benchmark suite: flavours bounded(0), bounded(1),
//! bounded(N) (N = the message count) and unbounded; topologies seq, spsc, mpsc
//! (4 senders), mpmc (4x4), select_rx (4 senders on 4 channels, one selecting
//! receiver) and select_both (4 selecting senders, 4 selecting receivers). Plus an
//! async ping-pong between two tasks, over bounded(1) and over unbounded channels,
//! against tokio::sync::mpsc, async-channel and flume (on unbounded channels weft
//! and tokio send with their plain, never-waiting `send`; the others with their
//! async send). Figures are messages (or round
//! trips) per second; ratios are of medians.
//!
//! `cargo bench -p weft-bench --bench channel -- --quick` (200,000 messages, 3
//! rounds: minutes); without `--quick`, 5,000,000 messages and 9 rounds (long).
//! `WEFT_CHANNEL_MESSAGES=N` overrides the message count (ping-pong makes N/4 round
//! trips); `WEFT_CHANNEL_ONLY=text` runs only the cells whose label (`bounded(1)
//! seq`, `async ping-pong unbounded`, ...) contains `text`.

use std::thread;
use std::time::{Duration, Instant};
use weft_bench::{BenchArgs, Budget, Comparison, Results, Tally, Throughput, summary_table};

trait Tx: Send + Clone + 'static {
    fn tx(&self, v: usize);
}
trait Rx: Send + 'static {
    fn rx(&self) -> usize;
}

macro_rules! crossbeam_like {
    ($s:ty, $r:ty) => {
        impl Tx for $s {
            #[inline]
            fn tx(&self, v: usize) {
                self.send(v).unwrap();
            }
        }
        impl Rx for $r {
            #[inline]
            fn rx(&self) -> usize {
                self.recv().unwrap()
            }
        }
    };
}
crossbeam_like!(weft_channel::Sender<usize>, weft_channel::Receiver<usize>);
crossbeam_like!(
    crossbeam_channel::Sender<usize>,
    crossbeam_channel::Receiver<usize>
);
crossbeam_like!(flume::Sender<usize>, flume::Receiver<usize>);
crossbeam_like!(
    std::sync::mpsc::SyncSender<usize>,
    std::sync::mpsc::Receiver<usize>
);
impl Tx for std::sync::mpsc::Sender<usize> {
    #[inline]
    fn tx(&self, v: usize) {
        self.send(v).unwrap();
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flavour {
    Zero,
    One,
    Many,
    Unbounded,
}

impl Flavour {
    fn name(self) -> &'static str {
        match self {
            Flavour::Zero => "bounded(0)",
            Flavour::One => "bounded(1)",
            Flavour::Many => "bounded(N)",
            Flavour::Unbounded => "unbounded",
        }
    }
    fn cap(self, n: usize) -> Option<usize> {
        match self {
            Flavour::Zero => Some(0),
            Flavour::One => Some(1),
            Flavour::Many => Some(n),
            Flavour::Unbounded => None,
        }
    }
}

fn timed(n: usize, f: impl FnOnce()) -> Tally {
    let start = Instant::now();
    f();
    Tally {
        ops: n as u64,
        elapsed: start.elapsed(),
    }
}

fn seq<S: Tx, R: Rx>(flavour: Flavour, n: usize, (s, r): (S, R)) -> Tally {
    timed(n, || {
        if flavour == Flavour::One {
            for i in 0..n {
                s.tx(i);
                r.rx();
            }
        } else {
            for i in 0..n {
                s.tx(i);
            }
            for _ in 0..n {
                r.rx();
            }
        }
    })
}

fn spsc<S: Tx, R: Rx>(n: usize, (s, r): (S, R)) -> Tally {
    timed(n, || {
        let t = thread::spawn(move || (0..n).for_each(|i| s.tx(i)));
        for _ in 0..n {
            r.rx();
        }
        t.join().unwrap();
    })
}

fn mpsc<S: Tx, R: Rx>(n: usize, (s, r): (S, R)) -> Tally {
    timed(n, || {
        let ts: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || (0..n / 4).for_each(|i| s.tx(i)))
            })
            .collect();
        for _ in 0..n / 4 * 4 {
            r.rx();
        }
        ts.into_iter().for_each(|t| t.join().unwrap());
    })
}

fn mpmc<S: Tx, R: Rx + Clone>(n: usize, (s, r): (S, R)) -> Tally {
    timed(n, || {
        let mut ts: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || (0..n / 4).for_each(|i| s.tx(i)))
            })
            .collect();
        ts.extend((0..4).map(|_| {
            let r = r.clone();
            thread::spawn(move || {
                for _ in 0..n / 4 {
                    r.rx();
                }
            })
        }));
        ts.into_iter().for_each(|t| t.join().unwrap());
    })
}

macro_rules! select_shapes {
    ($krate:ident, $select_rx:ident, $select_both:ident) => {
        fn $select_rx(cap: Option<usize>, n: usize) -> Tally {
            let chans: Vec<_> = (0..4)
                .map(|_| match cap {
                    Some(c) => $krate::bounded::<usize>(c),
                    None => $krate::unbounded(),
                })
                .collect();
            timed(n, || {
                let ts: Vec<_> = chans
                    .iter()
                    .map(|(s, _)| {
                        let s = s.clone();
                        thread::spawn(move || (0..n / 4).for_each(|i| s.send(i).unwrap()))
                    })
                    .collect();
                let (r0, r1, r2, r3) = (&chans[0].1, &chans[1].1, &chans[2].1, &chans[3].1);
                for _ in 0..n / 4 * 4 {
                    $krate::select! {
                        recv(r0) -> m => { m.unwrap(); },
                        recv(r1) -> m => { m.unwrap(); },
                        recv(r2) -> m => { m.unwrap(); },
                        recv(r3) -> m => { m.unwrap(); },
                    }
                }
                ts.into_iter().for_each(|t| t.join().unwrap());
            })
        }

        fn $select_both(cap: Option<usize>, n: usize) -> Tally {
            let chans: Vec<_> = (0..4)
                .map(|_| match cap {
                    Some(c) => $krate::bounded::<usize>(c),
                    None => $krate::unbounded(),
                })
                .collect();
            timed(n, || {
                let mut ts: Vec<_> = (0..4)
                    .map(|_| {
                        let ss: Vec<_> = chans.iter().map(|c| c.0.clone()).collect();
                        thread::spawn(move || {
                            for i in 0..n / 4 {
                                $krate::select! {
                                    send(ss[0], i) -> r => r.unwrap(),
                                    send(ss[1], i) -> r => r.unwrap(),
                                    send(ss[2], i) -> r => r.unwrap(),
                                    send(ss[3], i) -> r => r.unwrap(),
                                }
                            }
                        })
                    })
                    .collect();
                ts.extend((0..4).map(|_| {
                    let rs: Vec<_> = chans.iter().map(|c| c.1.clone()).collect();
                    thread::spawn(move || {
                        for _ in 0..n / 4 {
                            $krate::select! {
                                recv(rs[0]) -> m => { m.unwrap(); },
                                recv(rs[1]) -> m => { m.unwrap(); },
                                recv(rs[2]) -> m => { m.unwrap(); },
                                recv(rs[3]) -> m => { m.unwrap(); },
                            }
                        }
                    })
                }));
                ts.into_iter().for_each(|t| t.join().unwrap());
            })
        }
    };
}
select_shapes!(weft_channel, weft_select_rx, weft_select_both);
select_shapes!(
    crossbeam_channel,
    crossbeam_select_rx,
    crossbeam_select_both
);

fn weft_chan(cap: Option<usize>) -> (weft_channel::Sender<usize>, weft_channel::Receiver<usize>) {
    cap.map_or_else(weft_channel::unbounded, weft_channel::bounded)
}
fn crossbeam_chan(
    cap: Option<usize>,
) -> (
    crossbeam_channel::Sender<usize>,
    crossbeam_channel::Receiver<usize>,
) {
    cap.map_or_else(crossbeam_channel::unbounded, crossbeam_channel::bounded)
}
fn flume_chan(cap: Option<usize>) -> (flume::Sender<usize>, flume::Receiver<usize>) {
    cap.map_or_else(flume::unbounded, flume::bounded)
}

fn comparison(args: &BenchArgs, name: String, n: usize) -> Comparison<'static, Throughput> {
    Comparison::throughput(name, Budget::Ops(n as u64)).rounds(args.rounds())
}

fn cell(args: &BenchArgs, flavour: Flavour, shape: &str, n: usize) -> Option<Results> {
    let cap = flavour.cap(n);
    let name = format!("{} {shape}, msgs/s", flavour.name());
    let mut c = comparison(args, name, n);
    match shape {
        "seq" => {
            if flavour == Flavour::Zero {
                return None; // one thread cannot rendezvous with itself
            }
            c = c
                .contender("weft", move |_| seq(flavour, n, weft_chan(cap)))
                .contender("crossbeam", move |_| seq(flavour, n, crossbeam_chan(cap)))
                .contender("flume", move |_| seq(flavour, n, flume_chan(cap)));
            c = match cap {
                Some(cap) => c.contender("std", move |_| {
                    seq(flavour, n, std::sync::mpsc::sync_channel(cap))
                }),
                None => c.contender("std", move |_| seq(flavour, n, std::sync::mpsc::channel())),
            };
        }
        "spsc" | "mpsc" => {
            let run = if shape == "spsc" { 0 } else { 1 };
            macro_rules! go {
                ($chan:expr) => {
                    move |_| {
                        if run == 0 {
                            spsc(n, $chan)
                        } else {
                            mpsc(n, $chan)
                        }
                    }
                };
            }
            c = c
                .contender("weft", go!(weft_chan(cap)))
                .contender("crossbeam", go!(crossbeam_chan(cap)))
                .contender("flume", go!(flume_chan(cap)));
            c = match cap {
                Some(cap) => c.contender("std", go!(std::sync::mpsc::sync_channel(cap))),
                None => c.contender("std", go!(std::sync::mpsc::channel())),
            };
        }
        "mpmc" => {
            c = c
                .contender("weft", move |_| mpmc(n, weft_chan(cap)))
                .contender("crossbeam", move |_| mpmc(n, crossbeam_chan(cap)))
                .contender("flume", move |_| mpmc(n, flume_chan(cap)));
        }
        "select_rx" => {
            c = c
                .contender("weft", move |_| weft_select_rx(cap, n))
                .contender("crossbeam", move |_| crossbeam_select_rx(cap, n));
        }
        "select_both" => {
            c = c
                .contender("weft", move |_| weft_select_both(cap, n))
                .contender("crossbeam", move |_| crossbeam_select_both(cap, n));
        }
        _ => unreachable!(),
    }
    Some(c.run())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// Round trips between two tasks on a single-threaded tokio runtime over a pair of
/// channels: `$pair(cap)` makes one, `$send`/`$recv` are the async operations. One
/// named function per contender, so a profile (`valgrind --tool=callgrind`) tells
/// them apart.
macro_rules! ping_pong_contender {
    ($name:ident, $pair:expr, |$s:ident, $v:ident| $send:expr, |$r:ident| $recv:expr) => {
        #[inline(never)]
        fn $name(cap: Option<usize>, trips: usize) -> Tally {
            #[allow(unused_mut)]
            let (s1, mut r1) = $pair(cap);
            #[allow(unused_mut)]
            let (s2, mut r2) = $pair(cap);
            timed(trips, || {
                rt().block_on(async move {
                    let pong = tokio::spawn(async move {
                        loop {
                            let got = {
                                let $r = &mut r1;
                                $recv
                            };
                            let Some(v) = got else { break };
                            let $s = &s2;
                            let $v = v;
                            $send;
                        }
                    });
                    for i in 0..trips {
                        {
                            let $s = &s1;
                            let $v = i;
                            $send;
                        }
                        let $r = &mut r2;
                        $recv.unwrap();
                    }
                    drop(s1);
                    pong.await.unwrap();
                })
            })
        }
    };
}

ping_pong_contender!(
    weft_ping_pong,
    weft_chan,
    |s, v| s.send_async(v).await.unwrap(),
    |r| r.recv_async().await.ok()
);
// On an unbounded channel a send never waits, so, as with tokio's
// `UnboundedSender::send`, a task sends with the plain `send`.
ping_pong_contender!(
    weft_unbounded_ping_pong,
    weft_chan,
    |s, v| s.send(v).unwrap(),
    |r| r.recv_async().await.ok()
);
ping_pong_contender!(
    tokio_ping_pong,
    |cap: Option<usize>| tokio::sync::mpsc::channel::<usize>(cap.expect("bounded")),
    |s, v| s.send(v).await.unwrap(),
    |r| r.recv().await
);
ping_pong_contender!(
    tokio_unbounded_ping_pong,
    |_: Option<usize>| tokio::sync::mpsc::unbounded_channel::<usize>(),
    |s, v| s.send(v).unwrap(),
    |r| r.recv().await
);
ping_pong_contender!(
    async_channel_ping_pong,
    |cap: Option<usize>| cap.map_or_else(async_channel::unbounded, async_channel::bounded),
    |s, v| s.send(v).await.unwrap(),
    |r| r.recv().await.ok()
);
ping_pong_contender!(
    flume_ping_pong,
    flume_chan,
    |s, v| s.send_async(v).await.unwrap(),
    |r| r.recv_async().await.ok()
);

/// Round trips between two tasks on a single-threaded tokio runtime, over two
/// bounded(1) (or two unbounded) channels.
fn ping_pong(args: &BenchArgs, flavour: Flavour, trips: usize) -> Results {
    let cap = flavour.cap(trips);
    let c = comparison(
        args,
        format!("async ping-pong {}, round trips/s", flavour.name()),
        trips,
    );
    c.contender("weft", move |_| match cap {
        Some(_) => weft_ping_pong(cap, trips),
        None => weft_unbounded_ping_pong(cap, trips),
    })
    .contender("tokio", move |_| match cap {
        Some(_) => tokio_ping_pong(cap, trips),
        None => tokio_unbounded_ping_pong(cap, trips),
    })
    .contender("async-channel", move |_| {
        async_channel_ping_pong(cap, trips)
    })
    .contender("flume", move |_| flume_ping_pong(cap, trips))
    .run()
}

fn main() {
    let args = BenchArgs::from_env();
    let n = std::env::var("WEFT_CHANNEL_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(match (args.smoke, args.quick) {
            (true, _) => 2_000,
            (false, true) => 200_000,
            (false, false) => 5_000_000,
        });
    let only = std::env::var("WEFT_CHANNEL_ONLY").ok();
    println!(
        "channel benchmark: {n} messages, {} rounds per comparison, interleaved",
        args.rounds()
    );
    let mut all = Vec::new();
    for shape in ["seq", "spsc", "mpsc", "mpmc", "select_rx", "select_both"] {
        for flavour in [
            Flavour::Zero,
            Flavour::One,
            Flavour::Many,
            Flavour::Unbounded,
        ] {
            let label = format!("{} {shape}", flavour.name());
            if only.as_ref().is_some_and(|o| !label.contains(o.as_str())) {
                continue;
            }
            if let Some(results) = cell(&args, flavour, shape, n) {
                println!("\n{results}");
                all.push(results);
            }
        }
    }
    for flavour in [Flavour::One, Flavour::Unbounded] {
        let label = format!("async ping-pong {}", flavour.name());
        if only.as_ref().is_none_or(|o| label.contains(o.as_str())) {
            let results = ping_pong(&args, flavour, n / 4);
            println!("\n{results}");
            all.push(results);
        }
    }
    let _ = Duration::ZERO;
    println!(
        "\nsummary: ratios are speedups of medians; >= 1.00x means weft is as fast or \
         faster than the other\n{}",
        summary_table(&all, "weft")
    );
    args.write_json(&all).expect("writing --json");
}

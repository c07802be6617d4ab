//! A lost update found by searching seeds, then replayed exactly.
//!
//! Two tasks each add 1 to a shared balance with a read, an await (a stand-in for a
//! database round trip), then a write; the second does some checks first. Under
//! most interleavings the total is 2; when the second reads before the first has
//! written, one update is lost. The
//! simulation tries seeds until one loses an update, then runs that seed again and
//! gets the same interleaving, trace hash and wrong total.
//!
//! ```text
//! cargo run -p weft-rt --example sim_race
//! WEFT_SIM_SEED=17 cargo run -p weft-rt --example sim_race   # replay one seed
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_rt::{sim, time};

/// The racy code under test: returns the final balance.
fn deposit_twice(rt: &sim::Runtime) -> u64 {
    rt.block_on(async {
        let balance = Arc::new(Mutex::new(0u64));
        let clients: Vec<_> = [0, 5]
            .into_iter()
            .map(|checks| {
                let balance = Arc::clone(&balance);
                weft_rt::spawn(async move {
                    // Both requests arrive 10 ms in.
                    time::sleep(Duration::from_millis(10)).await;
                    // Some checks first (client 1 has five steps' worth)...
                    for _ in 0..checks {
                        weft_rt::yield_now().await;
                    }
                    // ...then read, a round trip, write: the race window.
                    let read = *balance.lock().unwrap();
                    weft_rt::yield_now().await;
                    *balance.lock().unwrap() = read + 1;
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        *balance.lock().unwrap()
    })
}

fn main() {
    let search = sim::check_env(0..1000, |rt| match deposit_twice(rt) {
        2 => Ok(()),
        total => Err(format!("lost an update: balance {total}, expected 2")),
    });
    let Err(failure) = search else {
        println!("no seed lost an update");
        return;
    };
    println!(
        "seed {} lost an update after {} steps (trace hash {:#018x})",
        failure.seed, failure.steps, failure.trace_hash
    );

    let replay = sim::Runtime::new(failure.seed);
    let total = deposit_twice(&replay);
    println!(
        "replay of seed {}: balance {total}, trace hash {:#018x}, virtual time {:?}",
        failure.seed,
        replay.trace_hash(),
        replay.elapsed()
    );
    assert_eq!(
        replay.trace_hash(),
        failure.trace_hash,
        "the replay diverged"
    );

    let passing = (0..100)
        .filter(|&seed| deposit_twice(&sim::Runtime::new(seed)) == 2)
        .count();
    println!("{passing} of seeds 0..100 keep every update");
}

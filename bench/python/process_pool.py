"""The Python side of `cargo bench -p weft-bench --bench process`.

concurrent.futures.ProcessPoolExecutor doing what the weft side does, timed inside
this process so that Python's start-up and the pool's start-up are not counted.

Run as `python3 process_pool.py WORKERS`. It starts the pool, makes every worker
start (one task each), prints `ready`, then serves commands, one a line on stdin:

    latency COUNT          submit one trivial task, wait for it, COUNT times
    map COUNT CHUNKSIZE    sum(pool.map(square_mod, range(COUNT), chunksize=CHUNKSIZE))
    cpu COUNT STEPS        sum(pool.map(busy_work, ...COUNT tasks of STEPS steps..., chunksize=1))
    quit

and answers each with one line, `OPS ELAPSED_NS CHECKSUM`, so the benchmark can
check that both sides computed the same thing.
"""

import sys
import time
from concurrent.futures import ProcessPoolExecutor

MODULUS = 1_000_003
MASK = (1 << 64) - 1


def trivial(x):
    """The round-trip task: as little work as a task can be."""
    return x + 1


def square_mod(x):
    """The map task: a few nanoseconds of work per input."""
    return x * x % MODULUS


def busy_work(args):
    """STEPS rounds of the 64-bit LCG of weft_bench::busy_work, from SEED."""
    seed, steps = args
    x = seed
    for _ in range(steps):
        x = (x * 6364136223846793005 + 1442695040888963407) & MASK
    return x


def main():
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # Workers start on demand; make them all start before anything is timed.
        list(pool.map(trivial, range(workers * 4), chunksize=1))
        print("ready", flush=True)
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "quit":
                break
            if words[0] == "latency":
                count = int(words[1])
                checksum = 0
                start = time.perf_counter_ns()
                for i in range(count):
                    checksum += pool.submit(trivial, i).result()
                elapsed = time.perf_counter_ns() - start
            elif words[0] == "map":
                count, chunksize = int(words[1]), int(words[2])
                start = time.perf_counter_ns()
                checksum = sum(pool.map(square_mod, range(count), chunksize=chunksize))
                elapsed = time.perf_counter_ns() - start
            elif words[0] == "cpu":
                count, steps = int(words[1]), int(words[2])
                jobs = [(i, steps) for i in range(count)]
                start = time.perf_counter_ns()
                checksum = 0
                for value in pool.map(busy_work, jobs, chunksize=1):
                    checksum ^= value
                elapsed = time.perf_counter_ns() - start
            else:
                print(f"error unknown command {words[0]!r}", flush=True)
                continue
            print(f"{count} {elapsed} {checksum}", flush=True)


if __name__ == "__main__":
    main()

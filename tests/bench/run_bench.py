#!/usr/bin/env python3
"""Prints the README's performance table: each interposed function under the shim against
libc's own, 1 and 2 threads, as medians of several repetitions in one run; then the start-up
cost of loading the shim. Ratios, not absolute times, are what carry across machines.

usage: run_bench.py BENCH_HOT_PATH BENCH_STARTUP NOOP_PROGRAM LIBVDSOTRACE EMPTY_LIB [--quick]
"""
import os
import subprocess
import sys

from bench_util import google_benchmark, remove_session


def main():
    if len(sys.argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    hot, startup, noop, shim, empty = sys.argv[1:6]
    quick = "--quick" in sys.argv[6:]
    reps = 5 if quick else 15
    env = dict(os.environ, LD_PRELOAD=shim, VDSOTRACE_SESSION="bench")
    data = google_benchmark(hot, env, reps, quick)
    # Remove this run's recordings: they are the benchmark's, not anybody's program.
    remove_session("bench")

    stats = {"median": {}, "min": {}}
    for b in data["benchmarks"]:
        kind = b.get("aggregate_name")
        if kind in stats and b["time_unit"] == "ns":
            stats[kind][b["run_name"]] = b["cpu_time"]
    for kind in ("median", "min"):
        print(f"{kind} of {reps} repetitions")
        print(f"{'function':<15} {'threads':>7} {'native ns':>10} {'traced ns':>10} {'ratio':>7} {'extra ns':>9}")
        for fn in ["clock_gettime", "gettimeofday", "time", "getcpu", "steady_clock_now"]:
            for threads in (1, 2):
                n = stats[kind].get(f"native_{fn}/threads:{threads}")
                t = stats[kind].get(f"traced_{fn}/threads:{threads}")
                if n is None or t is None:
                    continue
                print(f"{fn:<15} {threads:>7} {n:>10.2f} {t:>10.2f} {t / n:>6.3f}x {t - n:>+9.2f}")
        print()

    runs = "101" if quick else "401"
    without, with_empty, with_shim = map(float, subprocess.run(
        [startup, shim, empty, noop, runs], check=True, capture_output=True, text=True).stdout.split())
    print(f"\nstart-up, median of {runs} spawns of a program that makes no clock call:")
    print(f"  no preload {without:.1f} us, an empty preloaded library {with_empty:.1f} us, "
          f"the shim {with_shim:.1f} us")
    print(f"  the shim's own start-up work (shim - empty library): {with_shim - with_empty:+.1f} us; "
          f"loading any library costs {with_empty - without:+.1f} us here")
    return 0


if __name__ == "__main__":
    sys.exit(main())

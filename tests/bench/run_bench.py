#!/usr/bin/env python3
"""Prints the README's performance table: each interposed function under the shim against
libc's own, 1 and 2 threads, as medians of several repetitions in one run; then the start-up
cost of loading the shim. Ratios, not absolute times, are what carry across machines.

usage: run_bench.py BENCH_HOT_PATH BENCH_STARTUP NOOP_PROGRAM LIBVDSOTRACE EMPTY_LIB [--quick]
"""
import json
import os
import subprocess
import sys
import tempfile


def main():
    if len(sys.argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    hot, startup, noop, shim, empty = sys.argv[1:6]
    quick = "--quick" in sys.argv[6:]
    reps = 5 if quick else 15
    env = dict(os.environ, LD_PRELOAD=shim, VDSOTRACE_SESSION="bench")
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([hot, f"--benchmark_repetitions={reps}", "--benchmark_report_aggregates_only=true",
                        "--benchmark_min_time=0.05" if quick else "--benchmark_min_time=0.2",
                        f"--benchmark_out={out.name}", "--benchmark_out_format=json"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        data = json.load(open(out.name))
    # Remove this run's recordings: they are the benchmark's, not anybody's program.
    for name in os.listdir("/dev/shm"):
        if name.startswith(f"vdsotrace-{os.getuid()}-bench-"):
            os.unlink(os.path.join("/dev/shm", name))

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

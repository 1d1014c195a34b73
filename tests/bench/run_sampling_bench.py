#!/usr/bin/env python3
"""Cost of stack sampling: clock_gettime from 40 frames deep, native vs through the shim, in the
default mode (no sampling) and with every call sampled at depth 10, 15 and 30, with libunwind and
with frame pointers. Medians of repetitions; the 'extra ns' column is traced - native.

usage: run_sampling_bench.py BENCH_SAMPLING LIBVDSOTRACE [--quick]
"""
import os
import sys

from bench_util import google_benchmark, remove_session


def run(bench, shim, quick, **settings):
    env = dict(os.environ, LD_PRELOAD=shim, VDSOTRACE_SESSION="benchsampling")
    env.update({k: str(v) for k, v in settings.items()})
    data = google_benchmark(bench, env, 5 if quick else 15, quick)
    remove_session("benchsampling")
    med = {b["run_name"]: b["cpu_time"] for b in data["benchmarks"] if b.get("aggregate_name") == "median"}
    return med["native_deep"], med["traced_deep"]


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    bench, shim = sys.argv[1:3]
    quick = "--quick" in sys.argv[3:]
    print(f"{'mode':<28} {'native ns':>10} {'traced ns':>10} {'ratio':>7} {'extra ns':>9}")
    rows = [("default (no sampling)", {})]
    for unwind in ("libunwind", "fp"):
        for depth in (10, 15, 30):
            rows.append((f"--sample 1, {unwind}, depth {depth}",
                         {"VDSOTRACE_SAMPLE": 1, "VDSOTRACE_UNWIND": unwind, "VDSOTRACE_SAMPLE_DEPTH": depth}))
    rows.append(("--sample 100, libunwind, d 15",
                 {"VDSOTRACE_SAMPLE": 100, "VDSOTRACE_SAMPLE_DEPTH": 15}))
    for label, settings in rows:
        n, t = run(bench, shim, quick, **settings)
        print(f"{label:<28} {n:>10.2f} {t:>10.2f} {t / n:>6.2f}x {t - n:>+9.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

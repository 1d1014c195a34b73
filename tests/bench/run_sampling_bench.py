#!/usr/bin/env python3
"""Cost of stack sampling: clock_gettime from 40 frames deep, native vs through the shim, in the
default mode (no sampling) and with every call sampled at depth 10, 15 and 30, with libunwind and
with frame pointers. Medians of repetitions; the 'extra ns' column is traced - native.

usage: run_sampling_bench.py BENCH_SAMPLING LIBVDSOTRACE [--quick]
"""
import json
import os
import subprocess
import sys
import tempfile


def run(bench, shim, quick, **settings):
    env = dict(os.environ, LD_PRELOAD=shim, VDSOTRACE_SESSION="benchsampling")
    env.update({k: str(v) for k, v in settings.items()})
    reps = 5 if quick else 15
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([bench, f"--benchmark_repetitions={reps}", "--benchmark_report_aggregates_only=true",
                        "--benchmark_min_time=0.05" if quick else "--benchmark_min_time=0.2",
                        f"--benchmark_out={out.name}", "--benchmark_out_format=json"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        data = json.load(open(out.name))
    for name in os.listdir("/dev/shm"):
        if name.startswith(f"vdsotrace-{os.getuid()}-benchsampling-"):
            os.unlink(os.path.join("/dev/shm", name))
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

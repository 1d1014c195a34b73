#!/usr/bin/env python3
"""Two or more builds of libvdsotrace.so side by side in one run, for a before/after figure.

usage: compare_shims.py BUILD_DIR SHIM [SHIM ...] [--rounds N] [--calls N] [--depth N] [--distinct N]
                        [--cpu C] [-- VDSOTRACE_RUN_OPTIONS ...]

Each round runs tests/bench/clock_loop natively, then under `vdsotrace run --shim SHIM` for each
shim in turn, so that load from other work on the machine falls on all of them alike, and prints
each one's minimum and median (ns per call, in the loop thread's CPU time), its extra ns over
native and every round's figure. The options after `--` go to `vdsotrace run` (default:
`--sample 1 --sample-depth 15`, a 15-frame sampled call, with --depth 40 as perf_table.py's row).
--distinct N makes the innermost N frames (at most 16) different functions, as perf_table.py's
"15 different functions" row (--distinct 16). --cpu C pins every run to CPU C (taskset): on a machine whose CPUs are unequally loaded (a busy
hyperthread sibling), a run's figures depend on where it was placed.
Keep a copy of the "before" shim (cp build/shim/libvdsotrace.so /tmp/before.so) before rebuilding.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_util import per_call, remove_session  # noqa: E402

SESSION = f"compare-shims-{os.getpid()}"


def main():
    argv = sys.argv[1:]
    run_options = ["--sample", "1", "--sample-depth", "15"]
    if "--" in argv:
        run_options = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build")
    p.add_argument("shims", nargs="+")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--calls", type=int, default=300000)
    p.add_argument("--depth", type=int, default=40)
    p.add_argument("--distinct", type=int, default=0)
    p.add_argument("--cpu", type=int)
    a = p.parse_args(argv)
    for shim in a.shims:
        if not os.path.isfile(shim):
            sys.exit(f"compare_shims.py: {shim}: no such file")
    vt = os.path.join(a.build, "tools", "vdsotrace")
    loop = [os.path.join(a.build, "tests", "bench", "clock_loop"), str(a.calls), "1", str(a.depth)]
    if a.distinct:
        loop.append(str(a.distinct))
    pin = ["taskset", "-c", str(a.cpu)] if a.cpu is not None else []
    env = dict(os.environ, VDSOTRACE_SESSION=SESSION)
    load = lambda: open("/proc/loadavg").read().split()[0]  # noqa: E731
    print(f"clock_loop {' '.join(loop[1:])}, vdsotrace run {' '.join(run_options)}, {a.rounds} rounds, "
          f"load average {load()} before", flush=True)
    figures = {"native": []}
    for shim in a.shims:
        figures[shim] = []
    try:
        for _ in range(a.rounds):
            figures["native"].append(per_call(pin + loop))
            for shim in a.shims:
                cmd = pin + [vt, "run", "--shim", shim, "--text", os.devnull, "-o", os.devnull] + run_options
                figures[shim].append(per_call(cmd + ["--"] + loop, env))
    finally:
        remove_session(SESSION)
    native = figures["native"]
    print(f"{'':30} {'min':>8} {'median':>8} {'extra min':>10} {'extra med':>10}   rounds")
    for name, v in figures.items():
        extra = "" if name == "native" else \
            f"{min(v) - min(native):+10.1f} {statistics.median(v) - statistics.median(native):+10.1f}"
        print(f"{os.path.basename(name) if name != 'native' else name:30} {min(v):8.1f} {statistics.median(v):8.1f} "
              f"{extra:21}   {' '.join(f'{x:.0f}' for x in v)}")
    print(f"load average {load()} after")


if __name__ == "__main__":
    main()

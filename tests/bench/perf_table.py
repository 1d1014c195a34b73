#!/usr/bin/env python3
"""The README's performance table, measured side by side in one run.

usage: perf_table.py BUILD_DIR [--rounds N] [--calls N] [--only ROW,...] [--no-reader]

Each row runs a program natively and under a tracer, alternately, ROUNDS times (native, traced,
native, traced, ...), so that load from other work on the machine falls on both alike; it prints
the minimum and the median of each, their ratio and the extra nanoseconds per call. The program
is tests/bench/clock_loop (clock_gettime(CLOCK_MONOTONIC) in a loop, through the PLT) or, for
statically linked programs, tests/bench/static_bench. Peers (perf record -g, libfaketime,
uftrace, ltrace) are measured where installed, on the same loop. Then the reader's figures:
`report` on the demo's recording (tests/bench/report_speed.py), and `report` on a large synthetic
recording, `ls` and `top --once` over 1,000 live recordings (tests/bench/reader_bench.py).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from bench_util import per_call, remove_session

SESSION = f"perftable{os.getpid()}"


def find_faketime():
    for d in ("/usr/lib/x86_64-linux-gnu/faketime", "/usr/lib/faketime", "/usr/local/lib/faketime"):
        p = os.path.join(d, "libfaketime.so.1")
        if os.path.exists(p):
            return p
    return None


def rows(build, calls):
    """(label, native argv, traced argv, traced env, calls made per thread) for every row."""
    vt = os.path.join(build, "tools", "vdsotrace")
    loop = os.path.join(build, "tests", "bench", "clock_loop")
    static = os.path.join(build, "tests", "bench", "static_bench")
    run = [vt, "run", "--text", os.devnull, "-o", os.devnull]
    env = dict(os.environ, VDSOTRACE_SESSION=SESSION)
    n = str(calls)
    few = str(max(calls // 20, 20000))  # sampled calls are slower: fewer of them
    yield "counting (default)", [loop, n], run + ["--", loop, n], env
    yield "--sample 100 (unwind tables)", [loop, n], run + ["--sample", "100", "--", loop, n], env
    yield ("--sample 100 --unwind libunwind", [loop, n],
           run + ["--sample", "100", "--unwind", "libunwind", "--", loop, n], env)
    yield "--sample 100 --unwind fp", [loop, n], run + ["--sample", "100", "--unwind", "fp", "--", loop, n], env
    # 40 frames deep, 15 kept: every sampled stack has exactly 15 frames.
    yield ("--sample 1, 15 frames (unwind tables)", [loop, few, "1", "40"],
           run + ["--sample", "1", "--sample-depth", "15", "--", loop, few, "1", "40"], env)
    yield ("--sample 1, 15 frames (libunwind)", [loop, few, "1", "40"],
           run + ["--sample", "1", "--sample-depth", "15", "--unwind", "libunwind", "--", loop, few, "1", "40"], env)
    yield ("--sample 1, 15 frames (--unwind fp)", [loop, few, "1", "40"],
           run + ["--sample", "1", "--sample-depth", "15", "--unwind", "fp", "--", loop, few, "1", "40"], env)
    yield "2 threads at once (default)", [loop, n, "2"], run + ["--", loop, n, "2"], env
    # Callers behind clock wrappers (docs/callers.md): the same call, natively and with its
    # caller found outside the wrapper (C++) or read from the interpreter's frame (Python).
    steady = os.path.join(build, "tests", "bench", "steady_loop")
    if os.path.exists(steady):
        yield "steady_clock::now() (via the wrapper)", [steady, n], run + ["--", steady, n], env
    here = os.path.dirname(os.path.abspath(__file__))
    for python in ("/usr/bin/python3", os.path.expanduser("~/.pyenv/versions/3.12.1/bin/python3.12")):
        if os.access(python, os.X_OK):
            script = [python, os.path.join(here, "monotonic_loop.py"), str(max(calls // 5, 200000))]
            version = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                     capture_output=True, text=True).stdout.strip()
            # --no-runtime-help: the same interpreter settings natively and traced.
            yield (f"time.monotonic() in Python {version}", script,
                   run + ["--no-runtime-help", "--"] + script, env)
    if os.path.exists(static):
        yield ("static glibc (injected trampoline)", [static, "clock_gettime", n],
               run + ["--", static, "clock_gettime", n], env)
        yield ("static glibc, 2 threads", [static, "clock_gettime", n, "2"],
               run + ["--", static, "clock_gettime", n, "2"], env)
    if shutil.which("perf"):
        data = os.path.join(tempfile.gettempdir(), f"perftable-{os.getpid()}.data")
        yield ("perf record -g", [loop, n],
               ["perf", "record", "-q", "-g", "-o", data, "--", loop, n], env)
    faketime = find_faketime()
    if faketime:
        yield ("libfaketime (FAKETIME=+0)", [loop, n], [loop, n],
               dict(os.environ, LD_PRELOAD=faketime, FAKETIME="+0", FAKETIME_NO_CACHE="0"))
    if shutil.which("uftrace"):
        yield "uftrace record --force", [loop, few], ["uftrace", "record", "--force", "-d",
                                                       tempfile.mkdtemp(), loop, few], env
    if shutil.which("ltrace"):
        yield "ltrace -c", [loop, "20000"], ["ltrace", "-c", "-o", os.devnull, loop, "20000"], env


def cleanup():
    remove_session(SESSION)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--calls", type=int, default=10_000_000)
    ap.add_argument("--only", default="", help="comma-separated substrings of row labels")
    ap.add_argument("--no-reader", action="store_true")
    a = ap.parse_args()
    wanted = [w for w in a.only.split(",") if w]
    load = os.getloadavg()
    print(f"clock_gettime(CLOCK_MONOTONIC) per call (CPU time), native and traced alternately, {a.rounds} rounds; "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'mode':<38} {'native min/med':>15} {'traced min/med':>15} {'ratio min/med':>14} {'extra ns':>9}")
    try:
        for label, native_cmd, traced_cmd, env in rows(a.build, a.calls):
            if wanted and not any(w in label for w in wanted):
                continue
            native, traced = [], []
            for _ in range(a.rounds):
                native.append(per_call(native_cmd))
                traced.append(per_call(traced_cmd, env))
                cleanup()
            nmin, nmed, tmin, tmed = min(native), statistics.median(native), min(traced), statistics.median(traced)
            ratios = f"{tmin / nmin:.2f}x/{tmed / nmed:.2f}x"
            print(f"{label:<38} {nmin:>7.1f}/{nmed:<7.1f} {tmin:>7.1f}/{tmed:<7.1f} {ratios:>14} "
                  f"{tmin - nmin:>+8.1f}", flush=True)
    finally:
        cleanup()
    if not a.no_reader and not wanted:
        here = os.path.dirname(os.path.abspath(__file__))
        print()
        subprocess.run([sys.executable, os.path.join(here, "report_speed.py"), a.build], check=True)
        print()
        subprocess.run([sys.executable, os.path.join(here, "reader_bench.py"), a.build], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

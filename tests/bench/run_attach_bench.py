#!/usr/bin/env python3
"""`vdsotrace attach`: how long the target is stopped, and what counting costs after an attach.

1. Stopped time: attach_crowd (8 threads calling the clock, 100 dlopen'ed libraries) attached
   ATTACHES times for 0.2 s each; the first attach loads the shim (an injected dlopen, the
   threads running meanwhile), later ones reuse it. Prints min and median of the stopped time of
   attach and of detach, as `vdsotrace attach` prints them (first interrupt to last detach), and
   the phases of the work before and during the stop (VDSOTRACE_ATTACH_PHASES=1).
2. Cost per call: attach_loop's clock_gettime loop natively, under `vdsotrace run` and after
   `vdsotrace attach`, ROUNDS rounds each; ns per call in thread CPU time, min and median, and
   the ratios to native.
The machine is usually shared: compare ratios, not absolute figures.

usage: run_attach_bench.py VDSOTRACE SHIM ATTACH_CROWD ATTACH_LOOP [--quick]
"""
import collections
import os
import re
import signal
import statistics
import subprocess
import sys
import time


def attach_cmd(vdsotrace, shim, pid, *extra):
    return [vdsotrace, "attach", "--shim", shim, "--json", "-o", os.devnull] + list(extra) + [str(pid)]


def remove_recordings(pid):
    for name in os.listdir("/dev/shm"):
        if name.startswith(f"vdsotrace-{os.getuid()}-") and f"-{pid}-" in name:
            os.unlink(os.path.join("/dev/shm", name))


def stopped_times(vdsotrace, shim, crowd, attaches):
    p = subprocess.Popen([crowd, "8", "100"], stdout=subprocess.PIPE, text=True)
    ready = p.stdout.readline().split()
    first, later, detach = [], [], []
    phases = collections.defaultdict(list)
    try:
        for i in range(attaches):
            env = dict(os.environ, VDSOTRACE_ATTACH_PHASES="1")
            r = subprocess.run(attach_cmd(vdsotrace, shim, p.pid, "--duration", "0.2"), capture_output=True,
                               text=True, env=env)
            a = re.search(r"attached to pid .*?(\d+) pointers lead to the shim \(stopped ([\d.]+) ms\)", r.stderr)
            d = re.search(r"detached from pid .*\(stopped ([\d.]+) ms\)", r.stderr)
            if r.returncode != 0 or not a or not d:
                print("attach failed:", r.returncode, r.stderr, file=sys.stderr)
                return 1
            (first if i == 0 else later).append(float(a.group(2)))
            detach.append(float(d.group(1)))
            for name, ms in re.findall(r"phase (.*?): ([\d.]+) ms", r.stderr):
                phases[(name, i == 0)].append(float(ms))
            pointers = a.group(1)
    finally:
        p.kill()
        p.wait()
        remove_recordings(p.pid)
    print(f"attach_crowd: 8 threads, {ready[1]} modules loaded, {pointers} pointers switched; "
          f"{attaches} attaches of 0.2 s")
    print(f"{'stopped ms':<28} {'min':>8} {'median':>8}")
    for name, xs in [("attach, first (loads shim)", first), ("attach, later", later), ("detach", detach)]:
        if xs:
            print(f"{name:<28} {min(xs):>8.2f} {statistics.median(xs):>8.2f}")
    print("\nphases, median ms (first attach / later attaches):")
    for name in dict.fromkeys(n for n, _ in phases):
        f, l = phases.get((name, True), []), phases.get((name, False), [])
        fs = f"{statistics.median(f):.3f}" if f else "-"
        ls = f"{statistics.median(l):.3f}" if l else "-"
        print(f"  {name:<34} {fs:>8} / {ls:>8}")
    return 0


def loop_rounds(cmd, rounds, env=None, attach=None):
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline() == "ready\n"
    a = None
    if attach is not None:
        a = subprocess.Popen(attach(p.pid), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = a.stderr.readline()
        assert "attached to pid" in line, line
    out = []
    for _ in range(rounds):
        p.stdin.write("g")
        p.stdin.flush()
        out.append(float(p.stdout.readline()))
    if a is not None:
        a.send_signal(signal.SIGINT)
        a.communicate(timeout=60)
    p.stdin.write("q")
    p.stdin.flush()
    p.wait(timeout=30)
    remove_recordings(p.pid)
    return out


def call_cost(vdsotrace, shim, loop, rounds, calls):
    native = loop_rounds([loop, str(calls)], rounds)
    run = loop_rounds([vdsotrace, "run", "--shim", shim, "--json", os.devnull, "-o", os.devnull, "--",
                       loop, str(calls)], rounds)
    attached = loop_rounds([loop, str(calls)], rounds,
                           attach=lambda pid: attach_cmd(vdsotrace, shim, pid))
    print(f"\nclock_gettime(CLOCK_MONOTONIC) through the PLT, {calls} calls a round, {rounds} rounds:")
    print(f"{'':<18} {'min ns':>8} {'median ns':>10} {'ratio min':>10} {'ratio median':>13}")
    for name, xs in [("native", native), ("vdsotrace run", run), ("vdsotrace attach", attached)]:
        print(f"{name:<18} {min(xs):>8.2f} {statistics.median(xs):>10.2f} {min(xs) / min(native):>9.3f}x "
              f"{statistics.median(xs) / statistics.median(native):>12.3f}x")
    return 0


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    vdsotrace, shim, crowd, loop = sys.argv[1:5]
    quick = "--quick" in sys.argv[5:]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if stopped_times(vdsotrace, shim, crowd, 4 if quick else 9) != 0:
        return 1
    return call_cost(vdsotrace, shim, loop, 5 if quick else 11, 500000 if quick else 2000000)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Cost of `vdsotrace export` over many live recordings (README, "Prometheus").

Starts N copies of clock_loop (tests/e2e_export) under the shim, each making a few hundred clock
calls from two call sites and then waiting on a shared pipe, so N recordings are live. Then runs
the exporter R times (`export -o FILE`, top 5 callers, and again with --callers 0) and prints wall
time (min and median) and peak RSS. Stops every process it started and removes their recordings.

Run as root, the processes and the exporter run as user `nobody`, so that the export holds this
benchmark's recordings only (other users' are not read without --all-users), whatever else runs
traced on the machine.

Usage: run_export_bench.py VDSOTRACE SHIM CLOCK_LOOP [N=1000] [R=7]
"""
import os
import pwd
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

VDSOTRACE, SHIM, CLOCK_LOOP = sys.argv[1:4]
N = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
R = int(sys.argv[5]) if len(sys.argv) > 5 else 7
SESSION = f"i17bench{os.getpid()}"
try:
    NOBODY = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
except KeyError:
    NOBODY = None


def as_user():
    if NOBODY:
        os.setgid(NOBODY.pw_gid)
        os.setgroups([])
        os.setuid(NOBODY.pw_uid)


def session_files():
    return [os.path.join("/dev/shm", n) for n in os.listdir("/dev/shm")
            if n.startswith("vdsotrace-") and len(n.split("-")) == 5 and n.split("-")[2] == SESSION]


def timed_export(args, out):
    start = time.perf_counter()
    p = subprocess.Popen([VDSOTRACE, "export", "-o", out] + args, preexec_fn=as_user)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    assert os.waitstatus_to_exitcode(status) == 0
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0  # MiB


def main():
    read_fd, write_fd = os.pipe()
    ready_r, ready_w = os.pipe()
    env = dict(os.environ, LD_PRELOAD=SHIM, VDSOTRACE_SESSION=SESSION)
    procs = []
    try:
        t0 = time.perf_counter()
        for i in range(N):
            procs.append(subprocess.Popen([CLOCK_LOOP, str(200 + i % 7), str(i % 3)], env=env,
                                          stdin=read_fd, stdout=ready_w, close_fds=True,
                                          preexec_fn=as_user))
        os.close(ready_w)
        ready_w = -1
        seen = 0
        with os.fdopen(ready_r, "r") as ready:
            ready_r = -1
            for line in ready:
                seen += line.startswith("ready")
                if seen == N:
                    break
        print(f"{N} traced processes{' (user nobody)' if NOBODY else ''} live after {time.perf_counter() - t0:.1f} s; "
              f"{len(session_files())} recordings, "
              f"{sum(os.stat(f).st_blocks * 512 for f in session_files()) / 2**20:.0f} MiB resident in /dev/shm, "
              f"{sum(os.stat(f).st_size for f in session_files()) / 2**20:.0f} MiB apparent")
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o777)
            out = os.path.join(tmp, "vdsotrace.prom")
            for label, args in [("--callers 5", ["--callers", "5"]), ("--callers 0", ["--callers", "0"])]:
                walls, cpus, rss = [], [], []
                for _ in range(R):
                    w, c, m = timed_export(args, out)
                    walls.append(w)
                    cpus.append(c)
                    rss.append(m)
                text = open(out).read()
                live = int(re.search(r"^vdsotrace_export_recordings (\d+)$", text, re.M).group(1))
                print(f"export {label}: {live} live recordings exported ({len(text) / 2**20:.1f} MiB of text), "
                      f"wall min {min(walls) * 1000:.0f} ms, median {statistics.median(walls) * 1000:.0f} ms; "
                      f"CPU (user+sys) min {min(cpus) * 1000:.0f} ms, median {statistics.median(cpus) * 1000:.0f} ms; "
                      f"peak RSS max {max(rss):.1f} MiB (R={R}, load average {os.getloadavg()[0]:.1f})")
    finally:
        os.close(write_fd)  # every clock_loop sees end of input and exits
        for fd in (read_fd, ready_r, ready_w):
            if fd >= 0:
                os.close(fd)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in session_files():
            os.unlink(f)


if __name__ == "__main__":
    main()

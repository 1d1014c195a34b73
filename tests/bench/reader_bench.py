#!/usr/bin/env python3
"""The reader at scale: wall time and peak memory of `vdsotrace report` on a synthetic recording
of 1,000,000 sampled stacks over 10,000 call sites and 1,000 threads, and of `vdsotrace ls` and
`vdsotrace top --once` over 1,000 live recordings (tests/bench/make_recordings writes both with the
engine's own layout code). Best of ROUNDS runs. As root it runs in a private mount namespace with
its own empty /dev/shm (unshare), so that other recordings on the machine do not count.

usage: reader_bench.py BUILD_DIR [--rounds N] [--live N] [--json]
--json: also a last line of JSON with the figures (perf_table.py reads it): {"report": {"wall", "cpu",
"rss_mb"}, "ls": {...}, "top": {...}, "shm": "..."}, seconds and MB, best of ROUNDS.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from bench_util import remove_session

SESSION = f"readerbench{os.getpid()}"


def timed(cmd):
    """(wall seconds, peak resident MB, CPU seconds) of one run of cmd."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    # This run's own peak and CPU time (user + system): a loaded machine deschedules the command,
    # which the wall time counts and the CPU time does not.
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def best(runs):
    """The best of `timed` runs: least wall and CPU time, highest peak."""
    return {"wall": min(r[0] for r in runs), "cpu": min(r[2] for r in runs), "rss_mb": max(r[1] for r in runs)}


def cleanup():
    for kind in ("big", "live"):
        remove_session(SESSION + kind)


def private_shm():
    """Re-runs this script in a private mount namespace with an empty tmpfs on /dev/shm."""
    if os.environ.get("READER_BENCH_PRIVATE") or os.geteuid() != 0 or not shutil.which("unshare"):
        return None
    script = "mount -t tmpfs -o size=4g vdsotrace-bench /dev/shm && exec \"$@\""
    env = dict(os.environ, READER_BENCH_PRIVATE="1")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                        sys.executable] + sys.argv, env=env)
    return r.returncode


def main():
    code = private_shm()
    if code is not None:
        return code
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--live", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    figures = {}
    vt = os.path.join(a.build, "tools", "vdsotrace")
    others = len(os.listdir("/dev/shm"))
    figures["shm"] = (f"/dev/shm: {'a private, empty tmpfs' if os.environ.get('READER_BENCH_PRIVATE') else 'shared'} "
                      f"({others} files before the benchmark's)")
    print(figures["shm"])
    make = os.path.join(a.build, "tests", "bench", "make_recordings")
    try:
        path = subprocess.run([make, "big", SESSION + "big", "1000", "10000", "1000000"], check=True,
                              capture_output=True, text=True).stdout.strip()
        runs = [timed([vt, "report", path]) for _ in range(a.rounds)]
        figures["report"] = best(runs)
        print(f"report, 1,000,000 samples / 10,000 call sites / 1,000 threads: "
              f"{min(r[0] for r in runs):.2f} s wall, {min(r[2] for r in runs):.2f} s CPU (best of {a.rounds}), "
              f"peak {max(r[1] for r in runs):.0f} MB")
        os.unlink(path)

        live = subprocess.Popen([make, "live", SESSION + "live", str(a.live)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        line = live.stdout.readline().strip()
        if line != "ready":
            figures["live_error"] = f"could not make {a.live} live recordings: {line}"
            print(figures["live_error"])
        else:
            # top measures rates over one interval: 0.1 s of the time below is that wait.
            for key, label, cmd in (("ls", "ls", [vt, "ls"]),
                                    ("top", "top --once --interval 0.1", [vt, "top", "--once", "--interval", "0.1"])):
                runs = [timed(cmd) for _ in range(a.rounds)]
                figures[key] = best(runs)
                print(f"{label} over {a.live} live recordings: {min(r[0] for r in runs):.2f} s wall, "
                      f"{min(r[2] for r in runs):.2f} s CPU (best of {a.rounds}), peak {max(r[1] for r in runs):.0f} MB")
        live.stdin.close()
        live.wait()
    finally:
        cleanup()
    if a.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

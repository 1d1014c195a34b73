#!/usr/bin/env python3
"""How long `vdsotrace report` takes on the demo's recording: the recording file `run` leaves and
the same run kept live in /dev/shm, against `vdsotrace --version` (the process's own start: loading
the binary and its libraries) in the same run. Prints the minimum and median of ROUNDS runs, in
wall time and in the command's CPU time (user + system, children included: a machine shared with
other work deschedules the command, and that wait is not its cost). Goal: report under 20 ms.

usage: report_speed.py BUILD_DIR [--rounds N]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench_util import remove_session


def one_run(cmd):
    """(wall ms, cpu ms) of one run of cmd, its children's CPU time included."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.monotonic() - start) * 1000
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}")
    # wait4's usage covers the process and the children it waited for (the report's probe child).
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def measure(cmds, rounds):
    """Runs the commands alternately, `rounds` times each; {label: [(wall, cpu), ...]}."""
    runs = {label: [] for label, _ in cmds}
    for _ in range(rounds):
        for label, cmd in cmds:
            runs[label].append(one_run(cmd))
    return runs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--rounds", type=int, default=20)
    a = ap.parse_args()
    vt = os.path.abspath(os.path.join(a.build, "tools", "vdsotrace"))
    demo = os.path.abspath(os.path.join(a.build, "tools", "vdsotrace-demo"))
    session = f"reportspeed{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        recording = os.path.join(tmp, "demo.vdsotrace")
        subprocess.run([vt, "run", "--session", session, "--keep-live", "-o", recording, "--text", "/dev/null",
                        "--", demo], check=True, stdout=subprocess.DEVNULL)
        try:
            cmds = [("vdsotrace --version (start-up alone)", [vt, "--version"]),
                    ("report FILE (the demo's recording file)", [vt, "report", recording]),
                    ("report SESSION (the same run, live in /dev/shm)", [vt, "report", session])]
            runs = measure(cmds, a.rounds)
        finally:
            remove_session(session)
    load = os.getloadavg()[0]
    print(f"{a.rounds} runs each, alternated; load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"{'command':50} {'wall ms (min / median)':>24} {'cpu ms (min / median)':>24}")
    for label, _ in cmds:
        wall = [w for w, _ in runs[label]]
        cpu = [c for _, c in runs[label]]
        print(f"{label:50} {min(wall):10.1f} / {statistics.median(wall):7.1f}   "
              f"{min(cpu):10.1f} / {statistics.median(cpu):7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

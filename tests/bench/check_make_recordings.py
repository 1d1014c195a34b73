#!/usr/bin/env python3
"""The reader benchmark's recordings, small: make_recordings writes a sampled recording through the
engine's own layout and caller-table code, and `vdsotrace report` reads back exactly what it wrote
(reader_bench.py's 1,000,000-sample figure rests on this; it died of SIGBUS unnoticed when
recordings became growable).

usage: check_make_recordings.py MAKE_RECORDINGS VDSOTRACE"""
import json
import os
import subprocess
import sys

make, vdsotrace = sys.argv[1:3]
session = f"makerec{os.getpid()}"
threads, sites, samples = 10, 100, 1000
made = subprocess.run([make, "big", session, str(threads), str(sites), str(samples)], capture_output=True, text=True)
path = made.stdout.strip()
try:
    if made.returncode != 0:
        sys.exit(f"make_recordings big: exit {made.returncode}: {made.stderr}")
    rep = subprocess.run([vdsotrace, "report", "--json", path], capture_output=True, text=True)
    if rep.returncode != 0:
        sys.exit(f"report: exit {rep.returncode}: {rep.stderr}")
    d = json.loads(rep.stdout)
    got = (d["total_calls"], len(d["threads"]), len(d["callers"]), d["sampling"]["sampled"], len(d["stacks"]),
           sum(s["calls"] for s in d["stacks"]), d["unattributed"])
    # Each sample stands for 100 calls; each thread calls from 50 of the sites, all named callers.
    want = (samples * 100, threads, sites, samples, sites, samples, [])
    print("total, threads, callers, sampled, stacks, stack calls, unattributed:", got)
    if got != want:
        sys.exit(f"expected {want}")
finally:
    if path.startswith("/dev/shm/"):
        os.unlink(path)

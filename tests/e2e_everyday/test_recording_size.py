#!/usr/bin/env python3
"""Recordings sized to what they hold (issue 14, item 1), through the real shim and `vdsotrace`.

  test_recording_size.py VDSOTRACE LIBVDSOTRACE GROWTH_TARGET

Measures what a recording takes in /dev/shm (allocated blocks, st_blocks * 512: tmpfs is memory)
and checks every call is still counted exactly. Every recording made here belongs to a session
named by this test and is removed at the end; nobody else's are touched.
"""
import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

from vdsotrace_test import check, failures  # the Python suites' one harness (tests/support)

VDSOTRACE, SHIM, TARGET = (os.path.abspath(a) for a in sys.argv[1:4])
TAG = f"size{os.getpid()}"
made_sessions = []


def segments(session):
    return sorted(glob.glob(f"/dev/shm/vdsotrace-{os.getuid()}-{session}-*"))


def resident(path):
    return os.stat(path).st_blocks * 512


def preload(session, args, limit_fsize=None):
    made_sessions.append(session)
    env = dict(os.environ, LD_PRELOAD=SHIM, VDSOTRACE_SESSION=session)

    def limit():
        if limit_fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_fsize, resource.RLIM_INFINITY))

    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, preexec_fn=limit)


def report(session):
    p = subprocess.run([VDSOTRACE, "report", "--json", session], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        print(p.stderr)
        return None
    return json.loads(p.stdout)


def calls_by(rep, function, clock=None):
    if clock is None:
        return sum(f["calls"] for f in rep["functions"] if f["name"] == function)
    return sum(c["calls"] for c in rep["clocks"] if c["function"] == function and c["name"] == clock)


def test_short_process():
    s = f"{TAG}short"
    p = preload(s, [TARGET, "0", "0"])
    check(p.returncode == 0 and p.stderr == "", "a short process runs as without the shim", p.stderr)
    segs = segments(s)
    check(len(segs) == 1, "one recording for one process", segs)
    if not segs:
        return
    size = resident(segs[0])
    print(f"     resident {size} bytes, file {os.stat(segs[0]).st_size} bytes")
    check(size <= 64 * 1024, "a short process's recording holds at most 64 KiB in /dev/shm", f"{size} bytes")
    rep = report(s)
    check(rep is not None and rep["total_calls"] == 3 and calls_by(rep, "clock_gettime", "CLOCK_REALTIME") == 3,
          "its 3 calls are counted", rep and rep["total_calls"])


def test_many_threads():
    s = f"{TAG}threads"
    threads, calls = 64, 1000
    p = preload(s, [TARGET, str(threads), str(calls)])
    check(p.returncode == 0 and p.stderr == "", "64 threads run as without the shim", p.stderr)
    segs = segments(s)
    if len(segs) != 1:
        check(False, "one recording for the threads", segs)
        return
    rep = report(s)
    if rep is None:
        check(False, "the recording of 64 threads reads", "")
        return
    check(rep["total_calls"] == 3 + 2 * threads * calls, "every call of 64 threads is counted",
          rep["total_calls"])
    check(calls_by(rep, "clock_gettime", "CLOCK_MONOTONIC") == threads * calls and calls_by(rep, "time") == threads * calls,
          "per function and clock", rep["clocks"])
    workers = [t for t in rep["threads"] if t["calls"] == 2 * calls and not t.get("shared")]
    check(len(workers) == threads, "each thread has its own slot with its own count", len(workers))
    sites = [c for c in rep["callers"] if c["calls"] == threads * calls]
    check(len(sites) == 2, "the two call sites of the threads, each with every thread's calls", rep["callers"][:4])
    size = resident(segs[0])
    whole = 64 * 1024 + threads * 5 * 1024  # the fixed part and the modules, then a slot of 4880 bytes a thread
    print(f"     resident {size} bytes for {threads} threads")
    check(size <= whole, f"the recording grew by about a slot a thread (at most {whole} bytes)", size)


def test_growth_refused():
    # A file size limit that lets the recording start (with the main thread's slot, 125 KiB into
    # the layout) but not grow by another slot: the program must run and exit as without the shim
    # (no SIGXFSZ: issue 12), with one line on stderr, and every call must still be counted.
    s = f"{TAG}limit"
    limit = 128 * 1024
    p = preload(s, [TARGET, "4", "100"], limit_fsize=limit)
    check(p.returncode == 0, "under ulimit -f the program exits 0 (not killed by SIGXFSZ)", p.returncode)
    lines = p.stderr.splitlines()
    check(lines == ["vdsotrace: the recording cannot grow (file size limit exceeded): every call is still "
                    "counted, but new threads count together and new modules and call sites go unnamed from now on"],
          "one line on stderr says the recording cannot grow", p.stderr)
    rep = report(s)
    check(rep is not None and rep["total_calls"] == 3 + 2 * 4 * 100, "every call is counted anyway",
          rep and rep["total_calls"])
    if rep is not None:
        rows = sorted((t["calls"], t["name"]) for t in rep["threads"])
        check(rows == [(3, "growth_target"), (800, "(threads the recording had no room for, and exited ones)")],
              "the main thread in its slot, the threads that found no room together", rows)
    segs = segments(s)
    check(len(segs) == 1 and os.stat(segs[0]).st_size <= limit, "the file stayed under the limit",
          [os.stat(x).st_size for x in segs])


def run_in(workdir, session, program):
    made_sessions.append(session)
    return subprocess.run([VDSOTRACE, "run", "--shim", SHIM, "--session", session, "--", *program],
                          capture_output=True, text=True, timeout=300, cwd=workdir)


def test_run_short_program(workdir):
    # `vdsotrace run` of a short program writes its recording file and leaves nothing of its
    # session in /dev/shm: zero recordings, zero bytes.
    s = f"{TAG}run"
    p = run_in(workdir, s, [TARGET, "0", "0"])
    check(p.returncode == 0, "run of a short program exits 0", p.stderr[-500:])
    name = f"vdsotrace.growth_target.{s}.vdsotrace"
    check(os.path.exists(os.path.join(workdir, name)), "run wrote the recording file", os.listdir(workdir))
    segs = segments(s)
    total = sum(resident(x) for x in segs)
    check(segs == [] and total == 0, "run of a short program leaves 0 bytes of its session in /dev/shm",
          f"{len(segs)} recordings, {total} bytes")


def test_shell_loop_leftover(workdir):
    # The loop: 200 `date` under `vdsotrace run`: one recording file, nothing in /dev/shm.
    s = f"{TAG}loop"
    p = run_in(workdir, s, ["bash", "-c", "for i in $(seq 200); do date >/dev/null; done"])
    check(p.returncode == 0, "the loop runs under `vdsotrace run`", p.stderr[-500:])
    segs = segments(s)
    total = sum(resident(x) for x in segs)
    print(f"     {len(segs)} recordings, {total} bytes in /dev/shm")
    check(segs == [] and total == 0, "the loop of 201 processes leaves 0 bytes of its session in /dev/shm",
          f"{len(segs)} recordings, {total} bytes")
    files = [f for f in os.listdir(workdir) if s in f]
    check(len(files) == 1, "the loop's recordings are in one file", os.listdir(workdir))
    # Most were read while the loop ran (tools/run/session_collector.h), the rest at its end: each
    # exactly once, with how it ended. bash makes 3 calls, each date 1; seq none (no recording).
    if len(files) == 1:
        q = subprocess.run([VDSOTRACE, "report", "--json", os.path.join(workdir, files[0])], capture_output=True,
                           text=True, timeout=120)
        r = json.loads(q.stdout) if q.returncode == 0 else {}
        procs = r.get("processes", [])
        dates = [x for x in procs if x.get("exe") == "/usr/bin/date"]
        check(r.get("total_calls") == 203 and len(procs) == 201 and len(dates) == 200,
              "the file holds 201 processes and 203 calls: bash's 3 and 1 for each of the 200 date",
              f"{r.get('total_calls')} calls, {len(procs)} processes, {len(dates)} date")
        check(all(x.get("calls") == 1 and x.get("exit") == {"code": 0} for x in dates),
              "every date made 1 call and exited with code 0",
              [x for x in dates if x.get("calls") != 1 or x.get("exit") != {"code": 0}][:2])
        check(len({x.get("pid") for x in procs}) == 201, "no process is in the file twice",
              len({x.get("pid") for x in procs}))


def main():
    workdir = tempfile.mkdtemp(prefix="vdsotrace-size-")
    try:
        test_short_process()
        test_many_threads()
        test_growth_refused()
        test_run_short_program(workdir)
        test_shell_loop_leftover(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        for s in made_sessions:
            for path in segments(s):
                os.unlink(path)
    if failures:
        print(f"{len(failures)} failed: {failures}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The issue-14 shell loop: 200 short processes (`date`) natively, with the shim preloaded, and
under `vdsotrace run` (which adds the report and the recording file at the end), interleaved,
several times; optionally with an empty preloaded library too (--empty-so PATH: what any
LD_PRELOAD costs, the floor the shim's own start-up adds to). Prints wall and CPU time (user +
system of all processes), min and median, and the ratios against native; then what the
recordings left in /dev/shm (allocated bytes), the size of the file `run` wrote and what
`vdsotrace report` of the session costs alone.

usage: run_shell_loop_bench.py VDSOTRACE LIBVDSOTRACE [--runs N] [--loops N] [--empty-so PATH]
                               [--floor] [--also-so LABEL=PATH ...] [--also-run LABEL=VDSOTRACE ...]

--floor adds the shim preloaded where it cannot record (the loop under `ulimit -f 1`: every
process says so and passes its calls through): what loading and starting the shim costs before
any recording, the part a faster recording cannot take away.

--also-so preloads another build of the shim in the same interleaved runs (an A/B of a change:
each a row of its own), since figures taken minutes apart on a loaded machine do not compare.
--also-run does the same for `vdsotrace run` of another build (it finds its shim beside it).
"""
import glob
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def timed(args, env=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def segments(session):
    return glob.glob(f"/dev/shm/vdsotrace-{os.getuid()}-{session}-*")


def remove(session):
    for path in segments(session):
        os.unlink(path)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    vdsotrace, shim = sys.argv[1:3]
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 7
    loops = int(sys.argv[sys.argv.index("--loops") + 1]) if "--loops" in sys.argv else 200
    loop = ["bash", "-c", f"for i in $(seq {loops}); do date >/dev/null; done"]
    empty = sys.argv[sys.argv.index("--empty-so") + 1] if "--empty-so" in sys.argv else None
    floor = "--floor" in sys.argv
    not_recording = ["bash", "-c", f"ulimit -f 1; for i in $(seq {loops}); do date >/dev/null 2>&1; done"]
    tag = f"loopbench{os.getpid()}"
    results = {"native": []}
    if empty:
        results["empty .so"] = []
    if floor:
        results["not recording"] = []
    others = [sys.argv[i + 1].split("=", 1) for i, a in enumerate(sys.argv) if a == "--also-so"]
    for label, _ in others:
        results[label] = []
    other_runs = [sys.argv[i + 1].split("=", 1) for i, a in enumerate(sys.argv) if a == "--also-run"]
    results.update({"LD_PRELOAD": [], "vdsotrace run": [], "report alone": []})
    for label, _ in other_runs:
        results[f"run {label}"] = []
    left = []
    files = []
    out_dir = tempfile.mkdtemp(prefix="vdsotrace-loopbench-")
    for r in range(runs):
        results["native"].append(timed(loop))
        if empty:
            results["empty .so"].append(timed(loop, dict(os.environ, LD_PRELOAD=empty)))
        if floor:
            s = f"{tag}f{r}"
            results["not recording"].append(timed(not_recording, dict(os.environ, LD_PRELOAD=shim, VDSOTRACE_SESSION=s)))
            remove(s)
        for k, (label, path) in enumerate(others):
            s = f"{tag}o{k}r{r}"
            results[label].append(timed(loop, dict(os.environ, LD_PRELOAD=path, VDSOTRACE_SESSION=s)))
            remove(s)
        s = f"{tag}p{r}"
        results["LD_PRELOAD"].append(timed(loop, dict(os.environ, LD_PRELOAD=shim, VDSOTRACE_SESSION=s)))
        results["report alone"].append(timed([vdsotrace, "report", s]))
        remove(s)
        s = f"{tag}r{r}"
        out = os.path.join(out_dir, f"run{r}.vdsotrace")
        results["vdsotrace run"].append(timed([vdsotrace, "run", "--session", s, "-o", out, "--"] + loop))
        left.append(sum(os.stat(p).st_blocks * 512 for p in segments(s)))
        files.append(os.path.getsize(out) if os.path.exists(out) else 0)
        remove(s)
        if os.path.exists(out):
            os.unlink(out)
        for k, (label, other) in enumerate(other_runs):
            s = f"{tag}a{k}r{r}"
            results[f"run {label}"].append(timed([other, "run", "--session", s, "-o", out, "--"] + loop))
            remove(s)
            if os.path.exists(out):
                os.unlink(out)
    os.rmdir(out_dir)
    native_wall = [w for w, _ in results["native"]]
    native_cpu = [c for _, c in results["native"]]
    print(f"{loops} x `date` in a bash loop, {runs} runs each, interleaved (ratios against native)")
    print(f"{'':14} {'wall min':>9} {'median':>9} {'ratio':>13} {'CPU min':>9} {'median':>9} {'ratio':>13}")
    for name, vals in results.items():
        wall = [w for w, _ in vals]
        cpu = [c for _, c in vals]
        wr = f"{min(wall) / min(native_wall):.2f}/{statistics.median(wall) / statistics.median(native_wall):.2f}x"
        cr = f"{min(cpu) / min(native_cpu):.2f}/{statistics.median(cpu) / statistics.median(native_cpu):.2f}x"
        if name == "report alone":
            wr = cr = "(added)"
        print(f"{name:14} {min(wall) * 1000:7.0f}ms {statistics.median(wall) * 1000:7.0f}ms {wr:>13} "
              f"{min(cpu) * 1000:7.0f}ms {statistics.median(cpu) * 1000:7.0f}ms {cr:>13}")
    print(f"left in /dev/shm after each `run`: {min(left) // 1024} KiB min, {statistics.median(left) // 1024} KiB median "
          f"({statistics.median(left) / (loops + 1) / 1024:.1f} KiB a process)")
    print(f"the recording file `run` wrote: {statistics.median(files) / 1024:.1f} KiB median")
    return 0


if __name__ == "__main__":
    sys.exit(main())

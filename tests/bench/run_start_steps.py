#!/usr/bin/env python3
"""The shim's start-up inside one process, builds side by side: its constructor and a program's
first clock call (which creates the recording and decides about the call site), from inside the
process, for an A/B of a start-up change that the whole process's CPU time (run_shell_loop_bench.py,
a fork-exec harness) hides in its noise.

usage: run_start_steps.py FIRST_CALL START_STAMP_SO LABEL=SHIM [LABEL=SHIM ...] [--runs N]

FIRST_CALL (tests/bench/first_call.c) is copied stripped, with a build id and a .gnu_debuglink to a
file that does not exist, as Debian ships its programs (/usr/bin/date): the call site's wrapper
decision then reads the program's file and probes the debug-file paths, as it does for them
(unstripped when strip/objcopy are missing, which the output says). Each run starts it once per
shim in turn with LD_PRELOAD="SHIM START_STAMP_SO" (the stamp's constructor runs just before the
shim's), so the machine's load falls on every build alike. Prints p10 and median in us of the
constructor (the stamp to main; an empty library as SHIM gives the floor) and of the first call.
Keep a copy of the "before" shim (cp build/shim/libvdsotrace.so /tmp/before.so) before rebuilding.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_util import remove_session  # noqa: E402

SESSION = f"start_steps.{os.getpid()}"  # [A-Za-z0-9._], as the shim takes it


def stripped_copy(program, into):
    """A copy of `program` stripped like a distribution's, or the program itself when it cannot be."""
    strip, objcopy = shutil.which("strip"), shutil.which("objcopy")
    if strip is None or objcopy is None:
        return program, "unstripped (strip/objcopy not installed)"
    out = os.path.join(into, "first_call")
    subprocess.run([strip, "--strip-all", "-o", out, program], check=True)
    # objcopy wants the debug file to exist when it adds the link; it is removed after, as on a
    # machine without the -dbgsym package.
    debug = os.path.join(into, "first_call.debug")
    subprocess.run([objcopy, "--only-keep-debug", program, debug], check=True)
    subprocess.run([objcopy, f"--add-gnu-debuglink={debug}", out], check=True)
    os.unlink(debug)
    return out, "stripped, with a debug link to a missing file"


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first_call")
    parser.add_argument("start_stamp")
    parser.add_argument("shims", nargs="+", metavar="LABEL=SHIM")
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    shims = []
    for item in args.shims:
        label, sep, path = item.partition("=")
        if not sep or not label or not os.path.isfile(path):
            parser.error(f"{item}: expected LABEL=PATH of an existing library")
        shims.append((label, os.path.abspath(path)))
    if args.runs < 10:
        parser.error("--runs must be at least 10 (the p10 needs them)")

    first = {label: [] for label, _ in shims}
    ctor = {label: [] for label, _ in shims}
    with tempfile.TemporaryDirectory() as tmp:
        program, how = stripped_copy(os.path.abspath(args.first_call), tmp)
        env = dict(os.environ, VDSOTRACE_SESSION=SESSION)
        try:
            for run in range(args.runs):
                for label, shim in shims:
                    env["LD_PRELOAD"] = f"{shim} {os.path.abspath(args.start_stamp)}"
                    out = subprocess.run([program], env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
                    call_ns, ctor_ns = (int(x) for x in out.split())
                    first[label].append(call_ns / 1000)
                    ctor[label].append(ctor_ns / 1000)
                if run % 50 == 49:
                    remove_session(SESSION)
        finally:
            remove_session(SESSION)

    print(f"{args.runs} runs each, interleaved; the program {how}; us, p10 / median")
    print(f"{'':12s} {'constructor':>17s} {'first call':>17s}")
    for label, _ in shims:
        c, f = ctor[label], first[label]
        print(f"{label:12s} {percentile(c, 0.1):8.1f} {percentile(c, 0.5):8.1f} "
              f"{percentile(f, 0.1):8.1f} {percentile(f, 0.5):8.1f}")


if __name__ == "__main__":
    main()

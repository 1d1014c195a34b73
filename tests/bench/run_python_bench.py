#!/usr/bin/env python3
"""Cost of a Python-level caller: time.monotonic() in CPython, natively and under the shim (which
reads the calling Python frame for each call), best of several timeit runs each (process CPU time: `timeit -p`), interleaved.

usage: run_python_bench.py LIBVDSOTRACE [PYTHON...]   (default: /usr/bin/python3)
"""
import os
import re
import subprocess
import sys


def best_ns(python, env, runs):
    out = subprocess.run([python, "-m", "timeit", "-p", "-n", "200000", "-r", str(runs), "-s", "import time",
                          "time.monotonic()"], capture_output=True, text=True, env=env, check=True).stdout
    m = re.search(r"best of \d+: ([\d.]+) (nsec|usec)", out)
    return float(m.group(1)) * (1000 if m.group(2) == "usec" else 1)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    shim = sys.argv[1]
    pythons = sys.argv[2:] or ["/usr/bin/python3"]
    print(f"{'python':<45} {'native ns':>10} {'traced ns':>10} {'extra ns':>9}")
    for python in pythons:
        python = os.path.expanduser(python)
        if not os.access(python, os.X_OK):
            continue
        native, traced = [], []
        for _ in range(3):
            native.append(best_ns(python, dict(os.environ), 5))
            traced.append(best_ns(python, dict(os.environ, LD_PRELOAD=shim, VDSOTRACE_SESSION="pybench"), 5))
        for name in os.listdir("/dev/shm"):
            if name.startswith(f"vdsotrace-{os.getuid()}-pybench-"):
                os.unlink(os.path.join("/dev/shm", name))
        n, t = min(native), min(traced)
        print(f"{python:<45} {n:>10.1f} {t:>10.1f} {t - n:>+9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

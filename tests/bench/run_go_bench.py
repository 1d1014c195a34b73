#!/usr/bin/env python3
"""time.Now() in a cgo Go program, natively and under the shim (which counts Go's own vDSO calls
through the redirected vDSO symbol table). Alternates the two runs ROUNDS times and prints the
minimum of each, their ratio and the cost per vDSO call (time.Now() makes two).
Usage: run_go_bench.py GO_BENCH SHIM [--rounds N] [--calls N]"""
import argparse
import glob
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench")
    ap.add_argument("shim")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--calls", type=int, default=500000)
    a = ap.parse_args()
    if not os.path.exists(a.bench):
        print("SKIP: no Go toolchain")
        return 77
    session = f"gobench{os.getpid()}"
    traced_env = dict(os.environ, LD_PRELOAD=a.shim, VDSOTRACE_SESSION=session)
    native, traced = [], []
    for _ in range(a.rounds):
        native.append(float(subprocess.check_output([a.bench, str(a.calls)], text=True)))
        traced.append(float(subprocess.check_output([a.bench, str(a.calls)], text=True, env=traced_env,
                                                    stderr=subprocess.DEVNULL)))
    for f in glob.glob(f"/dev/shm/vdsotrace-*-{session}-*"):
        os.unlink(f)
    n, t = min(native), min(traced)
    print(f"time.Now(), min of {a.rounds} runs x 15 rounds x {a.calls} calls")
    print(f"  native {n:.2f} ns   traced {t:.2f} ns   ratio {t / n:.3f}   +{(t - n) / 2:.2f} ns per vDSO call")
    return 0


if __name__ == "__main__":
    sys.exit(main())

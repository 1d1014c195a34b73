# Two Python functions reading the clock a known number of times each (argv: A B), for
# tests/e2e_jit: with PYTHONPERFSUPPORT=1 (3.12+) each runs through a perf trampoline named
# "py::hot_a:<file>" in /tmp/perf-PID.map.
import sys
import time


def hot_a(n):
    s = 0
    for _ in range(n):
        s += time.monotonic()
    return s


def hot_b(n):
    s = 0
    for _ in range(n):
        s += time.perf_counter()
    return s


print("ok" if hot_a(int(sys.argv[1])) > 0 and hot_b(int(sys.argv[2])) > 0 else "zero")

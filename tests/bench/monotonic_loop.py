# time.monotonic() in a loop, for the "Python caller" rows of tests/bench/perf_table.py: under the
# shim every call is counted at this file's line, read from the interpreter's frame. Prints the
# nanoseconds per call (the interpreter's own loop included, the same natively and traced) in
# the thread's CPU time. usage: python3 monotonic_loop.py CALLS
import sys
import time


def timed_loop(calls):
    monotonic = time.monotonic
    start = time.thread_time_ns()
    for _ in range(calls):
        monotonic()
    return (time.thread_time_ns() - start) / calls


print(f"{timed_loop(int(sys.argv[1])):.2f}")

# One Python function reached from two others: outer() and other() each call inner(), which asks
# time.monotonic() for the time N (argv[1]) and M (argv[2]) times. Sampled stacks must show
# <module>;outer;inner and <module>;other;inner with those counts.
import sys
import time


def inner(n):
    for _ in range(n):
        time.monotonic()  # INNER


def outer(n):
    inner(n)  # OUTER


def other(n):
    inner(n)  # OTHER


outer(int(sys.argv[1]))
other(int(sys.argv[2]))
print("done")

# Two Python functions ask time.monotonic() for the time N and M times (argv[1], argv[2]); the
# report must name both, with this file and the line of each call.
import sys
import time


def poll_events(n):
    for _ in range(n):
        time.monotonic()  # POLL


def handle_request(n):
    total = 0.0
    for _ in range(n):
        total += time.monotonic()  # HANDLE
    return total


poll_events(int(sys.argv[1]))
handle_request(int(sys.argv[2]))
print("done")

#!/usr/bin/env python3
"""What a shim that cannot record costs per call: native, recording, and disabled.

usage: run_disabled_bench.py DISABLED_LOOP SHIM [--quick]
Runs disabled_loop natively, with the shim preloaded (recording), and with the shim preloaded
under a file size limit below the recording's size (the shim says so once and passes calls
through), several times each; prints the minimum and median nanoseconds per call of each. The
machine is noisy: compare the three in one run, not across runs.
"""
import os
import statistics
import sys

from bench_util import per_call, remove_session


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    loop, shim = sys.argv[1], sys.argv[2]
    quick = '--quick' in sys.argv
    calls, runs = ('2000000', 5) if quick else ('10000000', 15)
    base = {k: v for k, v in os.environ.items() if k != 'LD_PRELOAD' and not k.startswith('VDSOTRACE_')}
    preload = dict(base, LD_PRELOAD=shim, VDSOTRACE_SESSION=f'bench_disabled_{os.getpid()}')
    cases = (('native', [loop, calls], base),
             ('shim recording', [loop, calls], preload),
             ('shim disabled', [loop, calls, 'limit'], preload))
    print(f"{'clock_gettime(MONOTONIC)':<26} {'min ns':>8} {'median ns':>10}")
    for name, argv, env in cases:
        times = [per_call(argv, env) for _ in range(runs)]
        print(f'{name:<26} {min(times):>8.2f} {statistics.median(times):>10.2f}')
    remove_session(f'bench_disabled_{os.getpid()}')


if __name__ == '__main__':
    main()

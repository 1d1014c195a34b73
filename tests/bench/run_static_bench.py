#!/usr/bin/env python3
"""Cost of counting in a statically linked program: the trampoline vs the native vDSO call.

usage: run_static_bench.py VDSOTRACE STATIC_BENCH [--quick]
Runs static_bench natively and under `vdsotrace run` (which injects the trampoline), several
times each, and prints the minimum nanoseconds per call and the ratio, per function, for one
thread and for two threads sharing the counters (the trampoline's locked increments then
contend on one cache line). The machine is noisy: compare ratios, not absolute numbers.
"""
import os
import sys

from bench_util import per_call


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    vdsotrace, bench = sys.argv[1], sys.argv[2]
    quick = '--quick' in sys.argv
    calls, runs = ('2000000', 3) if quick else ('10000000', 7)
    print(f"{'function':<14} {'threads':>7} {'native ns':>10} {'traced ns':>10} {'ratio':>7} {'+ns':>7}")
    for function in ('clock_gettime', 'gettimeofday', 'time'):
        for threads in ('1', '2'):
            argv = [bench, function, calls, threads]
            native = min(per_call(argv) for _ in range(runs))
            traced = min(per_call([vdsotrace, 'run', '--text', os.devnull, '-o', os.devnull, '--'] + argv) for _ in range(runs))
            print(f'{function:<14} {threads:>7} {native:>10.2f} {traced:>10.2f} {traced / native:>7.2f} '
                  f'{traced - native:>7.2f}')


if __name__ == '__main__':
    main()

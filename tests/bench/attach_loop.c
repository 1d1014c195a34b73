// The counting cost after `vdsotrace attach`, against `run` and native (run_attach_bench.py):
// waits on stdin; each 'g' runs CALLS clock_gettime(CLOCK_MONOTONIC) through the PLT and prints
// the nanoseconds per call in the thread's CPU time (time spent descheduled on a shared machine is
// not the call's cost); 'q' or end of input exits. Blocked in read() between rounds, so an attach
// in between changes nothing it measures. Usage: attach_loop CALLS
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile long g_sink;

static double cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

__attribute__((noinline)) static double timed_loop(long calls) {
    struct timespec ts;
    long sink = 0;
    const double start = cpu_ns();
    for (long i = 0; i < calls; ++i) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sink += ts.tv_nsec;
    }
    g_sink += sink;
    return (cpu_ns() - start) / (double)calls;
}

int main(int argc, char** argv) {
    const long calls = argc > 1 ? atol(argv[1]) : 2000000;
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) == 1 && c != 'q') {
        if (c != 'g') continue;
        printf("%.3f\n", timed_loop(calls));
        fflush(stdout);
    }
    return 0;
}

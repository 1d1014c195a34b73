// One clock call, timed: prints "FIRST_CALL_NS CONSTRUCTOR_NS", the first clock_gettime's duration
// (a process's first call under the shim creates its recording and decides about the call site)
// and the time from start_stamp.c's constructor to main (the shim's constructor; -1 without it).
// Timed with raw system calls, which the shim does not see. run_start_steps.py runs it.
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

extern long long start_stamp_ns __attribute__((weak));

static long long now_ns(void) {
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void) {
    const long long at_main = now_ns();
    struct timespec ts;
    const long long before = now_ns();
    clock_gettime(CLOCK_REALTIME, &ts);
    const long long after = now_ns();
    printf("%lld %lld\n", after - before, &start_stamp_ns != NULL ? at_main - start_stamp_ns : -1LL);
    return 0;
}

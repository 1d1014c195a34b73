// Usage: e2e_libc_internal [N]. Calls libc functions that read the clock inside libc, through
// glibc's internal vDSO pointers rather than the PLT (see shim/libc_internal.h), N times each
// (default 100) from one call site each:
//   spec_reader    timespec_get(TIME_UTC)             -> clock_gettime CLOCK_REALTIME
//   cpu_meter      clock()                            -> clock_gettime CLOCK_PROCESS_CPUTIME_ID
//   deadline_wait  pthread_cond_timedwait, a deadline already past (ETIMEDOUT at once)
// and, for comparison, plain_call: clock_gettime(CLOCK_MONOTONIC) through the PLT, N times.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tests/e2e/targets/e2e_common.h"

volatile long e2e_sink;

E2E_SITE void spec_reader(int n) {
    for (int i = 0; i < n; ++i) {
        struct timespec ts;
        timespec_get(&ts, TIME_UTC);
        e2e_sink += ts.tv_nsec;
    }
}

E2E_SITE void cpu_meter(int n) {
    for (int i = 0; i < n; ++i) e2e_sink += (long)clock();
}

E2E_SITE int deadline_wait(int n) {
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    const struct timespec past = {1, 0};  // 1970: the wait times out at once
    int timed_out = 0;
    pthread_mutex_lock(&m);
    for (int i = 0; i < n; ++i) timed_out += pthread_cond_timedwait(&c, &m, &past) == ETIMEDOUT;
    pthread_mutex_unlock(&m);
    return timed_out;
}

E2E_SITE void plain_call(int n) {
    for (int i = 0; i < n; ++i) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        e2e_sink += ts.tv_nsec;
    }
}

int main(int argc, char** argv) {
    const int n = argc > 1 ? atoi(argv[1]) : 100;
    spec_reader(n);
    cpu_meter(n);
    const int timed_out = deadline_wait(n);
    plain_call(n);
    printf("libc internal done %d %d\n", n, timed_out);
    return timed_out == n ? 0 : 1;
}

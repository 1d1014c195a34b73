// Usage: e2e_threads THREADS CALLS. Each thread names itself "e2e-w<i>", waits at a barrier, then
// calls clock_gettime(CLOCK_MONOTONIC) CALLS times from worker_calls, then waits at a barrier
// again: all threads are alive together from their first call to their last, so which of them
// get a slot of their own (VDSOTRACE_THREADS) does not depend on scheduling, even though exited
// threads give their slots back. main makes no clock call.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tests/e2e/targets/e2e_common.h"

volatile long e2e_sink;
static pthread_barrier_t barrier;
static long calls_per_thread;

void worker_calls(long n);

E2E_SITE void worker_calls(long n) {
    struct timespec ts;
    long local = 0;
#pragma GCC unroll 1
    for (long i = 0; i < n; ++i) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        local += ts.tv_nsec;
    }
    e2e_sink += local;
}

static void* worker(void* arg) {
    char name[16];
    snprintf(name, sizeof name, "e2e-w%ld", (long)arg);
    pthread_setname_np(pthread_self(), name);
    pthread_barrier_wait(&barrier);
    worker_calls(calls_per_thread);
    pthread_barrier_wait(&barrier);
    return NULL;
}

int main(int argc, char** argv) {
    if (argc != 3) return 64;
    long n = atol(argv[1]);
    calls_per_thread = atol(argv[2]);
    pthread_t* t = calloc((size_t)n, sizeof *t);
    pthread_barrier_init(&barrier, NULL, (unsigned)n);
    for (long i = 0; i < n; ++i)
        if (pthread_create(&t[i], NULL, worker, (void*)i) != 0) return 71;
    for (long i = 0; i < n; ++i) pthread_join(t[i], NULL);
    printf("threads done %ld x %ld\n", n, calls_per_thread);
    free(t);
    return 0;
}

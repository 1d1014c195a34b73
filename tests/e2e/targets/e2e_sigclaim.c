// Usage: e2e_sigclaim WORKERS. Signals hitting a thread's first clock call.
// main makes 1 call (clock_gettime(CLOCK_BOOTTIME), creating the recording), then starts, one
// after the other, WORKERS threads; each arms its handler and calls clock_gettime(CLOCK_MONOTONIC)
// 10 times from worker_calls, while a spammer thread keeps sending it SIGUSR1 (tgkill). The armed
// handler calls clock_gettime(CLOCK_REALTIME) from on_usr1. Prints "handler calls N".
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tests/e2e/targets/e2e_common.h"

volatile long e2e_sink;
static __thread volatile sig_atomic_t armed, seen;
static volatile int target_tid;
static volatile int stop;
static long handler_calls;  // updated atomically
void on_usr1(int sig);
void worker_calls(void);
void main_call(void);

E2E_SITE void on_usr1(int sig) {
    seen = 1;
    if (!armed) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    e2e_sink += ts.tv_nsec + sig;
    __atomic_fetch_add(&handler_calls, 1, __ATOMIC_RELAXED);
}

E2E_SITE void worker_calls(void) {
    struct timespec ts;
#pragma GCC unroll 1
    for (int i = 0; i < 10; ++i) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        e2e_sink += ts.tv_nsec;
    }
}

E2E_SITE void main_call(void) {
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    e2e_sink += ts.tv_nsec;
}

static void* spammer(void* arg) {
    (void)arg;
    while (!stop) {
        int tid = target_tid;
        if (tid > 0) syscall(SYS_tgkill, getpid(), tid, SIGUSR1);
    }
    return NULL;
}

static void* worker(void* arg) {
    (void)arg;
    target_tid = (int)syscall(SYS_gettid);
    // Wait (bounded) until the spammer reaches this thread, so its first call is under fire.
    for (long i = 0; i < 100000000L && !seen; ++i) __asm__ volatile("" ::: "memory");
    armed = 1;
    worker_calls();
    target_tid = 0;
    armed = 0;
    return NULL;
}

int main(int argc, char** argv) {
    if (argc != 2) return 64;
    int workers = atoi(argv[1]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    main_call();
    pthread_t s;
    if (pthread_create(&s, NULL, spammer, NULL) != 0) return 70;
    for (int i = 0; i < workers; ++i) {
        pthread_t w;
        if (pthread_create(&w, NULL, worker, NULL) != 0) return 71;
        pthread_join(w, NULL);
    }
    stop = 1;
    pthread_join(s, NULL);
    printf("handler calls %ld\n", __atomic_load_n(&handler_calls, __ATOMIC_RELAXED));
    return 0;
}

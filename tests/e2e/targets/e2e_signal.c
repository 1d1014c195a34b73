// Usage: e2e_signal timer K | e2e_signal raise K
// timer: SIGALRM every 200 us (ITIMER_REAL); the handler calls clock_gettime(CLOCK_REALTIME) until
//   it has run K times; meanwhile main calls clock_gettime(CLOCK_MONOTONIC) in a loop until the
//   handler is done, then prints "main calls N".
// raise: main calls clock_gettime(CLOCK_MONOTONIC) 10*K times and raise(SIGUSR1) after every 10th;
//   the handler calls clock_gettime(CLOCK_REALTIME). Prints "main calls N" too.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "tests/e2e/targets/e2e_common.h"

volatile long e2e_sink;
static volatile sig_atomic_t handled;
static volatile sig_atomic_t limit;

void on_signal(int sig);
long main_loop_until_done(void);
long main_loop_raise(long k);

E2E_SITE void on_signal(int sig) {
    if (handled >= limit) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    e2e_sink += ts.tv_nsec + sig;
    handled = handled + 1;
}

E2E_SITE long main_loop_until_done(void) {
    long n = 0;
    struct timespec ts;
    while (handled < limit) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        e2e_sink += ts.tv_nsec;
        ++n;
    }
    return n;
}

E2E_SITE long main_loop_raise(long k) {
    long n = 0;
    struct timespec ts;
    for (long i = 0; i < 10 * k; ++i) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        e2e_sink += ts.tv_nsec;
        ++n;
        if (i % 10 == 9) raise(SIGUSR1);
    }
    return n;
}

int main(int argc, char** argv) {
    if (argc != 3) return 64;
    limit = atoi(argv[2]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    long n;
    if (strcmp(argv[1], "timer") == 0) {
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = {{0, 200}, {0, 200}};
        setitimer(ITIMER_REAL, &it, NULL);
        n = main_loop_until_done();
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
    } else {
        sigaction(SIGUSR1, &sa, NULL);
        n = main_loop_raise(limit);
    }
    printf("main calls %ld handler calls %d\n", n, (int)handled);
    return handled == limit ? 0 : 1;
}

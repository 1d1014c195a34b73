// Calls each interposed function a known number of times, each from its own function:
//   alpha_hammer   clock_gettime(CLOCK_MONOTONIC)        1000
//   beta_reader    clock_gettime(CLOCK_REALTIME)          300
//   gamma_tod      gettimeofday                           500
//   delta_time     time                                     7
//   epsilon_cpu    getcpu                                  11
//   zeta_res       clock_getres(CLOCK_MONOTONIC)            3
//   eta_invalid    clock_gettime(99)  (EINVAL)              2
//   theta_cpuclock clock_gettime(clock_getcpuclockid(0))    4
// Usage: e2e_counts [EXIT_CODE]. Prints "counts done" on stdout.
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#include "tests/e2e/targets/e2e_common.h"

volatile long e2e_sink;

void alpha_hammer(int n);
void beta_reader(int n);
void gamma_tod(int n);
void delta_time(int n);
void epsilon_cpu(int n);
void zeta_res(int n);
void eta_invalid(int n);
void theta_cpuclock(int n);

E2E_SITE void alpha_hammer(int n) {
    struct timespec ts;
#pragma GCC unroll 1
    for (int i = 0; i < n; ++i) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        e2e_sink += ts.tv_nsec;
    }
}

E2E_SITE void beta_reader(int n) {
    struct timespec ts;
#pragma GCC unroll 1
    for (int i = 0; i < n; ++i) {
        clock_gettime(CLOCK_REALTIME, &ts);
        e2e_sink += ts.tv_nsec;
    }
}

E2E_SITE void gamma_tod(int n) {
    struct timeval tv;
#pragma GCC unroll 1
    for (int i = 0; i < n; ++i) {
        gettimeofday(&tv, NULL);
        e2e_sink += tv.tv_usec;
    }
}

E2E_SITE void delta_time(int n) {
#pragma GCC unroll 1
    for (int i = 0; i < n; ++i) e2e_sink += (long)time(NULL);
}

E2E_SITE void epsilon_cpu(int n) {
    unsigned cpu = 0, node = 0;
#pragma GCC unroll 1
    for (int i = 0; i < n; ++i) {
        getcpu(&cpu, &node);
        e2e_sink += cpu + node;
    }
}

E2E_SITE void zeta_res(int n) {
    struct timespec ts;
#pragma GCC unroll 1
    for (int i = 0; i < n; ++i) {
        clock_getres(CLOCK_MONOTONIC, &ts);
        e2e_sink += ts.tv_nsec;
    }
}

E2E_SITE void eta_invalid(int n) {
    struct timespec ts = {0, 0};
#pragma GCC unroll 1
    for (int i = 0; i < n; ++i) {
        int r = clock_gettime((clockid_t)99, &ts);
        e2e_sink += r;
    }
}

E2E_SITE void theta_cpuclock(int n) {
    clockid_t c;
    if (clock_getcpuclockid(0, &c) != 0) {
        fprintf(stderr, "clock_getcpuclockid failed\n");
        exit(70);
    }
    struct timespec ts;
#pragma GCC unroll 1
    for (int i = 0; i < n; ++i) {
        clock_gettime(c, &ts);
        e2e_sink += ts.tv_nsec;
    }
}

int main(int argc, char** argv) {
    alpha_hammer(1000);
    beta_reader(300);
    gamma_tod(500);
    delta_time(7);
    epsilon_cpu(11);
    zeta_res(3);
    eta_invalid(2);
    theta_cpuclock(4);
    printf("counts done\n");
    return argc > 1 ? atoi(argv[1]) : 0;
}

// Usage: e2e_selfkill kill N | e2e_selfkill abort N
// Calls clock_gettime(CLOCK_MONOTONIC) N times from make_calls, then SIGKILLs itself or aborts.
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/e2e/targets/e2e_common.h"

volatile long e2e_sink;
void make_calls(int n);

E2E_SITE void make_calls(int n) {
    struct timespec ts;
#pragma GCC unroll 1
    for (int i = 0; i < n; ++i) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        e2e_sink += ts.tv_nsec;
    }
}

int main(int argc, char** argv) {
    if (argc != 3) return 64;
    make_calls(atoi(argv[2]));
    if (strcmp(argv[1], "kill") == 0) kill(getpid(), SIGKILL);
    if (strcmp(argv[1], "abort") == 0) abort();
    return 65;
}

// Parent: 100 calls from parent_before, fork; child: 30 calls from child_calls, exits 5; parent
// waits, then 20 calls from parent_after and exits 0. Prints "child exited 5".
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/e2e/targets/e2e_common.h"

volatile long e2e_sink;
void parent_before(int n);
void parent_after(int n);
void child_calls(int n);

#define CALLS_BODY(clock)                        \
    struct timespec ts;                          \
    _Pragma("GCC unroll 1")                      \
    for (int i = 0; i < n; ++i) {                \
        clock_gettime(clock, &ts);               \
        e2e_sink += ts.tv_nsec;                  \
    }

E2E_SITE void parent_before(int n) { CALLS_BODY(CLOCK_MONOTONIC) }
E2E_SITE void parent_after(int n) { CALLS_BODY(CLOCK_MONOTONIC) }
E2E_SITE void child_calls(int n) { CALLS_BODY(CLOCK_REALTIME) }

int main(void) {
    parent_before(100);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 70;
    if (pid == 0) {
        child_calls(30);
        exit(5);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return 71;
    parent_after(20);
    printf("child exited %d\n", WEXITSTATUS(status));
    return 0;
}

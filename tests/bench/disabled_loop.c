// disabled_loop CALLS [limit]: times CALLS clock_gettime(CLOCK_MONOTONIC) calls and prints the
// nanoseconds per call. With "limit", RLIMIT_FSIZE is set to 64 KiB first, below any recording's
// size, so a preloaded shim cannot record and passes calls through (README: Hardening).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

int main(int argc, char** argv) {
    const long calls = argc > 1 ? atol(argv[1]) : 10000000;
    if (argc > 2 && strcmp(argv[2], "limit") == 0) {
        struct rlimit lim = {64 * 1024, 64 * 1024};
        setrlimit(RLIMIT_FSIZE, &lim);
    }
    struct timespec ts, start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);  // the first call (creates the recording, or does not)
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < calls; ++i) clock_gettime(CLOCK_MONOTONIC, &ts);
    clock_gettime(CLOCK_MONOTONIC, &end);
    const double ns = (double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec);
    printf("%.2f\n", ns / (double)calls);
    return 0;
}

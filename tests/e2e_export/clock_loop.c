// A service stand-in with known counts: `clock_loop MONO CPU` reads CLOCK_MONOTONIC MONO times and
// CLOCK_PROCESS_CPUTIME_ID CPU times, says "ready PID", then waits (no clock calls) for lines on its
// standard input: each line makes it do the same calls again and say "done". It exits 0 when its
// input closes. The export test and benchmark keep it alive that way.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void calls(long mono, long cpu) {
    struct timespec ts;
    for (long i = 0; i < mono; ++i) clock_gettime(CLOCK_MONOTONIC, &ts);
    for (long i = 0; i < cpu; ++i) clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: clock_loop MONOTONIC_CALLS CPUTIME_CALLS\n");
        return 2;
    }
    const long mono = atol(argv[1]);
    const long cpu = atol(argv[2]);
    calls(mono, cpu);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin) != NULL) {
        calls(mono, cpu);
        printf("done\n");
        fflush(stdout);
    }
    return 0;
}

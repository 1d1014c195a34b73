// Children that leave without exit(): `exit_paths fork-exit` forks a child that reads the clock 5
// times and leaves through _exit(7), and one that reads it 3 times and leaves through _Exit(9);
// the parent reaps both itself (not `vdsotrace run`), reads the clock once and exits 0.
// `exit_paths busy` reads the clock until it is killed (for the SIGTERM test), after printing
// "busy\n" once its first reads are done.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void read_clock(int n) {
    struct timespec ts;
    for (int i = 0; i < n; ++i) clock_gettime(CLOCK_MONOTONIC, &ts);
}

static int child(int calls, int code, int use_Exit) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        read_clock(calls);
        if (use_Exit) _Exit(code);
        _exit(code);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != code) return -1;
    return 0;
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "fork-exit") == 0) {
        if (child(5, 7, 0) != 0 || child(3, 9, 1) != 0) return 1;
        read_clock(1);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "busy") == 0) {
        read_clock(1000);
        printf("busy\n");
        fflush(stdout);
        for (;;) read_clock(1000);
    }
    fprintf(stderr, "usage: exit_paths fork-exit|busy\n");
    return 2;
}

// Children that leave without exit(): `exit_paths fork-exit` forks a child that reads the clock 5
// times and leaves through _exit(7), and one that reads it 3 times and leaves through _Exit(9);
// the parent reaps both itself (not `vdsotrace run`), reads the clock once and exits 0.
// `exit_paths busy` reads the clock until it is killed (for the SIGTERM test), after printing
// "busy\n" once its first reads are done.
// `exit_paths stamped N` reads the clock N times, prints four monotonic times in ns: before its
// first call (a raw syscall the shim does not see), right after its first call returned (raw: the
// recording, made during that call after its clock read, started before it), of call N - 65,537 (the
// recording's last-activity stamp, taken every 65,536 calls, is at least that late), and after its
// last call (raw again), then waits to be killed (for `ls`'s "at least" duration).
// `exit_paths fork-kill` forks three children that cannot record how they end, and reaps each
// itself: one reads the clock 4 times and is killed with SIGKILL (reaped by waitpid), one reads
// it twice and is killed with SIGTERM (reaped by waitid), one reads it 6 times and leaves through
// a raw exit_group(5) (reaped by wait(NULL)). Then the parent reads the clock once and exits 0.
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
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

// A child that reads the clock `calls` times, says so through a pipe and waits to be killed.
static pid_t child_to_kill(int calls) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        read_clock(calls);
        char c = 'r';
        if (write(fds[1], &c, 1) != 1) _exit(99);
        for (;;) pause();
    }
    char c;
    close(fds[1]);
    ssize_t n = read(fds[0], &c, 1);
    close(fds[0]);
    return n == 1 ? pid : -1;
}

static int fork_kill(void) {
    pid_t a = child_to_kill(4);
    if (a < 0 || kill(a, SIGKILL) != 0) return 1;
    int status = 0;
    if (waitpid(a, &status, 0) != a || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) return 1;
    pid_t b = child_to_kill(2);
    if (b < 0 || kill(b, SIGTERM) != 0) return 1;
    siginfo_t info;
    if (waitid(P_PID, (id_t)b, &info, WEXITED) != 0 || info.si_code != CLD_KILLED || info.si_status != SIGTERM)
        return 1;
    pid_t c = fork();
    if (c == 0) {
        read_clock(6);
        syscall(SYS_exit_group, 5);  // past the shim's _exit: the child records nothing of its end
    }
    if (c < 0 || wait(NULL) != c) return 1;
    read_clock(1);
    return 0;
}

static uint64_t ns(const struct timespec* ts) { return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec; }

static int stamped(long n) {
    struct timespec before, first, mark, after, ts;
    if (n < 65537 + 1) return 2;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &before);
    for (long i = 1; i <= n; ++i) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (i == 1) syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &first);
        if (i == n - 65537) mark = ts;
    }
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &after);
    printf("%llu %llu %llu %llu\n", (unsigned long long)ns(&before), (unsigned long long)ns(&first),
           (unsigned long long)ns(&mark), (unsigned long long)ns(&after));
    fflush(stdout);
    for (;;) pause();
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "fork-kill") == 0) return fork_kill();
    if (argc > 1 && strcmp(argv[1], "fork-exit") == 0) {
        if (child(5, 7, 0) != 0 || child(3, 9, 1) != 0) return 1;
        read_clock(1);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "stamped") == 0) return stamped(atol(argv[2]));
    if (argc > 1 && strcmp(argv[1], "busy") == 0) {
        read_clock(1000);
        printf("busy\n");
        fflush(stdout);
        for (;;) read_clock(1000);
    }
    fprintf(stderr, "usage: exit_paths fork-exit|fork-kill|busy|stamped N\n");
    return 2;
}

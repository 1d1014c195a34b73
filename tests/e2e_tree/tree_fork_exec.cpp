// tree_fork_exec CALLER N M K: the parent calls CLOCK_MONOTONIC N times while its forked child
// calls CLOCK_REALTIME M times and then execs `CALLER K time 3` (time() K times, exit code 3).
// The parent waits for the child and exits with 0 only if the child exited with 3.
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "tests/e2e_tree/tree_calls.h"

int main(int argc, char** argv) {
    if (argc != 5) return 100;
    const long n = tree_test::arg_long(argv[2]), m = tree_test::arg_long(argv[3]);
    pid_t child = fork();
    if (child < 0) return 101;
    if (child == 0) {
        tree_test::call_clock("real", m);
        execl(argv[1], argv[1], argv[4], "time", "3", static_cast<char*>(nullptr));
        _exit(102);
    }
    tree_test::call_clock("mono", n);
    int status = 0;
    if (waitpid(child, &status, 0) != child) return 103;
    return WIFEXITED(status) && WEXITSTATUS(status) == 3 ? 0 : 104;
}

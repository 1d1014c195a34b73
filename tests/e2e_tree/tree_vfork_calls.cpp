// tree_vfork_calls CALLER X K N BEFORE: with BEFORE=1 the parent calls CLOCK_REALTIME once first
// (so it has a recording); then it vforks, and the child (on the parent's memory and thread)
// calls CLOCK_MONOTONIC X times before it execs `CALLER K time 9`. The parent then calls
// CLOCK_REALTIME N times, waits, and exits 0 only if the child exited with 9.
// POSIX leaves calls in a vfork child undefined; programs make them anyway, and the shim must not
// corrupt the parent's recording when they do.
#include <sys/wait.h>
#include <unistd.h>

#include "tests/e2e_tree/tree_calls.h"

int main(int argc, char** argv) {
    if (argc != 6) return 100;
    if (tree_test::arg_long(argv[5]) == 1) tree_test::call_clock("real", 1);
    const long x = tree_test::arg_long(argv[2]);
    pid_t child = vfork();
    if (child < 0) return 101;
    if (child == 0) {
        tree_test::call_clock("mono", x);
        execl(argv[1], argv[1], argv[3], "time", "9", static_cast<char*>(nullptr));
        _exit(102);
    }
    tree_test::call_clock("real", tree_test::arg_long(argv[4]));
    int status = 0;
    if (waitpid(child, &status, 0) != child) return 103;
    return WIFEXITED(status) && WEXITSTATUS(status) == 9 ? 0 : 104;
}

// tree_spawn CALLER N K: the parent calls gettimeofday N times; it starts `CALLER K coarse 5` with
// posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK)) and `CALLER K time 6` with vfork+exec, waits
// for both, and exits with 0 only if they exited with 5 and 6.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "tests/e2e_tree/tree_calls.h"

extern char** environ;

int main(int argc, char** argv) {
    if (argc != 4) return 100;
    tree_test::call_clock("tod", tree_test::arg_long(argv[2]) / 2);
    char* spawn_argv[] = {argv[1], argv[3], const_cast<char*>("coarse"), const_cast<char*>("5"), nullptr};
    pid_t spawned = 0;
    if (posix_spawn(&spawned, argv[1], nullptr, nullptr, spawn_argv, environ) != 0) return 101;
    pid_t vforked = vfork();
    if (vforked < 0) return 102;
    if (vforked == 0) {
        execl(argv[1], argv[1], argv[3], "time", "6", static_cast<char*>(nullptr));
        _exit(103);
    }
    tree_test::call_clock("tod", tree_test::arg_long(argv[2]) - tree_test::arg_long(argv[2]) / 2);
    int s1 = 0, s2 = 0;
    if (waitpid(spawned, &s1, 0) != spawned || waitpid(vforked, &s2, 0) != vforked) return 104;
    return WIFEXITED(s1) && WEXITSTATUS(s1) == 5 && WIFEXITED(s2) && WEXITSTATUS(s2) == 6 ? 0 : 105;
}

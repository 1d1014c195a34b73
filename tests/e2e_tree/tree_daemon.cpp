// tree_daemon N: daemonizes the classic way (fork, setsid, fork, chdir /, close every
// descriptor, reopen /dev/null), then the grandchild calls CLOCK_MONOTONIC N times and exits 7.
// The original process calls CLOCK_REALTIME once before forking (so it has a recording whose
// mapping the children inherit) and exits 0 at once, without waiting.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tests/e2e_tree/tree_calls.h"

int main(int argc, char** argv) {
    if (argc != 2) return 100;
    tree_test::call_clock("real", 1);
    pid_t p = fork();
    if (p < 0) return 101;
    if (p > 0) return 0;
    setsid();
    p = fork();
    if (p < 0) _exit(102);
    if (p > 0) _exit(0);
    if (chdir("/") != 0) _exit(103);
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    for (rlim_t fd = 0; fd < rl.rlim_cur && fd < 65536; ++fd) close(int(fd));
    open("/dev/null", O_RDWR);
    if (dup(0) < 0 || dup(0) < 0) _exit(104);
    tree_test::call_clock("mono", tree_test::arg_long(argv[1]));
    return 7;
}

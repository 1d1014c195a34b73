// tree_sleeper WHAT [COUNT]: calls the clock named WHAT (tree_calls.h) once, writes
// "ready <pid>\n" on stdout, then calls it in a loop about every 100 microseconds until killed.
// With COUNT it makes exactly COUNT calls before "ready", then stops calling and waits.
#include <unistd.h>

#include <cstdio>

#include "tests/e2e_tree/tree_calls.h"

int main(int argc, char** argv) {
    if (argc < 2) return 100;
    if (argc > 2) {
        tree_test::call_clock(argv[1], tree_test::arg_long(argv[2]));
        printf("ready %d\n", int(getpid()));
        fflush(stdout);
        for (;;) pause();
    }
    tree_test::call_clock(argv[1], 1);
    printf("ready %d\n", int(getpid()));
    fflush(stdout);
    for (;;) {
        tree_test::call_clock(argv[1], 1);
        usleep(100);
    }
}

// tree_caller COUNT WHAT [EXIT_CODE] [stdin]: calls the clock COUNT times (see tree_calls.h),
// then exits with EXIT_CODE (0 by default). With a fourth argument "stdin" it first copies its
// standard input to its standard output, so it can sit in a pipeline.
#include <unistd.h>

#include <cstring>

#include "tests/e2e_tree/tree_calls.h"

int main(int argc, char** argv) {
    if (argc < 3) return 100;
    if (argc > 4 && strcmp(argv[4], "stdin") == 0) {
        char buf[4096];
        ssize_t n;
        while ((n = read(0, buf, sizeof buf)) > 0)
            if (write(1, buf, size_t(n)) != n) return 101;
    }
    tree_test::call_clock(argv[2], tree_test::arg_long(argv[1]));
    return argc > 3 ? int(tree_test::arg_long(argv[3])) : 0;
}

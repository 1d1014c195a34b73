// Usage: e2e_callsites CALLS. 40 distinct call sites site_00..site_39 (one function each) call
// clock_gettime(CLOCK_MONOTONIC) CALLS times each.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tests/e2e/targets/e2e_common.h"

volatile long e2e_sink;

#define SITE_FN(n)                                 \
    void site_##n(int calls);                      \
    E2E_SITE void site_##n(int calls) {            \
        struct timespec ts;                        \
        _Pragma("GCC unroll 1")                    \
        for (int i = 0; i < calls; ++i) {          \
            clock_gettime(CLOCK_MONOTONIC, &ts);   \
            e2e_sink += ts.tv_nsec;                \
        }                                          \
    }
#define SITES10(d) SITE_FN(d##0) SITE_FN(d##1) SITE_FN(d##2) SITE_FN(d##3) SITE_FN(d##4) \
                   SITE_FN(d##5) SITE_FN(d##6) SITE_FN(d##7) SITE_FN(d##8) SITE_FN(d##9)
SITES10(0)
SITES10(1)
SITES10(2)
SITES10(3)

#define CALL10(d, c) site_##d##0(c); site_##d##1(c); site_##d##2(c); site_##d##3(c); site_##d##4(c); \
                     site_##d##5(c); site_##d##6(c); site_##d##7(c); site_##d##8(c); site_##d##9(c);

int main(int argc, char** argv) {
    int calls = argc > 1 ? atoi(argv[1]) : 10;
    CALL10(0, calls)
    CALL10(1, calls)
    CALL10(2, calls)
    CALL10(3, calls)
    printf("callsites done 40 x %d\n", calls);
    return 0;
}

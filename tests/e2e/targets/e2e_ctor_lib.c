// A shared library whose constructor calls clock_gettime(CLOCK_BOOTTIME) 5 times.
#include <time.h>

#include "tests/e2e/targets/e2e_common.h"

static volatile long ctor_sink;
int e2e_ctor_value(void);
void e2e_ctor_init(void);

__attribute__((constructor, noinline, noclone)) void e2e_ctor_init(void) {
    struct timespec ts;
#pragma GCC unroll 1
    for (int i = 0; i < 5; ++i) {
        clock_gettime(CLOCK_BOOTTIME, &ts);
        ctor_sink += ts.tv_nsec;
    }
}

int e2e_ctor_value(void) { return 41 + (ctor_sink != 0 || ctor_sink == 0); }

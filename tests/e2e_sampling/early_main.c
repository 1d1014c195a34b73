// Runs after early_lib's constructor (5 early calls): 20 more calls, sampled normally.
#include <time.h>

void early_lib_touch(void);

int main(void) {
    early_lib_touch();
    struct timespec ts;
    for (int i = 0; i < 20; ++i) clock_gettime(CLOCK_MONOTONIC, &ts);
    return 0;
}

// A library whose constructor reads the clock 5 times. Linked into early_main, it is initialised
// before the preloaded shim (ld.so initialises a preload after the libraries loaded after it), so
// these calls come before the shim's constructor has loaded an unwinder: counted, not sampled.
#include <time.h>

__attribute__((constructor)) static void early_clock_reader(void) {
    struct timespec ts;
    for (int i = 0; i < 5; ++i) clock_gettime(CLOCK_MONOTONIC, &ts);
}

void early_lib_touch(void) {}

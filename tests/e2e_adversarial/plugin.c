// One library built twice (libadv_plugin_a.so, libadv_plugin_b.so) with a different name for its
// clock function: the same code at the same offsets, so when one is unloaded and the other loaded
// at the same address, their call sites have the same return addresses (adversary dl-reuse).
#include <time.h>

#ifndef PLUGIN_CLOCK
#error "PLUGIN_CLOCK names the function"
#endif

__attribute__((noinline)) long PLUGIN_CLOCK(long n) {
    struct timespec ts;
    long ok = 0;
    for (long i = 0; i < n; ++i) ok += clock_gettime(CLOCK_MONOTONIC, &ts) == 0;
    return ok;
}

long plugin_calls(long n) { return PLUGIN_CLOCK(n); }

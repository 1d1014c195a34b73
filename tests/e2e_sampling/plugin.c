// A library the sampling tests dlopen, call and dlclose: its frames must still be named after
// it is gone. plugin_tick -> plugin_inner -> clock_gettime, n times.
#include <time.h>

static volatile long sink;

__attribute__((noinline)) static void plugin_inner(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sink += ts.tv_nsec;
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void plugin_tick(long n) {
    for (long i = 0; i < n; ++i) plugin_inner();
    __asm__ volatile("" ::: "memory");
}

// Built without unwind tables (meson.build): libunwind finds no CFI for these frames and steps
// over them by their frame pointers, checking every address it reads (libunwind 1.6: through a
// pipe on a descriptor of its own, which the daemon of `adversary daemon-files` has closed and
// reused for its files).
#include <time.h>

__attribute__((noinline)) long adv_calls_without_cfi(int depth, long n) {
    if (depth > 0) {
        long r = adv_calls_without_cfi(depth - 1, n);
        __asm__ volatile("" ::: "memory");
        return r;
    }
    struct timespec ts;
    long ok = 0;
    for (long i = 0; i < n; ++i) ok += clock_gettime(CLOCK_MONOTONIC, &ts) == 0;
    return ok;
}

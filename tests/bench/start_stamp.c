// Preloaded after the shim (LD_PRELOAD="SHIM start_stamp.so"): its constructor runs just before the
// shim's, so the time from here to the program's main is the shim's constructor (run_start_steps.py).
// Raw system calls: the shim must not count nor time its own measurement.
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

long long start_stamp_ns;

__attribute__((constructor)) static void stamp(void) {
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    start_stamp_ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

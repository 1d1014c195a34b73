// std::chrono::steady_clock::now() in a loop, for the "call through a clock wrapper" row of
// tests/bench/perf_table.py: natively, libstdc++'s now() calls the vDSO; under the shim the call
// site inside now() is a wrapper site, and every call steps out of it to this loop. Prints the
// nanoseconds per call in the thread's CPU time (time spent descheduled is not the call's cost).
// usage: steady_loop CALLS
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {

double thread_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

// A real frame (not inlined into main) that calls now() from a loop, as a program would.
__attribute__((noinline)) long long timed_loop(long calls) {
    long long sink = 0;
    for (long i = 0; i < calls; ++i) sink += std::chrono::steady_clock::now().time_since_epoch().count() & 1;
    return sink;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 || atol(argv[1]) <= 0) {
        fprintf(stderr, "usage: steady_loop CALLS\n");
        return 2;
    }
    const long calls = atol(argv[1]);
    const double start = thread_ns();
    const long long sink = timed_loop(calls);
    const double ns = (thread_ns() - start) / double(calls);
    printf("%lld\n%.2f\n", sink & 0, ns);
    return 0;
}

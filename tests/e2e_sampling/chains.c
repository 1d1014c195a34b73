// Known call chains for the sampling tests: main -> a -> b -> c -> clock_gettime, N times, and
// main -> x -> y -> gettimeofday, M times (N and M from argv). noinline and frame pointers keep
// every frame, so each chain is one stack.
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static volatile long sink;

NOINLINE void c(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sink += ts.tv_nsec;
    __asm__ volatile("" ::: "memory");  // keeps the call from becoming a tail call
}
NOINLINE void b(void) { c(); __asm__ volatile("" ::: "memory"); }
NOINLINE void a(void) { b(); __asm__ volatile("" ::: "memory"); }

NOINLINE void y(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    sink += tv.tv_usec;
    __asm__ volatile("" ::: "memory");
}
NOINLINE void x(void) { y(); __asm__ volatile("" ::: "memory"); }

int main(int argc, char** argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    long m = argc > 2 ? atol(argv[2]) : 500;
    for (long i = 0; i < n; ++i) a();
    for (long i = 0; i < m; ++i) x();
    return 0;
}

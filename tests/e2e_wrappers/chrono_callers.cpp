// Two functions ask std::chrono::steady_clock::now() for the time a known number of times each
// (argv[1] and argv[2]), one more asks system_clock::now() once, and app_clock() (a wrapper of
// the program's own, exported with -rdynamic and built with a frame pointer) is called argv[3]
// times from a third function. The report must name the three callers, not libstdc++'s now().
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

extern "C" __attribute__((noinline, optimize("no-omit-frame-pointer"))) long long app_clock() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    asm volatile("" ::: "memory");  // keeps the call from becoming a tail call
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

__attribute__((noinline)) long long poll_events(long n) {
    long long sum = 0;
    for (long i = 0; i < n; ++i) sum += std::chrono::steady_clock::now().time_since_epoch().count() & 1;
    return sum;
}

__attribute__((noinline)) long long handle_request(long n) {
    long long sum = 0;
    for (long i = 0; i < n; ++i) sum += std::chrono::steady_clock::now().time_since_epoch().count() & 3;
    return sum;
}

__attribute__((noinline)) long long log_line() {
    return std::chrono::system_clock::now().time_since_epoch().count() & 7;
}

__attribute__((noinline)) long long tick(long n) {
    long long sum = 0;
    for (long i = 0; i < n; ++i) sum += app_clock() & 1;
    return sum;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s POLL_CALLS HANDLE_CALLS TICK_CALLS\n", argv[0]);
        return 2;
    }
    long long s = poll_events(atol(argv[1])) + handle_request(atol(argv[2])) + log_line() + tick(atol(argv[3]));
    printf("done %d\n", int(s >= 0));
    return 0;
}

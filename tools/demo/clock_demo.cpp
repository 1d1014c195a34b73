// vdsotrace-demo: a small stand-in for a service that reads the clock a lot, traced by the
// README's first command when no program is given. Its counts are fixed, so the report it
// produces is the same on every machine:
//   - 4 worker threads each handle 5,000 "requests", timing each with two
//     clock_gettime(CLOCK_MONOTONIC) calls in handle_request();
//   - each request is logged with gettimeofday() in log_line();
//   - a housekeeping loop calls time() 1,000 times in expire_sessions() and
//     clock_gettime(CLOCK_REALTIME_COARSE) 1,000 times in refresh_date_header();
//   - every worker asks getcpu() once per 100 requests in pick_shard().
#include <sched.h>
#include <sys/time.h>
#include <time.h>

#include <cstdio>
#include <thread>
#include <vector>

namespace {

constexpr int kWorkers = 4;
constexpr int kRequests = 5000;

volatile long g_sink;  // keeps the work from being optimised away

__attribute__((noinline)) void log_line(int request) {
    timeval tv;
    gettimeofday(&tv, nullptr);
    g_sink = g_sink + tv.tv_usec + request;
}

__attribute__((noinline)) unsigned pick_shard() {
    unsigned cpu = 0, node = 0;
    getcpu(&cpu, &node);
    g_sink = g_sink + cpu;
    return cpu;
}

__attribute__((noinline)) long handle_request(int request) {
    timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long work = 0;
    for (int i = 0; i < 200; ++i) work += i * request;
    clock_gettime(CLOCK_MONOTONIC, &end);
    log_line(request);
    return work + (end.tv_nsec - start.tv_nsec);
}

void worker() {
    for (int r = 0; r < kRequests; ++r) {
        if (r % 100 == 0) pick_shard();
        g_sink = g_sink + handle_request(r);
    }
}

__attribute__((noinline)) void expire_sessions() {
    g_sink = g_sink + time(nullptr);
}

__attribute__((noinline)) void refresh_date_header() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    g_sink = g_sink + ts.tv_sec;
}

}  // namespace

int main() {
    std::vector<std::thread> workers;
    for (int i = 0; i < kWorkers; ++i) workers.emplace_back(worker);
    for (int i = 0; i < 1000; ++i) {
        expire_sessions();
        refresh_date_header();
    }
    for (std::thread& t : workers) t.join();
    std::printf("vdsotrace-demo: served %d requests on %d threads\n", kWorkers * kRequests, kWorkers);
    return 0;
}

// Per-call cost of the interposed functions against libc's own, in one process and one run.
//
// Run under the shim (tests/bench/run_bench.py does): the plain names then resolve to the shim,
// while the `native` pointers come from libc's own handle and bypass it. Ratios of the two are
// what the README reports; absolute numbers vary with the machine and its load.
#include <dlfcn.h>
#include <sched.h>
#include <sys/time.h>
#include <time.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

struct Native {
    int (*clock_gettime)(clockid_t, timespec*);
    int (*gettimeofday)(timeval*, void*);
    time_t (*time)(time_t*);
    int (*getcpu)(unsigned*, unsigned*);
};

const Native& native() {
    static const Native n = [] {
        void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
        if (libc == nullptr) {
            fprintf(stderr, "cannot find libc.so.6: %s\n", dlerror());
            abort();
        }
        Native r;
        r.clock_gettime = reinterpret_cast<decltype(r.clock_gettime)>(dlsym(libc, "clock_gettime"));
        r.gettimeofday = reinterpret_cast<decltype(r.gettimeofday)>(dlsym(libc, "gettimeofday"));
        r.time = reinterpret_cast<decltype(r.time)>(dlsym(libc, "time"));
        r.getcpu = reinterpret_cast<decltype(r.getcpu)>(dlsym(libc, "getcpu"));
        return r;
    }();
    return n;
}

void native_clock_gettime(benchmark::State& state) {
    auto fn = native().clock_gettime;
    timespec ts;
    for (auto _ : state) {
        fn(CLOCK_MONOTONIC, &ts);
        benchmark::DoNotOptimize(ts);
    }
}
void traced_clock_gettime(benchmark::State& state) {
    timespec ts;
    for (auto _ : state) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        benchmark::DoNotOptimize(ts);
    }
}
void native_gettimeofday(benchmark::State& state) {
    auto fn = native().gettimeofday;
    timeval tv;
    for (auto _ : state) {
        fn(&tv, nullptr);
        benchmark::DoNotOptimize(tv);
    }
}
void traced_gettimeofday(benchmark::State& state) {
    timeval tv;
    for (auto _ : state) {
        gettimeofday(&tv, nullptr);
        benchmark::DoNotOptimize(tv);
    }
}
void native_time(benchmark::State& state) {
    auto fn = native().time;
    for (auto _ : state) benchmark::DoNotOptimize(fn(nullptr));
}
void traced_time(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(time(nullptr));
}
void native_getcpu(benchmark::State& state) {
    auto fn = native().getcpu;
    unsigned cpu, node;
    for (auto _ : state) {
        fn(&cpu, &node);
        benchmark::DoNotOptimize(cpu);
    }
}
void traced_getcpu(benchmark::State& state) {
    unsigned cpu, node;
    for (auto _ : state) {
        getcpu(&cpu, &node);
        benchmark::DoNotOptimize(cpu);
    }
}

// A call through a clock wrapper (tracer/wrappers/): libstdc++'s steady_clock::now(), counted at
// this loop's call site via now(). Natively: the same wrapper shape (a function that calls libc's
// clock_gettime and converts), so the difference is the shim's cost, stepping out included.
__attribute__((noinline)) std::chrono::steady_clock::time_point native_now() {
    timespec ts;
    native().clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::chrono::steady_clock::time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}
void native_steady_clock_now(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(native_now());
}
void traced_steady_clock_now(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(std::chrono::steady_clock::now());
}

double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

// Interleaved registration, so native and traced of one function run back to back. The minimum
// of the repetitions is reported next to the median: on a shared machine, interference only
// ever adds time, so the minimum is the steadier estimate of the cost itself.
#define PAIR(fn)                                                                          \
    BENCHMARK(native_##fn)->Threads(1)->Threads(2)->ComputeStatistics("min", min_of);   \
    BENCHMARK(traced_##fn)->Threads(1)->Threads(2)->ComputeStatistics("min", min_of)

PAIR(clock_gettime);
PAIR(gettimeofday);
PAIR(time);
PAIR(getcpu);
PAIR(steady_clock_now);

}  // namespace

BENCHMARK_MAIN();

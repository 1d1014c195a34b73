// Cost of stack sampling per call: clock_gettime through the shim from 40 frames deep, native
// (libc's own entry) and traced. tests/bench/run_sampling_bench.py runs it under the shim with
// VDSOTRACE_SAMPLE=0 (the default mode), and with VDSOTRACE_SAMPLE=1 and VDSOTRACE_SAMPLE_DEPTH
// D for each unwinder, so each sampled call captures exactly D frames.
#include <dlfcn.h>
#include <time.h>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>

namespace {

using ClockFn = int (*)(clockid_t, timespec*);

ClockFn native_clock() {
    static ClockFn fn = [] {
        void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
        if (libc == nullptr) abort();
        return reinterpret_cast<ClockFn>(dlsym(libc, "clock_gettime"));
    }();
    return fn;
}

// Recurses `depth` frames (noinline, frame pointers on: see meson.build), then runs the loop.
__attribute__((noinline)) void at_depth(int depth, benchmark::State& state, ClockFn fn) {
    if (depth > 0) {
        at_depth(depth - 1, state, fn);
        benchmark::ClobberMemory();  // not a tail call: every level keeps its frame
        return;
    }
    timespec ts;
    for (auto _ : state) {
        fn(CLOCK_MONOTONIC, &ts);
        benchmark::DoNotOptimize(ts);
    }
}

constexpr int kDepth = 40;

void native_deep(benchmark::State& state) { at_depth(kDepth, state, native_clock()); }
void traced_deep(benchmark::State& state) { at_depth(kDepth, state, &clock_gettime); }

BENCHMARK(native_deep);
BENCHMARK(traced_deep);

}  // namespace

BENCHMARK_MAIN();

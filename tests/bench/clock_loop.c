// The loop behind the README's performance table (tests/bench/perf_table.py): each of THREADS
// threads, started together, goes DEPTH frames deep and then calls clock_gettime(CLOCK_MONOTONIC)
// CALLS times through the PLT, as any dynamically linked program does. Prints the mean over the
// threads of each thread's own nanoseconds per call, in the thread's CPU time: on a machine shared
// with other work, time spent descheduled is not the call's cost. perf_table.py runs it natively
// and under each tracer in turn; only the ratios carry across machines. DISTINCT (at most 16): the
// innermost frames are that many different functions (a real program's stack) instead of one
// recursion returning to a single call site, which a stack walker steps far more cheaply.
// usage: clock_loop CALLS [THREADS [DEPTH [DISTINCT]]]
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { kMaxThreads = 64 };

static long g_calls;
static int g_depth;
static int g_distinct;
static double g_ns_per_call[kMaxThreads];
static pthread_barrier_t g_start;
static volatile long g_sink;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double timed_loop(void) {
    struct timespec ts;
    long sink = 0;
    const double start = now_ns();
    for (long i = 0; i < g_calls; ++i) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sink += ts.tv_nsec;
    }
    const double ns = (now_ns() - start) / (double)g_calls;
    g_sink += sink;
    return ns;
}

// Recurses `depth` frames, each a real frame (noinline, and work after the call so it is no tail
// call), so that a sampled stack has as many frames as asked.
__attribute__((noinline)) static double at_depth(int depth) {
    if (depth <= 0) return timed_loop();
    const double ns = at_depth(depth - 1);
    __asm__ volatile("" ::: "memory");
    return ns;
}

// Sixteen different functions, each calling the next (LEFT more of them) and the last the loop:
// every frame returns to another call site, in another function.
#define DISTINCT_STEP(n, next)                                              \
    __attribute__((noinline)) static double distinct_##n(int left) {        \
        const double ns = left > 0 ? next(left - 1) : timed_loop();         \
        __asm__ volatile("" ::: "memory");                                  \
        return ns;                                                          \
    }
static double distinct_0_end(int left) {
    (void)left;
    return timed_loop();
}
DISTINCT_STEP(1, distinct_0_end)
DISTINCT_STEP(2, distinct_1)
DISTINCT_STEP(3, distinct_2)
DISTINCT_STEP(4, distinct_3)
DISTINCT_STEP(5, distinct_4)
DISTINCT_STEP(6, distinct_5)
DISTINCT_STEP(7, distinct_6)
DISTINCT_STEP(8, distinct_7)
DISTINCT_STEP(9, distinct_8)
DISTINCT_STEP(10, distinct_9)
DISTINCT_STEP(11, distinct_10)
DISTINCT_STEP(12, distinct_11)
DISTINCT_STEP(13, distinct_12)
DISTINCT_STEP(14, distinct_13)
DISTINCT_STEP(15, distinct_14)
DISTINCT_STEP(16, distinct_15)

// `depth` frames in all: a recursion, then g_distinct different functions (the innermost).
__attribute__((noinline)) static double frames(int depth) {
    if (depth <= g_distinct) return g_distinct > 0 ? distinct_16(g_distinct - 1) : timed_loop();
    const double ns = frames(depth - 1);
    __asm__ volatile("" ::: "memory");
    return ns;
}

static void* thread_main(void* arg) {
    const long index = (long)arg;
    pthread_barrier_wait(&g_start);
    g_ns_per_call[index] = g_distinct > 0 ? frames(g_depth) : at_depth(g_depth);
    return NULL;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: clock_loop CALLS [THREADS [DEPTH [DISTINCT]]]\n");
        return 2;
    }
    g_calls = atol(argv[1]);
    const int threads = argc > 2 ? atoi(argv[2]) : 1;
    g_depth = argc > 3 ? atoi(argv[3]) : 0;
    g_distinct = argc > 4 ? atoi(argv[4]) : 0;
    if (g_calls <= 0 || threads < 1 || threads > kMaxThreads || g_depth < 0 || g_depth > 1000 || g_distinct < 0 ||
        g_distinct > 16 || g_distinct > g_depth) {
        fprintf(stderr, "clock_loop: bad arguments\n");
        return 2;
    }
    pthread_t t[kMaxThreads];
    pthread_barrier_init(&g_start, NULL, (unsigned)threads);
    for (long i = 0; i < threads; ++i) pthread_create(&t[i], NULL, thread_main, (void*)i);
    double sum = 0;
    for (int i = 0; i < threads; ++i) {
        pthread_join(t[i], NULL);
        sum += g_ns_per_call[i];
    }
    printf("%.3f\n", sum / threads);
    return 0;
}

// The loop behind the README's performance table (tests/bench/perf_table.py): each of THREADS
// threads, started together, goes DEPTH frames deep and then calls clock_gettime(CLOCK_MONOTONIC)
// CALLS times through the PLT, as any dynamically linked program does. Prints the mean over the
// threads of each thread's own nanoseconds per call, in the thread's CPU time: on a machine shared
// with other work, time spent descheduled is not the call's cost. perf_table.py runs it natively
// and under each tracer in turn; only the ratios carry across machines.
// usage: clock_loop CALLS [THREADS [DEPTH]]
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { kMaxThreads = 64 };

static long g_calls;
static int g_depth;
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

static void* thread_main(void* arg) {
    const long index = (long)arg;
    pthread_barrier_wait(&g_start);
    g_ns_per_call[index] = at_depth(g_depth);
    return NULL;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: clock_loop CALLS [THREADS [DEPTH]]\n");
        return 2;
    }
    g_calls = atol(argv[1]);
    const int threads = argc > 2 ? atoi(argv[2]) : 1;
    g_depth = argc > 3 ? atoi(argv[3]) : 0;
    if (g_calls <= 0 || threads < 1 || threads > kMaxThreads || g_depth < 0 || g_depth > 1000) {
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

// Cost per call of the trampoline `vdsotrace run` injects into statically linked programs:
// this program is linked statically and times N calls of one function per thread, printing
// nanoseconds per call. run_static_bench.py runs it natively and under vdsotrace.
// usage: static_bench clock_gettime|gettimeofday|time CALLS [THREADS]
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char* g_function;
static long g_calls;
static volatile long g_sink;
static double g_thread_ns[64];

// Each thread's CPU time: on a machine shared with other work, time spent descheduled is not
// the call's cost.
static double thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void* loop(void* arg) {
    const double start = thread_cpu_ns();
    struct timespec ts;
    struct timeval tv;
    long sink = 0;
    if (strcmp(g_function, "clock_gettime") == 0) {
        for (long i = 0; i < g_calls; ++i) {
            clock_gettime(CLOCK_MONOTONIC, &ts);
            sink += ts.tv_nsec;
        }
    } else if (strcmp(g_function, "gettimeofday") == 0) {
        for (long i = 0; i < g_calls; ++i) {
            gettimeofday(&tv, NULL);
            sink += tv.tv_usec;
        }
    } else {
        for (long i = 0; i < g_calls; ++i) sink += time(NULL);
    }
    g_sink += sink;
    g_thread_ns[(long)arg] = thread_cpu_ns() - start;
    return NULL;
}

int main(int argc, char** argv) {
    if (argc < 3) return 2;
    g_function = argv[1];
    g_calls = atol(argv[2]);
    const int threads = argc > 3 ? atoi(argv[3]) : 1;
    pthread_t t[64];
    if (threads < 1 || threads > 64) return 2;
    for (long i = 0; i < threads; ++i) pthread_create(&t[i], NULL, loop, (void*)i);
    double sum = 0;
    for (int i = 0; i < threads; ++i) {
        pthread_join(t[i], NULL);
        sum += g_thread_ns[i];
    }
    // The mean over the threads of each one's CPU time per call.
    printf("%.2f\n", sum / threads / (double)g_calls);
    return 0;
}

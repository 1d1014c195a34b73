// The sampling stress test's program: a SIGALRM handler reads the clock at a high rate while
// worker threads dlopen/dlclose a library in a loop (calling it in between) and read the clock,
// and the main thread reads the clock in a loop. Sampling takes a stack on every call, so
// signals land in the middle of stack captures, module lookups and the loader's critical
// sections. Bounded by iteration counts; prints the exact number of calls it made:
//   "calls N" on stdout. Usage: stress PLUGIN [THREADS ITERATIONS MAIN_CALLS]
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static const char* g_plugin;
static long g_iterations;
static long g_handler_calls;  // only the handler writes it, with an atomic add

static void on_alarm(int sig) {
    (void)sig;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    __atomic_fetch_add(&g_handler_calls, 1, __ATOMIC_RELAXED);
}

static void* worker(void* arg) {
    (void)arg;
    for (long i = 0; i < g_iterations; ++i) {
        void* h = dlopen(g_plugin, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            exit(3);
        }
        void (*tick)(long) = (void (*)(long))dlsym(h, "plugin_tick");
        tick(1);
        dlclose(h);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
    }
    return NULL;
}

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    g_plugin = argv[1];
    const long threads = argc > 2 ? atol(argv[2]) : 2;
    g_iterations = argc > 3 ? atol(argv[3]) : 300;
    const long main_calls = argc > 4 ? atol(argv[4]) : 200000;

    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every = {{0, 50}, {0, 50}};  // as often as the kernel allows
    setitimer(ITIMER_REAL, &every, NULL);

    pthread_t t[64];
    if (threads > 64) return 2;
    for (long i = 0; i < threads; ++i) pthread_create(&t[i], NULL, worker, NULL);
    struct timespec ts;
    for (long i = 0; i < main_calls; ++i) clock_gettime(CLOCK_MONOTONIC, &ts);
    for (long i = 0; i < threads; ++i) pthread_join(t[i], NULL);

    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, NULL);  // a pending alarm must not add a call after we count

    const long handler = __atomic_load_n(&g_handler_calls, __ATOMIC_RELAXED);
    printf("calls %ld handler %ld\n", threads * g_iterations * 2 + main_calls + handler, handler);
    return 0;
}

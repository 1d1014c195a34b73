// One program, sampled twice: with the unwind tables (the default) and with libunwind. Built
// without frame pointers (meson.build), so only unwind tables can follow it. Its clock calls come
// from a deep recursion of assorted frame shapes (alloca, a large frame, saved registers), from a
// SIGUSR1 handler raised at the bottom of it, and from a second thread; every call goes through
// the PLT. Deterministic: the same stacks, the same number of times, on every run.
// Usage: unwinders_agree CALLS DEPTH
#include <alloca.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

static volatile long sink;
static long g_calls;
static volatile int g_handler_calls = 3;  // volatile: one call site, not an unrolled loop

__attribute__((noinline)) static void read_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sink += ts.tv_nsec;
    __asm__ volatile("" ::: "memory");
}

static void on_usr1(int sig) {
    (void)sig;
    for (int i = 0; i < g_handler_calls; ++i) read_clock();
}

static int recurse(int depth);

__attribute__((noinline)) static int with_alloca(int depth) {
    volatile char* p = alloca((unsigned)depth * 8 + 8);
    p[0] = (char)depth;
    return recurse(depth - 1) + p[0];
}

__attribute__((noinline)) static int big_frame(int depth) {
    volatile char buf[2048];
    buf[depth] = (char)depth;
    return recurse(depth - 1) + buf[depth];
}

__attribute__((noinline)) static int saves_registers(int depth) {
    volatile int a = depth * 3, b = depth * 5;
    const int x = a, y = b;
    return recurse(depth - 1) + x * y;
}

__attribute__((noinline)) static int recurse(int depth) {
    if (depth <= 0) {
        for (long i = 0; i < g_calls; ++i) read_clock();
        raise(SIGUSR1);
        return 1;
    }
    switch (depth % 3) {
        case 0: return with_alloca(depth) + 1;
        case 1: return big_frame(depth) + 1;
        default: return saves_registers(depth) + 1;
    }
}

static void* thread_main(void* arg) {
    recurse((int)(long)arg);
    return NULL;
}

int main(int argc, char** argv) {
    g_calls = argc > 1 ? atol(argv[1]) : 100;
    const int depth = argc > 2 ? atoi(argv[2]) : 20;
    signal(SIGUSR1, on_usr1);
    recurse(depth);
    pthread_t t;
    pthread_create(&t, NULL, thread_main, (void*)(long)(depth + 1));
    pthread_join(t, NULL);
    return 0;
}

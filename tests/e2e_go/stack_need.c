/* How many bytes of stack a call to clock_gettime found through the vDSO's own symbol table (the
 * way Go finds it) uses. Under the shim with VDSOTRACE_VDSO_REDIRECT=on that is the shim's direct
 * entry, then the vDSO; without it, the vDSO alone. Each call runs on a private stack filled with
 * a pattern: the lowest byte that changed gives the depth (the probe's own frame included, the
 * same in both runs). The main thread calls first, creating the recording, as Go's runtime does
 * at start-up; then a new thread measures its first call (which claims the thread's recording
 * slot) and its second (the path every later call takes). Prints "first N later M". */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

typedef int (*clock_fn)(clockid_t, struct timespec*);

enum { kPattern = 0x5A };
static unsigned char g_stack[64 * 1024] __attribute__((aligned(64)));
static ucontext_t g_caller, g_probe;
static clock_fn g_fn;

static void probe(void) {
    struct timespec ts;
    g_fn(CLOCK_MONOTONIC, &ts);
}

static size_t depth_of_probe(void) {
    memset(g_stack, kPattern, sizeof g_stack);
    getcontext(&g_probe);
    g_probe.uc_stack.ss_sp = g_stack;
    g_probe.uc_stack.ss_size = sizeof g_stack;
    g_probe.uc_link = &g_caller;
    makecontext(&g_probe, probe, 0);
    swapcontext(&g_caller, &g_probe);
    size_t i = 0;
    while (i < sizeof g_stack && g_stack[i] == kPattern) ++i;
    return sizeof g_stack - i;
}

static void* measure(void* out) {
    ((size_t*)out)[0] = depth_of_probe();
    ((size_t*)out)[1] = depth_of_probe();
    return NULL;
}

int main(void) {
    void* vdso = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
    g_fn = vdso ? (clock_fn)dlsym(vdso, "__vdso_clock_gettime") : NULL;
    if (g_fn == NULL) return 3;
    probe();
    size_t depth[2] = {0, 0};
    pthread_t t;
    pthread_create(&t, NULL, measure, depth);
    pthread_join(t, NULL);
    printf("first %zu later %zu\n", depth[0], depth[1]);
    return 0;
}

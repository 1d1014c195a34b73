/* A C program that calls the vDSO the way Go does: it looks __vdso_clock_gettime up itself
 * (here through the loader's handle on the vDSO, which reads the vDSO's own symbol table) and
 * calls it directly, bypassing libc. Only the vDSO redirection (VDSOTRACE_VDSO_REDIRECT=on) can
 * count such calls. Usage: vdso_lookup N; prints how many calls succeeded. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int (*clock_fn)(clockid_t, struct timespec*);

__attribute__((noinline)) static long direct_calls(clock_fn fn, long n) {
    long ok = 0;
    struct timespec ts;
    for (long i = 0; i < n; ++i) ok += fn(CLOCK_MONOTONIC, &ts) == 0;
    return ok;
}

int main(int argc, char** argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    void* vdso = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
    clock_fn fn = vdso ? (clock_fn)dlsym(vdso, "__vdso_clock_gettime") : NULL;
    if (fn == NULL) {
        puts("no vDSO");
        return 3;
    }
    printf("direct %ld\n", direct_calls(fn, n));
    return 0;
}

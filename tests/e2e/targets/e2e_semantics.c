// Run with LD_PRELOAD=libvdsotrace.so. Compares every interposed function with libc's own
// definition (dlopen("libc.so.6") + dlsym): return value, errno (set to 12345 before each call, so
// "unchanged on success" is checked too) and, where deterministic, the values written.
// Prints "symbols checked S", "comparisons N" and "interposed calls C" on stdout; on any mismatch
// prints "MISMATCH: ..." on stderr and exits 1.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int (*clock_fn)(clockid_t, struct timespec*);
typedef int (*tod_fn)(struct timeval*, void*);
typedef time_t (*time_fn)(time_t*);
typedef int (*getcpu_fn)(unsigned*, unsigned*);

static int comparisons, failures, symbols;
static long interposed;
static clock_fn libc_clock_gettime, libc_clock_getres;
static tod_fn libc_gettimeofday;
static time_fn libc_time;
static getcpu_fn libc_getcpu;

#define MISMATCH(...)                              \
    do {                                           \
        fprintf(stderr, "MISMATCH: " __VA_ARGS__); \
        fputc('\n', stderr);                       \
        ++failures;                                \
    } while (0)

static void check_owner(const char* name, void* interposed_fn, void* libc_fn) {
    Dl_info a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    ++symbols;
    if (dladdr(interposed_fn, &a) == 0 || a.dli_fname == NULL || strstr(a.dli_fname, "libvdsotrace.so") == NULL)
        MISMATCH("%s resolves to %s, not libvdsotrace.so", name, a.dli_fname ? a.dli_fname : "(unknown)");
    // libc's time and gettimeofday are IFUNCs that resolve to the vDSO itself.
    if (dladdr(libc_fn, &b) == 0 || b.dli_fname == NULL ||
        (strstr(b.dli_fname, "libc.so") == NULL && strstr(b.dli_fname, "vdso") == NULL))
        MISMATCH("libc's %s resolves to %s, not libc.so or the vDSO", name, b.dli_fname ? b.dli_fname : "(unknown)");
    void* global = dlsym(RTLD_DEFAULT, name);
    if (global != interposed_fn) MISMATCH("dlsym(RTLD_DEFAULT, %s) is not the symbol the program calls", name);
    if (interposed_fn == libc_fn) MISMATCH("%s: the program calls libc's own definition", name);
}

static void compare_rc(const char* what, long id, int r1, int e1, int r2, int e2) {
    ++comparisons;
    if (r1 != r2 || e1 != e2)
        MISMATCH("%s(%ld): shim returned %d errno %d, libc returned %d errno %d", what, id, r1, e1, r2, e2);
    if (r1 == 0 && e1 != 12345) MISMATCH("%s(%ld): shim changed errno to %d on success", what, id, e1);
}

static void check_clock(long id) {
    struct timespec a = {-7, -7}, b = {-7, -7};
    int r1, r2, e1, e2;

    errno = 12345;
    r1 = clock_gettime((clockid_t)id, &a);
    e1 = errno;
    ++interposed;
    errno = 12345;
    r2 = libc_clock_gettime((clockid_t)id, &b);
    e2 = errno;
    compare_rc("clock_gettime", id, r1, e1, r2, e2);
    if (r1 == 0 && (a.tv_nsec < 0 || a.tv_nsec >= 1000000000L || a.tv_sec < 0))
        MISMATCH("clock_gettime(%ld) wrote {%ld, %ld}", id, (long)a.tv_sec, a.tv_nsec);

    struct timespec ra = {-7, -7}, rb = {-7, -7};
    errno = 12345;
    r1 = clock_getres((clockid_t)id, &ra);
    e1 = errno;
    ++interposed;
    errno = 12345;
    r2 = libc_clock_getres((clockid_t)id, &rb);
    e2 = errno;
    compare_rc("clock_getres", id, r1, e1, r2, e2);
    if (r1 == 0 && (ra.tv_sec != rb.tv_sec || ra.tv_nsec != rb.tv_nsec))
        MISMATCH("clock_getres(%ld): shim {%ld, %ld}, libc {%ld, %ld}", id, (long)ra.tv_sec, ra.tv_nsec,
                 (long)rb.tv_sec, rb.tv_nsec);

    errno = 12345;
    r1 = clock_getres((clockid_t)id, NULL);
    e1 = errno;
    ++interposed;
    errno = 12345;
    r2 = libc_clock_getres((clockid_t)id, NULL);
    e2 = errno;
    compare_rc("clock_getres NULL", id, r1, e1, r2, e2);
}

static void check_gettimeofday(int with_tv, int with_tz) {
    struct timeval a = {0, 0}, b = {0, 0};
    struct timezone za = {-77, -77}, zb = {-77, -77};
    struct timeval* tva = with_tv ? &a : NULL;
    __asm__("" : "+r"(tva));  // glibc declares tv nonnull; the kernel and libc accept NULL
    errno = 12345;
    int r1 = gettimeofday(tva, with_tz ? &za : NULL);
    int e1 = errno;
    ++interposed;
    errno = 12345;
    int r2 = libc_gettimeofday(with_tv ? &b : NULL, with_tz ? &zb : NULL);
    int e2 = errno;
    compare_rc("gettimeofday", with_tv * 10 + with_tz, r1, e1, r2, e2);
    if (with_tv && r1 == 0 && (a.tv_usec < 0 || a.tv_usec >= 1000000 || b.tv_sec - a.tv_sec > 1 || b.tv_sec < a.tv_sec))
        MISMATCH("gettimeofday: shim {%ld, %ld}, libc {%ld, %ld}", (long)a.tv_sec, (long)a.tv_usec, (long)b.tv_sec,
                 (long)b.tv_usec);
    if (with_tz && (za.tz_minuteswest != zb.tz_minuteswest || za.tz_dsttime != zb.tz_dsttime))
        MISMATCH("gettimeofday: shim tz {%d, %d}, libc tz {%d, %d}", za.tz_minuteswest, za.tz_dsttime,
                 zb.tz_minuteswest, zb.tz_dsttime);
}

static void check_time(void) {
    errno = 12345;
    time_t a = time(NULL);
    int e1 = errno;
    ++interposed;
    time_t b = libc_time(NULL);
    ++comparisons;
    if (e1 != 12345) MISMATCH("time(NULL) changed errno to %d", e1);
    if (b < a || b - a > 1) MISMATCH("time(NULL): shim %ld, libc %ld", (long)a, (long)b);

    time_t t = -5;
    errno = 12345;
    time_t c = time(&t);
    e1 = errno;
    ++interposed;
    time_t u = -6;
    time_t d = libc_time(&u);
    ++comparisons;
    if (e1 != 12345) MISMATCH("time(&t) changed errno to %d", e1);
    if (c != t) MISMATCH("time(&t) returned %ld but stored %ld", (long)c, (long)t);
    if (d != u || d < c || d - c > 1) MISMATCH("time(&t): shim %ld, libc %ld (stored %ld)", (long)c, (long)d, (long)u);
}

static void check_getcpu(int with_cpu, int with_node) {
    unsigned c1 = 999999, n1 = 999999, c2 = 999999, n2 = 999999;
    errno = 12345;
    int r1 = getcpu(with_cpu ? &c1 : NULL, with_node ? &n1 : NULL);
    int e1 = errno;
    ++interposed;
    errno = 12345;
    int r2 = libc_getcpu(with_cpu ? &c2 : NULL, with_node ? &n2 : NULL);
    int e2 = errno;
    compare_rc("getcpu", with_cpu * 10 + with_node, r1, e1, r2, e2);
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    if (with_cpu && r1 == 0 && (long)c1 >= ncpu) MISMATCH("getcpu: cpu %u of %ld", c1, ncpu);
    if (with_node && r1 == 0 && n1 == 999999) MISMATCH("getcpu: node not written");
}

int main(void) {
    void* libc = dlopen("libc.so.6", RTLD_NOW);
    if (libc == NULL) {
        fprintf(stderr, "dlopen libc.so.6: %s\n", dlerror());
        return 2;
    }
    libc_clock_gettime = (clock_fn)dlsym(libc, "clock_gettime");
    libc_clock_getres = (clock_fn)dlsym(libc, "clock_getres");
    libc_gettimeofday = (tod_fn)dlsym(libc, "gettimeofday");
    libc_time = (time_fn)dlsym(libc, "time");
    libc_getcpu = (getcpu_fn)dlsym(libc, "getcpu");
    if (!libc_clock_gettime || !libc_clock_getres || !libc_gettimeofday || !libc_time || !libc_getcpu) {
        fprintf(stderr, "dlsym in libc.so.6 failed\n");
        return 2;
    }
    check_owner("clock_gettime", (void*)&clock_gettime, (void*)libc_clock_gettime);
    check_owner("clock_getres", (void*)&clock_getres, (void*)libc_clock_getres);
    check_owner("gettimeofday", (void*)&gettimeofday, (void*)libc_gettimeofday);
    check_owner("time", (void*)&time, (void*)libc_time);
    check_owner("getcpu", (void*)&getcpu, (void*)libc_getcpu);

    static const long ids[] = {-1000, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 99, 1L << 20};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; ++i) check_clock(ids[i]);
    clockid_t dyn;
    if (clock_getcpuclockid(0, &dyn) != 0) MISMATCH("clock_getcpuclockid(0) failed");
    check_clock(dyn);
    if (clock_getcpuclockid(getpid(), &dyn) != 0) MISMATCH("clock_getcpuclockid(getpid()) failed");
    check_clock(dyn);
    if (clock_getcpuclockid(getppid(), &dyn) != 0) MISMATCH("clock_getcpuclockid(getppid()) failed");
    check_clock(dyn);
    if (pthread_getcpuclockid(pthread_self(), &dyn) != 0) MISMATCH("pthread_getcpuclockid failed");
    check_clock(dyn);

    check_gettimeofday(1, 0);
    check_gettimeofday(1, 1);
    check_gettimeofday(0, 0);
    check_gettimeofday(0, 1);
    check_time();
    check_getcpu(1, 1);
    check_getcpu(1, 0);
    check_getcpu(0, 1);
    check_getcpu(0, 0);

    printf("symbols checked %d\ncomparisons %d\ninterposed calls %ld\n", symbols, comparisons, interposed);
    if (failures) {
        fprintf(stderr, "%d mismatches\n", failures);
        return 1;
    }
    return 0;
}

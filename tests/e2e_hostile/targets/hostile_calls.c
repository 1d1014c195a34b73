// A program that reads the clock a known number of times in a hostile setting of its own making.
// Built several ways (plain, -fno-plt, -static, AddressSanitizer, ThreadSanitizer); the driver
// runs it with and without the shim and compares output and exit status.
//
// Usage: hostile_calls MODE N [ARGS]; every mode exits with status 7 when all went as planned.
//   plain N            N calls of clock_gettime(CLOCK_MONOTONIC) from hot_loop
//   closeall-before N  closes every descriptor (0, 1, 2 included), then N calls; no output
//   closeall-after N   N calls, closes every descriptor, N more calls; no output
//   fdlimit N          lowers RLIMIT_NOFILE to 3 (0, 1, 2 are open), then N calls
//   seccomp N          a seccomp filter refuses every openat with O_EXCL (shm_open's), then N calls
//   seccomp-raw N      the same filter installed with raw prctl system calls (unseen by the shim)
//   sigsegv N          N calls, a SIGSEGV handled on a sigaltstack (1 call in the handler), N calls
//   blockall N         blocks every signal, then 4 threads and main make N calls each (5N)
//   faketime           prints the year of clock_gettime(REALTIME), gettimeofday and time
//   threads N LANES MS LANES threads start short-lived threads of N calls each, for MS ms;
//                      prints the number of threads and calls (a count it makes itself)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SITE __attribute__((noinline, noclone))

static __thread volatile long sink;  // per thread: no data race for ThreadSanitizer to report

// Returns how many of the n calls succeeded.
SITE static long hot_loop(long n) {
    long ok = 0;
    struct timespec ts;
#pragma GCC unroll 1
    for (long i = 0; i < n; ++i) {
        ok += clock_gettime(CLOCK_MONOTONIC, &ts) == 0;
        sink += ts.tv_nsec;
    }
    return ok;
}

static void close_everything(void) {
    // close_range(0, ~0U, 0), by number: glibc 2.36 declares it, older ones do not.
    if (syscall(SYS_close_range, 0u, ~0u, 0u) != 0)
        for (int fd = 0; fd < 65536; ++fd) close(fd);
}

// raw: through the system call, as a program without libc's prctl would (the shim sees libc's).
static int install_seccomp(int raw) {
    // Refuse openat(..., flags & O_EXCL) with EPERM: shm_open creates the segment that way.
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, O_EXCL, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof filter / sizeof filter[0]), filter};
    if (raw) {
        if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
        return (int)syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static sigjmp_buf segv_return;
static long handler_ok;

SITE static void on_segv(int sig) {
    (void)sig;
    struct timespec ts;
    handler_ok += clock_gettime(CLOCK_MONOTONIC, &ts) == 0;
    siglongjmp(segv_return, 1);
}

static int provoke_handled_segv(void) {
    static char altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0) return -1;
    volatile char* page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return -1;
    int handled = 0;
    if (sigsetjmp(segv_return, 1) == 0)
        page[0] = 1;  // SIGSEGV
    else
        handled = 1;
    munmap((void*)page, 4096);
    return handled;
}

static long per_thread_calls;

static void* blocked_worker(void* arg) {
    (void)arg;
    return (void*)(intptr_t)hot_loop(per_thread_calls);
}

static volatile int stop_lanes;
static long lane_threads[256], lane_calls[256];

static void* short_lived(void* arg) {
    (void)arg;
    return (void*)(intptr_t)hot_loop(per_thread_calls);
}

// A lane starts one short-lived thread after another until told to stop: threads come and go
// while the other lanes' threads read the clock.
static void* lane(void* arg) {
    long i = (long)(intptr_t)arg;
    while (!__atomic_load_n(&stop_lanes, __ATOMIC_RELAXED)) {
        pthread_t t;
        if (pthread_create(&t, NULL, short_lived, NULL) != 0) break;
        void* r = NULL;
        pthread_join(t, &r);
        lane_threads[i] += 1;
        lane_calls[i] += (long)(intptr_t)r;
    }
    return NULL;
}

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    const char* mode = argv[1];
    const long n = argc > 2 ? atol(argv[2]) : 0;

    if (strcmp(mode, "plain") == 0) {
        printf("plain ok %ld of %ld\n", hot_loop(n), n);
        return 7;
    }
    if (strcmp(mode, "closeall-before") == 0) {
        close_everything();
        return hot_loop(n) == n ? 7 : 1;
    }
    if (strcmp(mode, "closeall-after") == 0) {
        long ok = hot_loop(n);
        close_everything();
        ok += hot_loop(n);
        return ok == 2 * n ? 7 : 1;
    }
    if (strcmp(mode, "fdlimit") == 0) {
        struct rlimit rl = {3, 3};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return 3;
        long ok = hot_loop(n);
        int fd = open("/dev/null", O_RDONLY);  // the program itself still sees its limit
        printf("fdlimit ok %ld of %ld, open %s\n", ok, n, fd < 0 && errno == EMFILE ? "EMFILE" : "succeeded");
        return 7;
    }
    if (strcmp(mode, "seccomp") == 0 || strcmp(mode, "seccomp-raw") == 0) {
        if (install_seccomp(strcmp(mode, "seccomp-raw") == 0) != 0) {
            printf("seccomp unavailable\n");
            return 4;
        }
        long ok = hot_loop(n);
        int fd = open("/tmp", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);  // refused: the filter works
        printf("seccomp ok %ld of %ld, exclusive open %s\n", ok, n, fd < 0 && errno == EPERM ? "EPERM" : "allowed");
        return 7;
    }
    if (strcmp(mode, "sigsegv") == 0) {
        long ok = hot_loop(n);
        int handled = provoke_handled_segv();
        ok += hot_loop(n);
        printf("sigsegv handled %d, handler ok %ld, ok %ld of %ld\n", handled, handler_ok, ok, 2 * n);
        return 7;
    }
    if (strcmp(mode, "blockall") == 0) {
        sigset_t all;
        sigfillset(&all);
        if (pthread_sigmask(SIG_BLOCK, &all, NULL) != 0) return 3;
        per_thread_calls = n;
        pthread_t t[4];
        for (int i = 0; i < 4; ++i)
            if (pthread_create(&t[i], NULL, blocked_worker, NULL) != 0) return 3;
        long ok = hot_loop(n);
        for (int i = 0; i < 4; ++i) {
            void* r = NULL;
            pthread_join(t[i], &r);
            ok += (long)(intptr_t)r;
        }
        printf("blockall ok %ld of %ld\n", ok, 5 * n);
        return 7;
    }
    if (strcmp(mode, "faketime") == 0) {
        struct timespec ts;
        struct timeval tv;
        clock_gettime(CLOCK_REALTIME, &ts);
        gettimeofday(&tv, NULL);
        time_t t = time(NULL);
        struct tm a, b, c;
        gmtime_r(&ts.tv_sec, &a);
        gmtime_r(&tv.tv_sec, &b);
        gmtime_r(&t, &c);
        printf("years %d %d %d\n", a.tm_year + 1900, b.tm_year + 1900, c.tm_year + 1900);
        return 7;
    }
    if (strcmp(mode, "threads") == 0) {
        const long lanes = argc > 3 ? atol(argv[3]) : 64;
        const long ms = argc > 4 ? atol(argv[4]) : 2000;
        if (lanes < 1 || lanes > 256) return 2;
        per_thread_calls = n;
        pthread_t t[256];
        for (long i = 0; i < lanes; ++i)
            if (pthread_create(&t[i], NULL, lane, (void*)(intptr_t)i) != 0) return 3;
        struct timespec wait = {ms / 1000, (ms % 1000) * 1000000};
        while (nanosleep(&wait, &wait) != 0 && errno == EINTR) {
        }
        __atomic_store_n(&stop_lanes, 1, __ATOMIC_RELAXED);
        long threads = 0, calls = 0;
        for (long i = 0; i < lanes; ++i) {
            pthread_join(t[i], NULL);
            threads += lane_threads[i];
            calls += lane_calls[i];
        }
        printf("threads %ld calls %ld\n", threads, calls);
        return 7;
    }
    return 2;
}

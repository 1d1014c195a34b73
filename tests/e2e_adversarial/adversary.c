// Adversarial programs (issue 12): each mode does something ordinary programs do that a
// preloaded library could disturb. tests/e2e_adversarial/test_adversarial.py runs each natively
// and under `vdsotrace run` and asserts the same stdout, files and exit status.
//
//   adversary MODE [ARGS]   (files go to the directory in ADV_DIR)
//   calls N                     N clock calls, prints their count
//   reporter-crash              clock calls, then a null dereference (see reporter.c)
//   onstack-bigframe            a SA_ONSTACK SIGUSR1 handler (no alternate stack) with a 200 KiB frame
//   onstack-overflow            a SA_ONSTACK SIGSEGV handler (no alternate stack), then a stack overflow
//   daemon-files N              closes every descriptor, opens its own files on 3 and 4, N calls between writes
//   signals                     waits for signals, acknowledging each on stdout
//   bad-pointer                 clock_gettime(CLOCK_MONOTONIC, (void*)8)
//   name ARG                    names its thread ARG (terminal escapes and all), makes calls
//   fsize-limit                 RLIMIT_FSIZE of 64 KiB, then calls and a 32 KiB file
//   seccomp-strict N            one call, then a filter killing every syscall it does not make, N calls
//   disabled-strict N           recording made impossible, then the strict filter, N calls
//   seccomp-first N exit|exit_group  the strict filter before any call, N calls, then that way out
//   vfork-exit N K              one call, a filter killing getpid; a vfork child makes K calls, _exit(3); N calls, exit(0)
//   stack-call BYTES first|warm clock_gettime on a stack of BYTES over a guard page
//   small-stack BYTES           the process's first call from a thread with BYTES of stack
//   altstack-first BYTES        the process's first 10 calls from a SIGPROF handler on a BYTES sigaltstack
//   key-destructor              a thread whose key destructor (run after the shim's) makes 100 calls
//   setuid-child N              a child that drops to uid 65534 (as root), N calls in each
//   seccomp-threads N T         one call, a filter allowing only what starting threads needs, T threads of N calls
//   dl-reuse N M K              library A calls N times, unloaded; B at its address M; A again K (ADV_PLUGIN_A/B)
//   clone-vm N M first|fresh    a clone(CLONE_VM) child (no CLONE_THREAD) calls M times, the parent N
//   cancel-pending N            a thread cancelled (deferred) before its first call: N calls return,
//                               then its next cancellation point ends it
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void say(int fd, const char* text) {
    size_t n = strlen(text);
    while (n > 0) {
        ssize_t w = write(fd, text, n);
        if (w <= 0) return;
        text += w;
        n -= (size_t)w;
    }
}

static long calls(long n) {
    struct timespec ts;
    long ok = 0;
    for (long i = 0; i < n; ++i) ok += clock_gettime(CLOCK_MONOTONIC, &ts) == 0;
    return ok;
}

static const char* dir(void) {
    const char* d = getenv("ADV_DIR");
    return d != NULL ? d : ".";
}

// ---- signal handlers and stacks -------------------------------------------------------------

static volatile uintptr_t g_main_frame;

static int on_alt_stack(void) {
    stack_t ss;
    return sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK);
}

static void big_frame_handler(int sig) {
    (void)sig;
    volatile char frame[200 * 1024];
    memset((char*)frame, 0x5a, sizeof frame);
    const uintptr_t here = (uintptr_t)&frame[0];
    const uintptr_t distance = g_main_frame > here ? g_main_frame - here : here - g_main_frame;
    char line[128];
    snprintf(line, sizeof line, "handler: on alternate stack %s, near main's frame %s, frame[7] %d\n",
             on_alt_stack() ? "yes" : "no", distance < (1u << 20) ? "yes" : "no", frame[7]);
    say(1, line);
}

static int onstack_bigframe(void) {
    volatile int anchor = 0;
    g_main_frame = (uintptr_t)&anchor;
    calls(100);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = big_frame_handler;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("calls %ld\n", calls(100));
    return 0;
}

static void overflow_handler(int sig) {
    (void)sig;
    say(1, "handler ran\n");
    _exit(2);
}

static volatile long g_depth_limit = 1L << 40;  // never reached: the stack ends first

static long recurse(volatile char* up, long depth) {
    volatile char pad[4096];
    pad[0] = up != NULL ? up[0] : 1;
    if (depth >= g_depth_limit) return pad[0];
    return recurse(pad, depth + 1) + pad[1];
}

static int onstack_overflow(void) {
    calls(100);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = overflow_handler;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    printf("overflowing\n");
    fflush(stdout);
    return (int)recurse(NULL, 0);
}

const char* adv_reporter_mode(void);  // reporter.c

static int reporter_crash(void) {
    if (adv_reporter_mode()[0] == '\0') return 5;
    printf("calls %ld\n", calls(500));
    fflush(stdout);
    volatile int* null = NULL;
    return *null;
}

long adv_calls_without_cfi(int depth, long n);  // no_unwind_info.c

// ---- descriptors ---------------------------------------------------------------------------

// Frames deep enough that an unwinder has work to do between the writes.
__attribute__((noinline)) static long deep(int depth, long n) {
    if (depth == 0) return calls(n);
    long r = deep(depth - 1, n);
    __asm__ volatile("" ::: "memory");
    return r;
}

static int daemon_files(long n) {
    calls(10);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a.log", dir());
    snprintf(b, sizeof b, "%s/b.log", dir());
    for (int fd = 0; fd < 1024; ++fd) close(fd);
    // As daemons do: 0, 1 and 2 on /dev/null, then their own files on 3 and 4.
    for (int i = 0; i < 3; ++i) open("/dev/null", O_RDWR);
    int fa = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fb = open(b, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fa != 3 || fb != 4) return 10;
    for (int i = 0; i < 200; ++i) {
        char line[64];
        snprintf(line, sizeof line, "record %d\n", i);
        say(fa, line);
        say(fb, line);
        deep(4, n / 2);
        adv_calls_without_cfi(4, n - n / 2);
    }
    // Read b back from the start: its offset and content must be only what was written.
    off_t end = lseek(fb, 0, SEEK_CUR);
    char line[64];
    snprintf(line, sizeof line, "b offset %lld\n", (long long)end);
    say(fa, line);
    return 0;
}

// ---- signals sent by a user --------------------------------------------------------------------

static volatile sig_atomic_t g_last;

static void note(int sig) { g_last = sig; }

static int signals(void) {
    static const int wanted[] = {SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE, SIGWINCH, SIGCONT, SIGHUP, SIGINT,
                                 SIGQUIT, SIGTERM, 0};
    sigset_t block, old;
    sigemptyset(&block);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = note;
    for (int i = 0; wanted[i] != 0; ++i) {
        sigaction(wanted[i], &sa, NULL);
        sigaddset(&block, wanted[i]);
    }
    const int rt = SIGRTMIN + 1;
    sigaction(rt, &sa, NULL);
    sigaddset(&block, rt);
    sigprocmask(SIG_BLOCK, &block, &old);
    calls(100);
    printf("ready\n");
    fflush(stdout);
    for (int got = 0; got < 11; ++got) {
        g_last = 0;
        while (g_last == 0) sigsuspend(&old);
        const int sig = g_last;
        printf("got %s\n", sig == rt ? "SIGRTMIN+1" : sigabbrev_np(sig));
        fflush(stdout);
    }
    return 0;
}

// ---- the rest ------------------------------------------------------------------------------------

static int bad_pointer(void) {
    printf("calls %ld\n", calls(100));
    fflush(stdout);
    return clock_gettime(CLOCK_MONOTONIC, (struct timespec*)8);
}

static void* named_thread(void* arg) {
    prctl(PR_SET_NAME, (const char*)arg);
    return (void*)calls(300);
}

static int name(const char* arg) {
    pthread_t t;
    void* r;
    pthread_create(&t, NULL, named_thread, (void*)arg);
    pthread_join(t, &r);
    printf("thread calls %ld\n", (long)r);
    return 0;
}

static int fsize_limit(void) {
    struct rlimit lim = {64 * 1024, 64 * 1024};
    setrlimit(RLIMIT_FSIZE, &lim);
    printf("calls %ld\n", calls(1000));
    char path[512];
    snprintf(path, sizeof path, "%s/small.bin", dir());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    static char block[32 * 1024];
    memset(block, 'x', sizeof block);
    printf("wrote %zd\n", write(fd, block, sizeof block));
    close(fd);
    return 0;
}

// Kills the process on any syscall but those listed: what a sandboxed worker allows itself.
static int install_strict_filter(void) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_rt_sigreturn, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clock_gettime, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int seccomp_strict(long n) {
    calls(1);
    char line[64];
    if (install_strict_filter() != 0) return 9;
    const long made = deep(6, n / 2) + adv_calls_without_cfi(4, n - n / 2);
    snprintf(line, sizeof line, "calls %ld\n", made);
    say(1, line);
    syscall(SYS_exit_group, 0);
    return 0;
}

// Recording impossible (a file size limit below the recording's size), then the strict filter:
// a shim that passes calls through must make no syscall per call.
static int disabled_strict(long n) {
    struct rlimit lim = {64 * 1024, 64 * 1024};
    setrlimit(RLIMIT_FSIZE, &lim);
    calls(1);
    if (install_strict_filter() != 0) return 9;
    char line[64];
    snprintf(line, sizeof line, "calls %ld\n", deep(6, n));
    say(1, line);
    syscall(SYS_exit_group, 0);
    return 0;
}

// The strict filter installed before the process's first clock call (issue 12, scenario 5): the
// recording must already exist (the shim makes it when the program calls prctl to install the
// filter). Leaves by exit_group, or by exit() (`how` "exit": the shim's exit handlers must make no
// system call either).
static int seccomp_first(long n, const char* how) {
    if (install_strict_filter() != 0) return 9;
    struct timespec ts;
    long ok = 0;
    for (long i = 0; i < n; ++i) ok += clock_gettime(CLOCK_MONOTONIC, &ts) == 0;
    char line[64];
    snprintf(line, sizeof line, "calls %ld\n", ok);
    say(1, line);
    if (strcmp(how, "exit") == 0) exit(0);
    syscall(SYS_exit_group, 0);
    return 0;
}

// A filter that kills the process at any system call but the `n` in `allowed`, installed through
// libc's prctl (so the shim sees it coming).
static int install_allow_list(const int* allowed, int n) {
    struct sock_filter filter[64 + 3];
    if (n > 64) return -1;
    filter[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (int i = 0; i < n; ++i)
        filter[1 + i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)allowed[i], (unsigned char)(n - i), 0);
    filter[n + 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    filter[n + 2] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {(unsigned short)(n + 3), filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

// exit() and a vfork child's _exit() under a filter that kills getpid (and everything else the
// program does not make): the shim told a vfork child from its parent with getpid() on every way
// out. One call, the filter, a vfork child that calls the clock K times and _exits 3, then N
// calls in the parent and exit(0).
static int install_vfork_filter(void) {
    static const int allowed[] = {SYS_write, SYS_exit_group, SYS_exit, SYS_rt_sigreturn, SYS_clock_gettime,
                                  SYS_vfork, SYS_wait4};
    return install_allow_list(allowed, (int)(sizeof allowed / sizeof allowed[0]));
}

static int vfork_exit(long n, long k) {
    calls(1);
    if (install_vfork_filter() != 0) return 9;
    const pid_t child = vfork();
    if (child == 0) {
        struct timespec ts;
        for (long i = 0; i < k; ++i) clock_gettime(CLOCK_MONOTONIC, &ts);
        _exit(3);
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child) return 10;
    const long made = calls(n);
    char line[96];
    snprintf(line, sizeof line, "child %s %d calls %ld\n", WIFEXITED(status) ? "exit" : "signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), made);
    say(1, line);
    exit(0);
}

static long g_stack_calls;

static void* small_stack_thread(void* arg) {
    (void)arg;
    g_stack_calls = calls(10);
    return NULL;
}

static int small_stack(long bytes) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    // The stack and the guard page come from us, so glibc takes nothing from it for TLS.
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t size = ((size_t)bytes + page - 1) / page * page;
    char* mem = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(mem, page, PROT_NONE);
    pthread_attr_setstack(&attr, mem + page, size);
    pthread_t t;
    if (pthread_create(&t, &attr, small_stack_thread, NULL) != 0) return 8;
    pthread_join(t, NULL);
    printf("calls %ld\n", g_stack_calls);
    return 0;
}

static volatile long g_handler_calls;

static void prof_handler(int sig) {
    (void)sig;
    g_handler_calls = calls(10);
}

// A profiler's SIGPROF handler on its own small alternate stack (over a guard page) makes the
// process's first clock calls: with sampling, the recording, the unwinder's set-up and a stack
// are all taken on that stack, inside the signal frame.
static int altstack_first(long bytes) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t size = ((size_t)bytes + page - 1) / page * page;
    char* mem = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return 9;
    mprotect(mem, page, PROT_NONE);
    stack_t ss = {.ss_sp = mem + page, .ss_size = size, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) return 10;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = prof_handler;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGPROF, &sa, NULL);
    raise(SIGPROF);
    printf("handler calls %ld\n", g_handler_calls);
    return 0;
}

// clock_gettime (the shim's when preloaded, else libc's) on a stack of BYTES over a guard page,
// the doctor's method (tools/vdso_doctor/stack_need.cpp): `first` makes it the process's first
// clock call, `warm` makes one call before on the normal stack. Prints "ok" or dies of SIGSEGV.
#if defined(__x86_64__)
long adv_call_on_stack(void* fn, void* sp, long a0, long a1);
__asm__(".text\n.globl adv_call_on_stack\n.type adv_call_on_stack, @function\nadv_call_on_stack:\n"
        "push %rbp\nmov %rsp, %rbp\nmov %rdi, %rax\nmov %rsi, %rsp\nmov %rdx, %rdi\nmov %rcx, %rsi\n"
        "call *%rax\nmov %rbp, %rsp\npop %rbp\nret\n.size adv_call_on_stack, .-adv_call_on_stack\n");

static int stack_call(long bytes, const char* when) {
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    static struct timespec ts;
    if (strcmp(when, "warm") == 0) clock_gettime(CLOCK_MONOTONIC, &ts);
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t size = ((size_t)bytes + page - 1) / page * page;
    unsigned char* region = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(region, page, PROT_NONE);
    unsigned char* top = region + page + size;
    // 16-byte aligned, BYTES below it before the guard page (the call pushes the return address).
    long r = adv_call_on_stack((void*)clock_gettime, top - (size - (size_t)bytes), CLOCK_MONOTONIC, (long)&ts);
    printf("ok %ld\n", r);
    return 0;
}
#else
static int stack_call(long bytes, const char* when) {
    (void)bytes, (void)when;
    return 77;
}
#endif

// A root server's worker: the child drops to nobody (65534) and calls the clock; run, as root,
// must find its recording.
static int setuid_child(long n) {
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(6);
        _exit(calls(n) == n ? 0 : 7);
    }
    const long mine = calls(n);
    int status = 0;
    waitpid(child, &status, 0);
    printf("parent %ld child status %d\n", mine, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

// A thread-specific-data destructor that reads the clock, run after the shim's own (its key was
// created later): those calls count, and no overflow slot appears.
static pthread_key_t g_late_key;

static void late_destructor(void* arg) {
    (void)arg;
    calls(100);
}

static void* keyed_thread(void* arg) {
    (void)arg;
    pthread_setspecific(g_late_key, (void*)1);
    return (void*)calls(100);
}

static int key_destructor(void) {
    calls(1);  // the shim's thread-exit key exists from here on
    pthread_key_create(&g_late_key, late_destructor);
    pthread_t t;
    void* r;
    pthread_create(&t, NULL, keyed_thread, NULL);
    pthread_join(t, &r);
    printf("thread calls %ld\n", (long)r);
    return 0;
}

// A thread whose cancellation is pending (deferred, the default) when it makes the process's first
// clock calls: clock_gettime is no cancellation point, so they return; pthread_testcancel ends it.
static volatile int g_cancel_started, g_cancel_go;
static volatile long g_cancel_returned = -1;

static void* cancel_pending_thread(void* arg) {
    __atomic_store_n(&g_cancel_started, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&g_cancel_go, __ATOMIC_ACQUIRE)) {
    }
    __atomic_store_n(&g_cancel_returned, calls((long)arg), __ATOMIC_RELEASE);
    pthread_testcancel();
    return (void*)1;  // not reached: cancelled above
}

static int cancel_pending(long n) {
    pthread_t t;
    void* r = NULL;
    if (pthread_create(&t, NULL, cancel_pending_thread, (void*)n) != 0) return 70;
    while (!__atomic_load_n(&g_cancel_started, __ATOMIC_ACQUIRE)) {
    }
    pthread_cancel(t);
    __atomic_store_n(&g_cancel_go, 1, __ATOMIC_RELEASE);
    pthread_join(t, &r);
    printf("calls returned %ld, cancelled %d\n", g_cancel_returned, r == PTHREAD_CANCELED);
    return 0;
}

static long g_clone_m;
static volatile long g_child_made;
static volatile int g_clone_ready[2];

// Both processes wait for each other, so their calls overlap on the two CPUs.
static void clone_meet(int me) {
    __atomic_store_n(&g_clone_ready[me], 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&g_clone_ready[1 - me], __ATOMIC_ACQUIRE)) {
    }
}

static int clone_child(void* arg) {
    (void)arg;
    clone_meet(1);
    g_child_made = calls(g_clone_m);
    return 0;
}

// Parent and child share memory and the parent's TLS (no CLONE_SETTLS); both call from calls().
// `first` makes the parent's first clock call before the clone (its slot exists), `fresh` not.
static int clone_vm(long n, long m, const char* when) {
    g_clone_m = m;
    if (strcmp(when, "first") == 0) calls(1);
    const size_t size = 1 << 20;
    char* stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    pid_t child = clone(clone_child, stack + size, CLONE_VM | SIGCHLD, NULL);
    if (child < 0) return 7;
    clone_meet(0);
    const long mine = calls(n);
    int status = 0;
    waitpid(child, &status, 0);
    printf("parent %ld child %ld status %d\n", mine, (long)g_child_made, status);
    return 0;
}

// Threads started under a strict filter (issue 12, scenario 5): the filter allows what this
// program needs natively to start and join threads and to read the clock, nothing else (no
// gettid, getpid, prctl, sigaltstack, openat). The main thread names itself first, so the threads
// inherit its name.
static int install_thread_filter(void) {
    static const int allowed[] = {SYS_write, SYS_exit_group, SYS_exit, SYS_rt_sigreturn, SYS_clock_gettime,
                                  SYS_mmap, SYS_munmap, SYS_mprotect, SYS_clone, SYS_clone3, SYS_rt_sigprocmask,
                                  SYS_set_robust_list, SYS_rseq, SYS_futex, SYS_madvise, SYS_brk, SYS_rt_sigaction,
                                  SYS_getrandom};
    return install_allow_list(allowed, (int)(sizeof allowed / sizeof allowed[0]));
}

static long g_sandbox_calls;

static void* sandboxed_thread(void* arg) {
    (void)arg;
    return (void*)calls(g_sandbox_calls);
}

static int seccomp_threads(long n, long threads) {
    if (threads < 1 || threads > 64) return 64;
    pthread_setname_np(pthread_self(), "sandbox-main");
    calls(1);
    g_sandbox_calls = n;
    if (install_thread_filter() != 0) return 9;
    pthread_t t[64];
    long made = 0;
    for (long i = 0; i < threads; ++i)
        if (pthread_create(&t[i], NULL, sandboxed_thread, NULL) != 0) return 8;
    for (long i = 0; i < threads; ++i) {
        void* r;
        pthread_join(t[i], &r);
        made += (long)r;
    }
    char line[64];
    snprintf(line, sizeof line, "threads %ld calls %ld\n", threads, made);
    say(1, line);
    syscall(SYS_exit_group, 0);
    return 0;
}

// dlclose then dlopen of another library at the same address (issue 12, scenario 9): library A
// (a worker thread that then exits and the main thread call it), unloaded; library B, the same code
// under another function name, loaded where A was; B unloaded, A loaded again. Prints how many
// calls each made and whether the addresses were really reused (else the test is skipped).
typedef long (*PluginFn)(long);

static void* open_plugin(const char* env, PluginFn* fn, uintptr_t* base) {
    const char* path = getenv(env);
    void* h = path != NULL ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (h == NULL) return NULL;
    *fn = (PluginFn)dlsym(h, "plugin_calls");
    struct link_map* lm = NULL;
    dlinfo(h, RTLD_DI_LINKMAP, &lm);
    *base = lm != NULL ? (uintptr_t)lm->l_addr : 0;
    return *fn != NULL ? h : NULL;
}

static PluginFn g_plugin;
static long g_plugin_n;

static void* plugin_thread(void* arg) {
    (void)arg;
    return (void*)g_plugin(g_plugin_n);
}

static int dl_reuse(long n, long m, long k) {
    PluginFn fn;
    uintptr_t base_a, base_b, base_a2;
    void* a = open_plugin("ADV_PLUGIN_A", &fn, &base_a);
    if (a == NULL) return 5;
    g_plugin = fn;
    g_plugin_n = n / 2;
    pthread_t t;
    void* r;
    if (pthread_create(&t, NULL, plugin_thread, NULL) != 0) return 8;
    pthread_join(t, &r);
    long made_a = (long)r + fn(n - n / 2);
    dlclose(a);
    void* b = open_plugin("ADV_PLUGIN_B", &fn, &base_b);
    if (b == NULL) return 6;
    const long made_b = fn(m);
    dlclose(b);
    a = open_plugin("ADV_PLUGIN_A", &fn, &base_a2);
    if (a == NULL) return 5;
    made_a += fn(k);
    dlclose(a);
    printf("a %ld b %ld reused %s\n", made_a, made_b, base_a == base_b && base_b == base_a2 ? "yes" : "no");
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 2) return 64;
    const char* mode = argv[1];
    const long arg = argc > 2 ? atol(argv[2]) : 0;
    if (strcmp(mode, "calls") == 0) return printf("calls %ld\n", calls(arg)) < 0;
    if (strcmp(mode, "reporter-crash") == 0) return reporter_crash();
    if (strcmp(mode, "onstack-bigframe") == 0) return onstack_bigframe();
    if (strcmp(mode, "onstack-overflow") == 0) return onstack_overflow();
    if (strcmp(mode, "daemon-files") == 0) return daemon_files(arg);
    if (strcmp(mode, "signals") == 0) return signals();
    if (strcmp(mode, "bad-pointer") == 0) return bad_pointer();
    if (strcmp(mode, "name") == 0 && argc > 2) return name(argv[2]);
    if (strcmp(mode, "fsize-limit") == 0) return fsize_limit();
    if (strcmp(mode, "seccomp-strict") == 0) return seccomp_strict(arg);
    if (strcmp(mode, "disabled-strict") == 0) return disabled_strict(arg);
    if (strcmp(mode, "seccomp-first") == 0 && argc > 3) return seccomp_first(arg, argv[3]);
    if (strcmp(mode, "vfork-exit") == 0 && argc > 3) return vfork_exit(arg, atol(argv[3]));
    if (strcmp(mode, "stack-call") == 0 && argc > 3) return stack_call(arg, argv[3]);
    if (strcmp(mode, "small-stack") == 0) return small_stack(arg);
    if (strcmp(mode, "altstack-first") == 0) return altstack_first(arg);
    if (strcmp(mode, "key-destructor") == 0) return key_destructor();
    if (strcmp(mode, "setuid-child") == 0) return setuid_child(arg);
    if (strcmp(mode, "seccomp-threads") == 0 && argc > 3) return seccomp_threads(arg, atol(argv[3]));
    if (strcmp(mode, "dl-reuse") == 0 && argc > 4) return dl_reuse(arg, atol(argv[3]), atol(argv[4]));
    if (strcmp(mode, "clone-vm") == 0 && argc > 4) return clone_vm(arg, atol(argv[3]), argv[4]);
    if (strcmp(mode, "cancel-pending") == 0) return cancel_pending(arg);
    return 64;
}

// Tells where clock_gettime and gettimeofday calls end up: a seccomp filter makes their system
// calls fail with ENOTRECOVERABLE, which no vDSO answer ever gives. Prints, e.g.,
//   clock_gettime=kernel gettimeofday=vdso
// ("vdso" covers libc's implementation too: on glibc it calls the vDSO).
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

int main() {
    time(nullptr);  // the shim creates its recording before the filter
    sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clock_gettime, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_gettimeofday, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOTRECOVERABLE),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog fprog{sizeof prog / sizeof prog[0], prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0)
        return 77;
    timespec ts{};
    timeval tv{};
    const bool cg_kernel = clock_gettime(CLOCK_MONOTONIC, &ts) == -1 && errno == ENOTRECOVERABLE;
    const bool tod_kernel = gettimeofday(&tv, nullptr) == -1 && errno == ENOTRECOVERABLE;
    printf("clock_gettime=%s gettimeofday=%s\n", cg_kernel ? "kernel" : "vdso", tod_kernel ? "kernel" : "vdso");
    return 0;
}

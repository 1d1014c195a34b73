/* Runs a program under a seccomp filter that refuses one kind of system call with EPERM, the way
 * a hardened system would, for the tests of what vdsotrace does when it is refused:
 *   seccomp_refuse ptrace PROGRAM [ARGS...]        every ptrace (kernel.yama.ptrace_scope=3, a
 *                                                  container's seccomp profile): no injection into
 *                                                  static programs (tests/e2e_static)
 *   seccomp_refuse mprotect-rwx PROGRAM [ARGS...]  mprotect to read+write+execute (a W^X policy, or
 *                                                  a sealed vDSO on Linux 6.15+ with
 *                                                  CONFIG_MSEAL_SYSTEM_MAPPINGS): no redirection of
 *                                                  the vDSO's symbol table (tests/e2e_go)
 * The filter stays across exec. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LOAD_ARG2 BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2]))
#define REFUSE BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

int main(int argc, char** argv) {
    struct sock_filter ptrace_filter[] = {
        LOAD_NR,
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 0, 1),
        REFUSE,
        ALLOW,
    };
    struct sock_filter rwx_filter[] = {
        LOAD_NR,
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mprotect, 0, 3),
        LOAD_ARG2,
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROT_READ | PROT_WRITE | PROT_EXEC, 0, 1),
        REFUSE,
        ALLOW,
    };
    struct sock_fprog prog;
    if (argc >= 3 && strcmp(argv[1], "ptrace") == 0) {
        prog = (struct sock_fprog){sizeof ptrace_filter / sizeof ptrace_filter[0], ptrace_filter};
    } else if (argc >= 3 && strcmp(argv[1], "mprotect-rwx") == 0) {
        prog = (struct sock_fprog){sizeof rwx_filter / sizeof rwx_filter[0], rwx_filter};
    } else {
        fprintf(stderr, "usage: seccomp_refuse ptrace|mprotect-rwx PROGRAM [ARGS...]\n");
        return 2;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("seccomp_refuse: seccomp");
        return 2;
    }
    execv(argv[2], argv + 2);
    perror("seccomp_refuse: exec");
    return 127;
}

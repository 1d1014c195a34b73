// wait, waitpid, waitid, wait3, wait4: the parent that reaps a child is the one process that
// knows how the child ended when the child could not say so (killed by a signal, or gone through
// a raw exit_group). After the real call returns a child's end, the engine writes that status
// into the child's recording unless the child wrote its own (tracer::note_child_reaped), so the
// report says "killed by SIGKILL (reaped by PID n)" rather than "vanished".
//
// The program sees exactly what libc gives it: the same return value, status, siginfo, rusage and
// errno. These are system calls already: the work after them is a lookup of the child's recording
// by its name (a scan of /dev/shm only for a parent in its own session), async-signal-safe
// (SIGCHLD handlers reap), and only when a child ended (not for WNOHANG polls that find none, nor
// for stopped or continued children, nor with WNOWAIT).
//
// Not seen: children reaped by a raw wait4 syscall (Go's os/exec, static code) or by glibc
// itself (system(), pclose(), posix_spawn's error path use its internal aliases).
#include <dlfcn.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "shim/wait_hooks.h"
#include "tracer/engine/lifecycle.h"
#include "tracer/engine/thread_state.h"

// glibc exports its implementations of wait and waitpid under these names too: no dlsym needed.
extern "C" pid_t __wait(int* status);
extern "C" pid_t __waitpid(pid_t pid, int* status, int options);

namespace {

using Wait4Fn = pid_t (*)(pid_t, int*, int, struct rusage*);
using WaitidFn = int (*)(idtype_t, id_t, siginfo_t*, int);
Wait4Fn g_real_wait4;
WaitidFn g_real_waitid;

// A child ended with `status` (a wait status): record it in its recording if it could not.
void note_reaped(pid_t pid, int status) {
    if (pid <= 0 || !(WIFEXITED(status) || WIFSIGNALED(status))) return;
    const int saved_errno = errno;
    {
        vdsotrace::tracer::BusyGuard guard;  // the shim's own work: nothing in it is counted
        vdsotrace::tracer::note_child_reaped(pid, WIFSIGNALED(status),
                                             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
    errno = saved_errno;
}

pid_t real_wait4(pid_t pid, int* status, int options, struct rusage* usage) {
    Wait4Fn real = __atomic_load_n(&g_real_wait4, __ATOMIC_ACQUIRE);
    // Before the constructor (another library's constructor reaping): the system call itself.
    return real != nullptr ? real(pid, status, options, usage) : pid_t(syscall(SYS_wait4, pid, status, options, usage));
}

}  // namespace

namespace vdsotrace::shim {

void resolve_wait_functions() {
    // Constructor only: dlsym is not async-signal-safe, and wait calls may come from handlers.
    __atomic_store_n(&g_real_wait4, reinterpret_cast<Wait4Fn>(dlsym(RTLD_NEXT, "wait4")), __ATOMIC_RELEASE);
    __atomic_store_n(&g_real_waitid, reinterpret_cast<WaitidFn>(dlsym(RTLD_NEXT, "waitid")), __ATOMIC_RELEASE);
}

}  // namespace vdsotrace::shim

extern "C" {

__attribute__((visibility("default"))) pid_t wait(int* status) {
    int own = 0;  // the status is needed even when the program does not ask for it
    int* s = status != nullptr ? status : &own;
    const pid_t pid = __wait(s);
    if (pid > 0) note_reaped(pid, *s);
    return pid;
}

__attribute__((visibility("default"))) pid_t waitpid(pid_t pid, int* status, int options) {
    int own = 0;
    int* s = status != nullptr ? status : &own;
    const pid_t reaped = __waitpid(pid, s, options);
    if (reaped > 0) note_reaped(reaped, *s);
    return reaped;
}

__attribute__((visibility("default"))) pid_t wait3(int* status, int options, struct rusage* usage) {
    int own = 0;
    int* s = status != nullptr ? status : &own;
    const pid_t reaped = real_wait4(-1, s, options, usage);  // what glibc's wait3 does
    if (reaped > 0) note_reaped(reaped, *s);
    return reaped;
}

__attribute__((visibility("default"))) pid_t wait4(pid_t pid, int* status, int options, struct rusage* usage) {
    int own = 0;
    int* s = status != nullptr ? status : &own;
    const pid_t reaped = real_wait4(pid, s, options, usage);
    if (reaped > 0) note_reaped(reaped, *s);
    return reaped;
}

__attribute__((visibility("default"))) int waitid(idtype_t idtype, id_t id, siginfo_t* info, int options) {
    siginfo_t own{};  // Linux accepts a null siginfo; the status is needed all the same
    siginfo_t* i = info != nullptr ? info : &own;
    WaitidFn real = __atomic_load_n(&g_real_waitid, __ATOMIC_ACQUIRE);
    const int rc = real != nullptr ? real(idtype, id, i, options)
                                   : int(syscall(SYS_waitid, idtype, id, i, options, nullptr));
    // WNOWAIT leaves the child waitable: whoever reaps it later records it.
    if (rc == 0 && (options & WNOWAIT) == 0 && i->si_pid > 0) {
        if (i->si_code == CLD_EXITED)
            note_reaped(i->si_pid, W_EXITCODE(i->si_status, 0));
        else if (i->si_code == CLD_KILLED || i->si_code == CLD_DUMPED)
            note_reaped(i->si_pid, i->si_status);  // a signal number: a wait status of that signal
    }
    return rc;
}

}  // extern "C"

// Thread names without asking the kernel (tracer/thread_identity.h): the shim sees every name a
// thread is given through pthread_setname_np or prctl(PR_SET_NAME) and keeps it in the thread's
// state and slot, so neither a thread's first clock call nor its exit needs prctl(PR_GET_NAME),
// a system call a sandboxed program may be killed for (issue 12).
//
// Not seen: names written to /proc/self/task/TID/comm directly, prctl made with a raw syscall,
// and pthread_setname_np on another thread before that thread's first clock call (its slot does
// not exist yet): such threads show the name they started with.
#include <dlfcn.h>
#include <pthread.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>

#include "tracer/engine/recorder.h"
#include "tracer/engine/thread_identity.h"

namespace {

using SetnameFn = int (*)(pthread_t, const char*);
SetnameFn g_real_setname;

SetnameFn real_setname() {
    SetnameFn fn = __atomic_load_n(&g_real_setname, __ATOMIC_ACQUIRE);
    if (fn == nullptr) {
        // Resolved on first use: naming a thread is no async-signal-safe operation, so dlsym is
        // as safe here as in the program's own code.
        fn = reinterpret_cast<SetnameFn>(dlsym(RTLD_NEXT, "pthread_setname_np"));
        __atomic_store_n(&g_real_setname, fn, __ATOMIC_RELEASE);
    }
    return fn;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int pthread_setname_np(pthread_t thread, const char* name) {
    SetnameFn real = real_setname();
    if (real == nullptr) return ENOSYS;
    const int r = real(thread, name);
    if (r == 0) {
        if (pthread_equal(thread, pthread_self()))
            vdsotrace::tracer::note_own_thread_name(name);
        else
            vdsotrace::tracer::rename_thread_slot(vdsotrace::tracer::tid_of(thread), name);
    }
    return r;
}

// glibc's prctl is the bare system call: so is this one, plus a note of PR_SET_NAME's name, and
// the recording made before a seccomp filter can refuse the system calls that make it (issue 12):
// every unprivileged filter is preceded by PR_SET_NO_NEW_PRIVS (libseccomp's seccomp_load too),
// and PR_SET_SECCOMP installs one. Not seen: a filter installed by a privileged program with a
// raw seccomp(2) system call, without PR_SET_NO_NEW_PRIVS (glibc has no seccomp wrapper).
extern "C" __attribute__((visibility("default"))) int prctl(int option, ...) {
    va_list ap;
    va_start(ap, option);
    const unsigned long a2 = va_arg(ap, unsigned long);
    const unsigned long a3 = va_arg(ap, unsigned long);
    const unsigned long a4 = va_arg(ap, unsigned long);
    const unsigned long a5 = va_arg(ap, unsigned long);
    va_end(ap);
    if ((option == PR_SET_NO_NEW_PRIVS && a2 != 0) || (option == PR_SET_SECCOMP && a2 == SECCOMP_MODE_FILTER) ||
        (option == PR_SET_SECCOMP && a2 == SECCOMP_MODE_STRICT))
        vdsotrace::tracer::prepare_for_sandbox();
    const long r = syscall(SYS_prctl, option, a2, a3, a4, a5);
    if (r == 0 && option == PR_SET_NAME && a2 != 0)
        vdsotrace::tracer::note_own_thread_name(reinterpret_cast<const char*>(a2));
    return int(r);
}

// clone(): the one way a program makes a second process that runs on a thread's TLS in the same
// memory (CLONE_VM without CLONE_SETTLS: old thread libraries, sandboxes, runtimes that spawn
// helpers by hand). Both would then bump the thread's slot with plain increments and lose counts
// (3-10% seen in issue 12). The shim switches that thread to atomic counting first
// (tracer::share_thread_state_with_clone); programs that never call clone() pay nothing.
//
// Not seen: clone made with a raw syscall (syscall(SYS_clone), clone3, Go's runtime, static
// code). glibc's own pthread_create, fork and posix_spawn do not call this symbol either, and do
// not need to: threads get their own TLS (CLONE_SETTLS), vfork's parent waits.
#include <sched.h>

#include <cstdarg>

#include "tracer/engine/lifecycle.h"
#include "tracer/engine/recorder.h"

// glibc exports the implementation under this name too: no dlsym needed.
extern "C" int __clone(int (*fn)(void*), void* stack, int flags, void* arg, ...);

extern "C" __attribute__((visibility("default"))) int clone(int (*fn)(void*), void* stack, int flags, void* arg,
                                                           ...) {
    // The optional arguments (parent_tid, tls, child_tid) are passed on as they came; glibc's
    // clone reads all three from the same registers and stack slot whatever the flags say.
    va_list ap;
    va_start(ap, arg);
    void* parent_tid = va_arg(ap, void*);
    void* tls = va_arg(ap, void*);
    void* child_tid = va_arg(ap, void*);
    va_end(ap);
    if ((flags & CLONE_VM) != 0 && (flags & CLONE_SETTLS) == 0) vdsotrace::tracer::note_tls_shared_by_clone();
    if ((flags & CLONE_VM) != 0 && (flags & (CLONE_SETTLS | CLONE_VFORK)) == 0)
        vdsotrace::tracer::share_thread_state_with_clone();
    return __clone(fn, stack, flags, arg, parent_tid, tls, child_tid);
}

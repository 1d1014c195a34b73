// _exit and _Exit: the ways out that skip exit()'s handlers (and so the shim's on_exit handler).
// Forked children leave through them by design: Python's multiprocessing workers (os._exit),
// redis's BGSAVE child, servers' per-connection children, a fork whose exec failed. Without this
// their recordings would say "vanished" although they exited with a known code.
//
// glibc's exit() reaches its own _exit through a hidden alias, never through these symbols, so
// exit() is still recorded once, by the on_exit handler. A vfork child calling _exit runs on its
// parent's memory: at_process_exit leaves the parent's recording alone then.
#include <sys/syscall.h>
#include <unistd.h>

#include "tracer/engine/lifecycle.h"
#include "tracer/engine/thread_state.h"

namespace {

[[noreturn]] void leave(int status) {
    {
        vdsotrace::tracer::BusyGuard guard;  // the shim's own work: clock reads here are not counted
        vdsotrace::tracer::at_process_exit(status);
    }
    // What glibc's _exit does: end every thread, then (should that ever return) this one.
    for (;;) {
        syscall(SYS_exit_group, status);
        syscall(SYS_exit, status);
    }
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void _exit(int status) { leave(status); }
__attribute__((visibility("default"))) void _Exit(int status) { leave(status); }

}  // extern "C"

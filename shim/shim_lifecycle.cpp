// Start-up and shutdown of the preloaded library. Nothing here is needed for correctness of the
// first call (that path initialises itself lazily); this only moves work off the first call and
// hooks fork and exit.
#include <pthread.h>
#include <stdlib.h>

#include "lifecycle.h"
#include "thread_state.h"
#include "vdso_entry.h"

namespace {

void child_after_fork() { vdsotrace::tracer::after_fork_in_child(); }

void on_process_exit(int status, void*) { vdsotrace::tracer::at_process_exit(status); }

__attribute__((constructor)) void vdsotrace_start() {
    vdsotrace::tracer::BusyGuard guard;
    vdsotrace::shim::resolve_entries();  // parse the vDSO now rather than on the first call
    pthread_atfork(nullptr, nullptr, child_after_fork);
    // exit() hands its status to on_exit handlers: every process that exits normally records its
    // exit code, not only those `vdsotrace run` reaps itself.
    on_exit(on_process_exit, nullptr);
    vdsotrace::tracer::at_process_start();
}

__attribute__((destructor)) void vdsotrace_stop() { vdsotrace::tracer::at_process_end(); }

}  // namespace

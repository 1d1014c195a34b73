// Start-up and shutdown of the preloaded library. Nothing here is needed for correctness of the
// first call (that path initialises itself lazily); this only moves work off the first call and
// hooks fork and exit.
#include <pthread.h>

#include "lifecycle.h"
#include "thread_state.h"
#include "vdso_entry.h"

namespace {

void child_after_fork() { vdsotrace::tracer::after_fork_in_child(); }

__attribute__((constructor)) void vdsotrace_start() {
    vdsotrace::tracer::BusyGuard guard;
    vdsotrace::shim::resolve_entries();  // parse the vDSO now rather than on the first call
    pthread_atfork(nullptr, nullptr, child_after_fork);
    vdsotrace::tracer::at_process_start();
}

__attribute__((destructor)) void vdsotrace_stop() { vdsotrace::tracer::at_process_end(); }

}  // namespace

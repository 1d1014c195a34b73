// Start-up and shutdown of the preloaded library. Nothing here is needed for correctness of the
// first call (that path initialises itself lazily); this only moves work off the first call and
// hooks fork and exit.
#include <pthread.h>
#include <stdlib.h>

#include <unistd.h>

#include "crash_capture.h"
#include "lifecycle.h"
#include "sampler.h"
#include "text_util.h"
#include "thread_state.h"
#include "vdso_entry.h"
#include "vdso_redirect.h"

namespace {

void child_after_fork() { vdsotrace::tracer::after_fork_in_child(); }

void on_process_exit(int status, void*) { vdsotrace::tracer::at_process_exit(status); }

__attribute__((constructor)) void vdsotrace_start() {
    vdsotrace::tracer::BusyGuard guard;
    vdsotrace::shim::resolve_entries();  // parse the vDSO now rather than on the first call
    vdsotrace::shim::resolve_libc_entries();
    // Before the Go runtime (which starts after every constructor) looks the vDSO up itself.
    vdsotrace::shim::redirect_vdso_symbols();
    pthread_atfork(nullptr, nullptr, child_after_fork);
    // Loads libunwind only when stack sampling is on (VDSOTRACE_SAMPLE > 0). Here, not on a call:
    // dlopen takes the loader's locks, which a call from a signal handler may interrupt.
    char problem[256] = {};
    if (!vdsotrace::tracer::sampler_start(VDSOTRACE_ENTRY(clock_gettime), problem, sizeof problem)) {
        char line[320];
        vdsotrace::tracer::TextBuffer b(line, sizeof line);
        b.add("vdsotrace: ")->add(problem)->add("\n");
        ssize_t ignored = write(STDERR_FILENO, b.c_str(), b.size());
        (void)ignored;
    }
    vdsotrace::shim::install_crash_capture();
    // exit() hands its status to on_exit handlers: every process that exits normally records its
    // exit code, not only those `vdsotrace run` reaps itself.
    on_exit(on_process_exit, nullptr);
    vdsotrace::tracer::at_process_start();
}

__attribute__((destructor)) void vdsotrace_stop() { vdsotrace::tracer::at_process_end(); }

}  // namespace

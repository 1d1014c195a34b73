// Start-up and shutdown of the preloaded library. Nothing here is needed for correctness of the
// first call (that path initialises itself lazily); this only moves work off the first call and
// hooks fork and exit.
#include <link.h>
#include <pthread.h>
#include <stdlib.h>

#include <cstring>

#include <unistd.h>

#include "shim/attach_abi.h"
#include "shim/crash_capture.h"
#include "shim/direct_calls.h"
#include "shim/go_program.h"
#include "shim/libc_internal.h"
#include "tracer/common/process_info.h"
#include "tracer/engine/lifecycle.h"
#include "tracer/engine/sampler.h"
#include "tracer/engine/settings.h"
#include "tracer/common/text_util.h"
#include "tracer/engine/thread_state.h"
#include "shim/vdso_entry.h"
#include "shim/vdso_redirect.h"
#include "shim/wait_hooks.h"

// Read and written by `vdsotrace attach` (shim/attach_abi.h).
extern "C" __attribute__((visibility("default"))) vdsotrace::attach::AttachBlock vdsotrace_attach;
vdsotrace::attach::AttachBlock vdsotrace_attach;

namespace {

void child_after_fork();

// A preloaded library comes before libc in the link map; one dlopen'ed by `vdsotrace attach` into
// a running program comes after it.
bool loaded_after_libc() {
    dl_find_object self;
    if (_dl_find_object(reinterpret_cast<void*>(&loaded_after_libc), &self) != 0 || self.dlfo_link_map == nullptr)
        return false;
    for (const link_map* m = self.dlfo_link_map->l_prev; m != nullptr; m = m->l_prev)
        if (m->l_name != nullptr && strstr(m->l_name, "/libc.so") != nullptr) return true;
    return false;
}

// Loaded by `vdsotrace attach`: find what is to be switched and change nothing. The program's
// signal handlers, exit handlers and pointers stay as they are; the injector switches the
// pointers itself while every thread is stopped, and back at the end.
void start_attached() {
    vdsotrace::tracer::BusyGuard guard;
    vdsotrace::shim::resolve_entries();
    vdsotrace::shim::find_libc_internal_pointers();
    vdsotrace::attach::AttachBlock& b = vdsotrace_attach;
    vdsotrace::shim::describe_libc_internal_pointers(&b);
    // Programs that keep their own pointers to the vDSO (Go's runtime): the direct entries the
    // injector points them at, and Go's time plumbing to name callers past it.
    static_assert(vdsotrace::attach::kDirectEntries == vdsotrace::format::kCountedFunctions);
    vdsotrace::vdso::Image img;
    if (vdsotrace::vdso::parse_live(&img) == vdsotrace::vdso::ParseError::kNone)
        vdsotrace::shim::find_direct_targets(img);
    const vdsotrace::shim::GoProgram program = vdsotrace::shim::inspect_executable();
    if (program.is_go) vdsotrace::shim::g_go_plumbing = program.plumbing;
    b.is_go = program.is_go;
    for (unsigned fn = 0; fn < vdsotrace::attach::kDirectEntries; ++fn) {
        b.direct_target[fn] = vdsotrace_direct_targets[fn];
        b.direct_entry[fn] = b.direct_target[fn] != 0 ? vdsotrace::shim::direct_entry(fn) : 0;
    }
    static_assert(vdsotrace::attach::kSessionSize == vdsotrace::tracer::kAttachSessionSize);
    b.session_address = reinterpret_cast<uintptr_t>(vdsotrace::tracer::attach_session_buffer());
    b.late = 1;
    pthread_atfork(nullptr, nullptr, child_after_fork);
    vdsotrace::tracer::at_process_start();
    __atomic_store_n(&b.magic, vdsotrace::attach::kAttachMagic, __ATOMIC_RELEASE);
}

void child_after_fork() { vdsotrace::tracer::after_fork_in_child(); }

void on_process_exit(int status, void*) { vdsotrace::tracer::at_process_exit(status); }

// glibc hands constructors the program's arguments (argc, argv, envp), preloaded or dlopen'ed.
__attribute__((constructor)) void vdsotrace_start(int argc, char** argv, char**) {
    vdsotrace::tracer::note_arguments(argc, argv);
    if (loaded_after_libc()) {
        start_attached();
        return;
    }
    vdsotrace::tracer::BusyGuard guard;
    vdsotrace::shim::resolve_entries();  // parse the vDSO now rather than on the first call
    vdsotrace::shim::resolve_libc_entries();
    vdsotrace::shim::resolve_wait_functions();
    // libc's own calls into the vDSO (timespec_get, clock(), ...); before the vDSO's symbols change.
    vdsotrace::shim::redirect_libc_internal_pointers();
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
    __atomic_store_n(&vdsotrace_attach.magic, vdsotrace::attach::kAttachMagic, __ATOMIC_RELEASE);  // late = 0
}

__attribute__((destructor)) void vdsotrace_stop() { vdsotrace::tracer::at_process_end(); }

}  // namespace

// dlclose(): a library unloaded here may be followed by another loaded at the same addresses,
// whose calls would otherwise count into the first one's caller entries and be credited to it
// (issue 12, scenario 9). After every successful dlclose the engine checks which modules of its
// table are gone, logs them and raises the unload generation (tracer::forget_unloaded_modules);
// every thread then retires its own entries at their addresses before it counts again.
//
// Not seen: libraries unloaded by glibc itself (NSS and iconv modules, through its internal
// dlclose) and by a raw munmap.
#include <dlfcn.h>

#include "tracer/engine/recorder.h"


namespace tracer = vdsotrace::tracer;

namespace {

using DlcloseFn = int (*)(void*);
DlcloseFn g_real_dlclose;

}  // namespace

extern "C" __attribute__((visibility("default"))) int dlclose(void* handle) {
    DlcloseFn real = __atomic_load_n(&g_real_dlclose, __ATOMIC_ACQUIRE);
    if (real == nullptr) {
        // Resolved on first use: dlclose is no async-signal-safe call, and dlsym takes the same
        // loader lock it does.
        real = reinterpret_cast<DlcloseFn>(dlsym(RTLD_NEXT, "dlclose"));
        if (real == nullptr) return -1;
        __atomic_store_n(&g_real_dlclose, real, __ATOMIC_RELEASE);
    }
    const int result = real(handle);
    // The shared slots are retired here, each thread's own slot by that thread at its next call
    // (tracer/engine/unload_log.h): only a slot's thread writes its counters.
    if (result == 0) tracer::forget_unloaded_modules();
    return result;
}

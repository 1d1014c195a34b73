// dlclose(): a library unloaded here may be followed by another loaded at the same addresses,
// whose calls would otherwise count into the first one's caller entries and be credited to it
// (issue 12, scenario 9). After every successful dlclose the engine checks which modules of its
// table are gone and retires their entries (tracer::forget_unloaded_modules).
//
// Not seen: libraries unloaded by glibc itself (NSS and iconv modules, through its internal
// dlclose) and by a raw munmap.
#include <dlfcn.h>

#include "tracer/engine/recorder.h"

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
    const int r = real(handle);
    if (r == 0) vdsotrace::tracer::forget_unloaded_modules();
    return r;
}

// dlclose(): a library unloaded here may be followed by another loaded at the same addresses,
// whose calls would otherwise count into the first one's caller entries and be credited to it
// (issue 12, scenario 9). After every successful dlclose the engine checks which modules of its
// table are gone and retires their entries (tracer::forget_unloaded_modules).
//
// Not seen: libraries unloaded by glibc itself (NSS and iconv modules, through its internal
// dlclose) and by a raw munmap.
#include <dlfcn.h>


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
    // Retiring the unloaded module's entries (tracer::forget_unloaded_modules) is switched off:
    // it rewrites other threads' caller entries while they may be counting into them (a thread
    // that reloads the library at once), which lost calls in tests/e2e_sampling's stress test,
    // and a library closed and reopened in a loop filled the retired-callers table. Scenario 9
    // stays open until the retirement is done by each thread in its own slot.
    return real(handle);
}

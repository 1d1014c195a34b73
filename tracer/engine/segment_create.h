// Creates this process's segment: name, exclusive creation, full reservation, layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <time.h>

#include "tracer/format/segment_format.h"
#include "tracer/engine/settings.h"

namespace vdsotrace::tracer {

// Where things are in a mapped segment (writer side).
struct Segment {
    format::Header* header = nullptr;
    size_t size = 0;
    format::ModuleEntry* modules = nullptr;
    uint32_t module_capacity = 0;
    unsigned char* threads = nullptr;  // thread_capacity private slots, then the shared one
    uint32_t thread_capacity = 0;
    size_t slot_size = 0;
    // Sampling (null / 0 when off).
    format::StackEntry* stacks = nullptr;
    uint64_t* frames = nullptr;
    unsigned char* sample_slots = nullptr;  // one per thread slot, same index
    size_t sample_slot_size = 0;
    format::CrashRecord* crash = nullptr;  // null in segments without the crash section
    unsigned char* exited_slot = nullptr;  // counts of exited threads whose slots were recycled
    format::ExitedThreadEntry* thread_log = nullptr;
    uint32_t thread_log_capacity = 0;
    format::HeadroomEntry* headroom = nullptr;
    uint32_t headroom_capacity = 0;
    format::WrapperSiteEntry* wrapper_sites = nullptr;  // null in segments without the section
    uint32_t wrapper_site_capacity = 0;
    format::PythonSiteEntry* python_sites = nullptr;
    uint32_t python_site_capacity = 0;
    format::RuntimeEntry* runtimes = nullptr;
    uint32_t runtime_capacity = 0;
    format::RetiredCallerEntry* retired = nullptr;  // null in segments without the section
    uint32_t retired_capacity = 0;
    char name[128] = {};  // shm name, "/vdsotrace-..."
};

// The doctor's header fields (routes, which functions the vDSO provides, crash handlers), filled
// by the shim and copied into every segment created afterwards.
extern format::DoctorHeader g_doctor_header;

// Computes the layout for `settings` and a vDSO image of `vdso_size` bytes; fills the header's
// identification (magic, version, sizes), section directory and capacities in `*header` (when
// not null: then only the size is wanted) and returns the total size in bytes.
size_t plan_layout(const Settings& settings, size_t vdso_size, format::Header* header);

// Creates, reserves and maps the segment, fills the header (identity, layout, process info)
// and copies the vDSO image into it. On failure returns false with a message in `error`.
bool create_segment(const Settings& settings, Segment* out, char* error, size_t error_size);

// Fills `seg`'s pointers from a mapped header (used after create, and by tests).
void bind_segment(format::Header* header, Segment* seg);

// Monotonic and realtime clocks for the engine's timestamps, read through the vDSO entry the shim
// gave set_engine_clock (the raw vDSO function, -errno convention), else with a raw syscall: the
// shim must not call its own interposed functions, and these are read only on slow paths.
void set_engine_clock(int (*vdso_clock_gettime)(clockid_t, timespec*));
uint64_t monotonic_ns();
uint64_t realtime_ns();

}  // namespace vdsotrace::tracer

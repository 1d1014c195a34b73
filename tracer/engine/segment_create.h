// Creates this process's segment: name, exclusive creation, layout, the first reservation
// (segment_growth.h reserves the rest as it is needed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <time.h>

#include "tracer/format/segment_format.h"
#include "tracer/engine/settings.h"
#include "tracer/common/text_util.h"

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

    // Growth (segment_growth.h). `size` above is the whole layout, mapped at once; the file holds
    // the reserved parts. Each growing section is reserved as a prefix: its first `*_reserved`
    // bytes are backed by the file (updated with atomics, only ever up). Nothing of the segment is
    // read or written by the engine outside what is reserved: the rest of the mapping lies past
    // the file's end, where any access would raise SIGBUS.
    bool growable = false;       // false: the whole layout is backed (a buffer, an older segment)
    uint64_t file_dev = 0;       // the file created, to tell it from another under the same name
    uint64_t file_ino = 0;
    uint64_t modules_reserved = 0;
    uint64_t wrapper_sites_reserved = 0;
    uint64_t threads_reserved = 0;       // private slots only; the shared one is separate
    uint64_t thread_log_reserved = 0;
    uint64_t python_sites_reserved = 0;
    uint64_t frames_reserved = 0;
    uint64_t sample_slots_reserved = 0;  // private sample slots only
    uint64_t retired_reserved = 0;
    uint32_t stacks_ready = 0;           // 1: the stack table is reserved (whole: it is hashed)
    uint32_t shared_slot_ready = 0;      // 1: the shared overflow thread slot is reserved
    uint32_t shared_sample_ready = 0;    // 1: the shared overflow sample slot is reserved
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

// The bytes a new segment's file starts with: the header, the fixed tables and the vDSO image
// (everything laid out before the first growing section).
size_t fixed_part_size(const format::Header& h);

// Where the section of `kind` starts (segment_size when there is none).
size_t section_offset(const format::Header& h, uint32_t kind);

// Names the usual errno values in `b` (strerror is not async-signal-safe).
void describe_errno(TextBuffer* b, int err);

// Fills `seg`'s pointers from a mapped header (used after create, and by tests); the segment is
// taken as wholly backed (not growable).
void bind_segment(format::Header* header, Segment* seg);

// Monotonic and realtime clocks for the engine's timestamps, read through the vDSO entry the shim
// gave set_engine_clock (the raw vDSO function, -errno convention), else with a raw syscall: the
// shim must not call its own interposed functions, and these are read only on slow paths.
void set_engine_clock(int (*vdso_clock_gettime)(clockid_t, timespec*));
uint64_t monotonic_ns();
uint64_t realtime_ns();

}  // namespace vdsotrace::tracer

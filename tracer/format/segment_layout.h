// Where the sections of a segment go: the writer's side of the layout segment_format.h
// describes. Computed by every writer from the same code: the engine (tracer/engine/
// segment_create.cpp) and `vdsotrace run` creating the recording of a statically linked program
// on its behalf (tools/static_inject/child_segment.cpp). No allocation, no system call.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tracer/format/segment_format.h"

namespace vdsotrace::format {

// What a writer decides the capacities are (the engine from VDSOTRACE_* settings).
struct LayoutSizes {
    uint32_t threads = 0;        // private thread slots (a shared one follows them)
    uint32_t callers = 0;        // caller entries per thread slot (power of two)
    uint32_t modules = 0;        // module entries
    // Stack sampling; sample == 0: no sampling sections.
    uint32_t sample = 0;         // one call in `sample` per thread is sampled
    uint32_t sample_depth = 0;   // frames kept per stack
    uint32_t unwinder = kUnwinderNone;  // the unwinder the header names (Unwinder)
    uint32_t stacks = 0;         // distinct stacks (power of two)
    uint32_t stack_counts = 0;   // (function, stack) counts per thread (power of two)
    uint32_t sample_ring = 0;    // recent samples kept per thread
};

// Where things are in a mapped segment (writer side).
struct Segment {
    Header* header = nullptr;
    size_t size = 0;
    ModuleEntry* modules = nullptr;
    uint32_t module_capacity = 0;
    unsigned char* threads = nullptr;  // thread_capacity private slots, then the shared one
    uint32_t thread_capacity = 0;
    size_t slot_size = 0;
    // Sampling (null / 0 when off).
    StackEntry* stacks = nullptr;
    uint64_t* frames = nullptr;
    unsigned char* sample_slots = nullptr;  // one per thread slot, same index
    size_t sample_slot_size = 0;
    CrashRecord* crash = nullptr;  // null in segments without the crash section
    unsigned char* exited_slot = nullptr;  // counts of exited threads whose slots were recycled
    ExitedThreadEntry* thread_log = nullptr;
    uint32_t thread_log_capacity = 0;
    HeadroomEntry* headroom = nullptr;
    uint32_t headroom_capacity = 0;
    WrapperSiteEntry* wrapper_sites = nullptr;  // null in segments without the section
    uint32_t wrapper_site_capacity = 0;
    PythonSiteEntry* python_sites = nullptr;
    uint32_t python_site_capacity = 0;
    RuntimeEntry* runtimes = nullptr;
    uint32_t runtime_capacity = 0;
    RetiredCallerEntry* retired = nullptr;  // null in segments without the section
    uint32_t retired_capacity = 0;
    char name[128] = {};  // shm name, "/vdsotrace-..."

    // Growth (format 2; the engine's tracer/engine/segment_growth.h). `size` above is the whole
    // layout, mapped at once; the file holds the reserved parts. Each growing section is reserved
    // as a prefix: its first `*_reserved` bytes are backed by the file (updated with atomics, only
    // ever up). Nothing of the segment is read or written by the engine outside what is reserved:
    // the rest of the mapping lies past the file's end, where any access would raise SIGBUS.
    bool growable = false;       // false: the whole layout is backed (a buffer, a static program's)
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

// Computes the layout for `sizes` and a vDSO image of `vdso_size` bytes; fills the header's
// identification (magic, version, sizes), section directory and capacities in `*header` (when
// not null: then only the size is wanted) and returns the total size in bytes.
//
// Format 2 lays the sections out in the order programs fill them, so that a file grown as a
// prefix of the layout stays small: first the small fixed tables every recording has and the vDSO
// image (reserved at creation), then the tables that grow entry by entry (modules, wrapper
// sites, thread slots), then what only some programs use (threads that exit, Python code, retired
// callers, stack samples). The directory lists the sections in format 1's order.
size_t plan_layout(const LayoutSizes& sizes, size_t vdso_size, Header* header);

// Where the section of `kind` starts (segment_size when there is none).
size_t section_offset(const Header& h, uint32_t kind);

// The bytes a new segment's file starts with: the header, the fixed tables and the vDSO image
// (everything laid out before the first growing section, the modules).
size_t fixed_part_size(const Header& h);

// Fills `seg`'s pointers from a mapped header (used after create, and by tests); the segment is
// taken as wholly backed (not growable).
void bind_segment(Header* header, Segment* seg);

}  // namespace vdsotrace::format

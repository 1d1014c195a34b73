// Creates this process's segment: name, exclusive creation, layout, the first reservation
// (segment_growth.h reserves the rest as it is needed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <time.h>

#include "tracer/format/segment_format.h"
#include "tracer/format/segment_layout.h"
#include "tracer/engine/settings.h"
#include "tracer/common/text_util.h"

namespace vdsotrace::tracer {

// The writer-side view of a mapped segment and its layout live in the format (shared with
// `vdsotrace run`, which lays out the recording of a static program the same way).
using format::Segment;
using format::bind_segment;

// Segments created from now on say the shim's crash handlers are installed (DoctorHeader::
// crash_handlers). The routes are noted through note_clock_routes (lifecycle.h).
void note_crash_handlers_in_header();

// The capacities `settings` ask for.
inline format::LayoutSizes layout_sizes(const Settings& settings) {
    format::LayoutSizes sizes;
    sizes.threads = settings.threads;
    sizes.callers = settings.callers;
    sizes.modules = settings.modules;
    sizes.sample = settings.sample;
    sizes.sample_depth = settings.sample_depth;
    sizes.unwinder = settings.frame_pointers   ? format::kUnwinderFramePointer
                     : settings.libunwind_only ? format::kUnwinderLibunwind
                                               : format::kUnwinderCfi;
    sizes.stacks = settings.stacks;
    sizes.stack_counts = settings.stack_counts;
    sizes.sample_ring = settings.sample_ring;
    return sizes;
}

// The layout for `settings` (format::plan_layout).
inline size_t plan_layout(const Settings& settings, size_t vdso_size, format::Header* header) {
    return format::plan_layout(layout_sizes(settings), vdso_size, header);
}

// Creates, reserves and maps the segment, fills the header (identity, layout, process info)
// and copies the vDSO image into it. On failure returns false with a message in `error`.
bool create_segment(const Settings& settings, Segment* out, char* error, size_t error_size);

// Names the usual errno values in `b` (strerror is not async-signal-safe).
void describe_errno(TextBuffer* b, int err);

// Monotonic and realtime clocks for the engine's timestamps, read through the vDSO entry the shim
// gave set_engine_clock (the raw vDSO function, -errno convention), else with a raw syscall: the
// shim must not call its own interposed functions, and these are read only on slow paths.
void set_engine_clock(int (*vdso_clock_gettime)(clockid_t, timespec*));
uint64_t monotonic_ns();
uint64_t realtime_ns();
uint64_t boottime_ns();  // CLOCK_BOOTTIME: what /proc/PID/stat's start times count
// CLOCK_MONOTONIC_COARSE: at most a clock tick (1 to 10 ms) behind monotonic_ns(), never ahead,
// and a fifth of its cost through the vDSO (no time-stamp counter read). UINT64_MAX without the
// vDSO's clock (no system call for a gate: the precise clock then decides).
uint64_t monotonic_coarse_ns();

}  // namespace vdsotrace::tracer

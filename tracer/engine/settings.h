// Settings of the recording, read from the environment when the segment is created.
// Parsed by hand (no strtol, no locale): this runs on the first clock call, which may come before
// constructors or inside a signal handler.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tracer/common/text_util.h"

namespace vdsotrace::tracer {

struct Settings {
    uint32_t threads = 256;   // VDSOTRACE_THREADS: private thread slots (1..65536)
    uint32_t callers = 256;   // VDSOTRACE_CALLERS: caller entries per thread (16..65536, power of 2)
    uint32_t modules = 128;   // VDSOTRACE_MODULES: module entries (8..65536)
    char session[48] = {};    // VDSOTRACE_SESSION: [A-Za-z0-9._-]{1,40}; unset: the process's own, pid<PID>.<start ticks>
    // Stack sampling (see segment_format.h "Sampled stacks").
    uint32_t sample = 0;          // VDSOTRACE_SAMPLE: one call in N per thread has its stack taken; 0 = never
    uint32_t sample_depth = 64;   // VDSOTRACE_SAMPLE_DEPTH: frames kept per stack (1..256)
    bool frame_pointers = false;  // VDSOTRACE_UNWIND=fp
    bool libunwind_only = false;  // VDSOTRACE_UNWIND=libunwind (default: cfi, the unwind tables)
    uint32_t stacks = 4096;       // VDSOTRACE_STACKS: distinct stacks (power of two, 64..1048576)
    uint32_t stack_counts = 512;  // VDSOTRACE_STACK_COUNTS: (function, stack) counts per thread (power of two, 16..65536)
    uint32_t sample_ring = 128;   // VDSOTRACE_SAMPLE_RING: recent samples kept per thread (1..65536)
};

// The session `vdsotrace attach` wrote into this process (shim/attach_abi.h); empty otherwise.
// It takes precedence over VDSOTRACE_SESSION, which a running program's environment lacks.
extern char g_attach_session[48];

// Reads the environment. Every malformed or out-of-range value is named in `problems` (a
// human-readable, NUL-terminated message for stderr, empty when all is well) and replaced by its
// default.
void read_settings(Settings* out, char* problems, size_t problems_size);

// The session this process records into (as read_settings names it) into `out`; true when it is
// the process's own ("pid<PID>.<start ticks>": VDSOTRACE_SESSION unset or not valid), which the
// programs it execs do not share. No allocation.
bool current_session(TextBuffer* out);

// Reads only the sampling settings (period, depth, unwinder), without reporting problems: the
// shim's constructor uses it to decide whether to load an unwinder.
void read_sampling_settings(Settings* out);

inline constexpr uint32_t kMaxSampleDepth = 256;

// Parses a decimal unsigned integer; false on anything else (sign, spaces, overflow, empty).
bool parse_u32(const char* s, uint32_t* out);

// At start-up (the shim's constructor): names this process's own session now, before it forks,
// so children forked before its first recorded call share it.
void settle_own_session();

}  // namespace vdsotrace::tracer

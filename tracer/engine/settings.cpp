#include "tracer/engine/settings.h"

#include <cstdlib>

#include <unistd.h>

#include "tracer/common/process_info.h"
#include "tracer/engine/segment_create.h"
#include "tracer/format/segment_format.h"
#include "tracer/common/text_util.h"

namespace vdsotrace::tracer {

namespace {
// This process's own session when VDSOTRACE_SESSION names none: "pid<PID>.<start ticks>", made
// once. A forked child inherits it (memory is copied), so a fork tree shares one session; an
// exec'd image of the same process computes the same name (same pid, same start time); an
// unrelated program never lands in it.
char g_own_session[format::kSessionMax];

void fill_own_session() {
    if (g_own_session[0] == '\0') {
        const int pid = int(getpid());
        TextBuffer b(g_own_session, sizeof g_own_session);
        b.add("pid")->add_u64(uint64_t(pid))->add(".")->add_u64(own_start_ticks(pid));
    }
}

void own_session(TextBuffer* out) {
    fill_own_session();
    out->add(g_own_session);
}

// Room kept for the copy of the vDSO image (two pages on x86_64 today) when checking the size.
constexpr size_t kVdsoAllowance = 1 << 20;
}  // namespace

void settle_own_session() {
    if (getenv("VDSOTRACE_SESSION") == nullptr) fill_own_session();
}

bool parse_u32(const char* s, uint32_t* out) {
    if (s == nullptr || *s == '\0') return false;
    uint64_t v = 0;
    for (; *s; ++s) {
        if (*s < '0' || *s > '9') return false;
        v = v * 10 + uint64_t(*s - '0');
        if (v > 0xffffffffull) return false;
    }
    *out = uint32_t(v);
    return true;
}

namespace {

// Starts the next problem of the list: " " before the first, "; " between two.
TextBuffer* next_problem(TextBuffer* problems) { return problems->add(problems->size() == 0 ? " " : "; "); }

bool is_power_of_two(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

void read_number(const char* name, uint32_t lo, uint32_t hi, bool power_of_two, uint32_t* value,
                 TextBuffer* problems) {
    const char* s = getenv(name);  // reads environ only: fine before constructors
    if (s == nullptr) return;
    uint32_t v = 0;
    if (parse_u32(s, &v) && v >= lo && v <= hi && (!power_of_two || is_power_of_two(v))) {
        *value = v;
        return;
    }
    next_problem(problems)->add(name)->add("=")->add(s)->add(" is not ");
    problems->add(power_of_two ? "a power of two" : "a whole number")->add(" from ");
    problems->add_u64(lo)->add(" to ")->add_u64(hi)->add(" (using ")->add_u64(*value)->add(")");
}

bool valid_session(const char* s) {
    size_t n = 0;
    for (; s[n]; ++n) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_';
        if (!ok || n >= 40) return false;
    }
    return n > 0;
}

void read_sampling(Settings* out, TextBuffer* p) {
    read_number("VDSOTRACE_SAMPLE", 0, 1000000000, false, &out->sample, p);
    read_number("VDSOTRACE_SAMPLE_DEPTH", 1, kMaxSampleDepth, false, &out->sample_depth, p);
    const char* unwind = getenv("VDSOTRACE_UNWIND");
    if (unwind == nullptr) return;
    auto same = [](const char* a, const char* b) {
        while (*a && *a == *b) ++a, ++b;
        return *a == *b;
    };
    if (same(unwind, "fp"))
        out->frame_pointers = true;
    else if (same(unwind, "libunwind"))
        out->libunwind_only = true;
    else if (!same(unwind, "cfi"))
        next_problem(p)->add("VDSOTRACE_UNWIND=")->add(unwind)->add(" is not cfi, libunwind or fp (using cfi)");
}

}  // namespace

void read_sampling_settings(Settings* out) {
    char ignored[256];
    TextBuffer p(ignored, sizeof ignored);
    read_sampling(out, &p);
}

namespace {
char g_attach_session[kAttachSessionSize];
}  // namespace

char* attach_session_buffer() { return g_attach_session; }

bool current_session(TextBuffer* out) {
    const char* session = g_attach_session[0] != '\0' ? g_attach_session : getenv("VDSOTRACE_SESSION");
    if (session != nullptr && valid_session(session)) {
        out->add(session);
        return false;
    }
    own_session(out);
    return true;
}

void read_settings(Settings* out, char* problems, size_t problems_size) {
    TextBuffer p(problems, problems_size);
    read_number("VDSOTRACE_THREADS", 1, 65536, false, &out->threads, &p);
    read_number("VDSOTRACE_CALLERS", 16, 65536, true, &out->callers, &p);
    read_number("VDSOTRACE_MODULES", 8, 65536, false, &out->modules, &p);
    read_sampling(out, &p);
    read_number("VDSOTRACE_STACKS", 64, 1048576, true, &out->stacks, &p);
    read_number("VDSOTRACE_STACK_COUNTS", 16, 65536, true, &out->stack_counts, &p);
    read_number("VDSOTRACE_SAMPLE_RING", 1, 65536, false, &out->sample_ring, &p);
    const char* session = g_attach_session[0] != '\0' ? g_attach_session : getenv("VDSOTRACE_SESSION");
    TextBuffer s(out->session, sizeof out->session);
    if (session != nullptr && valid_session(session)) {
        s.add(session);
    } else {
        if (session != nullptr)
            next_problem(&p)->add("VDSOTRACE_SESSION=")->add(session)->add(" is not 1 to 40 of [A-Za-z0-9._] (using the process's own)");
        own_session(&s);
    }
    // Each value in range, together too big: a recording over kMaxSegmentSize could never be read
    // (and reserving it would fill /dev/shm, which is memory, before failing).
    if (plan_layout(*out, kVdsoAllowance, nullptr) > format::kMaxSegmentSize) {
        const Settings defaults;
        next_problem(&p)->add("VDSOTRACE_THREADS=")->add_u64(out->threads)->add(", VDSOTRACE_CALLERS=")->add_u64(out->callers);
        p.add(" and VDSOTRACE_MODULES=")->add_u64(out->modules)->add(" make a recording of ");
        p.add_u64(plan_layout(*out, kVdsoAllowance, nullptr) >> 20)->add(" MiB, larger than the ");
        p.add_u64(format::kMaxSegmentSize >> 20)->add(" MiB a recording may have (using ")->add_u64(defaults.threads);
        p.add(", ")->add_u64(defaults.callers)->add(" and ")->add_u64(defaults.modules)->add(")");
        out->threads = defaults.threads;
        out->callers = defaults.callers;
        out->modules = defaults.modules;
    }
}

}  // namespace vdsotrace::tracer

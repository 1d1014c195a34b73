#include "tracer/python/cpython_frames.h"

#include <pthread.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "tracer/common/bulk_table.h"
#include "tracer/common/text_util.h"
#include "tracer/engine/settings.h"
#include "tracer/engine/thread_state.h"
#include "tracer/engine/segment_growth.h"
#include "tracer/wrappers/symbol_at.h"

namespace vdsotrace::tracer::python {

namespace {

// Offsets (x86_64, default build) measured with offsetof() against each version's own headers
// (Include/internal/pycore_frame.h, Include/cpython/pystate.h, Include/cpython/code.h).
struct Layout {
    int tstate_cframe;         // 3.11, 3.12: PyThreadState.cframe -> _PyCFrame.current_frame
    int cframe_current;
    int tstate_current_frame;  // 3.13: PyThreadState.current_frame (-1 before)
    int tstate_thread_id;
    int frame_code, frame_previous, frame_instr, frame_owner;
    int owner_cstack;          // FRAME_OWNED_BY_CSTACK (3.12+: the interpreter's entry frames), -1
    int code_filename, code_qualname, code_linetable, code_firstlineno, code_adaptive;
    int ascii_size;            // sizeof(PyASCIIObject): where a compact ASCII string's characters are
    int frame_is_entry;        // 3.11: _PyInterpreterFrame.is_entry (the first frame of an
                               // _PyEval_EvalFrameDefault call); -1 (3.12+ mark it with a CSTACK frame)
};
constexpr Layout kLayout311 = {56, 8, -1, 152, 32, 48, 56, 69, -1, 112, 128, 136, 72, 184, 48, 68};
constexpr Layout kLayout312 = {56, 0, -1, 136, 0, 8, 56, 70, 3, 112, 128, 136, 68, 192, 40, -1};
constexpr Layout kLayout313 = {-1, -1, 72, 152, 0, 8, 56, 70, 3, 112, 128, 136, 68, 200, 40, -1};

enum : int { kUnknown = 0, kChecking = 1, kReady = 2, kUnreadable = 3 };

struct Runtime {
    int state;                 // atomic
    const void* map_start;     // the module it lives in
    uint32_t version;          // Py_Version
    Layout layout;
    void* (*get_tstate)();
    uintptr_t code_type;       // &PyCode_Type
    uintptr_t eval_start, eval_end;  // _PyEval_EvalFrameDefault's code (sampled stacks)
    const char* reason;        // why it cannot be read (kUnreadable)
};
Runtime g_rt;
int g_rt_claimed;  // 1 once a thread took on describing the runtime
int g_rt_noted;    // 1 once the runtime is written into the segment

Segment* g_segment;
uint32_t g_sites_claimed;

template <class T>
T load(uintptr_t address) {
    T v;
    memcpy(&v, reinterpret_cast<const void*>(address), sizeof v);
    return v;
}

// Reads without faulting: false where the memory is not mapped (or the call is refused).
bool safe_read(uintptr_t address, void* out, size_t size) {
    iovec local{out, size}, remote{reinterpret_cast<void*>(address), size};
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == ssize_t(size);
}

void note_runtime(const char* reason) {
    Segment* seg = __atomic_load_n(&g_segment, __ATOMIC_ACQUIRE);
    if (seg == nullptr || seg->runtimes == nullptr || __atomic_exchange_n(&g_rt_noted, 1, __ATOMIC_ACQ_REL)) return;
    format::RuntimeEntry& e = seg->runtimes[0];
    e.version = g_rt.version;
    TextBuffer name(e.name, sizeof e.name);
    name.add("CPython ")->add_u64(g_rt.version >> 24)->add(".")->add_u64((g_rt.version >> 16) & 0xff)->add(".")
        ->add_u64((g_rt.version >> 8) & 0xff);
    if (reason != nullptr) TextBuffer(e.reason, sizeof e.reason).add(reason);
    __atomic_store_n(&e.state, uint32_t(reason ? format::kRuntimeUnreadable : format::kRuntimeRead), __ATOMIC_RELEASE);
}

void give_up(const char* reason) {
    g_rt.reason = reason;
    __atomic_store_n(&g_rt.state, kUnreadable, __ATOMIC_RELEASE);
    note_runtime(reason);
}

enum class Read { kOk, kNoFrame, kBad };

// The current frame of thread state `ts` with plain loads (layout checked) or safe reads. kNoFrame:
// no Python code runs on this thread now (start-up, shutdown, a C thread), which says nothing
// about the layout; kBad: something is not where the layout says.
template <bool kSafe>
Read read_frame(uintptr_t ts, uintptr_t* code_out, uintptr_t* instr_out) {
    const Layout& l = g_rt.layout;
    auto rd = [](uintptr_t a, uintptr_t* v) {
        if (a < 4096 || (a & 7) != 0) return false;
        if (kSafe) return safe_read(a, v, sizeof *v);
        *v = load<uintptr_t>(a);
        return true;
    };
    uintptr_t frame = 0, v = 0;
    if (l.tstate_current_frame >= 0) {
        if (!rd(ts + uintptr_t(l.tstate_current_frame), &frame)) return frame == 0 ? Read::kNoFrame : Read::kBad;
    } else {
        if (!rd(ts + uintptr_t(l.tstate_cframe), &v)) return Read::kBad;
        if (v == 0) return Read::kNoFrame;
        if (!rd(v + uintptr_t(l.cframe_current), &frame)) return frame == 0 ? Read::kNoFrame : Read::kBad;
    }
    for (int hops = 0; frame != 0 && l.owner_cstack >= 0 && hops < 8; ++hops) {
        uint8_t owner = 0;
        if (kSafe ? !safe_read(frame + uintptr_t(l.frame_owner), &owner, 1)
                  : (owner = load<uint8_t>(frame + uintptr_t(l.frame_owner)), false))
            return Read::kBad;
        if (owner != l.owner_cstack) break;
        if (!rd(frame + uintptr_t(l.frame_previous), &frame)) return frame == 0 ? Read::kNoFrame : Read::kBad;
    }
    if (frame == 0) return Read::kNoFrame;
    uintptr_t code = 0, type = 0, instr = 0, units = 0;
    if (!rd(frame + uintptr_t(l.frame_code), &code) || !rd(code + 8, &type) || type != g_rt.code_type ||
        !rd(frame + uintptr_t(l.frame_instr), &instr) || !rd(code + 16, &units))
        return Read::kBad;
    const uintptr_t base = code + uintptr_t(l.code_adaptive);
    if (instr < base || (instr - base) / 2 >= units) return Read::kBad;
    *code_out = code;
    *instr_out = instr;
    return Read::kOk;
}

// ---- Sites ----

struct SiteSlot {
    uint64_t key;         // code | unit << 48; 0 free
    uint32_t state;       // kReady once index and the names below are set
    uint32_t index;       // in the segment's Python site table
    uintptr_t qualname;   // the code object's name objects, to tell a reused address apart
    uintptr_t filename;
};
constexpr uint32_t kSiteSlots = 4096;
VDSOTRACE_BULK_TABLE SiteSlot g_sites[kSiteSlots];
uint32_t g_any_site;  // 1 once a slot of g_sites was claimed (here or in a parent before the fork)

// Copies a str object's text (compact ASCII, or its cached UTF-8), keeping the end when too long.
void copy_str(uintptr_t obj, char* out, size_t size, bool keep_end) {
    out[0] = '\0';
    const Layout& l = g_rt.layout;
    if (obj == 0) return;
    const int64_t length = load<int64_t>(obj + 16);
    const uint32_t state = load<uint32_t>(obj + 32);
    const bool compact = state & (1u << 5), ascii = state & (1u << 6);
    const char* text = nullptr;
    size_t n = 0;
    if (compact && ascii) {
        text = reinterpret_cast<const char*>(obj + uintptr_t(l.ascii_size));
        n = size_t(length);
    } else if (compact) {  // PyCompactUnicodeObject: utf8_length, utf8 follow the ASCII header
        n = size_t(load<int64_t>(obj + uintptr_t(l.ascii_size)));
        text = load<const char*>(obj + uintptr_t(l.ascii_size) + 8);
    }
    if (text == nullptr || length < 0) {
        TextBuffer(out, size).add("?");
        return;
    }
    if (n >= size) {
        if (keep_end) text += n - (size - 1);
        n = size - 1;
    }
    memcpy(out, text, n);
    out[n] = '\0';
}

// co_linetable (PEP 626/657 location table, the same format in 3.11-3.13): the line of code unit
// `unit`. Entries: a byte 1cccclll (code c, lll + 1 code units), then per code: 15 no location,
// 14 long form (signed line delta, end line, columns), 13 no columns (signed line delta), 10-12
// one line (delta c - 10, two column bytes), 0-9 short form (delta 0, one column byte).
int line_of(uintptr_t code, uint64_t unit) {
    const Layout& l = g_rt.layout;
    const uintptr_t table = load<uintptr_t>(code + uintptr_t(l.code_linetable));
    if (table == 0) return 0;
    const int64_t size = load<int64_t>(table + 16);
    const auto* p = reinterpret_cast<const uint8_t*>(table + 32);
    const uint8_t* end = p + (size > 0 ? size : 0);
    int line = load<int32_t>(code + uintptr_t(l.code_firstlineno));
    uint64_t at = 0;
    auto varint = [&]() {
        uint64_t v = 0;
        unsigned shift = 0;
        while (p < end) {
            const uint8_t b = *p++;
            v |= uint64_t(b & 63) << shift;
            shift += 6;
            if (!(b & 64)) break;
        }
        return v;
    };
    auto svarint = [&]() {
        const uint64_t v = varint();
        return (v & 1) ? -int64_t(v >> 1) : int64_t(v >> 1);
    };
    while (p < end) {
        const uint8_t first = *p++;
        if (!(first & 0x80)) return 0;  // not an entry start: not the format expected
        const unsigned kind = (first >> 3) & 15;
        const uint64_t units = (first & 7) + 1;
        int delta = 0;
        bool none = false;
        if (kind == 15) {
            none = true;
        } else if (kind == 14) {
            delta = int(svarint());
            varint();
            varint();
            varint();
        } else if (kind == 13) {
            delta = int(svarint());
        } else if (kind >= 10) {
            delta = int(kind) - 10;
            p += 2;
        } else {
            p += 1;
        }
        line += delta;
        if (unit < at + units) return none ? 0 : line;
        at += units;
    }
    return 0;
}

uint64_t new_site(uintptr_t code, uint64_t unit, uint32_t* index) {
    Segment* seg = __atomic_load_n(&g_segment, __ATOMIC_ACQUIRE);
    if (seg == nullptr || seg->python_sites == nullptr) return 0;
    const uint32_t i = __atomic_fetch_add(&g_sites_claimed, 1u, __ATOMIC_RELAXED);
    if (i >= seg->python_site_capacity) return 0;
    if (!reserve_entry(seg, &seg->python_sites_reserved, seg->python_sites, i, sizeof(format::PythonSiteEntry),
                       seg->python_site_capacity))
        return 0;  // the recording cannot grow: counted at the interpreter's C call site
    format::PythonSiteEntry& e = seg->python_sites[i];
    __atomic_store_n(&e.state, uint32_t(format::kWrapperSiteWriting), __ATOMIC_RELAXED);
    const Layout& l = g_rt.layout;
    copy_str(load<uintptr_t>(code + uintptr_t(l.code_qualname)), e.function, sizeof e.function, false);
    copy_str(load<uintptr_t>(code + uintptr_t(l.code_filename)), e.file, sizeof e.file, true);
    e.first_line = load<int32_t>(code + uintptr_t(l.code_firstlineno));
    e.line = line_of(code, unit);
    __atomic_store_n(&e.state, uint32_t(format::kWrapperSiteReady), __ATOMIC_RELEASE);
    *index = i;
    return 1;
}

uint64_t site_of(uintptr_t code, uintptr_t instr) {
    const Layout& l = g_rt.layout;
    const uint64_t unit = (instr - code - uintptr_t(l.code_adaptive)) / 2;
    if (unit >= (1u << 16)) return 0;
    const uint64_t key = uint64_t(code) | unit << 48;
    const uintptr_t qualname = load<uintptr_t>(code + uintptr_t(l.code_qualname));
    const uintptr_t filename = load<uintptr_t>(code + uintptr_t(l.code_filename));
    uint32_t i = uint32_t((key >> 4) ^ (key >> 17) ^ (key >> 48)) & (kSiteSlots - 1);
    for (unsigned probe = 0; probe < 32; ++probe, i = (i + 1) & (kSiteSlots - 1)) {
        SiteSlot& s = g_sites[i];
        uint64_t seen = __atomic_load_n(&s.key, __ATOMIC_ACQUIRE);
        if (seen == 0) {
            __atomic_store_n(&g_any_site, 1u, __ATOMIC_RELEASE);  // before the claim: a child forked now clears
            if (!__atomic_compare_exchange_n(&s.key, &seen, key, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                if (seen != key) continue;
            } else {
                uint32_t index = 0;
                if (new_site(code, unit, &index) == 0) return 0;  // stays kWriting: those calls count at the C site
                s.index = index;
                s.qualname = qualname;
                s.filename = filename;
                __atomic_store_n(&s.state, uint32_t(kReady), __ATOMIC_RELEASE);
                return format::kPythonSiteTag | index;
            }
        }
        if (seen != key) continue;
        if (__atomic_load_n(&s.state, __ATOMIC_ACQUIRE) != kReady) return 0;
        // A code object freed and another allocated at its address: not the site recorded.
        if (s.qualname != qualname || s.filename != filename) return 0;
        return format::kPythonSiteTag | s.index;
    }
    return 0;
}

// Modules known not to be a CPython runtime (their symbol tables were searched once).
constexpr unsigned kNotPython = 32;
const void* g_not_python[kNotPython];

bool known_not_python(const void* map_start) {
    for (const void*& m : g_not_python)
        if (__atomic_load_n(&m, __ATOMIC_RELAXED) == map_start) return true;
    return false;
}

void remember_not_python(const void* map_start) {
    for (const void*& m : g_not_python) {
        const void* expected = nullptr;
        if (__atomic_compare_exchange_n(&m, &expected, map_start, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED) ||
            expected == map_start)
            return;
    }
}

}  // namespace

bool in_cpython(uintptr_t pc) {
    wrappers::CodeSite cs;
    if (!wrappers::code_site_at(pc, &cs)) return false;
    const int state = __atomic_load_n(&g_rt.state, __ATOMIC_ACQUIRE);
    if (state != kUnknown) return cs.map_start == g_rt.map_start && state != kUnreadable;
    if (known_not_python(cs.map_start)) return false;
    const auto* version = static_cast<const uint32_t*>(wrappers::module_symbol(pc, "Py_Version"));
    // Before 3.11 there is no Py_Version: Py_GetVersion() ("3.10.13 (main, ...)") names it.
    const char* (*get_version)() = nullptr;
    if (version == nullptr) {
        get_version = reinterpret_cast<const char* (*)()>(const_cast<void*>(wrappers::module_symbol(pc, "Py_GetVersion")));
        if (get_version == nullptr) {
            remember_not_python(cs.map_start);
            return false;
        }
    }
    if (__atomic_exchange_n(&g_rt_claimed, 1, __ATOMIC_ACQ_REL)) return false;  // another thread describes it
    g_rt.map_start = cs.map_start;
    if (version != nullptr) {
        g_rt.version = *version;
    } else {
        const char* v = get_version();
        uint32_t parts[3] = {};
        for (int i = 0; i < 3 && v != nullptr; ++i) {
            while (*v >= '0' && *v <= '9') parts[i] = parts[i] * 10 + uint32_t(*v++ - '0');
            if (*v != '.') break;
            ++v;
        }
        g_rt.version = (parts[0] & 0xff) << 24 | (parts[1] & 0xff) << 16 | (parts[2] & 0xff) << 8;
    }
    const unsigned major = g_rt.version >> 24, minor = (g_rt.version >> 16) & 0xff;
    void* getter = const_cast<void*>(wrappers::module_symbol(pc, "_PyThreadState_UncheckedGet"));
    if (getter == nullptr) getter = const_cast<void*>(wrappers::module_symbol(pc, "PyThreadState_GetUnchecked"));
    g_rt.get_tstate = reinterpret_cast<void* (*)()>(getter);
    g_rt.code_type = uintptr_t(wrappers::module_symbol(pc, "PyCode_Type"));
    uint64_t eval_size = 0;
    g_rt.eval_start = uintptr_t(wrappers::module_symbol(pc, "_PyEval_EvalFrameDefault", &eval_size));
    g_rt.eval_end = g_rt.eval_start + eval_size;
#if !defined(__x86_64__)
    give_up("its frames are read on x86_64 only");
    return false;
#endif
    if (major != 3 || minor < 11 || minor > 13) {
        give_up(minor < 11 && major == 3 ? "versions before 3.11 keep other frame structures; this vdsotrace reads 3.11-3.13"
                                         : "a version this vdsotrace does not know the frame structures of (it reads 3.11-3.13)");
        return false;
    }
    if (getter == nullptr || g_rt.code_type == 0) {
        give_up("it exports neither _PyThreadState_UncheckedGet nor PyThreadState_GetUnchecked, or no PyCode_Type");
        return false;
    }
    g_rt.layout = minor == 11 ? kLayout311 : minor == 12 ? kLayout312 : kLayout313;
    __atomic_store_n(&g_rt.state, kChecking, __ATOMIC_RELEASE);
    return true;
}

uint64_t current_site() {
    const int state = __atomic_load_n(&g_rt.state, __ATOMIC_ACQUIRE);
    if (state != kReady && state != kChecking) return 0;
    const uintptr_t ts = uintptr_t(g_rt.get_tstate());
    if (ts == 0) return 0;
    const Layout& l = g_rt.layout;
    uintptr_t code = 0, instr = 0;
    if (state == kChecking) {
        // The first read: every load fault-free, so a layout that is not the one expected is found
        // out without touching memory it does not describe.
        uintptr_t tid = 0;
        if (!safe_read(ts + uintptr_t(l.tstate_thread_id), &tid, sizeof tid)) {
            give_up("its thread state could not be read (process_vm_readv refused, or not the layout expected)");
            return 0;
        }
        if (tid != uintptr_t(pthread_self())) return 0;  // 3.11: the GIL holder's state, another thread's
        const Read got = read_frame<true>(ts, &code, &instr);
        if (got == Read::kNoFrame) return 0;  // no Python code running yet: check at the next call
        if (got == Read::kBad) {
            give_up("its current frame does not hold a code object where this vdsotrace expects one (a build "
                    "with another structure layout, e.g. free-threaded or debug)");
            return 0;
        }
        int expected = kChecking;
        if (__atomic_compare_exchange_n(&g_rt.state, &expected, kReady, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            note_runtime(nullptr);
    } else {
        // 3.11's getter answers the thread that holds the GIL: only that thread reads its frames.
        if (load<uintptr_t>(ts + uintptr_t(l.tstate_thread_id)) != uintptr_t(pthread_self())) return 0;
        if (read_frame<false>(ts, &code, &instr) != Read::kOk) return 0;
    }
    // The same Python call site as this thread's last (a loop): no table lookup.
    ThreadState& t = t_thread;
    const uintptr_t names = load<uintptr_t>(code + uintptr_t(l.code_qualname)) ^
                            (load<uintptr_t>(code + uintptr_t(l.code_filename)) << 1);
    if (code == t.py_code && instr == t.py_instr && names == t.py_names) return t.py_site;
    const uint64_t site = site_of(code, instr);
    if (site != 0) {
        // Written code last, so that a signal handler's call between these stores (which writes
        // all four) leaves them consistent: the interrupted writes that follow are all this call's.
        t.py_code = 0;
        asm volatile("" ::: "memory");
        t.py_instr = instr;
        t.py_names = names;
        t.py_site = site;
        asm volatile("" ::: "memory");
        t.py_code = code;
    }
    return site;
}

namespace {

// The calling thread's Python frames, innermost first, as sites; `group_end[i]`: frame i is the
// first (outermost) of its _PyEval_EvalFrameDefault call. Plain loads, as current_site() reads
// the current frame once the runtime's layout was checked with fault-free reads: those
// (process_vm_readv, a system call per read) made a sampled call 20 us slower per Python frame.
// Every pointer followed must look like one (aligned, in user space) and every frame hold a code
// object (its type is PyCode_Type) with the instruction inside its bytecode, or the walk stops.
uint32_t python_frames(uintptr_t ts, uint64_t* sites, bool* group_end, uint32_t max) {
    const Layout& l = g_rt.layout;
    auto plausible = [](uintptr_t a) { return a >= 4096 && (a & 7) == 0 && a < (uintptr_t(1) << 47); };
    uintptr_t frame = 0;
    if (l.tstate_current_frame >= 0) {
        frame = load<uintptr_t>(ts + uintptr_t(l.tstate_current_frame));
    } else {
        const uintptr_t cframe = load<uintptr_t>(ts + uintptr_t(l.tstate_cframe));
        if (!plausible(cframe)) return 0;
        frame = load<uintptr_t>(cframe + uintptr_t(l.cframe_current));
    }
    uint32_t count = 0;
    for (unsigned hops = 0; plausible(frame) && count < max && hops < 4 * kMaxSampleDepth; ++hops) {
        const uintptr_t previous = load<uintptr_t>(frame + uintptr_t(l.frame_previous));
        if (l.owner_cstack >= 0 && load<uint8_t>(frame + uintptr_t(l.frame_owner)) == l.owner_cstack) {
            if (count > 0) group_end[count - 1] = true;  // 3.12+: the entry frame of the call below
            frame = previous;
            continue;
        }
        const uintptr_t code = load<uintptr_t>(frame + uintptr_t(l.frame_code));
        if (!plausible(code) || load<uintptr_t>(code + 8) != g_rt.code_type) break;
        const uintptr_t instr = load<uintptr_t>(frame + uintptr_t(l.frame_instr));
        const uintptr_t units = load<uintptr_t>(code + 16);
        const uintptr_t base = code + uintptr_t(l.code_adaptive);
        // A frame being set up has no instruction yet: no line to name, skipped.
        if (instr >= base && (instr - base) / 2 < units) {
            const uint64_t site = site_of(code, instr);
            if (site == 0) break;  // the site table is full
            sites[count] = site;
            group_end[count] = l.frame_is_entry >= 0 && load<uint8_t>(frame + uintptr_t(l.frame_is_entry)) != 0;
            ++count;
        }
        frame = previous;
    }
    if (count > 0) group_end[count - 1] = true;
    return count;
}

}  // namespace

uint32_t interleave(uintptr_t* frames, uint32_t n, uint32_t max) {
    if (__atomic_load_n(&g_rt.state, __ATOMIC_ACQUIRE) != kReady || g_rt.eval_start == 0) return n;
    const uintptr_t ts = uintptr_t(g_rt.get_tstate());
    if (ts == 0 || load<uintptr_t>(ts + uintptr_t(g_rt.layout.tstate_thread_id)) != uintptr_t(pthread_self())) return n;
    // A sampled call may run on a small stack: Python frames beyond these are not shown.
    constexpr uint32_t kMaxPythonFrames = 64;
    uint64_t sites[kMaxPythonFrames];
    bool group_end[kMaxPythonFrames];
    const uint32_t count = python_frames(ts, sites, group_end, kMaxPythonFrames);
    if (count == 0) return n;
    uint8_t group_size[kMaxPythonFrames], group_begin[kMaxPythonFrames];
    uint32_t groups = 0;
    for (uint32_t q = 0, begin = 0; q < count; ++q)
        if (group_end[q]) {
            group_begin[groups] = uint8_t(begin);
            group_size[groups++] = uint8_t(q + 1 - begin);
            begin = q + 1;
        }
    // The k-th _PyEval_EvalFrameDefault frame from the leaf runs the k-th group of Python frames.
    // Merged in place: first how far the merged stack reaches within the cap, then from its root
    // end down, so that every frame is read before its position is written.
    auto is_eval = [](uintptr_t pc) { return pc - 1 >= g_rt.eval_start && pc - 1 < g_rt.eval_end; };
    const uint32_t cap = max < kMaxSampleDepth ? max : kMaxSampleDepth;
    uint32_t len = 0, given = 0, evals = 0, read = 0;
    for (; read < n && len < cap; ++read) {
        ++len;
        if (!is_eval(frames[read])) continue;
        if (given < groups) len += group_size[given++];
        ++evals;
    }
    const uint32_t cut = len > cap ? len - cap : 0;  // the root end of the last group given
    len -= cut;
    uint32_t w = len;
    for (uint32_t j = read; j-- > 0;) {
        const uintptr_t pc = frames[j];
        if (is_eval(pc) && --evals < given) {
            const uint32_t size = group_size[evals] - (evals == given - 1 ? cut : 0);
            for (uint32_t k = size; k-- > 0;) frames[--w] = uintptr_t(sites[group_begin[evals] + k]);
        }
        frames[--w] = pc;
    }
    return len;
}

void bind_segment(Segment* seg) {
    __atomic_store_n(&g_sites_claimed, 0u, __ATOMIC_RELAXED);
    __atomic_store_n(&g_segment, seg, __ATOMIC_RELEASE);
    // A runtime described before this segment existed is written into it now.
    const int state = __atomic_load_n(&g_rt.state, __ATOMIC_ACQUIRE);
    if (state == kReady) note_runtime(nullptr);
    if (state == kUnreadable) note_runtime(g_rt.reason);
}

void forget_after_fork() {
    // Only a table that was written to: 128 KiB of untouched zeros cleared cost every forked child
    // of a program that never ran Python (a shell, for each command) 32 page faults.
    if (__atomic_load_n(&g_any_site, __ATOMIC_RELAXED) != 0) memset(g_sites, 0, sizeof g_sites);
    g_any_site = 0;
    t_thread.py_code = 0;  // its site tag indexes the parent's table
    t_thread.py_c_site = 0;
    g_sites_claimed = 0;
    g_rt_noted = 0;
    g_segment = nullptr;
}

}  // namespace vdsotrace::tracer::python

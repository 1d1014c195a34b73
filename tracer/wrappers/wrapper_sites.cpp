#include "tracer/wrappers/wrapper_sites.h"

#include <cstring>

#include "tracer/common/bulk_table.h"
#include "tracer/unwind/eh_frame_rules.h"
#include "tracer/wrappers/file_symbols.h"
#include "tracer/python/cpython_frames.h"
#include "tracer/engine/segment_growth.h"
#include "tracer/engine/slow_path.h"
#include "tracer/wrappers/symbol_at.h"
#include "tracer/common/text_util.h"
#include "tracer/wrappers/wrapper_names.h"

namespace vdsotrace::tracer::wrappers {

namespace {

enum : uint32_t { kFree = 0, kWriting = 1, kReady = 2 };

struct Decision {
    uint64_t ret;          // the return address decided about; 0: free entry
    uint32_t state;        // kFree, kWriting, kReady
    uint8_t wrapper;       // 1: a call site inside a wrapper, steppable with the rule below;
                           // kPythonSite: inside a CPython runtime (its caller is a Python frame)
    uint8_t from_fp;
    uint16_t via;          // 1 + its index in the segment's wrapper-site table; 0: not registered yet
    int32_t cfa_off;
    int32_t fp_saved_at;
};

constexpr uint8_t kPythonSite = 2;
constexpr uint32_t kDecisions = 4096;  // return addresses near wrappers, process-wide
constexpr unsigned kProbes = 32;
VDSOTRACE_BULK_TABLE Decision g_decisions[kDecisions];
uint32_t g_any_via;  // 1 once an entry's via was set (a wrapper site registered in a segment)

Segment* g_segment;
uint32_t g_sites_claimed;  // entries of the segment's wrapper-site table handed out

uint32_t slot_of(uint64_t ret) { return uint32_t((ret >> 1) ^ (ret >> 13) ^ (ret >> 25)) & (kDecisions - 1); }

// *keep: false when the decision was made without information that is only missing for now
// (the module's file is being read by a frame this call interrupted): then it is not kept.
Decision compute(uint64_t ret, bool* keep) {
    SlowPathGuard slow;  // the module's file is read: no cancellation acted on in a clock call
    Decision d{};
    d.ret = ret;
    *keep = true;
    CodeSite site;
    if (ret < 4096 || !code_site_at(ret - 1, &site)) return d;
    if (python::in_cpython(ret - 1)) {
        d.wrapper = kPythonSite;
        return d;
    }
    *keep = name_from_file(ret - 1, &site);  // hidden wrappers: uv__hrtime, os::javaTimeNanos
    if (site.symbol == nullptr) return d;
    char name[format::kWrapperNameMax];
    if (!qualified_name(site.symbol, name, sizeof name) || !is_clock_wrapper(name)) return d;
    unwind::FrameRule rule;
    // Not steppable: counted at the site.
    if (!unwind::frame_rule_at(site.eh_frame_hdr, ret - 1, &rule) || rule.signal_frame || !rule.fp_known ||
        !rule.ra_known || rule.outermost)
        return d;
    d.wrapper = 1;
    d.from_fp = rule.cfa_from_fp;
    d.cfa_off = rule.cfa_offset;
    d.fp_saved_at = rule.fp_saved_at;
    return d;
}

// The decision for `ret`, from the table or made now (and kept). Never waits: an entry another
// thread (or an interrupted frame of this one) is writing is decided again, locally.
Decision* decide(uint64_t ret, Decision* local) {
    uint32_t i = slot_of(ret);
    for (unsigned probe = 0; probe < kProbes; ++probe, i = (i + 1) & (kDecisions - 1)) {
        Decision& e = g_decisions[i];
        uint64_t seen = __atomic_load_n(&e.ret, __ATOMIC_ACQUIRE);
        if (seen == 0) {
            if (__atomic_compare_exchange_n(&e.ret, &seen, ret, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                bool keep = true;
                const Decision d = compute(ret, &keep);
                if (!keep) {
                    // Given back: the next call decides again (another thread that saw the entry
                    // meanwhile found it not ready and decided for itself).
                    __atomic_store_n(&e.ret, uint64_t(0), __ATOMIC_RELEASE);
                    *local = d;
                    return local;
                }
                e.wrapper = d.wrapper;
                e.from_fp = d.from_fp;
                e.cfa_off = d.cfa_off;
                e.fp_saved_at = d.fp_saved_at;
                __atomic_store_n(&e.state, kReady, __ATOMIC_RELEASE);
                return &e;
            }
        }
        if (seen == ret) {
            if (__atomic_load_n(&e.state, __ATOMIC_ACQUIRE) == kReady) return &e;
            break;
        }
    }
    bool keep = true;
    *local = compute(ret, &keep);  // table full, or being written
    return local;
}

// Registers wrapper site `ret` in the segment's table; returns its via (0: no room).
unsigned register_site(uint64_t ret, uint32_t depth) {
    Segment* seg = __atomic_load_n(&g_segment, __ATOMIC_ACQUIRE);
    if (seg == nullptr || seg->wrapper_sites == nullptr) return 0;
    const uint32_t index = __atomic_fetch_add(&g_sites_claimed, 1u, __ATOMIC_RELAXED);
    if (index >= seg->wrapper_site_capacity || index >= format::kWrapperSiteCapacity) return 0;
    if (!reserve_entry(seg, &seg->wrapper_sites_reserved, seg->wrapper_sites, index, sizeof(format::WrapperSiteEntry),
                       seg->wrapper_site_capacity))
        return 0;  // the recording cannot grow: counted at the call site itself, like a full table
    format::WrapperSiteEntry& w = seg->wrapper_sites[index];
    SlowPathGuard slow;  // the site's name may be read from its file
    __atomic_store_n(&w.state, uint32_t(format::kWrapperSiteWriting), __ATOMIC_RELAXED);
    w.address = ret;
    w.depth = depth;
    CodeSite site;
    if (code_site_at(ret - 1, &site)) {
        name_from_file(ret - 1, &site);
        if (site.symbol != nullptr && !qualified_name(site.symbol, w.name, sizeof w.name))
            TextBuffer(w.name, sizeof w.name).add(site.symbol);  // cut to fit
    }
    __atomic_store_n(&w.state, uint32_t(format::kWrapperSiteReady), __ATOMIC_RELEASE);
    return index + 1;
}

}  // namespace

bool is_wrapper_site(uintptr_t ret) {
    Decision local;
    return decide(ret, &local)->wrapper != 0;
}

uintptr_t step_out(uintptr_t ret, CallFrame frame, uintptr_t stack_end, unsigned* via, bool* python) {
    Decision first_local, local;
    Decision* const first = decide(ret, &first_local);
    Decision* d = first;
    *via = 0;
    *python = first->wrapper == kPythonSite;
    if (!d->wrapper) return ret;
    uintptr_t cfa = frame.cfa, fp = frame.fp;
    uintptr_t outer = 0;
    uint32_t depth = *python ? 1 : 0;
    for (; !*python && depth < 8 && d->wrapper == 1; ++depth) {
        const uintptr_t next = (d->from_fp ? fp : cfa) + uintptr_t(int64_t(d->cfa_off));
        // Frames lie above one another on the thread's stack: anything else is a wrong rule.
        if (next <= cfa || next > stack_end || next - cfa > (uintptr_t(1) << 20)) {
            outer = 0;
            break;
        }
        if (d->fp_saved_at != unwind::kFpNotSaved) {
            const uintptr_t at = next + uintptr_t(int64_t(d->fp_saved_at));
            if (at < cfa || at + 8 > stack_end) {
                outer = 0;
                break;
            }
            fp = *reinterpret_cast<const uintptr_t*>(at);
        }
        outer = *reinterpret_cast<const uintptr_t*>(next - 8);  // x86_64: the return address below the CFA
        cfa = next;
        d = decide(outer, &local);
    }
    if (d->wrapper == 1) outer = 0;  // deeper than any wrapper chain known: not trusted
    unsigned v = __atomic_load_n(&first->via, __ATOMIC_ACQUIRE);
    if (v == 0 && first != &first_local) {
        // One registration per site: the thread that sets `via` first wins; a loser's entry stays
        // unused (the reader ignores entries no count refers to).
        // Before the via is set: a child forked from now on clears the table's vias.
        __atomic_store_n(&g_any_via, 1u, __ATOMIC_RELEASE);
        const unsigned mine = register_site(ret, depth);
        uint16_t expected = 0;
        if (mine != 0 && __atomic_compare_exchange_n(&first->via, &expected, uint16_t(mine), false, __ATOMIC_ACQ_REL,
                                                     __ATOMIC_ACQUIRE))
            v = mine;
        else
            v = expected;
    }
    *via = v;
    return outer;
}

void bind_segment(Segment* seg) {
    __atomic_store_n(&g_sites_claimed, 0u, __ATOMIC_RELAXED);
    __atomic_store_n(&g_segment, seg, __ATOMIC_RELEASE);
    python::bind_segment(seg);
}

void forget_sites_after_fork() {
    python::forget_after_fork();
    // Only the forking thread runs in the child: plain stores are enough. Only when a site was
    // registered in a segment: the table is 96 KiB, and reading it cost every forked child 24 page
    // faults and a scan (a shell's children: bash decides about its own call sites, which are no
    // wrappers, and forks for every command).
    if (__atomic_load_n(&g_any_via, __ATOMIC_RELAXED) != 0)
        for (Decision& d : g_decisions)
            if (d.via != 0) d.via = 0;
    g_any_via = 0;
    g_sites_claimed = 0;
    g_segment = nullptr;
}

void forget_decisions_in(uintptr_t start, uintptr_t end) {
    // A tombstone (bit 63: never a user-space return address) neither matches a lookup nor frees
    // the entry, so probe chains through it stay whole; the next library at these addresses is
    // decided afresh.
    for (Decision& d : g_decisions) {
        const uint64_t ret = __atomic_load_n(&d.ret, __ATOMIC_ACQUIRE);
        if (ret != 0 && !(ret >> 63) && ret - 1 >= start && ret - 1 < end)
            __atomic_store_n(&d.ret, ret | (uint64_t(1) << 63), __ATOMIC_RELEASE);
    }
    forget_file_symbols_in(start, end);  // and the hidden wrappers read from its file
}

void load_user_wrappers() { is_clock_wrapper(""); }

}  // namespace vdsotrace::tracer::wrappers

#include "tools/vdso_doctor/vdso_needs.h"

#include <sys/time.h>
#include <time.h>

#include <algorithm>

#include <fmt/format.h>

#include "tracer/format/segment_format.h"
#include "tracer/common/vdso_image.h"

namespace vdsotrace::doctor {

namespace {

namespace f = vdsotrace::format;

// Where the measured calls write their results: static, so no stack of ours is involved.
timespec g_ts;
timeval g_tv;
unsigned g_cpu, g_node;

const char* symbol_of(int fn) {
    const vdso::ArchNames& n = vdso::arch_names();
    switch (fn) {
        case f::kClockGettime: return n.clock_gettime;
        case f::kGettimeofday: return n.gettimeofday;
        case f::kTime: return n.time;
        case f::kGetcpu: return n.getcpu;
        case f::kClockGetres: return n.clock_getres;
    }
    return nullptr;
}

}  // namespace

std::vector<FunctionNeed> vdso_needs(const VdsoInfo& info, bool measure) {
    std::vector<FunctionNeed> out;
    const Mapping* map = info.vdso();
    vdso::Image live;
    const bool have_live = measure && vdso::parse_live(&live) == vdso::ParseError::kNone;
    for (int fn = 0; fn < f::kFunctionCount; ++fn) {
        const char* sym = symbol_of(fn);
        if (sym == nullptr) continue;
        const VdsoSymbol* s = nullptr;
        for (const VdsoSymbol& v : info.symbols)
            if (v.name == sym && v.function) s = &v;
        if (s == nullptr) continue;
        FunctionNeed need;
        need.function = f::kFunctionNames[fn];
        need.symbol = sym;
        need.address = s->address;
        need.size = s->size;
        if (map && s->address >= map->start && s->address - map->start < info.image.size()) {
            const uint64_t off = s->address - map->start;
            need.scan = scan_code(info.image.data() + off, std::min<uint64_t>(s->size, info.image.size() - off),
                                  s->address);
        }
        const void* entry = have_live ? vdso::lookup(live, sym, vdso::arch_names().version) : nullptr;
        if (!measure) {
            need.need.problem = "not measured: the image is not this process's vDSO";
        } else if (entry == nullptr) {
            need.need.problem = "not measured: this process's vDSO lacks it";
        } else if (f::function_takes_clock(fn)) {
            // Clocks take different paths (hres, coarse, syscall fallback): keep the deepest.
            for (int clock = 0; clock <= 11; ++clock) {
                StackNeed n = measure_stack_need(entry, {clock, long(&g_ts), 0});
                if (n.measured) need.by_clock[clock] = n.bytes;
                if (!need.need.measured || (n.measured && n.bytes > need.need.bytes)) {
                    auto faults = std::move(need.need.faults);
                    need.need = std::move(n);
                    for (const FaultPoint& p : faults) need.need.faults.push_back(p);
                } else {
                    need.need.repeatable &= n.repeatable;
                    for (const FaultPoint& p : n.faults) need.need.faults.push_back(p);
                }
            }
        } else if (fn == f::kGettimeofday) {
            need.need = measure_stack_need(entry, {long(&g_tv), 0, 0});
        } else if (fn == f::kTime) {
            need.need = measure_stack_need(entry, {0, 0, 0});
        } else {
            need.need = measure_stack_need(entry, {long(&g_cpu), long(&g_node), 0});
        }
        out.push_back(std::move(need));
    }
    return out;
}

std::string describe_need(const FunctionNeed& f) {
    std::string s;
    if (f.need.measured)
        s = fmt::format("needs {} bytes of stack below the caller's stack pointer (measured{})", f.need.bytes,
                        f.need.repeatable ? ", the same in every run" : "; runs disagreed, largest shown");
    else if (f.scan.scanned)
        s = fmt::format("needs about {} bytes of stack (estimated from its code; {})", f.scan.estimate(),
                        f.need.problem);
    else
        s = f.need.problem;
    if (!f.scan.probes.empty()) {
        const StackProbe& p = f.scan.probes.front();
        s += fmt::format(". WARNING: it probes the stack ({} at +{:#x} after reserving {} bytes): it touches memory "
                         "far below the stack pointer and crashes callers on small stacks (like Go before 1.9, "
                         "golang/go#20427)",
                         p.instruction, p.offset, p.frame_before);
    } else if (f.scan.large_frame()) {
        s += fmt::format(". WARNING: it reserves a large frame ({} bytes)", f.scan.max_frame);
    }
    return s;
}

}  // namespace vdsotrace::doctor

#include "tools/report/report_crash.h"

#include <elf.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "tools/vdso_doctor/vdso_inspect.h"
#include "tools/vdso_doctor/vdso_needs.h"
#include "tracer/common/vdso_image.h"
#include "tools/report/address_namer.h"
#include "tools/report/machine_facts.h"

namespace vdsotrace::tools {

namespace {

std::string signal_name(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

std::string plain_name(const std::string& symbol) {
    for (const char* prefix : {"__vdso_", "__kernel_"})
        if (symbol.rfind(prefix, 0) == 0) return symbol.substr(strlen(prefix));
    return symbol;
}

// The vDSO function containing `offset` (from the image's first byte), from the recorded copy.
bool vdso_function_at(const std::vector<unsigned char>& image, uint64_t offset, std::string* symbol,
                      uint64_t* start) {
    vdso::Image img;
    if (vdso::parse(image.data(), image.size(), &img) != vdso::ParseError::kNone) return false;
    struct Ctx {
        uint64_t target;
        std::string* symbol;
        uint64_t* start;
        bool found;
    } ctx{uint64_t(reinterpret_cast<uintptr_t>(image.data())) + offset, symbol, start, false};
    vdso::for_each_symbol(
        img,
        [](const vdso::Symbol& s, void* p) {
            auto* c = static_cast<Ctx*>(p);
            if (s.type != STT_FUNC || c->target < s.address || c->target >= s.address + s.size) return;
            // Prefer the prefixed name (__vdso_clock_gettime) over its plain alias.
            const std::string name = s.name;
            if (!c->found || name.rfind("__", 0) == 0) {
                *c->symbol = name;
                *c->start = s.address;  // in the copy
                c->found = true;
            }
        },
        &ctx);
    if (ctx.found) *start -= uint64_t(reinterpret_cast<uintptr_t>(image.data()));
    return ctx.found;
}

// This machine's measurement of `function`, when the recorded vDSO is the one running here.
const doctor::FunctionNeed* live_need(const Recording& r, const std::string& function, const MachineFacts& machine) {
    return machine.same_vdso(r) ? machine.need_of(function) : nullptr;
}

}  // namespace

uint64_t vdso_stack_need(const Recording& r, const std::string& function, const MachineFacts& machine) {
    uint64_t need = 0;
    if (const doctor::FunctionNeed* live = live_need(r, function, machine)) {
        need = live->need.measured ? live->need.bytes : live->scan.scanned ? live->scan.estimate() : 0;
    } else if (!r.vdso_image.empty()) {
        doctor::VdsoInfo info;
        std::string error;
        info.mappings.push_back({"[vdso]", 0, r.vdso_image.size(), "", {}});
        info.image = r.vdso_image;
        if (doctor::describe_image(info.image, 0, &info, &error))
            for (doctor::FunctionNeed& f : doctor::vdso_needs(info, false))
                if (f.function == function && f.scan.scanned) need = f.scan.estimate();
    }
    return need;
}

CrashReport explain_crash(const Recording& r, const CrashInfo& c, Symbolizer& symbolizer, const MachineFacts& machine) {
    CrashReport out;
    out.signal = signal_name(c.signal);
    out.in_vdso = c.in_vdso;
    out.fault_address = c.fault_address;
    out.pc = c.pc;
    out.sp = c.sp;
    out.tid = c.tid;
    out.below_sp = int64_t(c.sp - c.fault_address);
    if (c.stack_known) out.stack_left = int64_t(c.sp - c.stack_start);

    const doctor::FunctionNeed* need = nullptr;
    if (c.in_vdso) {
        uint64_t start = 0;
        if (vdso_function_at(r.vdso_image, c.pc - c.vdso_base, &out.symbol, &start)) {
            out.function = plain_name(out.symbol);
            out.offset = c.pc - c.vdso_base - start;
            need = live_need(r, out.function, machine);
            if (need && need->need.measured) {
                out.need = need->need.bytes;
                out.need_measured = true;
            } else if (need && need->scan.scanned) {
                out.need = need->scan.estimate();
            }
            if (need) out.probes = !need->scan.probes.empty();
            if (!need && !r.vdso_image.empty()) {
                // Another machine's vDSO: read its code instead of running it.
                doctor::VdsoInfo info;
                std::string error;
                info.mappings.push_back({"[vdso]", c.vdso_base, c.vdso_base + r.vdso_image.size(), "", {}});
                info.image = r.vdso_image;
                if (doctor::describe_image(info.image, c.vdso_base, &info, &error))
                    for (doctor::FunctionNeed& f : doctor::vdso_needs(info, false))
                        if (f.function == out.function && f.scan.scanned) {
                            out.need = f.scan.estimate();
                            out.probes = !f.scan.probes.empty();
                        }
            }
            // The caller's stack pointer: from where this PC faults in our own runs of the same
            // code (exact), else from the return address found on the stack.
            if (need)
                for (const doctor::FaultPoint& p : need->need.faults)
                    if (p.pc - machine.vdso_base == c.pc - c.vdso_base) {
                        out.caller_sp = c.sp + p.depth;
                        break;
                    }
        }
    } else {
        out.function = "vdsotrace's shim";
    }
    if (!out.caller_sp && !c.return_slots.empty()) out.caller_sp = c.return_slots[0] + 8;
    if (out.caller_sp && c.stack_known) out.caller_room = int64_t(*out.caller_sp - c.stack_start);
    // The program's call site. When the caller's stack pointer is known, its return address is the
    // word just below it; otherwise the first code address found on the stack outside the shim.
    std::vector<uint64_t> candidates;
    if (out.caller_sp && *out.caller_sp >= c.sp + 8 && (*out.caller_sp - 8 - c.sp) % 8 == 0) {
        const uint64_t index = (*out.caller_sp - 8 - c.sp) / 8;
        if (index < c.stack_words.size()) candidates.push_back(c.stack_words[index]);
    }
    for (uint64_t a : c.returns) candidates.push_back(a);
    for (uint64_t a : candidates) {
        if (!module_of(r, a)) continue;
        if (module_path(r, *module_of(r, a)).find("libvdsotrace") != std::string::npos) continue;
        out.caller = describe_call_site(r, a, symbolizer);
        out.caller_address = a;
        break;
    }

    out.fault_in_guard = c.fault_in_guard;
    return out;
}

}  // namespace vdsotrace::tools

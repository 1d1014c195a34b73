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

const ModuleInfo* module_of(const Recording& r, uint64_t address) {
    for (const ModuleInfo& m : r.modules)
        if (address >= m.start && address < m.end) return &m;
    return nullptr;
}

std::string name_address(const Recording& r, uint64_t address, Symbolizer& symbolizer, bool* in_shim) {
    const ModuleInfo* m = module_of(r, address);
    if (!m) return fmt::format("{:#x}", address);
    const std::string path = m->main_program ? r.exe : m->path;
    if (in_shim) *in_shim = path.find("libvdsotrace") != std::string::npos;
    const uint64_t offset = address - m->load_bias;
    SymbolInfo s = symbolizer.lookup({path, m->build_id}, offset - 1);
    const size_t slash = path.rfind('/');
    std::string out = fmt::format("{}+{:#x}", slash == std::string::npos ? path : path.substr(slash + 1), offset);
    if (!s.symbol.empty()) out = fmt::format("{} ({})", s.symbol, out);
    if (!s.file.empty()) {
        const size_t fs = s.file.rfind('/');
        out += fmt::format(" {}:{}", fs == std::string::npos ? s.file : s.file.substr(fs + 1), s.line);
    }
    return out;
}

// This machine's measurement of `function`, when the recorded vDSO is the one running here.
std::optional<doctor::FunctionNeed> live_need(const Recording& r, const std::string& function) {
    std::string error;
    auto self = doctor::inspect_vdso(0, &error);
    if (!self || r.vdso_image.empty() || r.vdso_image.size() > self->image.size() ||
        memcmp(r.vdso_image.data(), self->image.data(), r.vdso_image.size()) != 0)
        return std::nullopt;
    for (doctor::FunctionNeed& f : doctor::vdso_needs(*self, true))
        if (f.function == function) return f;
    return std::nullopt;
}

}  // namespace

uint64_t vdso_stack_need(const Recording& r, const std::string& function) {
    static std::map<std::pair<std::vector<unsigned char>, std::string>, uint64_t> cache;
    const auto key = std::make_pair(r.vdso_image, function);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    uint64_t need = 0;
    if (auto live = live_need(r, function)) {
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
    cache[key] = need;
    return need;
}

CrashReport explain_crash(const Recording& r, const CrashInfo& c, Symbolizer& symbolizer) {
    CrashReport out;
    out.signal = signal_name(c.signal);
    out.in_vdso = c.in_vdso;
    out.fault_address = c.fault_address;
    out.pc = c.pc;
    out.sp = c.sp;
    out.tid = c.tid;
    out.below_sp = int64_t(c.sp - c.fault_address);
    if (c.stack_known) out.stack_left = int64_t(c.sp - c.stack_start);

    std::optional<doctor::FunctionNeed> need;
    if (c.in_vdso) {
        uint64_t start = 0;
        if (vdso_function_at(r.vdso_image, c.pc - c.vdso_base, &out.symbol, &start)) {
            out.function = plain_name(out.symbol);
            out.offset = c.pc - c.vdso_base - start;
            need = live_need(r, out.function);
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
            if (need) {
                vdso::Image live;
                if (vdso::parse_live(&live) == vdso::ParseError::kNone)
                    for (const doctor::FaultPoint& p : need->need.faults)
                        if (p.pc - uint64_t(reinterpret_cast<uintptr_t>(live.base)) == c.pc - c.vdso_base) {
                            out.caller_sp = c.sp + p.depth;
                            break;
                        }
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
        bool in_shim = false;
        std::string name = name_address(r, a, symbolizer, &in_shim);
        if (in_shim) continue;
        out.caller = name;
        out.caller_address = a;
        break;
    }

    // Plain words.
    std::string t;
    if (c.in_vdso)
        t = fmt::format("{} inside the vDSO's {} (+{:#x})", out.signal, out.function.empty() ? "code" : out.function,
                        out.offset);
    else
        t = fmt::format("{} inside vdsotrace's shim (pc {:#x})", out.signal, c.pc);
    t += fmt::format(" in thread {}, at address {:#x}", c.tid, c.fault_address);
    // A fault far from the stack pointer (address 8, a heap or code address) is a bad pointer
    // handed to the function, not a stack overflow: saying "140729884420088 bytes below the stack
    // pointer" would send the reader looking for a stack problem (issue 12).
    const bool near_sp = out.below_sp >= -int64_t(64 * 1024) && out.below_sp <= int64_t(1024 * 1024);
    // (The shim flags any fault outside an accessible mapping as "in a guard": address 8 too.)
    const bool bad_pointer = !near_sp;
    const bool fault_in_guard = c.fault_in_guard && !bad_pointer;
    if (bad_pointer)
        t += fmt::format(": a bad pointer passed to {} (the address is nowhere near the stack)",
                         out.function.empty() || !c.in_vdso ? "the clock function" : out.function);
    else if (out.below_sp >= 0)
        t += fmt::format(", {} bytes below the stack pointer", out.below_sp);
    if (out.stack_left && !bad_pointer) {
        if (*out.stack_left >= 0)
            t += fmt::format(", with {} bytes of stack left", *out.stack_left);
        else
            t += fmt::format(", with the stack pointer already {} bytes past the end of the stack", -*out.stack_left);
    }
    if (!out.caller.empty()) t += fmt::format(".\nCalled from {}", out.caller);
    if (out.caller_room) t += fmt::format(", which had {} bytes of stack below its stack pointer", *out.caller_room);
    t += ".";
    if (out.need) {
        const std::string how = out.need_measured ? "measured on this machine" : "estimated from its code";
        if (out.caller_room && *out.caller_room < int64_t(*out.need) && fault_in_guard)
            t += fmt::format("\nThe caller's stack is too small for this vDSO, whose {} needs {} bytes ({}): {} "
                             "bytes short. Give that code a larger stack, or switch to a larger one before calling "
                             "the vDSO (as Go does since 1.9).",
                             out.function, *out.need, how, int64_t(*out.need) - *out.caller_room);
        else if (fault_in_guard)
            t += fmt::format("\nThe fault hit the end of the stack; this vDSO's {} needs {} bytes below the caller's "
                             "stack pointer ({}).",
                             out.function, *out.need, how);
        else if (!bad_pointer)
            t += fmt::format("\nThe fault address is not at the end of a stack: a bad pointer passed to {} rather "
                             "than a stack too small (it needs {} bytes of stack, {}).",
                             out.function, *out.need, how);
    }
    if (!c.in_vdso && fault_in_guard)
        t += "\nThe fault hit the end of the stack inside vdsotrace's own clock function, which needs stack of its "
             "own on top of the vDSO's: this stack is too small for either (`vdsotrace vdso` shows what the vDSO "
             "alone needs).";
    if (out.probes)
        t += " Its code probes the stack far below the stack pointer (a kernel built with stack probes, as in "
             "golang/go#20427).";
    out.text = t;
    return out;
}

}  // namespace vdsotrace::tools

#include "tools/report/stack_model.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>

#include "tools/recordings/jit_symbols.h"
#include "tools/report/report_model.h"
#include "tools/report/address_namer.h"

namespace vdsotrace::tools {

namespace f = vdsotrace::format;

std::string StackFrame::name() const {
    if (!symbol.empty()) return symbol;
    if (!module.empty()) return module_offset_text(module, offset);
    return fmt::format("{:#x}", address);
}

std::string leaf_name(const StackRow& row) { return row.function; }

namespace {

// Names return addresses, each (module, offset) once: a million samples of a few thousand
// distinct stacks symbolize a few thousand addresses.
class FrameNamer {
public:
    explicit FrameNamer(Symbolizer& s) : symbolizer_(s) {}

    // Appends the frames of one return address, outermost first.
    void append(const Recording& r, uint64_t address, std::vector<StackFrame>* out) {
        if (is_python_site(address)) {
            append_python(r, address, out);
            return;
        }
        const ModuleInfo* m = module_of(r, address);
        if (m == nullptr) {
            // Code in no module: JIT-compiled, named by the process's perf map when it has one.
            // Not cached: the same address means different code in another process.
            StackFrame fr;
            fr.address = address;
            fr.offset = address;
            uint64_t in_function = 0;
            if (const std::string* name = jit_symbol(r, address - 1, &in_function)) {
                fr.symbol = *name;
                fr.module = kJitModule;
                fr.offset = in_function + 1;
            } else {
                fr.unnamed_because = kNotMapped;
            }
            out->push_back(std::move(fr));
            return;
        }
        const std::string path = module_path(r, *m);
        const uint64_t offset = m ? address - m->load_bias : address;
        auto key = std::make_pair(path, offset);
        auto it = cache_.find(key);
        if (it == cache_.end()) {
            std::vector<StackFrame> frames;
            StackFrame base;
            base.module = path;
            base.offset = offset;
            base.address = address;
            if (m) {
                // A return address follows its call: name the call instruction.
                const CallSite site = locate_call_site(r, *m, address, symbolizer_);
                const SymbolInfo& s = site.symbol;
                // ELF symbol-table names carry their version ("__libc_start_main@@GLIBC_2.34").
                base.symbol = s.symbol.substr(0, s.symbol.find('@'));
                base.file = s.file;
                base.line = s.line;
                base.unnamed_because = site.unnamed_because;
                if (!s.inlined.empty()) {
                    // s.inlined is innermost first; s.file:line is the innermost's location, and
                    // each inlined frame's file:line is where it was called from its parent.
                    base.file = s.inlined.back().file;
                    base.line = s.inlined.back().line;
                    frames.push_back(base);
                    for (size_t i = s.inlined.size(); i-- > 0;) {
                        StackFrame in = base;
                        in.symbol = s.inlined[i].function;
                        in.inlined = true;
                        in.file = i > 0 ? s.inlined[i - 1].file : s.file;
                        in.line = i > 0 ? s.inlined[i - 1].line : s.line;
                        frames.push_back(in);
                    }
                } else {
                    frames.push_back(base);
                }
            } else {
                frames.push_back(base);
            }
            it = cache_.emplace(key, std::move(frames)).first;
        }
        for (const StackFrame& fr : it->second) {
            out->push_back(fr);
            out->back().address = address;
        }
    }

private:
    // A Python function's frame: its code object's name, the file and line it was at.
    static void append_python(const Recording& r, uint64_t address, std::vector<StackFrame>* out) {
        StackFrame fr;
        fr.address = address;
        fr.module = kPythonModule;
        if (const PythonSiteInfo* ps = python_site(r, address)) {
            fr.symbol = ps->function;
            fr.file = ps->file;
            fr.line = ps->line;
        } else {
            fr.symbol = "[python frame]";
        }
        out->push_back(std::move(fr));
    }

    struct KeyHash {
        size_t operator()(const std::pair<std::string, uint64_t>& k) const {
            return std::hash<std::string>()(k.first) ^ (k.second * 0x9e3779b97f4a7c15ull);
        }
    };
    Symbolizer& symbolizer_;
    // Hashed: a million samples' frames look up here (an ordered map compared paths char by char).
    std::unordered_map<std::pair<std::string, uint64_t>, std::vector<StackFrame>, KeyHash> cache_;
};

bool is_python(const StackFrame& fr) { return fr.module == kPythonModule; }

// Python frames in place of the interpreter's: each _PyEval_EvalFrameDefault frame (and the
// frames inlined into it at that address) that follows the Python frames it ran goes. A stack
// whose Python functions the runtime's perf trampolines name already (CPython 3.12+ `-X perf`,
// "py::FUNCTION:FILE" frames from its perf map) keeps its frames as they were, without the read
// ones, which would name each function twice.
void python_in_place_of_interpreter(std::vector<StackFrame>* frames) {
    std::vector<StackFrame>& v = *frames;
    if (std::none_of(v.begin(), v.end(), is_python)) return;
    const bool trampolines = std::any_of(v.begin(), v.end(), [](const StackFrame& fr) {
        return fr.module == kJitModule && fr.symbol.rfind("py::", 0) == 0;
    });
    std::vector<StackFrame> out;
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        if (is_python(v[i])) {
            if (!trampolines) out.push_back(std::move(v[i]));
            continue;
        }
        if (!trampolines && !v[i].inlined && v[i].symbol == "_PyEval_EvalFrameDefault" && !out.empty() &&
            is_python(out.back())) {
            while (i + 1 < v.size() && v[i + 1].inlined) ++i;
            continue;
        }
        out.push_back(std::move(v[i]));
    }
    v = std::move(out);
}

bool matches(const StackRow& row, const std::string& function) {
    if (function.empty() || row.function == function) return true;
    for (const StackFrame& fr : row.frames)
        if (fr.name().find(function) != std::string::npos) return true;
    return false;
}

}  // namespace

StackReport build_stack_report(const std::vector<Recording>& recordings, const StackFilter& filter,
                               Symbolizer& symbolizer) {
    StackReport rep;
    FrameNamer namer(symbolizer);
    // Stacks merge across threads and processes by (counter, module+offset of every frame), the
    // module (or a JIT or Python frame's name) as a number: a key is built for every stack.
    using Key = std::pair<unsigned, std::vector<std::pair<uint32_t, uint64_t>>>;
    std::map<Key, StackRow> merged;
    std::unordered_map<std::string, uint32_t> interned;
    auto id = [&interned](const std::string& name) {
        auto it = interned.find(name);
        return it != interned.end() ? it->second : interned.emplace(name, uint32_t(interned.size())).first->second;
    };
    for (const Recording& r : recordings) {
        const SamplingInfo& s = r.sampling;
        if (!s.enabled) continue;
        rep.enabled = true;
        rep.period = s.period;
        rep.max_depth = s.max_depth;
        rep.unwinder = s.unwinder == f::kUnwinderFramePointer ? "frame pointers"
                       : s.unwinder == f::kUnwinderCfi        ? "unwind tables"
                                                              : "libunwind";
        rep.stacks_full |= (s.flags & f::kSamplingStacksFull) != 0;
        rep.unwinder_missing |= (s.flags & f::kSamplingUnwinderMissing) != 0;
        rep.distinct_stacks += s.stacks_claimed;
        // Stack id -> frames, root first, moved into the first row that shows them (copied from it
        // for another counter's row).
        struct Named {
            std::vector<StackFrame> frames;
            const StackRow* owner = nullptr;
        };
        std::unordered_map<uint32_t, Named> named;
        // (counter, stack id) -> its merged row: threads share stacks, and the merge key (every
        // frame's module and offset) is built once per stack of this recording, not per thread.
        std::map<std::pair<unsigned, uint32_t>, StackRow*> rows;
        for (const ThreadInfo& t : r.threads) {
            if (filter.tid != 0 && t.tid != filter.tid) continue;
            rep.totals.add(t.samples);
            rep.ring_samples += t.ring.size();
            rep.ring_missed += t.ring_missed;
            for (const StackCountInfo& sc : t.stack_counts) {
                if (auto known = rows.find({sc.counter, sc.stack}); known != rows.end()) {
                    known->second->calls += sc.calls;
                    continue;
                }
                auto it = named.find(sc.stack);
                if (it == named.end()) {
                    std::vector<StackFrame> frames;
                    const std::vector<uint64_t>& raw = s.stacks[sc.stack];
                    for (size_t i = raw.size(); i-- > 0;) namer.append(r, raw[i], &frames);
                    python_in_place_of_interpreter(&frames);
                    it = named.emplace(sc.stack, Named{std::move(frames), nullptr}).first;
                }
                Named& stack = it->second;
                const std::vector<StackFrame>& frames = stack.owner ? stack.owner->frames : stack.frames;
                Key key{sc.counter, {}};
                key.second.reserve(frames.size());
                // JIT and Python frames by name: their addresses differ from process to process.
                for (const StackFrame& fr : frames)
                    if (is_python(fr))
                        key.second.emplace_back(id(fmt::format("{}{}:{}:{}", fr.module, fr.symbol, fr.file, fr.line)), 0);
                    else if (!fr.inlined)
                        key.second.emplace_back(fr.module == kJitModule ? id(fr.module + fr.symbol) : id(fr.module),
                                                fr.offset);
                StackRow& row = merged[std::move(key)];
                if (row.calls == 0) {
                    const int fn = f::counter_function(sc.counter);
                    row.function = f::kFunctionNames[fn];
                    if (f::function_takes_clock(fn)) row.clock = clock_name(f::counter_bucket(sc.counter));
                    if (stack.owner) {
                        row.frames = stack.owner->frames;
                    } else {
                        row.frames = std::move(stack.frames);
                        stack.owner = &row;
                    }
                }
                row.calls += sc.calls;
                rows.emplace(std::make_pair(sc.counter, sc.stack), &row);
            }
        }
    }
    for (auto& [key, row] : merged) {
        if (!matches(row, filter.function)) continue;
        rep.stack_calls += row.calls;
        rep.stacks.push_back(std::move(row));
    }
    std::stable_sort(rep.stacks.begin(), rep.stacks.end(), [](auto& a, auto& b) { return a.calls > b.calls; });
    return rep;
}

}  // namespace vdsotrace::tools

#include "stack_export.h"

#include <fstream>

#include <spdlog/spdlog.h>

#include "call_tree.h"

namespace vdsotrace::tools {

bool write_stack_files(const StackReport& stacks, const StackOutputs& o) {
    if (o.folded.empty() && o.flamegraph.empty() && o.pprof.empty()) return true;
    if (!stacks.enabled)
        spdlog::warn("the recording has no sampled stacks (run with --sample N, or set VDSOTRACE_SAMPLE=N): "
                     "the stack files are empty");
    auto open = [](const std::string& path, std::ios::openmode mode, std::ofstream* f) {
        f->open(path, mode);
        if (!*f) spdlog::error("cannot write {}", path);
        return bool(*f);
    };
    bool ok = true;
    if (!o.folded.empty()) {
        std::ofstream f;
        if ((ok = open(o.folded, std::ios::out | std::ios::trunc, &f))) write_folded(stacks.stacks, f);
        ok = ok && f.good();
    }
    if (ok && !o.flamegraph.empty()) {
        std::ofstream f;
        if ((ok = open(o.flamegraph, std::ios::out | std::ios::trunc, &f))) write_flamegraph(stacks, "vdsotrace", f);
        ok = ok && f.good();
    }
    if (ok && !o.pprof.empty()) {
        std::ofstream f;
        std::string error;
        if ((ok = open(o.pprof, std::ios::out | std::ios::trunc | std::ios::binary, &f)) && !write_pprof(stacks, f, &error)) {
            spdlog::error("cannot write {}: {}", o.pprof, error);
            ok = false;
        }
        ok = ok && f.good();
    }
    return ok;
}

}  // namespace vdsotrace::tools

#include "tools/render/stack_export.h"

#include <fstream>
#include <iostream>

#include <spdlog/spdlog.h>

#include "tools/render/call_tree_text.h"

namespace vdsotrace::tools {

bool write_stack_files(const StackReport& stacks, const StackOutputs& o) {
    if (o.folded.empty() && o.flamegraph.empty() && o.pprof.empty()) return true;
    // Empty stack files written without a word looked like a broken tool: say why, write none. The
    // report itself still follows (a run's report must never be lost to a stack option).
    if (!stacks.enabled) {
        spdlog::warn("no stack files written: the recording has no sampled stacks (`vdsotrace run --sample N`, "
                      "or VDSOTRACE_SAMPLE=N, takes them)");
        return true;
    }
    if (stacks.stacks.empty()) {
        spdlog::warn("no stack files written: sampling was on, but no stack was sampled{}",
                     stacks.totals.sampled == 0 ? "" : " that passes --thread/--function");
        return true;
    }
    auto open = [](const std::string& path, std::ios::openmode mode, std::ofstream* f) {
        // "-" is standard output: the file's buffer is swapped for std::cout's.
        if (path == "-") {
            f->basic_ios<char>::rdbuf(std::cout.rdbuf());
            return true;
        }
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

#include "tools/run/shim_locator.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

#include "tools/config.h"

namespace vdsotrace::tools {

namespace fs = std::filesystem;

std::string locate_shim(const std::string& option, std::string* error) {
    std::vector<std::string> tried;
    auto usable = [&](const std::string& p) {
        tried.push_back(p);
        std::error_code ec;
        return fs::is_regular_file(p, ec);
    };
    if (!option.empty()) {
        if (usable(option)) return fs::absolute(option).string();
        *error = fmt::format("--shim {}: no such file", option);
        return "";
    }
    if (const char* env = getenv("VDSOTRACE_SHIM"); env && *env) {
        if (usable(env)) return fs::absolute(env).string();
        *error = fmt::format("VDSOTRACE_SHIM={}: no such file", env);
        return "";
    }
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path dir = exe.parent_path();
        for (const fs::path& candidate : {dir / ".." / "shim" / "libvdsotrace.so",
                                          dir / VDSOTRACE_SHIM_REL_FROM_BINDIR / "libvdsotrace.so"}) {
            if (usable(candidate.string())) return fs::weakly_canonical(candidate).string();
        }
    }
    std::string list;
    for (const std::string& t : tried) list += "\n  " + t;
    *error = "cannot find libvdsotrace.so; tried:" + list + "\nname it with --shim PATH or VDSOTRACE_SHIM";
    return "";
}

std::string preload_with(const std::string& shim, const char* existing) {
    if (existing == nullptr || *existing == '\0') return shim;
    return std::string(existing) + ":" + shim;
}

}  // namespace vdsotrace::tools

#include "tools/run/runtime_help.h"
#include "tracer/common/path_name.h"

#include <limits.h>
#include <unistd.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "tools/run/target_check.h"

namespace vdsotrace::tools {

namespace {

std::string dir_name(const std::string& p) {
    const size_t s = p.rfind('/');
    return s == std::string::npos || s == 0 ? "/" : p.substr(0, s);
}

std::string real_path(const std::string& p) {
    char buf[PATH_MAX];
    return realpath(p.c_str(), buf) != nullptr ? std::string(buf) : p;
}

bool is_elf(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    return in.read(magic, 4) && std::memcmp(magic, "\x7f" "ELF", 4) == 0;
}

// The program a script's "#!" line runs ("#!/usr/bin/env node" -> node's path); "" for none.
std::string script_interpreter(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    if (!std::getline(in, line) || line.compare(0, 2, "#!") != 0) return "";
    std::vector<std::string> words;
    size_t i = 2;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
        const size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
        if (i > start) words.push_back(line.substr(start, i - start));
    }
    if (words.empty()) return "";
    if (base_name(words[0]) != "env") return words[0];
    for (size_t w = 1; w < words.size(); ++w)  // env's options (-S) and variables (A=b) come first
        if (words[w][0] != '-' && words[w].find('=') == std::string::npos) return find_executable(words[w]);
    return "";
}

// Java's major version from the JDK's `release` file (bin/java -> ../release, jre/bin/java ->
// ../../release); 0 when unknown or not HotSpot (OpenJ9 has none of the flags).
int hotspot_major(const std::string& java) {
    const std::string bin = dir_name(java);
    for (const std::string& home : {dir_name(bin), dir_name(dir_name(bin))}) {
        std::ifstream in(home + "/release");
        if (!in) continue;
        std::string line;
        int major = 0;
        bool openj9 = false;
        while (std::getline(in, line)) {
            if (line.find("OpenJ9") != std::string::npos) openj9 = true;
            if (line.compare(0, 14, "JAVA_VERSION=\"") == 0) {
                major = std::atoi(line.c_str() + 14);
                if (major == 1) major = std::atoi(line.c_str() + 16);  // "1.8.0_392"
            }
        }
        return openj9 ? 0 : major;
    }
    return 0;
}

// The N of python3.N in `name` ("python3.12" -> 12), -1 when `name` is not that.
int python_minor(const std::string& name) {
    if (name.compare(0, 8, "python3.") != 0 || name.size() == 8) return -1;
    for (size_t i = 8; i < name.size(); ++i)
        if (name[i] < '0' || name[i] > '9') return -1;
    return std::atoi(name.c_str() + 8);
}

// `current` with each of `flags` appended that it does not already hold.
std::string with_flags(const char* current, const std::vector<std::string>& flags, bool* changed) {
    std::string value = current != nullptr ? current : "";
    for (const std::string& f : flags) {
        if (value.find(f) != std::string::npos) continue;
        if (!value.empty()) value += ' ';
        value += f;
        *changed = true;
    }
    return value;
}

RuntimeHelp help_for_program(const std::string& program, const char* (*getenv_fn)(const char*)) {
    RuntimeHelp h;
    const std::string real = real_path(program);
    const std::string name = base_name(program), real_name = base_name(real);
    bool changed = false;
    if (name == "node" || name == "nodejs" || real_name == "node" || real_name == "nodejs") {
        h.runtime = "node";
        // Either of node's own perf options already writes the map.
        const char* current = getenv_fn("NODE_OPTIONS");
        std::vector<std::string> flags = {"--interpreted-frames-native-stack"};
        if (current == nullptr || std::strstr(current, "--perf-prof") == nullptr)
            flags.insert(flags.begin(), "--perf-basic-prof");
        h.maps_requested = flags.size() == 2;
        const std::string value = with_flags(current, flags, &changed);
        if (changed) h.env.emplace_back("NODE_OPTIONS", value);
    } else if (name == "java" || real_name == "java") {
        // An older JVM (or OpenJ9) would refuse to start on the unknown flags: left alone.
        if (hotspot_major(real) < 17) return h;
        h.runtime = "java";
        const char* current = getenv_fn("JAVA_TOOL_OPTIONS");
        h.maps_requested = current == nullptr || std::strstr(current, "-XX:+DumpPerfMapAtExit") == nullptr;
        const std::string value = with_flags(
            current, {"-XX:+UnlockDiagnosticVMOptions", "-XX:+DumpPerfMapAtExit", "-XX:+PreserveFramePointer"}, &changed);
        if (changed) h.env.emplace_back("JAVA_TOOL_OPTIONS", value);
    } else {
        // python3.12 by name or by what it resolves to; a python3 that is a script (pyenv's shim)
        // may run any version: older ones ignore the variable.
        int minor = python_minor(real_name);
        if (minor < 0) minor = python_minor(name);
        const bool unknown_python = minor < 0 && (name == "python3" || name == "python") && !is_elf(real);
        if (minor < 12 && !unknown_python) return h;
        h.runtime = "python";
        if (getenv_fn("PYTHONPERFSUPPORT") == nullptr) {
            h.env.emplace_back("PYTHONPERFSUPPORT", "1");
            h.maps_requested = changed = true;
        }
    }
    if (changed) {
        std::string settings;
        for (const auto& [var, value] : h.env) settings += fmt::format("{}{}=\"{}\"", settings.empty() ? "" : " ", var, value);
        h.notice = fmt::format("{} recognised: set {} so that its JIT-compiled frames are named from its perf map "
                               "(/tmp/perf-PID.map, kept with the recording); --no-runtime-help: leave the "
                               "environment alone",
                               h.runtime, settings);
    }
    return h;
}

}  // namespace

void remove_v8_logs(const std::string& dir, const std::vector<int>& pids, int64_t since_realtime_ns,
                    const std::vector<std::string>& command) {
    for (const std::string& arg : command)
        if (arg.compare(0, 6, "--prof") == 0 || arg.compare(0, 5, "--log") == 0) return;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (name.compare(0, 10, "isolate-0x") != 0 || name.size() < 17 ||
            name.compare(name.size() - 7, 7, "-v8.log") != 0)
            continue;
        const std::string rest = name.substr(0, name.size() - 7);
        const size_t dash = rest.rfind('-');
        if (dash == std::string::npos) continue;
        const int pid = std::atoi(rest.c_str() + dash + 1);
        if (std::find(pids.begin(), pids.end(), pid) == pids.end()) continue;
        struct stat st {};
        if (lstat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid()) continue;
        if (int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec < since_realtime_ns) continue;
        std::filesystem::remove(e.path(), ec);
    }
}

RuntimeHelp runtime_help_for(const std::string& exe, const char* (*getenv_fn)(const char*)) {
    RuntimeHelp h = help_for_program(exe, getenv_fn);
    if (h.runtime.empty() && !is_elf(real_path(exe))) {
        // A script run by one of them (npm: "#!/usr/bin/env node").
        const std::string interpreter = script_interpreter(exe);
        if (!interpreter.empty()) h = help_for_program(interpreter, getenv_fn);
    }
    return h;
}

}  // namespace vdsotrace::tools

// `vdsotrace attach PID [--duration S]`: count the vDSO calls of a running, dynamically linked
// process for a while, then report as `run` does.
//
// With every thread of the process stopped under ptrace (tools/attach/stopped_process.h), the
// shim is loaded into it by a call of the process's own dlopen, made from a thread blocked in a
// system call while the other threads run on (so no lock they hold can block the loader). Its
// constructor notices the late load and changes nothing (shim/attach_abi.h). Then, with every
// thread stopped again, the GOT slots through which each module calls the clock functions and
// libc's internal vDSO pointers are switched to the shim through /proc/PID/mem, and the process
// runs untraced. At the end the same pointers are switched back, again with every thread
// stopped: the counting window is exact. The shim stays loaded; attaching again reuses it.
#include <dlfcn.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "shim/attach_abi.h"
#include "tools/attach/elf_file.h"
#include "tools/attach/stopped_process.h"
#include "tools/commands/commands.h"
#include "tools/recordings/recording_store.h"
#include "tracer/format/segment_format.h"
#include "tools/run/shim_locator.h"

namespace vdsotrace::tools {
namespace {

using attach::AttachBlock;
using attach::ElfFile;
using attach::StoppedProcess;

const std::set<std::string> kInterposed = {"clock_gettime", "gettimeofday", "time", "getcpu", "clock_getres"};

struct Mapping {
    uint64_t start;
    std::string path;
};

// The file-backed mappings at file offset 0: where each module starts.
std::vector<Mapping> module_starts(pid_t pid) {
    std::vector<Mapping> out;
    std::ifstream maps(fmt::format("/proc/{}/maps", pid));
    std::string line;
    while (std::getline(maps, line)) {
        std::istringstream in(line);
        std::string range, perms, offset, dev, inode, path;
        in >> range >> perms >> offset >> dev >> inode;
        std::getline(in >> std::ws, path);
        if (path.empty() || path[0] != '/' || std::stoull(offset, nullptr, 16) != 0) continue;
        bool seen = false;
        for (const Mapping& m : out) seen |= m.path == path;
        if (!seen) out.push_back({std::stoull(range, nullptr, 16), path});
    }
    return out;
}

std::string status_field(pid_t pid, const std::string& field) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) {
            std::istringstream v(line.substr(field.size() + 1));
            std::string word;
            v >> word;
            return word;
        }
    return "";
}

std::string new_session_id() {
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != ssize_t(sizeof v)) v = uint64_t(getpid()) * 0x9E3779B97F4A7C15ull;
    return fmt::format("{:012x}", v & 0xffffffffffffull);
}

double ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// Refusals that need no ptrace: empty when attaching may be tried.
std::string refusal(pid_t pid, std::string* exe) {
    struct stat st{};
    if (stat(fmt::format("/proc/{}", pid).c_str(), &st) != 0) return fmt::format("no process {}", pid);
    if (st.st_uid != getuid() && geteuid() != 0)
        return fmt::format("pid {} belongs to another user (uid {}): attach to your own processes, or as root", pid,
                           st.st_uid);
    const std::string tracer = status_field(pid, "TracerPid");
    if (!tracer.empty() && tracer != "0")
        return fmt::format("pid {} is already traced by pid {} (a debugger or strace): one tracer at a time", pid, tracer);
    char buf[PATH_MAX];
    const ssize_t n = readlink(fmt::format("/proc/{}/exe", pid).c_str(), buf, sizeof buf - 1);
    if (n <= 0) return fmt::format("cannot read /proc/{}/exe: {}", pid, strerror(errno));
    *exe = std::string(buf, size_t(n));
    ElfFile elf;
    std::string why;
    if (!read_elf_file(*exe, {}, &elf, &why)) return why;
    if (!elf.has_interp)
        return fmt::format("{} is statically linked: attach covers dynamically linked programs (start it under "
                           "`vdsotrace run`, which counts static programs through a trampoline)",
                           *exe);
    return "";
}

struct PointerSwitch {
    uint64_t address, original, replacement;
};

// Module files read so far, by path: read before the process is stopped, so that only modules
// it loaded meanwhile are read while it is.
using ElfCache = std::map<std::string, ElfFile>;

const ElfFile& elf_of(ElfCache* cache, const std::string& path) {
    auto it = cache->find(path);
    if (it == cache->end()) {
        ElfFile elf;
        std::string why;
        if (!read_elf_file(path, kInterposed, &elf, &why)) elf = ElfFile{};
        it = cache->emplace(path, std::move(elf)).first;
    }
    return it->second;
}

// The GOT slots of every module but the shim through which it calls an interposed function.
std::vector<PointerSwitch> plan_got(const StoppedProcess& p, const std::vector<Mapping>& modules, ElfCache* cache,
                                    const std::string& shim, const std::map<std::string, uint64_t>& shim_entries) {
    std::vector<PointerSwitch> out;
    for (const Mapping& m : modules) {
        if (m.path == shim) continue;
        const ElfFile& elf = elf_of(cache, m.path);
        const uint64_t bias = m.start - elf.first_load_vaddr;
        for (const ElfFile::Import& imp : elf.imports) {
            uint64_t value = 0;
            if (!p.read(bias + imp.got_offset, &value, sizeof value)) continue;
            out.push_back({bias + imp.got_offset, value, shim_entries.at(imp.name)});
        }
    }
    return out;
}

// Writes `to` (replacement or original) into each pointer that still holds `from`.
int switch_pointers(const StoppedProcess& p, const std::vector<PointerSwitch>& plan, bool on) {
    int changed = 0;
    for (const PointerSwitch& s : plan) {
        uint64_t now = 0;
        const uint64_t from = on ? s.original : s.replacement, to = on ? s.replacement : s.original;
        if (!p.read(s.address, &now, sizeof now) || now != from) continue;
        changed += p.write(s.address, &to, sizeof to);
    }
    return changed;
}

volatile sig_atomic_t g_stop = 0;
void on_stop_signal(int) { g_stop = 1; }

}  // namespace

int cmd_attach(const AttachOptions& o) {
    const pid_t pid = o.pid;
    std::string exe;
    if (std::string why = refusal(pid, &exe); !why.empty()) {
        spdlog::error("cannot attach: {}", why);
        return kExitBadInput;
    }
    std::string error;
    std::string shim = locate_shim(o.shim, &error);
    if (shim.empty()) {
        spdlog::error("{}", error);
        return kExitUsage;
    }
    char real[PATH_MAX];
    if (realpath(shim.c_str(), real) != nullptr) shim = real;
    ElfFile shim_elf;
    if (!read_elf_file(shim, {}, &shim_elf, &error) || !shim_elf.symbols.count("vdsotrace_attach")) {
        spdlog::error("{} is not a vdsotrace shim with attach support", shim);
        return kExitUsage;
    }
    uint64_t dlopen_at = 0;
    for (const Mapping& m : module_starts(pid)) {
        if (m.path.find("/libc.so") == std::string::npos) continue;
        ElfFile libc;
        if (read_elf_file(m.path, {}, &libc, &error) && libc.symbols.count("dlopen"))
            dlopen_at = m.start - libc.first_load_vaddr + libc.symbols.at("dlopen");
    }
    if (dlopen_at == 0) {
        spdlog::error("cannot attach: pid {} has no glibc with dlopen (glibc 2.34 or later) loaded", pid);
        return kExitBadInput;
    }
    const std::string session = new_session_id();
    ElfCache cache;
    for (const Mapping& m : module_starts(pid)) elf_of(&cache, m.path);

    // 1. Load the shim (or find it loaded by an earlier attach).
    const auto t_first = std::chrono::steady_clock::now();
    StoppedProcess p(pid);
    if (!p.stop_all(&error)) {
        spdlog::error("cannot attach: {}", error);
        return kExitBadInput;
    }
    const size_t threads = p.thread_count();
    // The modules as they are while stopped (read once more after loading the shim).
    std::vector<Mapping> modules = module_starts(pid);
    auto find_shim = [&]() -> uint64_t {
        for (const Mapping& m : modules)
            if (m.path == shim) return m.start - shim_elf.first_load_vaddr;
        return 0;
    };
    uint64_t shim_bias = find_shim();
    double stopped_ms = 0;
    bool loaded_now = false;
    if (shim_bias == 0) {
        stopped_ms += ms_since(t_first);
        uint64_t handle = 0;
        if (!p.call(dlopen_at, {StoppedProcess::kStackData, uint64_t(RTLD_NOW)}, shim + std::string(1, '\0'), &handle,
                    &error) ||
            handle == 0) {
            p.detach_all();
            spdlog::error("cannot attach: loading the shim into pid {} failed{}", pid, error.empty() ? "" : ": " + error);
            return kExitBadInput;
        }
        loaded_now = true;
        modules = module_starts(pid);
        shim_bias = find_shim();
    }
    const auto t_second = std::chrono::steady_clock::now();
    AttachBlock block{};
    const uint64_t block_at = shim_bias + shim_elf.symbols.at("vdsotrace_attach");
    if (shim_bias == 0 || !p.read(block_at, &block, sizeof block) || block.magic != attach::kAttachMagic) {
        p.detach_all();
        spdlog::error("cannot attach: the shim in pid {} did not start", pid);
        return kExitBadInput;
    }
    if (block.late == 0) {
        p.detach_all();
        spdlog::error("cannot attach: pid {} runs under `vdsotrace run` already: see `vdsotrace report {}`", pid, pid);
        return kExitBadInput;
    }

    // 2. Switch the pointers, every thread stopped.
    std::map<std::string, uint64_t> entries;
    for (const std::string& name : kInterposed) entries[name] = shim_bias + shim_elf.symbols.at(name);
    std::vector<PointerSwitch> plan = plan_got(p, modules, &cache, shim, entries);
    for (uint32_t i = 0; i < block.libc_slot_count && i < attach::kMaxLibcSlots; ++i)
        plan.push_back({block.libc_slots[i], block.libc_original[i], block.libc_entry[i]});
    char session_field[attach::kSessionSize] = {};
    memcpy(session_field, session.c_str(), session.size());
    p.write(block.session_address, session_field, sizeof session_field);
    const int switched = switch_pointers(p, plan, true);
    p.detach_all();
    stopped_ms += ms_since(loaded_now ? t_second : t_first);
    spdlog::info("attached to pid {} ({}, {} threads): {} pointers lead to the shim (stopped {:.2f} ms){}", pid, exe,
                 threads, switched, stopped_ms,
                 o.duration > 0 ? fmt::format("; counting for {} s", o.duration) : "; counting until Ctrl-C");

    // 3. Wait: the duration, Ctrl-C, or the end of the process.
    struct sigaction sa{};
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    const auto t_start = std::chrono::steady_clock::now();
    bool ended = false;
    while (!g_stop && (o.duration <= 0 || ms_since(t_start) < o.duration * 1000)) {
        if (kill(pid, 0) != 0 && errno == ESRCH) {
            ended = true;
            break;
        }
        usleep(20000);
    }

    // 4. Switch back, every thread stopped.
    if (!ended) {
        const auto t_end = std::chrono::steady_clock::now();
        StoppedProcess q(pid);
        if (q.stop_all(&error)) {
            const int restored = switch_pointers(q, plan, false);
            q.detach_all();
            spdlog::info("detached from pid {}: {} pointers put back (stopped {:.2f} ms)", pid, restored, ms_since(t_end));
        } else {
            spdlog::warn("cannot stop pid {} again to put its pointers back ({}): the shim keeps counting", pid, error);
        }
    }

    std::vector<std::string> files;
    for (const SegmentName& s : list_segments(getuid()))
        if (s.session == session && s.pid == pid) files.push_back(s.path);
    if (files.empty()) {
        for (const SegmentName& s : list_segments(getuid()))
            if (s.pid == pid) files.push_back(s.path);  // attached before: the recording it made
        if (!files.empty())
            spdlog::warn("pid {} was attached before: its recording holds the calls of every attach", pid);
    }
    if (files.empty()) {
        spdlog::info("pid {} made no vDSO time call while attached", pid);
        return kExitOk;
    }
    return report_files(files, o.report, false);
}

}  // namespace vdsotrace::tools

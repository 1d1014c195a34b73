// `vdsotrace attach PID [--duration S]`: count the vDSO calls of a running, dynamically linked
// process for a while, then report as `run` does.
//
// Whatever needs no stopped process is done before stopping it: its maps are read, the module
// files parsed, the pointer addresses planned and every thread seized (PTRACE_SEIZE, which stops
// nothing). The stop itself only interrupts the threads, checks the module list, reads every
// pointer in one system call, writes those that change and detaches (docs/attach.md has figures).
//
// With every thread of the process stopped under ptrace (tools/attach/stopped_process.h), the
// shim is loaded into it by a call of the process's own dlopen, made from a thread blocked in a
// system call while the other threads run on (so no lock they hold can block the loader). Its
// constructor notices the late load and changes nothing (shim/attach_abi.h). Then, with every
// thread stopped again, the GOT slots through which each module calls the clock functions and
// libc's internal vDSO pointers are switched to the shim through /proc/PID/mem, and the process
// runs untraced. At the end the same pointers are switched back, again with every thread
// stopped: the counting window is exact. The shim stays loaded; attaching again reuses it, and
// reports its own window only (tools/attach/window_recording.h). A Go program's own pointers to
// the vDSO (runtime.vdsoClockgettimeSym, ...) are switched to the shim's direct entries too.
#include <dlfcn.h>
#include <fcntl.h>
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
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "shim/attach_abi.h"
#include "tools/attach/elf_file.h"
#include "tools/attach/process_maps.h"
#include "tools/attach/stopped_process.h"
#include "tools/attach/window_recording.h"
#include "tools/commands/commands.h"
#include "tools/commands/command.h"
#include "tools/commands/command_options.h"
#include "tools/recordings/recording_store.h"
#include "tools/recordings/segment_reader.h"
#include "tracer/format/segment_format.h"
#include "tools/run/shim_locator.h"

namespace vdsotrace::tools {
namespace {

using attach::AttachBlock;
using attach::ElfFile;
using attach::ModuleStart;
using attach::ProcessMaps;
using attach::StoppedProcess;
namespace f = vdsotrace::format;

const std::set<std::string> kInterposed = {"clock_gettime", "gettimeofday", "time", "getcpu", "clock_getres"};

// The Go runtime's own pointers to vDSO functions (runtime/vdso_linux_amd64.go), which it calls
// from assembly: symbol name -> format::Function.
const std::map<std::string, int> kGoVdsoPointers = {
    {"runtime.vdsoClockgettimeSym", f::kClockGettime},
    {"runtime.vdsoGettimeofdaySym", f::kGettimeofday},
    {"runtime.vdsoGetrandomSym", f::kGetrandom},  // Go 1.24+
};

std::set<std::string> go_pointer_names() {
    std::set<std::string> out;
    for (const auto& [name, fn] : kGoVdsoPointers) out.insert(name);
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

// One pointer to switch: `original` is what it holds outside the window (0 for a GOT slot: taken
// as found when the process is stopped), `replacement` the shim's entry.
struct PointerSwitch {
    uint64_t address, original, replacement;
};

// Module files read so far, by path: read before the process is stopped, so that only modules
// it loaded meanwhile are read while it is.
class ElfCache {
public:
    explicit ElfCache(std::string exe) : exe_(std::move(exe)) {}
    const ElfFile& get(const std::string& path) {
        auto it = files_.find(path);
        if (it == files_.end()) {
            ElfFile elf;
            std::string why;
            // The executable's symbol table too: a Go program's own vDSO pointers are named there.
            if (!read_elf_file(path, kInterposed, &elf, &why, path == exe_ ? go_pointer_names() : std::set<std::string>{}))
                elf = ElfFile{};
            it = files_.emplace(path, std::move(elf)).first;
        }
        return it->second;
    }

private:
    std::string exe_;
    std::map<std::string, ElfFile> files_;
};

// The GOT slots through which every module but the shim calls an interposed function, and the
// Go runtime's vDSO pointers in the executable. Addresses only: nothing is read from the process.
std::vector<PointerSwitch> plan_pointers(const std::vector<ModuleStart>& modules, ElfCache* cache,
                                         const std::string& shim, const std::string& exe, uint64_t shim_bias,
                                         const ElfFile& shim_elf, const AttachBlock& block) {
    std::vector<PointerSwitch> out;
    for (const ModuleStart& m : modules) {
        if (m.path == shim) continue;
        const ElfFile& elf = cache->get(m.path);
        const uint64_t bias = m.start - elf.first_load_vaddr;
        for (const ElfFile::Import& imp : elf.imports)
            out.push_back({bias + imp.got_offset, 0, shim_bias + shim_elf.symbols.at(imp.name)});
        if (m.path != exe) continue;
        for (const auto& [name, fn] : kGoVdsoPointers) {
            auto at = elf.symtab.find(name);
            if (at == elf.symtab.end() || block.direct_target[fn] == 0 || block.direct_entry[fn] == 0) continue;
            out.push_back({bias + at->second, block.direct_target[fn], block.direct_entry[fn]});
        }
    }
    for (uint32_t i = 0; i < block.libc_slot_count && i < attach::kMaxLibcSlots; ++i)
        out.push_back({block.libc_slots[i], block.libc_original[i], block.libc_entry[i]});
    return out;
}

// With every thread stopped: reads every pointer in one system call, writes the replacement into
// those that hold their original (a GOT slot's original is what it holds now). Returns how many
// changed; `plan` keeps the originals found.
int switch_on(const StoppedProcess& p, std::vector<PointerSwitch>* plan) {
    std::vector<uint64_t> addresses;
    for (const PointerSwitch& s : *plan) addresses.push_back(s.address);
    const std::vector<uint64_t> now = p.read_words(addresses);
    int changed = 0;
    for (size_t i = 0; i < plan->size(); ++i) {
        PointerSwitch& s = (*plan)[i];
        if (now[i] == 0 || now[i] == s.replacement) continue;  // unreadable, or a slot shared with another
        if (s.original == 0) s.original = now[i];
        if (now[i] != s.original) continue;
        changed += p.write(s.address, &s.replacement, sizeof s.replacement);
    }
    return changed;
}

// Puts back every pointer that still leads to the shim.
int switch_off(const StoppedProcess& p, const std::vector<PointerSwitch>& plan) {
    std::vector<uint64_t> addresses;
    for (const PointerSwitch& s : plan) addresses.push_back(s.address);
    const std::vector<uint64_t> now = p.read_words(addresses);
    int changed = 0;
    for (size_t i = 0; i < plan.size(); ++i)
        if (plan[i].original != 0 && now[i] == plan[i].replacement)
            changed += p.write(plan[i].address, &plan[i].original, sizeof plan[i].original);
    return changed;
}

uint64_t module_bias(const std::vector<ModuleStart>& modules, const std::string& path, const ElfFile& elf) {
    for (const ModuleStart& m : modules)
        if (m.path == path) return m.start - elf.first_load_vaddr;
    return 0;
}

// The shim's block, read from the running process (it is written once, by the shim's
// constructor, before the shim's first use).
bool read_block(pid_t pid, uint64_t address, AttachBlock* block) {
    attach::RecordingMapping m{address, address + sizeof *block, "", false};
    std::vector<unsigned char> bytes;
    if (!attach::read_segment_memory(pid, m, &bytes)) return false;
    memcpy(block, bytes.data(), sizeof *block);
    return block->magic == attach::kAttachMagic;
}

// The process's virtual size (field 23 of /proc/PID/stat), 0 when unreadable.
uint64_t virtual_size(pid_t pid) {
    char buf[1024];
    const int fd = open(fmt::format("/proc/{}/stat", pid).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    const char* p = strrchr(buf, ')');  // the command name may hold spaces and parentheses
    for (int field = 2; p != nullptr && field < 23; ++field) p = strchr(p + 1, ' ');
    return p != nullptr ? strtoull(p + 1, nullptr, 10) : 0;
}

// Phase timings for the attach benchmark (VDSOTRACE_ATTACH_PHASES=1).
bool g_phases = getenv("VDSOTRACE_ATTACH_PHASES") != nullptr;
void phase(const char* what, std::chrono::steady_clock::time_point since) {
    if (g_phases) spdlog::info("phase {}: {:.3f} ms", what, ms_since(since));
}

volatile sig_atomic_t g_stop = 0;
void on_stop_signal(int) { g_stop = 1; }

// The recording of this window: the shim's segment as it is now, less what an earlier attach
// left in it (`baseline`, empty on the first attach). Empty with a reason when there is none.
std::string window_recording(pid_t pid, bool ended, const attach::RecordingMapping& before_map,
                             const std::vector<unsigned char>& baseline, const std::string& session,
                             std::string* note) {
    ProcessMaps maps;
    attach::RecordingMapping m = before_map;
    if (!ended && read_process_maps(pid, &maps) && !maps.recordings.empty()) m = maps.recordings.back();
    if (m.path.empty() && ended)  // the process ended: the recording this window made, by its name
        for (const SegmentName& seg : list_segments(getuid()))
            if (seg.session == session && seg.pid == pid) return seg.path;
    if (m.path.empty()) return "";
    if (baseline.empty() && !m.deleted) return m.path;  // the first window: the shim's own recording
    std::vector<unsigned char> bytes;
    std::string error;
    const bool read = ended ? (!m.deleted && read_recording_file(m.path, &bytes, &error))
                            : attach::read_segment_memory(pid, m, &bytes);
    if (!read) {
        *note = fmt::format("cannot read the recording of pid {} ({})", pid, m.path);
        return "";
    }
    if (!baseline.empty() && !attach::subtract_baseline(baseline, &bytes, &error)) {
        *note = fmt::format("cannot separate this window from the earlier ones: {}", error);
        return "";
    }
    std::string path = attach::write_window_recording(&bytes, session, &error);
    if (path.empty()) *note = error;
    return path;
}

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
    const auto t_prepare = std::chrono::steady_clock::now();
    ProcessMaps maps;
    if (!read_process_maps(pid, &maps)) {
        spdlog::error("cannot attach: cannot read /proc/{}/maps", pid);
        return kExitBadInput;
    }
    uint64_t dlopen_at = 0;
    for (const ModuleStart& m : maps.modules) {
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
    ElfCache cache(exe);
    for (const ModuleStart& m : maps.modules) cache.get(m.path);
    // Reading the module files takes a while: the maps once more, with the process's size, to
    // which the size while stopped is compared.
    uint64_t size_at_maps = virtual_size(pid);
    if (ProcessMaps fresh; read_process_maps(pid, &fresh)) {
        maps = std::move(fresh);
        for (const ModuleStart& m : maps.modules) cache.get(m.path);
    }
    phase("maps and module files", t_prepare);

    // The shim, when an earlier attach loaded it: its block, and the recording it keeps (quiet
    // between attaches: every pointer leads to the vDSO), to tell this window's calls apart.
    const auto t_plan = std::chrono::steady_clock::now();
    uint64_t shim_bias = module_bias(maps.modules, shim, shim_elf);
    const uint64_t block_offset = shim_elf.symbols.at("vdsotrace_attach");
    AttachBlock block{};
    if (shim_bias != 0 && !read_block(pid, shim_bias + block_offset, &block)) {
        spdlog::error("cannot attach: the shim in pid {} did not start", pid);
        return kExitBadInput;
    }
    if (shim_bias != 0 && block.late == 0) {
        spdlog::error("cannot attach: pid {} runs under `vdsotrace run` already: see `vdsotrace report {}`", pid, pid);
        return kExitBadInput;
    }
    attach::RecordingMapping recording_before;
    std::vector<unsigned char> baseline;
    if (!maps.recordings.empty()) {
        recording_before = maps.recordings.back();
        if (!attach::read_segment_memory(pid, recording_before, &baseline)) baseline.clear();
    }
    std::vector<PointerSwitch> plan;
    if (shim_bias != 0) plan = plan_pointers(maps.modules, &cache, shim, exe, shim_bias, shim_elf, block);

    StoppedProcess p(pid);
    if (!p.seize_all(&error)) {
        spdlog::error("cannot attach: {}", error);
        return kExitBadInput;
    }
    phase("plan and seize", t_plan);

    // 1. Load the shim if no earlier attach did: only the thread that makes the call is stopped.
    if (shim_bias == 0) {
        const auto t_load = std::chrono::steady_clock::now();
        uint64_t handle = 0;
        if (!p.call(dlopen_at, {StoppedProcess::kStackData, uint64_t(RTLD_NOW)}, shim + std::string(1, '\0'), &handle,
                    &error) ||
            handle == 0) {
            p.detach_all();
            spdlog::error("cannot attach: loading the shim into pid {} failed{}", pid, error.empty() ? "" : ": " + error);
            return kExitBadInput;
        }
        // dlopen's handle is the shim's link map, whose first field is its load bias.
        if (!p.read(handle, &shim_bias, sizeof shim_bias) || !p.read(shim_bias + block_offset, &block, sizeof block) ||
            block.magic != attach::kAttachMagic) {
            p.detach_all();
            spdlog::error("cannot attach: the shim in pid {} did not start", pid);
            return kExitBadInput;
        }
        plan = plan_pointers(maps.modules, &cache, shim, exe, shim_bias, shim_elf, block);
        // The shim is mapped now: the size to compare with while stopped is the size with it.
        size_at_maps = virtual_size(pid);
        if (ProcessMaps fresh; read_process_maps(pid, &fresh) && fresh.modules != maps.modules) {
            maps = std::move(fresh);
            for (const ModuleStart& m : maps.modules) cache.get(m.path);
            plan = plan_pointers(maps.modules, &cache, shim, exe, shim_bias, shim_elf, block);
        }
        phase("load the shim (one thread stopped)", t_load);
    }

    // 2. Stop every thread.
    const auto t_stop = std::chrono::steady_clock::now();
    if (!p.stop_all(&error)) {
        spdlog::error("cannot attach: {}", error);
        return kExitBadInput;
    }
    phase("stop threads", t_stop);
    const size_t threads = p.thread_count();
    // Modules loaded or unloaded since the maps were read: plan again (rare). Reading the maps
    // again costs 2-20 ms with 100 modules on a loaded machine, most of the stop; the process's
    // size (/proc/PID/stat) changes with every mapping made or removed and costs a few µs, so the
    // maps are read again only when it changed.
    const auto t_check = std::chrono::steady_clock::now();
    ProcessMaps now;
    if (virtual_size(pid) != size_at_maps && read_process_maps(pid, &now) && now.modules != maps.modules) {
        maps = now;
        shim_bias = module_bias(maps.modules, shim, shim_elf);
        if (shim_bias != 0) plan = plan_pointers(maps.modules, &cache, shim, exe, shim_bias, shim_elf, block);
    }
    phase("check maps", t_check);

    // 3. Switch the pointers, every thread stopped.
    const auto t_switch = std::chrono::steady_clock::now();
    char session_field[attach::kSessionSize] = {};
    memcpy(session_field, session.c_str(), session.size());
    p.write(block.session_address, session_field, sizeof session_field);
    const int switched = switch_on(p, &plan);
    phase("switch pointers", t_switch);
    p.detach_all();
    spdlog::info("attached to pid {} ({}, {} threads): {} pointers lead to the shim (stopped {:.2f} ms){}", pid, exe,
                 threads, switched, p.stopped_ms(),
                 o.duration > 0 ? fmt::format("; counting for {} s", o.duration) : "; counting until Ctrl-C");

    // 4. Wait: the duration, Ctrl-C, or the end of the process.
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

    // 5. Switch back, every thread stopped.
    if (!ended) {
        StoppedProcess q(pid);
        if (q.seize_all(&error) && q.stop_all(&error)) {
            const int restored = switch_off(q, plan);
            q.detach_all();
            spdlog::info("detached from pid {}: {} pointers put back (stopped {:.2f} ms)", pid, restored, q.stopped_ms());
        } else {
            spdlog::warn("cannot stop pid {} again to put its pointers back ({}): the shim keeps counting", pid, error);
        }
    }

    std::string note;
    const std::string file = window_recording(pid, ended, recording_before, baseline, session, &note);
    if (file.empty()) {
        if (!note.empty()) spdlog::warn("{}", note);
        spdlog::info("pid {} made no vDSO time call while attached", pid);
        return kExitOk;
    }
    return report_files({file}, o.report, false);
}

Command register_attach(CLI::App& vdsotrace) {
    auto attach = std::make_shared<AttachOptions>();
    CLI::App* cmd = vdsotrace.add_subcommand("attach", "Count the calls of a running process for a while, then report");
    cmd->add_option("pid", attach->pid, "The process")->required()->check(CLI::Range(1, 1 << 30));
    cmd->add_option("--duration", attach->duration, "Seconds to count (default: until Ctrl-C)")
        ->check(CLI::Range(0.001, 1e7));
    cmd->add_option("--shim", attach->shim, "Path of libvdsotrace.so (default: next to vdsotrace, or $VDSOTRACE_SHIM)");
    cmd->add_flag("--json", attach->report.json, "Write the report as JSON instead of text");
    cmd->add_option("-o,--output", attach->report.output, "Write the report to FILE instead of stdout");
    cmd->add_option("--top", attach->report.top, "Callers shown in the text report")->check(kAtLeastOne);
    cmd->add_flag("--per-process", attach->report.per_process, "Show each process's calls per function and clock");
    return {cmd, [attach] { return cmd_attach(*attach); }};
}

}  // namespace vdsotrace::tools

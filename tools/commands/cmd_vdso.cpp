// `vdsotrace vdso [--pid PID] [--json] [--dump FILE]`: everything about a process's vDSO in one
// place: mappings, exported functions, build id and kernel note, clocksources, the stack each
// time function needs (measured), stack probes in its code, and which clocks it serves itself.
#include <unistd.h>

#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "tools/commands/commands.h"
#include "tools/commands/command.h"
#include "tools/commands/command_options.h"
#include "tools/vdso_doctor/clock_service.h"
#include "tools/vdso_doctor/vdso_inspect.h"
#include "tools/vdso_doctor/vdso_needs.h"

namespace vdsotrace::tools {

namespace {

using namespace vdsotrace::doctor;
using nlohmann::json;

json mapping_json(const Mapping& m) {
    json j = {{"name", m.name}, {"start", m.start}, {"end", m.end}, {"size", m.end - m.start}, {"perms", m.perms}};
    if (!m.smaps_kb.empty()) j["smaps_kb"] = m.smaps_kb;
    return j;
}

json need_json(const FunctionNeed& f) {
    json j = {{"function", f.function}, {"symbol", f.symbol}, {"address", f.address}, {"size", f.size}};
    if (f.need.measured) {
        j["stack_need"] = f.need.bytes;
        j["repeatable"] = f.need.repeatable;
    } else {
        j["stack_need"] = nullptr;
    }
    if (!f.need.problem.empty()) j["stack_need_note"] = f.need.problem;
    if (!f.by_clock.empty()) {
        json by = json::object();
        for (auto& [id, bytes] : f.by_clock) by[std::to_string(id)] = bytes;
        j["stack_need_by_clock"] = by;
    }
    json scan = {{"scanned", f.scan.scanned}};
    if (f.scan.scanned) {
        scan["instructions"] = f.scan.instructions;
        scan["max_frame"] = f.scan.max_frame;
        scan["pushes"] = f.scan.pushes;
        scan["estimate"] = f.scan.estimate();
        scan["probes"] = json::array();
        for (const StackProbe& p : f.scan.probes)
            scan["probes"].push_back({{"offset", p.offset}, {"instruction", p.instruction}, {"frame", p.frame_before}});
    } else {
        scan["note"] = f.scan.problem;
    }
    j["scan"] = scan;
    j["summary"] = describe_need(f);
    return j;
}

json service_json(const ClockService& s) {
    json rows = json::array();
    for (const ServiceRow& r : s.rows) {
        json j = {{"function", r.function}, {"served_by", r.fallback ? "syscall" : "vdso"},
                  {"vdso_ns", r.vdso_ns}, {"syscall_ns", r.syscall_ns}, {"in_vdso", r.in_vdso}};
        if (r.clock_id >= 0) {
            j["clock_id"] = r.clock_id;
            j["clock"] = r.clock;
        }
        if (r.kernel_rejects) j["invalid"] = true;
        rows.push_back(std::move(j));
    }
    json j = {{"method", s.method}, {"calls", rows}};
    if (!s.note.empty()) j["note"] = s.note;
    return j;
}

std::string kib(uint64_t bytes) { return bytes % 1024 ? fmt::format("{} bytes", bytes) : fmt::format("{} KiB", bytes / 1024); }

void write_text(const VdsoInfo& info, const std::vector<FunctionNeed>& needs, const ClockService* service,
                bool measured_here, std::ostream& out) {
    out << fmt::format("vDSO of process {}{}\n\n", info.pid, info.pid == getpid() ? " (vdsotrace itself)" : "");
    out << "Mappings\n";
    for (const Mapping& m : info.mappings) {
        out << fmt::format("  {:<14} {:#x}-{:#x}  {:>9}  {}", m.name, m.start, m.end, kib(m.end - m.start), m.perms);
        for (const char* k : {"Rss", "Pss", "Shared_Clean", "Private_Dirty"}) {
            auto it = m.smaps_kb.find(k);
            if (it != m.smaps_kb.end()) out << fmt::format("  {} {} kB", k, it->second);
        }
        out << "\n";
    }
    out << fmt::format("\nImage: {} bytes, build id {}, kernel note: Linux {}{}\n", info.image.size(),
                       info.build_id.empty() ? "(none)" : info.build_id,
                       info.linux_version.empty() ? "(none)" : info.linux_version,
                       info.build_salt.empty() ? "" : fmt::format(" (build salt \"{}\")", info.build_salt));
    std::string avail;
    for (const std::string& s : info.available_clocksources) avail += (avail.empty() ? "" : ", ") + s;
    out << fmt::format("Clocksource: {} (available: {})\n", info.clocksource.empty() ? "unknown" : info.clocksource,
                       avail.empty() ? "unknown" : avail);

    out << "\nExported symbols\n";
    out << fmt::format("  {:<28} {:<14} {:>18} {:>6}\n", "name", "version", "address", "size");
    for (const VdsoSymbol& s : info.symbols)
        if (s.function)
            out << fmt::format("  {:<28} {:<14} {:>#18x} {:>6}\n", s.name, s.version, s.address, s.size);

    out << "\nStack need (bytes below the caller's stack pointer, return address included)\n";
    if (!measured_here) out << "  (not measured: this image differs from vdsotrace's own vDSO; estimates from the code)\n";
    uint64_t most = 0;
    for (const FunctionNeed& f : needs) {
        out << fmt::format("  {:<14} {}\n", f.function, describe_need(f));
        if (f.scan.scanned)
            out << fmt::format("  {:<14} code: {} instructions, {} push{}, largest frame {} bytes, {}\n", "",
                               f.scan.instructions, f.scan.pushes, f.scan.pushes == 1 ? "" : "es", f.scan.max_frame,
                               f.scan.probes.empty()        ? "no stack probes"
                               : f.scan.probes.size() == 1 ? "1 stack probe"
                                                            : fmt::format("{} stack probes", f.scan.probes.size()));
        if (f.need.measured) most = std::max(most, f.need.bytes);
    }
    if (most)
        out << fmt::format("  A caller that runs these functions needs at least {} bytes of stack below its stack "
                           "pointer\n  (plus what a signal handler arriving meanwhile needs, if it runs on that stack).\n",
                           most);

    if (service) {
        out << fmt::format("\nClock service (measured here, {})\n", service->method == "seccomp"
                                                                          ? "fallback seen exactly with a seccomp filter"
                                                                          : "fallback judged by timing");
        if (!service->note.empty()) out << "  " << service->note << "\n";
        out << fmt::format("  {:<14} {:<30} {:<22} {:>9} {:>11}\n", "function", "clock", "served by", "vDSO ns",
                           "syscall ns");
        for (const ServiceRow& r : service->rows) {
            const std::string by = !r.in_vdso      ? "syscall (not in vDSO)"
                                   : r.kernel_rejects ? "kernel: invalid id"
                                   : r.fallback       ? "syscall (fallback)"
                                                      : "vDSO";
            out << fmt::format("  {:<14} {:<30} {:<22} {:>9.1f} {:>11.1f}\n", r.function,
                               r.clock_id >= 0 ? fmt::format("{} ({})", r.clock, r.clock_id) : "", by, r.vdso_ns,
                               r.syscall_ns);
        }
        out << "  The CPU-time clocks always enter the kernel. A clocksource without a vDSO mode (hpet, acpi_pm,\n"
               "  some hypervisors) sends every clock there: then every row above says syscall.\n";
    }
}

}  // namespace

int cmd_vdso(const VdsoOptions& o) {
    std::string error;
    auto info = inspect_vdso(o.pid, &error);
    if (!info) {
        spdlog::error("{}", error);
        return kExitBadInput;
    }
    if (!o.dump.empty()) {
        std::ofstream f(o.dump, std::ios::binary);
        f.write(reinterpret_cast<const char*>(info->image.data()), std::streamsize(info->image.size()));
        f.close();
        if (!f) {
            spdlog::error("cannot write {}", o.dump);
            return kExitBadInput;
        }
    }
    // Measurements run on vdsotrace's own vDSO; they hold for PID when its image is the same.
    bool same_image = o.pid == 0 || o.pid == getpid();
    if (!same_image) {
        std::string e2;
        auto self = inspect_vdso(0, &e2);
        same_image = self && self->image == info->image;
    }
    const std::vector<FunctionNeed> needs = vdso_needs(*info, same_image);
    std::optional<ClockService> service;
    if (same_image && !o.no_clocks) service = measure_clock_service();

    if (o.json) {
        json j;
        j["pid"] = info->pid;
        const Mapping* v = info->vdso();
        j["mapping"] = {{"start", v->start}, {"end", v->end}, {"size", v->end - v->start}};
        j["mappings"] = json::array();
        for (const Mapping& m : info->mappings) j["mappings"].push_back(mapping_json(m));
        j["image_size"] = info->image.size();
        j["build_id"] = info->build_id;
        j["linux_version"] = info->linux_version;
        if (!info->build_salt.empty()) j["build_salt"] = info->build_salt;
        j["clocksource"] = {{"current", info->clocksource}, {"available", info->available_clocksources}};
        j["symbols"] = json::array();
        for (const VdsoSymbol& s : info->symbols)
            if (s.function)
                j["symbols"].push_back({{"name", s.name}, {"version", s.version}, {"address", s.address},
                                        {"offset", s.address - v->start}, {"size", s.size}});
        j["functions"] = json::array();
        for (const FunctionNeed& f : needs) j["functions"].push_back(need_json(f));
        j["measured_here"] = same_image;
        if (service) j["clock_service"] = service_json(*service);
        std::cout << j.dump(2) << "\n";
    } else {
        write_text(*info, needs, service ? &*service : nullptr, same_image, std::cout);
    }
    std::cout.flush();
    return std::cout ? kExitOk : kExitBadInput;
}

Command register_vdso(CLI::App& vdsotrace) {
    auto vdso = std::make_shared<VdsoOptions>();
    CLI::App* cmd = vdsotrace.add_subcommand("vdso", "Inspect a process's vDSO: mappings, functions, stack need, "
                                                     "stack probes, which clocks it serves");
    cmd->add_option("--pid", vdso->pid, "Inspect process PID (default: vdsotrace itself; needs ptrace permission)")
        ->check(CLI::Range(1, 1 << 30));
    cmd->add_flag("--json", vdso->json, "Write JSON");
    cmd->add_option("--dump", vdso->dump, "Write the vDSO image to FILE (readelf and objdump read it)");
    cmd->add_flag("--no-clocks", vdso->no_clocks, "Skip measuring which clocks the vDSO serves");
    return {cmd, [vdso] {
                if (!outputs_writable({{"--dump", &vdso->dump}})) return kExitUsage;
                return cmd_vdso(*vdso);
            }};
}

}  // namespace vdsotrace::tools

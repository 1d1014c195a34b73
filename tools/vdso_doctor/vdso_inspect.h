// Gathers what one otherwise pieces together from /proc/PID/maps, /proc/PID/smaps, readelf on a
// dumped image and /sys: the [vdso] and [vvar] mappings, the vDSO image itself, its exported
// symbols with versions, its build id and the kernel's version note, and the clocksources.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vdsotrace::doctor {

struct Mapping {
    std::string name;    // "[vdso]", "[vvar]", "[vvar_vclock]"
    uint64_t start = 0;
    uint64_t end = 0;
    std::string perms;   // "r-xp"
    std::map<std::string, uint64_t> smaps_kb;  // Rss, Pss, ... from /proc/PID/smaps (kB)
};

struct VdsoSymbol {
    std::string name;
    std::string version;  // "" when unversioned
    uint64_t address = 0; // in the inspected process
    uint64_t size = 0;
    bool function = false;
};

struct VdsoInfo {
    int pid = 0;
    std::vector<Mapping> mappings;        // [vdso] first when present, then [vvar]*
    const Mapping* vdso() const;
    std::vector<unsigned char> image;     // the vDSO's bytes, as mapped
    std::vector<VdsoSymbol> symbols;
    std::string build_id;                 // hex
    std::string linux_version;            // from the "Linux" ELF note, e.g. "6.1.0"
    std::string build_salt;               // the "Linux" build-salt note, when it is set
    std::string clocksource;              // current
    std::vector<std::string> available_clocksources;
};

// Inspects process `pid` (0: this process). On failure, returns nullopt with a plain message.
std::optional<VdsoInfo> inspect_vdso(int pid, std::string* error);

// Parses a vDSO image copy: symbols with addresses relative to `runtime_base` (the address the
// image's first byte is mapped at in its process), build id, Linux version note.
bool describe_image(const std::vector<unsigned char>& image, uint64_t runtime_base, VdsoInfo* out,
                    std::string* error);

}  // namespace vdsotrace::doctor

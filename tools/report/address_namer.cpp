#include "tools/report/address_namer.h"

#include <fmt/format.h>

namespace vdsotrace::tools {

const ModuleInfo* module_of(const Recording& r, uint64_t address) {
    for (const ModuleInfo& m : r.modules)
        if (address >= m.start && address < m.end) return &m;
    return nullptr;
}

const PythonSiteInfo* python_site(const Recording& r, uint64_t address) {
    if (!is_python_site(address)) return nullptr;
    const uint64_t index = address & ~format::kPythonSiteTag;
    return index < r.python_sites.size() && r.python_sites[index].ready ? &r.python_sites[index] : nullptr;
}

std::string module_path(const Recording& r, const ModuleInfo& m) { return m.main_program ? r.exe : m.path; }

std::string module_offset_text(const std::string& path, uint64_t offset) {
    return fmt::format("{}+{:#x}", base_name(path), offset);
}

CallSite locate_call_site(const Recording& r, uint64_t return_address, Symbolizer& symbolizer) {
    if (const ModuleInfo* m = module_of(r, return_address)) return locate_call_site(r, *m, return_address, symbolizer);
    CallSite site;
    site.offset = return_address;
    site.unnamed_because = kNotMapped;
    return site;
}

CallSite locate_call_site(const Recording& r, const ModuleInfo& m, uint64_t return_address, Symbolizer& symbolizer) {
    CallSite site;
    site.module = &m;
    site.path = module_path(r, *site.module);
    site.offset = return_address - site.module->load_bias;
    site.symbol = symbolizer.lookup({site.path, site.module->build_id}, site.offset - 1);
    site.unnamed_because = unnamed_because(site.symbol);
    // A lookup that found nothing and knew no problem (an image without its bytes, ...).
    if (site.symbol.symbol.empty() && site.unnamed_because.empty()) site.unnamed_because = "no symbol found";
    return site;
}

std::string describe_call_site(const Recording& r, uint64_t return_address, Symbolizer& symbolizer) {
    return call_site_text(locate_call_site(r, return_address, symbolizer));
}

std::string call_site_text(const CallSite& site) {
    std::string out = site.module == nullptr ? fmt::format("{:#x}", site.offset) : module_offset_text(site.path, site.offset);
    if (!site.symbol.symbol.empty()) out = fmt::format("{} ({})", site.symbol.symbol, out);
    if (!site.unnamed_because.empty()) out += fmt::format(" (unnamed: {})", site.unnamed_because);
    if (!site.symbol.file.empty()) out += fmt::format(" {}:{}", base_name(site.symbol.file), site.symbol.line);
    return out;
}

}  // namespace vdsotrace::tools

#include "tools/report/address_namer.h"

#include <fmt/format.h>

namespace vdsotrace::tools {

const ModuleInfo* module_of(const Recording& r, uint64_t address) {
    for (const ModuleInfo& m : r.modules)
        if (address >= m.start && address < m.end) return &m;
    return nullptr;
}

std::string module_path(const Recording& r, const ModuleInfo& m) { return m.main_program ? r.exe : m.path; }

std::string module_offset_text(const std::string& path, uint64_t offset) {
    return fmt::format("{}+{:#x}", base_name(path), offset);
}

CallSite locate_call_site(const Recording& r, uint64_t return_address, Symbolizer& symbolizer) {
    if (const ModuleInfo* m = module_of(r, return_address)) return locate_call_site(r, *m, return_address, symbolizer);
    CallSite site;
    site.offset = return_address;
    return site;
}

CallSite locate_call_site(const Recording& r, const ModuleInfo& m, uint64_t return_address, Symbolizer& symbolizer) {
    CallSite site;
    site.module = &m;
    site.path = module_path(r, *site.module);
    site.offset = return_address - site.module->load_bias;
    site.symbol = symbolizer.lookup({site.path, site.module->build_id}, site.offset - 1);
    return site;
}

std::string describe_call_site(const Recording& r, uint64_t return_address, Symbolizer& symbolizer) {
    const CallSite site = locate_call_site(r, return_address, symbolizer);
    if (site.module == nullptr) return fmt::format("{:#x}", return_address);
    std::string out = module_offset_text(site.path, site.offset);
    if (!site.symbol.symbol.empty()) out = fmt::format("{} ({})", site.symbol.symbol, out);
    if (!site.symbol.file.empty()) out += fmt::format(" {}:{}", base_name(site.symbol.file), site.symbol.line);
    return out;
}

}  // namespace vdsotrace::tools

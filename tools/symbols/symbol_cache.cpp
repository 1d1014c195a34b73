#include "tools/symbols/symbol_cache.h"

#include <cctype>

namespace vdsotrace::tools {

namespace {

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

SymbolCache::Key SymbolCache::path_key(const ModuleRef& module, uint64_t elf_vaddr) {
    return {module.path + '\0' + lower(module.build_id), elf_vaddr};
}

SymbolCache::Key SymbolCache::build_id_key(const ModuleRef& module, uint64_t elf_vaddr) {
    return {lower(module.build_id), elf_vaddr};
}

const SymbolInfo* SymbolCache::find(const ModuleRef& module, uint64_t elf_vaddr) const {
    if (!module.build_id.empty())
        if (auto it = by_build_id_.find(build_id_key(module, elf_vaddr)); it != by_build_id_.end()) return &it->second;
    auto it = by_path_.find(path_key(module, elf_vaddr));
    return it != by_path_.end() ? &it->second : nullptr;
}

void SymbolCache::add(const ModuleRef& module, uint64_t elf_vaddr, const SymbolInfo& info) {
    // Only a name read from a file whose build id matched the recording's belongs to the build id.
    if (!module.build_id.empty() && info.problem.empty())
        by_build_id_[build_id_key(module, elf_vaddr)] = info;
    else
        by_path_[path_key(module, elf_vaddr)] = info;
}

}  // namespace vdsotrace::tools

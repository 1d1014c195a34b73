// Names already resolved in this invocation, so that each (module, address) is read from the
// module's files once however many recordings, processes and threads of a report, `ls` or `top`
// ask for it. A name found in a module is keyed by the module's build id when the recording knows
// it (the same libc mapped at another path, or read again for another process, is the same file);
// an answer that depends on the path (file missing, changed since the run) and a module without
// a build id are keyed by path and build id, so different builds never share a name.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "tools/symbols/symbolizer.h"

namespace vdsotrace::tools {

class SymbolCache {
public:
    // The name cached for this module and address, or null.
    const SymbolInfo* find(const ModuleRef& module, uint64_t elf_vaddr) const;
    void add(const ModuleRef& module, uint64_t elf_vaddr, const SymbolInfo& info);
    size_t size() const { return by_build_id_.size() + by_path_.size(); }

private:
    struct Key {
        std::string module;
        uint64_t vaddr = 0;
        bool operator==(const Key& o) const { return vaddr == o.vaddr && module == o.module; }
    };
    struct Hash {
        size_t operator()(const Key& k) const { return std::hash<std::string>()(k.module) ^ (k.vaddr * 0x9e3779b97f4a7c15ull); }
    };
    static Key path_key(const ModuleRef& module, uint64_t elf_vaddr);
    static Key build_id_key(const ModuleRef& module, uint64_t elf_vaddr);

    std::unordered_map<Key, SymbolInfo, Hash> by_build_id_;
    std::unordered_map<Key, SymbolInfo, Hash> by_path_;
};

}  // namespace vdsotrace::tools

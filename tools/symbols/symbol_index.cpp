#include "tools/symbols/symbol_index.h"

#include <algorithm>

namespace vdsotrace::tools {

namespace {

int binding_value(unsigned char info) {
    switch (GELF_ST_BIND(info)) {
        case STB_GLOBAL: return 3;
        case STB_WEAK: return 2;
        case STB_LOCAL: return 1;
        default: return 0;
    }
}

}  // namespace

SymbolIndex::SymbolIndex(Dwfl_Module* mod) {
    const int n = dwfl_module_getsymtab(mod);
    for (int i = 0; i < n; ++i) {
        GElf_Sym sym;
        GElf_Addr addr = 0;
        GElf_Word shndx = 0;
        const char* name = dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, nullptr, nullptr);
        const int type = GELF_ST_TYPE(sym.st_info);
        if (name == nullptr || name[0] == '\0' || sym.st_shndx == SHN_UNDEF || sym.st_size == 0 ||
            type == STT_SECTION || type == STT_FILE || type == STT_TLS)
            continue;
        symbols_.push_back({addr, sym.st_size, binding_value(sym.st_info), i, name});
        max_size_ = std::max(max_size_, GElf_Xword(sym.st_size));
    }
    std::sort(symbols_.begin(), symbols_.end(), [](const Symbol& a, const Symbol& b) { return a.addr < b.addr; });
}

const char* SymbolIndex::find(GElf_Addr addr, GElf_Off* offset) const {
    // Every symbol containing addr starts within max_size_ below it.
    auto it = std::upper_bound(symbols_.begin(), symbols_.end(), addr,
                               [](GElf_Addr a, const Symbol& s) { return a < s.addr; });
    std::vector<const Symbol*> candidates;
    while (it != symbols_.begin()) {
        --it;
        if (addr - it->addr >= max_size_) break;
        if (addr < it->addr + it->size) candidates.push_back(&*it);
    }
    if (candidates.empty()) return nullptr;
    // libdwfl's choice, applied in symbol-table order.
    std::sort(candidates.begin(), candidates.end(), [](const Symbol* a, const Symbol* b) { return a->index < b->index; });
    const Symbol* best = nullptr;
    for (const Symbol* s : candidates) {
        if (best == nullptr || best->addr < s->addr || best->binding < s->binding) {
            best = s;
        } else if (best->addr == s->addr && ((best->size > s->size && best->binding <= s->binding) ||
                                             (best->size >= s->size && best->binding < s->binding))) {
            best = s;
        }
    }
    *offset = addr - best->addr;
    return best->name;
}

}  // namespace vdsotrace::tools

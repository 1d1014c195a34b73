#include "go_functions.h"

#include <algorithm>
#include <cstring>

#include "go_pclntab.h"

namespace vdsotrace::tools {

GoFunctionTable GoFunctionTable::from_elf(Elf* elf) {
    GoFunctionTable table;
    size_t shstrndx = 0;
    if (elf == nullptr || elf_getshdrstrndx(elf, &shstrndx) != 0) return table;
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type == SHT_NOBITS) continue;
        const char* name = elf_strptr(elf, shstrndx, shdr.sh_name);
        if (name == nullptr || strcmp(name, ".gopclntab") != 0) continue;
        Elf_Data* data = elf_getdata(scn, nullptr);
        if (data == nullptr || data->d_buf == nullptr) break;
        const bool ok = tracer::go::for_each_go_function(
            static_cast<const unsigned char*>(data->d_buf), data->d_size, [&](const char* fn, uint64_t b, uint64_t e) {
                table.functions_.push_back({b, e, fn});
                return true;
            });
        if (!ok || !std::is_sorted(table.functions_.begin(), table.functions_.end(),
                                   [](const Function& a, const Function& b) { return a.begin < b.begin; }))
            table.functions_.clear();
        break;
    }
    return table;
}

const std::string* GoFunctionTable::find(uint64_t vaddr, uint64_t* offset) const {
    auto it = std::upper_bound(functions_.begin(), functions_.end(), vaddr,
                               [](uint64_t v, const Function& f) { return v < f.begin; });
    if (it == functions_.begin()) return nullptr;
    --it;
    if (vaddr >= it->end) return nullptr;
    *offset = vaddr - it->begin;
    return &it->name;
}

}  // namespace vdsotrace::tools

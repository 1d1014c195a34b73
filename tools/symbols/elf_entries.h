// Walking the entries of an ELF file's tables with libelf: every symbol of the symbol tables,
// every relocation. One loop for every reader of them (the Go function table, the static
// injector's symbol and relocation look-ups), so that each checks sizes the same way.
#pragma once

#include <gelf.h>
#include <libelf.h>

namespace vdsotrace::tools {

// Calls visit(data, section header, index) for each entry of every section of type `type`
// (SHT_SYMTAB, SHT_RELA, ...) until it returns false. False when the file has no such section.
template <typename Visit>
bool for_each_section_entry(Elf* elf, Elf64_Word type, Visit visit) {
    bool found = false;
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) == nullptr || sh.sh_type != type || sh.sh_entsize == 0) continue;
        Elf_Data* data = elf_getdata(scn, nullptr);
        if (data == nullptr) continue;
        found = true;
        for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; ++i)
            if (!visit(data, sh, int(i))) return true;
    }
    return found;
}

// Calls visit(name, symbol) for every named symbol of the sections of type `type` (SHT_SYMTAB or
// SHT_DYNSYM). False when the file has no such section.
template <typename Visit>
bool for_each_symbol(Elf* elf, Elf64_Word type, Visit visit) {
    return for_each_section_entry(elf, type, [&](Elf_Data* data, const GElf_Shdr& sh, int i) {
        GElf_Sym s;
        if (gelf_getsym(data, i, &s) != nullptr)
            if (const char* name = elf_strptr(elf, sh.sh_link, s.st_name)) visit(name, s);
        return true;
    });
}

}  // namespace vdsotrace::tools

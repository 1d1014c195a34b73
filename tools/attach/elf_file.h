// What `vdsotrace attach` reads from the files of a process's modules (libelf): where the file
// expects to be loaded, whether it needs a loader, its defined dynamic symbols and the GOT slots
// through which it calls the clock functions.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace vdsotrace::attach {

struct ElfFile {
    uint64_t first_load_vaddr = 0;  // lowest PT_LOAD p_vaddr, page-aligned down
    bool has_interp = false;        // PT_INTERP: dynamically linked
    std::map<std::string, uint64_t> symbols;  // defined dynamic symbols -> st_value
    struct Import {
        uint64_t got_offset;  // r_offset: the slot's ELF address
        std::string name;
    };
    std::vector<Import> imports;  // JUMP_SLOT / GLOB_DAT relocations against names in `wanted`
    std::map<std::string, uint64_t> symtab;  // .symtab symbols named in `wanted_symtab` -> st_value
};

// False with a reason when `path` cannot be read as a 64-bit ELF file.
bool read_elf_file(const std::string& path, const std::set<std::string>& wanted, ElfFile* out, std::string* why,
                   const std::set<std::string>& wanted_symtab = {});

}  // namespace vdsotrace::attach

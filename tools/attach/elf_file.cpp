#include "tools/attach/elf_file.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <fmt/format.h>

namespace vdsotrace::attach {

bool read_elf_file(const std::string& path, const std::set<std::string>& wanted, ElfFile* out, std::string* why,
                   const std::set<std::string>& wanted_symtab) {
    elf_version(EV_CURRENT);
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = fmt::format("cannot open {}", path);
        return false;
    }
    Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
    bool ok = elf != nullptr && elf_kind(elf) == ELF_K_ELF && gelf_getclass(elf) == ELFCLASS64;
    if (!ok) *why = fmt::format("{} is not a 64-bit ELF file", path);
    size_t phnum = 0;
    bool have_load = false;
    if (ok && elf_getphdrnum(elf, &phnum) == 0) {
        for (size_t i = 0; i < phnum; ++i) {
            GElf_Phdr ph;
            if (gelf_getphdr(elf, int(i), &ph) == nullptr) continue;
            if (ph.p_type == PT_INTERP) out->has_interp = true;
            if (ph.p_type == PT_LOAD && (!have_load || ph.p_vaddr < out->first_load_vaddr)) {
                out->first_load_vaddr = ph.p_vaddr & ~uint64_t(4095);
                have_load = true;
            }
        }
    }
    for (Elf_Scn* scn = nullptr; ok && (scn = elf_nextscn(elf, scn)) != nullptr;) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) == nullptr) continue;
        if (sh.sh_type == SHT_DYNSYM) {
            Elf_Data* data = elf_getdata(scn, nullptr);
            for (size_t i = 0; data != nullptr && sh.sh_entsize != 0 && i < sh.sh_size / sh.sh_entsize; ++i) {
                GElf_Sym sym;
                if (gelf_getsym(data, int(i), &sym) == nullptr || sym.st_shndx == SHN_UNDEF) continue;
                if (const char* name = elf_strptr(elf, sh.sh_link, sym.st_name)) out->symbols.emplace(name, sym.st_value);
            }
        }
        if (sh.sh_type == SHT_SYMTAB && !wanted_symtab.empty()) {
            Elf_Data* data = elf_getdata(scn, nullptr);
            for (size_t i = 0; data != nullptr && sh.sh_entsize != 0 && i < sh.sh_size / sh.sh_entsize; ++i) {
                GElf_Sym sym;
                if (gelf_getsym(data, int(i), &sym) == nullptr || sym.st_shndx == SHN_UNDEF) continue;
                const char* name = elf_strptr(elf, sh.sh_link, sym.st_name);
                if (name != nullptr && wanted_symtab.count(name)) out->symtab.emplace(name, sym.st_value);
            }
        }
        if (sh.sh_type == SHT_RELA && sh.sh_entsize != 0) {
            Elf_Scn* symscn = elf_getscn(elf, sh.sh_link);
            GElf_Shdr symsh;
            if (symscn == nullptr || gelf_getshdr(symscn, &symsh) == nullptr || symsh.sh_type != SHT_DYNSYM) continue;
            Elf_Data* syms = elf_getdata(symscn, nullptr);
            Elf_Data* data = elf_getdata(scn, nullptr);
            for (size_t i = 0; data != nullptr && syms != nullptr && i < sh.sh_size / sh.sh_entsize; ++i) {
                GElf_Rela rela;
                if (gelf_getrela(data, int(i), &rela) == nullptr) continue;
                const auto type = GELF_R_TYPE(rela.r_info);
                if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
                GElf_Sym sym;
                if (gelf_getsym(syms, int(GELF_R_SYM(rela.r_info)), &sym) == nullptr || sym.st_shndx != SHN_UNDEF) continue;
                const char* name = elf_strptr(elf, symsh.sh_link, sym.st_name);
                if (name != nullptr && wanted.count(name)) out->imports.push_back({rela.r_offset, name});
            }
        }
    }
    if (elf != nullptr) elf_end(elf);
    close(fd);
    return ok;
}

}  // namespace vdsotrace::attach

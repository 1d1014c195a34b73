#include "symbol_at.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>

namespace vdsotrace::tracer::wrappers {

namespace {

// Symbols in the table: DT_HASH says it; DT_GNU_HASH only implies it (past the highest bucket's
// chain end).
uint32_t symbol_count(const ElfW(Word)* sysv_hash, const uint32_t* gnu_hash) {
    if (sysv_hash != nullptr) return sysv_hash[1];
    if (gnu_hash == nullptr) return 0;
    const uint32_t nbuckets = gnu_hash[0], symoffset = gnu_hash[1], bloom_size = gnu_hash[2];
    if (nbuckets == 0 || nbuckets > (1u << 24) || bloom_size > (1u << 24)) return 0;
    const uint32_t* buckets = gnu_hash + 4 + bloom_size * (sizeof(ElfW(Addr)) / 4);
    const uint32_t* chains = buckets + nbuckets;
    uint32_t last = 0;
    for (uint32_t b = 0; b < nbuckets; ++b)
        if (buckets[b] > last) last = buckets[b];
    if (last < symoffset) return symoffset;
    for (uint32_t guard = 0; guard < (1u << 24); ++guard, ++last)
        if (chains[last - symoffset] & 1) return last + 1;
    return 0;
}

}  // namespace

bool code_site_at(uintptr_t pc, CodeSite* out) {
    dl_find_object found;
    if (_dl_find_object(reinterpret_cast<void*>(pc), &found) != 0) return false;
    out->eh_frame_hdr = found.dlfo_eh_frame;
    out->symbol = nullptr;
    const link_map* lm = found.dlfo_link_map;
    if (lm == nullptr || lm->l_ld == nullptr) return true;
    const uintptr_t start = uintptr_t(found.dlfo_map_start), end = uintptr_t(found.dlfo_map_end);
    // The loader relocates these entries in place on most architectures; the vDSO's are not.
    auto addr = [&](ElfW(Addr) p) -> uintptr_t { return p >= start && p < end ? p : p + lm->l_addr; };
    const ElfW(Sym)* symtab = nullptr;
    const char* strtab = nullptr;
    uint64_t strsz = 0;
    const ElfW(Word)* sysv_hash = nullptr;
    const uint32_t* gnu_hash = nullptr;
    for (const ElfW(Dyn)* d = lm->l_ld; d->d_tag != DT_NULL; ++d) {
        switch (d->d_tag) {
            case DT_SYMTAB: symtab = reinterpret_cast<const ElfW(Sym)*>(addr(d->d_un.d_ptr)); break;
            case DT_STRTAB: strtab = reinterpret_cast<const char*>(addr(d->d_un.d_ptr)); break;
            case DT_STRSZ: strsz = d->d_un.d_val; break;
            case DT_HASH: sysv_hash = reinterpret_cast<const ElfW(Word)*>(addr(d->d_un.d_ptr)); break;
            case DT_GNU_HASH: gnu_hash = reinterpret_cast<const uint32_t*>(addr(d->d_un.d_ptr)); break;
            default: break;
        }
    }
    if (symtab == nullptr || strtab == nullptr) return true;
    const uint32_t count = symbol_count(sysv_hash, gnu_hash);
    const uintptr_t link_pc = pc - lm->l_addr;
    for (uint32_t i = 0; i < count; ++i) {
        const ElfW(Sym)& s = symtab[i];
        const unsigned type = ELF64_ST_TYPE(s.st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF || s.st_name >= strsz) continue;
        if (link_pc >= s.st_value && link_pc < s.st_value + s.st_size) {
            out->symbol = strtab + s.st_name;
            return true;
        }
    }
    return true;
}

}  // namespace vdsotrace::tracer::wrappers

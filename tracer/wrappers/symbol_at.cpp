#include "tracer/wrappers/symbol_at.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include <cstring>

#include "tracer/wrappers/file_symbols.h"

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

struct DynamicTables {
    const ElfW(Sym)* symtab = nullptr;
    const char* strtab = nullptr;
    uint64_t strsz = 0;
    uint32_t count = 0;
    uintptr_t bias = 0;
    const uint32_t* gnu_hash = nullptr;
};

bool dynamic_tables(const dl_find_object& found, DynamicTables* t) {
    const link_map* lm = found.dlfo_link_map;
    if (lm == nullptr || lm->l_ld == nullptr) return false;
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
    if (symtab == nullptr || strtab == nullptr) return false;
    t->symtab = symtab;
    t->strtab = strtab;
    t->strsz = strsz;
    t->count = symbol_count(sysv_hash, gnu_hash);
    t->bias = lm->l_addr;
    t->gnu_hash = gnu_hash;
    return true;
}

bool defined_as(const DynamicTables& t, uint32_t i, const char* name) {
    const ElfW(Sym)& s = t.symtab[i];
    return s.st_shndx != SHN_UNDEF && s.st_name < t.strsz && s.st_value != 0 && strcmp(t.strtab + s.st_name, name) == 0;
}

// The index of `name` through the GNU hash table, as the loader finds it: a bloom filter, one
// bucket and its chain (a handful of comparisons where a scan compared every symbol: libc's 3,000
// twice for each module a Python probe asked about). UINT32_MAX when absent.
uint32_t gnu_lookup(const DynamicTables& t, const char* name) {
    const uint32_t* h = t.gnu_hash;
    const uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2], bloom_shift = h[3];
    if (nbuckets == 0 || bloom_size == 0 || (bloom_size & (bloom_size - 1)) != 0) return UINT32_MAX;
    uint32_t hash = 5381;
    for (const unsigned char* c = reinterpret_cast<const unsigned char*>(name); *c != '\0'; ++c) hash = hash * 33 + *c;
    constexpr uint32_t kBits = sizeof(ElfW(Addr)) * 8;
    const auto* bloom = reinterpret_cast<const ElfW(Addr)*>(h + 4);
    const ElfW(Addr) word = bloom[(hash / kBits) & (bloom_size - 1)];
    const ElfW(Addr) mask = (ElfW(Addr)(1) << (hash % kBits)) | (ElfW(Addr)(1) << ((hash >> bloom_shift) % kBits));
    if ((word & mask) != mask) return UINT32_MAX;
    const uint32_t* buckets = h + 4 + bloom_size * (sizeof(ElfW(Addr)) / 4);
    const uint32_t* chains = buckets + nbuckets;
    uint32_t i = buckets[hash % nbuckets];
    if (i < symoffset || i >= t.count) return UINT32_MAX;
    for (; i < t.count; ++i) {
        const uint32_t chained = chains[i - symoffset];
        if ((chained | 1) == (hash | 1) && defined_as(t, i, name)) return i;
        if (chained & 1) break;
    }
    return UINT32_MAX;
}

}  // namespace

bool code_site_at(uintptr_t pc, CodeSite* out) {
    dl_find_object found;
    if (_dl_find_object(reinterpret_cast<void*>(pc), &found) != 0) return false;
    out->eh_frame_hdr = found.dlfo_eh_frame;
    out->map_start = found.dlfo_map_start;
    out->symbol = nullptr;
    DynamicTables t;
    if (!dynamic_tables(found, &t)) return true;
    const ElfW(Sym)* symtab = t.symtab;
    const char* strtab = t.strtab;
    const uint64_t strsz = t.strsz;
    const uint32_t count = t.count;
    const uintptr_t link_pc = pc - t.bias;
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

bool name_from_file(uintptr_t pc, CodeSite* site) {
    if (site->symbol != nullptr) return true;
    dl_find_object found;
    if (_dl_find_object(reinterpret_cast<void*>(pc), &found) != 0) return true;
    const char* name = nullptr;
    const FileName got = file_function_at(found, pc, &name);
    if (got == FileName::kFound) site->symbol = name;
    return got != FileName::kNotNow;
}

const void* module_symbol(uintptr_t pc, const char* name, uint64_t* size) {
    dl_find_object found;
    DynamicTables t;
    if (_dl_find_object(reinterpret_cast<void*>(pc), &found) != 0 || !dynamic_tables(found, &t)) return nullptr;
    uint32_t at = UINT32_MAX;
    if (t.gnu_hash != nullptr) {
        at = gnu_lookup(t, name);
    } else {
        for (uint32_t i = 0; i < t.count && at == UINT32_MAX; ++i)
            if (defined_as(t, i, name)) at = i;
    }
    if (at == UINT32_MAX) return nullptr;
    if (size != nullptr) *size = t.symtab[at].st_size;
    return reinterpret_cast<const void*>(t.bias + t.symtab[at].st_value);
}

}  // namespace vdsotrace::tracer::wrappers

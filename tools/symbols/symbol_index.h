// The ELF symbol table of one module, sorted by address, so that naming an address is a binary
// search instead of libdwfl's dwfl_module_addrinfo, which scans every symbol on every call (a
// report naming 12,000 addresses in libc took 20 s). Picks the same symbol libdwfl does among
// sized symbols (elfutils' dwfl_module_addrsym.c: closest start, then binding, then size);
// addresses only sizeless labels cover are left to libdwfl.
#pragma once

#include <elfutils/libdwfl.h>

#include <vector>

namespace vdsotrace::tools {

class SymbolIndex {
public:
    explicit SymbolIndex(Dwfl_Module* mod);

    // The name of the sized symbol containing `addr` (libdwfl's address space), with `*offset`
    // set to addr - its start; null when no sized symbol contains it.
    const char* find(GElf_Addr addr, GElf_Off* offset) const;

private:
    struct Symbol {
        GElf_Addr addr;
        GElf_Xword size;
        int binding;  // higher is better: global 3, weak 2, local 1
        int index;    // in the symbol table: ties go to the first, as in libdwfl
        const char* name;
    };
    std::vector<Symbol> symbols_;  // sorted by addr
    GElf_Xword max_size_ = 0;
};

}  // namespace vdsotrace::tools

// Names Go functions from a Go binary's own function table (.gopclntab), for binaries stripped
// of their ELF symbol table (-ldflags=-s): the common case for Go services in containers.
#pragma once

#include <gelf.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vdsotrace::tools {

class GoFunctionTable {
public:
    // Reads .gopclntab from `elf`; empty when there is none or it is not a layout we know.
    static GoFunctionTable from_elf(Elf* elf);

    // The function holding the link-time address `vaddr`, with the offset into it; null when none.
    const std::string* find(uint64_t vaddr, uint64_t* offset) const;
    bool empty() const { return functions_.empty(); }

    struct Function {
        uint64_t begin, end;  // link-time addresses
        std::string name;
    };
    const std::vector<Function>& functions() const { return functions_; }

private:
    std::vector<Function> functions_;  // in address order (the table's own order)
};

}  // namespace vdsotrace::tools

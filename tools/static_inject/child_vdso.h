// The child's vDSO as the injector sees it: a copy of the image (for the recording and for
// symbolization), its original entry points, and where each exported clock function's st_value
// lives in the child's .dynsym, so the injector can point the symbol at the trampoline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tracer/format/segment_format.h"
#include "tools/static_inject/traced_child.h"

namespace vdsotrace::inject {

struct ChildVdso {
    uint64_t base = 0;         // runtime address of the image (AT_SYSINFO_EHDR)
    uint64_t end = 0;          // end of the [vdso] mapping
    uint64_t load_offset = 0;  // runtime address - ELF address (st_value + load_offset = entry)
    std::vector<unsigned char> image;
    uint64_t original[format::kFunctionCount] = {};  // entries; 0 where the vDSO lacks the function
    struct Symbol {
        int function;              // format::Function
        uint64_t st_value_address; // in the child
        std::string name;
    };
    std::vector<Symbol> symbols;   // every name of every function (clock_gettime, __vdso_clock_gettime)
};

// Reads the vDSO of the stopped child (`vdso_base` from its auxv). False with a reason when it
// has none that can be parsed.
bool read_child_vdso(const TracedChild& child, uint64_t vdso_base, ChildVdso* out, std::string* why);

// Points every symbol of `vdso` at `entries[function]` by rewriting st_value in the child's
// .dynsym. The whole [vdso] mapping stays as it was otherwise. False with a reason on the first
// write that fails (then some symbols may already be rewritten: callers detach all the same, the
// trampoline is in place and continues to the original functions).
bool redirect_vdso_symbols(const TracedChild& child, const ChildVdso& vdso,
                           const uint64_t (&entries)[format::kFunctionCount], std::string* why);

}  // namespace vdsotrace::inject

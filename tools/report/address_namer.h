// The one way a code address of a recorded process is named: `symbol (module+0x1f4) file.c:12`,
// or, when no name was found, `module+0x1f4 (unnamed: why)`. The report's callers, their wrappers
// (`via`) and headroom rows, the crash explanation, the sampled stacks and `top` all name addresses
// through here, so none of them can show an unnamed address without its reason.
#pragma once

#include <cstdint>
#include <string>

#include "tracer/common/path_name.h"
#include "tracer/format/segment_format.h"
#include "tools/recordings/segment_reader.h"
#include "tools/symbols/symbolizer.h"

namespace vdsotrace::tools {

// The module of the recording that holds `address`, or null (JIT code, unknown).
const ModuleInfo* module_of(const Recording& r, uint64_t address);
// The module's file: the executable for the main program.
std::string module_path(const Recording& r, const ModuleInfo& m);
// "module+0x1f4" (the module's file name and an offset in it).
std::string module_offset_text(const std::string& path, uint64_t offset);

struct CallSite {
    const ModuleInfo* module = nullptr;  // null: in no module
    std::string path;                    // the module's file ("" without module)
    uint64_t offset = 0;                 // address - load bias (the address itself without module)
    SymbolInfo symbol;                   // the call instruction's (return address - 1); empty without module
    // Why symbol.symbol is empty, in the report's words (symbolizer.h unnamed_because, or
    // kNotMapped for an address in no module); "" when it was named.
    std::string unnamed_because;
};

// A Python call site rather than a code address: format::kPythonSiteTag | an index into
// Recording::python_sites (the interpreter's frame read at the call).
inline bool is_python_site(uint64_t address) {
    return (address & format::kPythonSiteTag) && address < (format::kPythonSiteTag << 1);
}
// That site's function, file and line; null when `address` is no Python site or the site was
// never filled in.
const PythonSiteInfo* python_site(const Recording& r, uint64_t address);

// Why an address in no module of the recording has no name.
inline constexpr const char* kNotMapped = "not in any module the recording mapped";

// Finds and names the call site of a return address (the instruction before it made the call).
CallSite locate_call_site(const Recording& r, uint64_t return_address, Symbolizer& symbolizer);
// The same in a module known otherwise (a library unloaded since, whose range another one holds now).
CallSite locate_call_site(const Recording& r, const ModuleInfo& m, uint64_t return_address, Symbolizer& symbolizer);

// `symbol (module+offset) file:line`, parts missing where unknown; `module+offset (unnamed: why)`
// without a name; the bare address and why without module.
std::string describe_call_site(const Recording& r, uint64_t return_address, Symbolizer& symbolizer);
std::string call_site_text(const CallSite& site);

}  // namespace vdsotrace::tools

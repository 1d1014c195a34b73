// The one way a code address of a recorded process is named: `symbol (module+0x1f4) file.c:12`.
// The report's callers and headroom rows, the crash explanation, the sampled stacks and `top` all
// name addresses through here.
#pragma once

#include <cstdint>
#include <string>

#include "tracer/common/path_name.h"
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
};

// Finds and names the call site of a return address (the instruction before it made the call).
CallSite locate_call_site(const Recording& r, uint64_t return_address, Symbolizer& symbolizer);
// The same in a module known otherwise (a library unloaded since, whose range another one holds now).
CallSite locate_call_site(const Recording& r, const ModuleInfo& m, uint64_t return_address, Symbolizer& symbolizer);

// `symbol (module+offset) file:line`, parts missing where unknown; the bare address without module.
std::string describe_call_site(const Recording& r, uint64_t return_address, Symbolizer& symbolizer);

}  // namespace vdsotrace::tools

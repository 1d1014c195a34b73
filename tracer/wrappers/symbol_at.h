// The function containing a code address, from the loaded module's dynamic symbol table in
// memory (found with _dl_find_object: lock-free, async-signal-safe, no allocation). Functions
// that are not exported (static functions, most of an executable's) have no name here.
#pragma once

#include <cstdint>

namespace vdsotrace::tracer::wrappers {

struct CodeSite {
    const char* symbol = nullptr;         // the exported function containing the address, or null
    const void* eh_frame_hdr = nullptr;   // the module's PT_GNU_EH_FRAME, or null
};

// Returns false when no loaded module holds `pc`.
bool code_site_at(uintptr_t pc, CodeSite* out);

}  // namespace vdsotrace::tracer::wrappers

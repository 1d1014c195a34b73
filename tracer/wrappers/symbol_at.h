// The function containing a code address, from the loaded module's dynamic symbol table in
// memory (found with _dl_find_object: lock-free, async-signal-safe, no allocation). Functions
// that are not exported (static functions, most of an executable's) have no name here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vdsotrace::tracer::wrappers {

struct CodeSite {
    const char* symbol = nullptr;         // the exported function containing the address, or null
    const void* eh_frame_hdr = nullptr;   // the module's PT_GNU_EH_FRAME, or null
    const void* map_start = nullptr;      // where the module's mapping begins (identifies it)
};

// Returns false when no loaded module holds `pc`.
bool code_site_at(uintptr_t pc, CodeSite* out);

// When the dynamic symbols did not name the function at `pc` (site->symbol null), its name from
// the module's file (file_symbols.h: .symtab or the debug file's), pointed to by site->symbol.
// Slow path only (reads files). Returns false when the file cannot be read now (a frame this one
// interrupted is reading it): the caller must not keep a decision made without it.
bool name_from_file(uintptr_t pc, CodeSite* site);

// The address of the exported symbol `name` defined in the module that holds `pc`, or null;
// `*size` (when given) its size.
const void* module_symbol(uintptr_t pc, const char* name, uint64_t* size = nullptr);

}  // namespace vdsotrace::tracer::wrappers

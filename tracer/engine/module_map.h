// The module table: which loaded object (path, load bias, address range, build id) holds a code
// address, so the reader can name callers after the program and its dlopen'ed libraries are gone.
// Entries are added when an address is first seen, through glibc's _dl_find_object, which is
// lock-free and async-signal-safe (dl_iterate_phdr and dladdr take the loader's lock and can
// deadlock a caller interrupted inside dlopen).
#pragma once

#include <cstdint>

#include "tracer/engine/segment_create.h"

namespace vdsotrace::tracer {

// Makes sure the module containing `address` is in the table. Cold path; may add duplicates
// when two threads race (readers merge them).
void ensure_module(Segment* seg, uintptr_t address);

// After a dlclose: marks every module of the table that is no longer loaded (no object at its
// start, or another one: other file, range or build id) kModuleUnloaded, and writes the indexes of
// those it marked (at most `max`) to `indexes`. Returns how many. Cold: takes the loader's list lock
// (dl_iterate_phdr), which keeps another thread's dlclose from unmapping an object while it is
// compared; never from a signal handler.
uint32_t mark_unloaded_modules(Segment* seg, uint32_t* indexes, uint32_t max);

// Reads the GNU build id from the program headers of an ELF image mapped at `elf_header`.
// Returns its size (0 when none), copying at most `max` bytes.
uint32_t read_build_id(const void* elf_header, uintptr_t load_bias, unsigned char* out, uint32_t max);

}  // namespace vdsotrace::tracer

// Where libdwfl looks for a module's separate debug information.
//
// dwfl_standard_find_debuginfo, after the local search fails (most programs are stripped and their
// debug files not installed), asks debuginfod: libdwfl then dlopens libdebuginfod, which loads
// libcurl and its TLS stack, 33 libraries, 10 to 25 ms on every `report` and `run`, even with
// DEBUGINFOD_URLS unset and nothing to ask (elfutils 0.188). find_debuginfo_here keeps the
// standard search (network included) when DEBUGINFOD_URLS names a server, and otherwise searches
// the disk only, as the standard search would: by build id under /usr/lib/debug/.build-id, then
// by the .gnu_debuglink name beside the file, in .debug/ beside it and under /usr/lib/debug.
#pragma once

#include <elfutils/libdwfl.h>

namespace vdsotrace::tools {

// A Dwfl_Callbacks::find_debuginfo.
int find_debuginfo_here(Dwfl_Module* mod, void** userdata, const char* modname, Dwarf_Addr base,
                        const char* file_name, const char* debuglink_file, GElf_Word debuglink_crc,
                        char** debuginfo_file_name);

// Whether DEBUGINFOD_URLS names a server (read at each call: tests and users set it late).
bool debuginfod_configured();

}  // namespace vdsotrace::tools

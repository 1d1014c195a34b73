// VDSOTRACE_BULK_TABLE: put on the definition of a large table that is all zeros until used (the
// shim's module, call-site and Python-site tables): it goes to .lbss, which the linker places after
// .bss in the same writable segment, so the small variables of every file lie together on a few
// pages instead of between the tables. Each page's first touch is a page fault of 3 to 5 us on a
// VM, and a short process touched a dozen pages of the shim's variables, most of them for a few
// bytes each (issue 14's shell loop). x86-64 GCC only (it knows .lbss as a zero-filled section);
// elsewhere the tables stay in .bss.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VDSOTRACE_BULK_TABLE __attribute__((section(".lbss")))
#else
#define VDSOTRACE_BULK_TABLE
#endif

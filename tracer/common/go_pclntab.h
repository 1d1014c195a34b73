// Go's own function table (.gopclntab), which every Go binary keeps even when stripped of its
// ELF symbol table (-ldflags=-s): the Go runtime needs it for tracebacks. Read here only for
// function names and ranges, in the layout of Go 1.18 and later (magic 0xfffffff0 / 0xfffffff1).
//
// No allocation, no globals, bounds-checked (the file is untrusted input): used by the shim at start-up
// (the Go time plumbing of a stripped binary, go_callers.h) and by the symbolizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vdsotrace::tracer::go {

struct PclntabHeader {
    uint64_t text_start;      // link-time address function offsets are relative to
    uint64_t nfunc;
    uint64_t funcname_offset; // from the table's start
    uint64_t pcln_offset;     // the functab, from the table's start
};

// Reads the header of a 64-bit little-endian pclntab. False when it is not one we know.
inline bool read_pclntab_header(const unsigned char* tab, size_t size, PclntabHeader* out) {
    if (size < 8 + 8 * 8) return false;
    uint32_t magic;
    memcpy(&magic, tab, 4);
    if ((magic != 0xfffffff0u && magic != 0xfffffff1u) || tab[4] != 0 || tab[5] != 0 || tab[7] != 8) return false;
    uint64_t words[8];
    memcpy(words, tab + 8, sizeof words);  // nfunc, nfiles, textStart, funcname, cu, filetab, pctab, pcln
    *out = PclntabHeader{words[2], words[0], words[3], words[7]};
    if (out->nfunc == 0 || out->funcname_offset >= size || out->pcln_offset >= size) return false;
    // functab: nfunc + 1 pairs of uint32 (the last holds the end of the text).
    if ((size - out->pcln_offset) / 8 < out->nfunc + 1) return false;
    return true;
}

// Finds a pclntab inside a section that holds other data too: a position-independent Go binary
// linked externally (cgo) keeps it in .data.rel.ro, with no .gopclntab section of its own. Scans
// 8-byte aligned offsets for a header read_pclntab_header accepts; returns its offset or -1.
inline long find_pclntab(const unsigned char* data, size_t size) {
    PclntabHeader h;
    for (size_t i = 0; i + 8 <= size; i += 8) {
        if (data[i] < 0xf0 || data[i + 1] != 0xff || data[i + 2] != 0xff || data[i + 3] != 0xff) continue;
        if (read_pclntab_header(data + i, size - i, &h)) return long(i);
    }
    return -1;
}

// Where textStart lies in the table. A position-independent binary has 0 there in the file and a
// relocation that fills it in at load time.
inline constexpr uint64_t kPclntabTextStartOffset = 8 + 2 * 8;

// Calls visit(name, begin, end) with link-time addresses for every function, in address order.
// Stops early when visit returns false. Returns false when the table is malformed. `text_start`,
// when not 0, replaces the header's (see kPclntabTextStartOffset).
template <typename Visit>
bool for_each_go_function(const unsigned char* tab, size_t size, Visit visit, uint64_t text_start = 0) {
    PclntabHeader h;
    if (!read_pclntab_header(tab, size, &h)) return false;
    if (text_start != 0) h.text_start = text_start;
    const unsigned char* functab = tab + h.pcln_offset;
    const size_t pcln_size = size - h.pcln_offset;
    for (uint64_t i = 0; i < h.nfunc; ++i) {
        uint32_t entry, funcoff, next_entry;
        memcpy(&entry, functab + 8 * i, 4);
        memcpy(&funcoff, functab + 8 * i + 4, 4);
        memcpy(&next_entry, functab + 8 * (i + 1), 4);
        // _func: entryoff uint32, nameoff int32, ...
        if (funcoff > pcln_size || pcln_size - funcoff < 8 || next_entry < entry) return false;
        int32_t nameoff;
        memcpy(&nameoff, functab + funcoff + 4, 4);
        if (nameoff < 0 || uint64_t(nameoff) >= size - h.funcname_offset) return false;
        const char* name = reinterpret_cast<const char*>(tab + h.funcname_offset + uint64_t(nameoff));
        if (memchr(name, '\0', size - h.funcname_offset - uint64_t(nameoff)) == nullptr) return false;
        if (!visit(name, h.text_start + entry, h.text_start + next_entry)) return true;
    }
    return true;
}

}  // namespace vdsotrace::tracer::go

// Names code addresses offline, after the traced program has exited, from the module files on
// disk (elfutils libdw): the enclosing function (demangled), the inline chain and file:line where
// debug information exists, the ELF symbol table otherwise, and module+offset as the last resort.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vdsotrace::tools {

struct InlineFrame {
    std::string function;  // demangled name of the inlined function
    std::string file;      // call site of this inlined frame, or "" where unknown
    int line = 0;
};

struct SymbolInfo {
    std::string symbol;          // demangled name of the function containing the address, "" if unknown
    uint64_t symbol_offset = 0;  // address - start of that function
    std::string file;            // source file of the address, "" without debug info
    int line = 0;                // 0 without debug info
    // Inline chain, innermost first, when the address lies in code inlined into `symbol`
    // (e.g. {"leaf_inlined", "mid_inlined"} for leaf inlined into mid inlined into symbol).
    std::vector<InlineFrame> inlined;
    std::string problem;         // why nothing was found: "file not found", "build id mismatch", ...
};

// One module as the recording describes it.
struct ModuleRef {
    std::string path;       // file on disk ("[vdso]" for the vDSO)
    std::string build_id;   // lower-case hex, "" when unknown; checked against the file when both exist
};

class SymbolTable;  // symbols/symbol_table.h

class Symbolizer {
public:
    Symbolizer();
    ~Symbolizer();
    Symbolizer(const Symbolizer&) = delete;
    Symbolizer& operator=(const Symbolizer&) = delete;

    // `elf_vaddr` is the address in the module's own ELF address space (runtime address minus the
    // module's load bias), e.g. a return address - 1 for a call site. Results are cached per module.
    SymbolInfo lookup(const ModuleRef& module, uint64_t elf_vaddr);

    // Registers an in-memory ELF image for a path that has no file (the vDSO copied into the
    // recording). The bytes are copied.
    void add_image(const std::string& path, const std::vector<unsigned char>& bytes);

    // Names resolved earlier (a recording file's): consulted before the files on disk, which may
    // have changed or gone since. A table with `collect` set receives every name resolved from
    // the files instead (the end of `run`, while they are still there).
    void use_table(std::shared_ptr<SymbolTable> table);

    // Inline chains from libdw's DWARF scope walk for every address, as before the unit's inline
    // index (tests compare the two).
    void walk_scopes_always(bool on);

private:
    SymbolInfo lookup_file(const ModuleRef& module, uint64_t elf_vaddr);

    std::vector<std::shared_ptr<SymbolTable>> tables_;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Why an address was not named, in the report's words, from SymbolInfo::problem: "module changed
// since the run (build id differs)", "module file deleted or moved", "no symbols in the module";
// "" when it was named.
std::string unnamed_because(const SymbolInfo& info);

// Demangles a C++ (Itanium ABI) symbol name; returns it unchanged when it is not mangled.
std::string demangle(const std::string& name);

}  // namespace vdsotrace::tools

// Names resolved once, while the traced program's modules were still on disk (at the end of
// `vdsotrace run`), and carried in its recording file: a report on another machine, or after the
// binary was rebuilt or deleted, names every call site and sampled frame as the run saw them.
//
// Keyed by what the symbolizer is asked: module path, the build id the recording saw, and the
// address in the module's ELF address space. Stored in the recording file as JSON text (one
// section); the reader checks every field's type and refuses anything else with a message.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "tools/symbols/symbolizer.h"

namespace vdsotrace::tools {

class SymbolTable {
public:
    // When set, the symbolizer adds every name it resolves from the files (the end of `run`).
    bool collect = false;

    // The name recorded for this module and address, or null.
    const SymbolInfo* find(const ModuleRef& module, uint64_t elf_vaddr) const;
    void add(const ModuleRef& module, uint64_t elf_vaddr, const SymbolInfo& info);
    size_t size() const { return entries_.size(); }

    std::string to_json() const;
    // Parses to_json()'s text; null with a message when it is not that.
    static std::shared_ptr<SymbolTable> from_json(const std::string& text, std::string* error);

private:
    std::map<std::tuple<std::string, std::string, uint64_t>, SymbolInfo> entries_;
};

}  // namespace vdsotrace::tools

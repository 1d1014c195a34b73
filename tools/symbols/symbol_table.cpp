#include "tools/symbols/symbol_table.h"

#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace vdsotrace::tools {

namespace {

using json = nlohmann::json;

// Typed reads that never throw: a wrong type is a refusal, not an exception.
bool get_string(const json& o, const char* key, std::string* out) {
    auto it = o.find(key);
    if (it == o.end()) return true;  // optional: absent means empty
    if (!it->is_string()) return false;
    *out = it->get<std::string>();
    return true;
}

bool get_u64(const json& o, const char* key, uint64_t* out) {
    auto it = o.find(key);
    if (it == o.end()) return true;
    if (!it->is_number_unsigned()) return false;
    *out = it->get<uint64_t>();
    return true;
}

bool get_line(const json& o, const char* key, int* out) {
    uint64_t v = 0;
    if (!get_u64(o, key, &v) || v > uint64_t(std::numeric_limits<int>::max())) return false;
    *out = int(v);
    return true;
}

}  // namespace

const SymbolInfo* SymbolTable::find(const ModuleRef& module, uint64_t elf_vaddr) const {
    auto it = entries_.find({module.path, module.build_id, elf_vaddr});
    return it == entries_.end() ? nullptr : &it->second;
}

void SymbolTable::add(const ModuleRef& module, uint64_t elf_vaddr, const SymbolInfo& info) {
    entries_[{module.path, module.build_id, elf_vaddr}] = info;
}

std::string SymbolTable::to_json() const {
    json all = json::array();
    for (const auto& [key, s] : entries_) {
        const auto& [path, build_id, vaddr] = key;
        json e = {{"module", path}, {"address", vaddr}};
        if (!build_id.empty()) e["build_id"] = build_id;
        if (!s.symbol.empty()) e["symbol"] = s.symbol;
        if (s.symbol_offset) e["symbol_offset"] = s.symbol_offset;
        if (!s.file.empty()) e["file"] = s.file;
        if (s.line) e["line"] = s.line;
        if (!s.problem.empty()) e["problem"] = s.problem;
        if (!s.inlined.empty()) {
            json in = json::array();
            for (const InlineFrame& f : s.inlined) in.push_back({{"function", f.function}, {"file", f.file}, {"line", f.line}});
            e["inlined"] = std::move(in);
        }
        all.push_back(std::move(e));
    }
    return all.dump();
}

std::shared_ptr<SymbolTable> SymbolTable::from_json(const std::string& text, std::string* error) {
    const json all = json::parse(text, nullptr, false);
    if (all.is_discarded() || !all.is_array()) {
        *error = "the symbol table is not a JSON array";
        return nullptr;
    }
    auto table = std::make_shared<SymbolTable>();
    size_t n = 0;
    for (const json& e : all) {
        ++n;
        ModuleRef m;
        uint64_t vaddr = 0;
        SymbolInfo s;
        bool ok = e.is_object() && e.contains("module") && e.contains("address") && get_string(e, "module", &m.path) &&
                  get_u64(e, "address", &vaddr) && get_string(e, "build_id", &m.build_id) &&
                  get_string(e, "symbol", &s.symbol) && get_u64(e, "symbol_offset", &s.symbol_offset) &&
                  get_string(e, "file", &s.file) && get_line(e, "line", &s.line) &&
                  get_string(e, "problem", &s.problem);
        if (ok && e.contains("inlined")) {
            const json& in = e["inlined"];
            ok = in.is_array();
            for (size_t i = 0; ok && i < in.size(); ++i) {
                InlineFrame f;
                ok = in[i].is_object() && get_string(in[i], "function", &f.function) &&
                     get_string(in[i], "file", &f.file) && get_line(in[i], "line", &f.line);
                s.inlined.push_back(std::move(f));
            }
        }
        if (!ok) {
            *error = fmt::format("entry {} of the symbol table is malformed", n);
            return nullptr;
        }
        table->add(m, vaddr, s);
    }
    return table;
}

}  // namespace vdsotrace::tools

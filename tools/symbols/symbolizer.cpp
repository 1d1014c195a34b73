// Offline symbolization with elfutils libdwfl: one Dwfl session per module, opened on first use
// and cached for the lifetime of the Symbolizer. Every module is reported so that libdwfl's
// addresses are the module's ELF virtual addresses plus a bias we read back from libdwfl
// (0 for files, whatever the offline layout chose for in-memory images).
#include "tools/symbols/symbolizer.h"

#include "tools/symbols/go_functions.h"
#include "tools/symbols/symbol_cache.h"
#include "tools/symbols/symbol_index.h"
#include "tools/symbols/symbol_table.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <iterator>
#include <cstring>
#include <unordered_map>
#include <utility>

namespace vdsotrace::tools {

namespace {

std::string to_hex(const unsigned char* bytes, size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) {
        out.push_back(kDigits[bytes[i] >> 4]);
        out.push_back(kDigits[bytes[i] & 0xf]);
    }
    return out;
}

bool same_build_id(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i];
        char y = b[i];
        if (x >= 'A' && x <= 'F') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'F') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

const char* attr_string(Dwarf_Die* die, unsigned int name) {
    Dwarf_Attribute attr_mem;
    Dwarf_Attribute* attr = dwarf_attr_integrate(die, name, &attr_mem);
    return attr != nullptr ? dwarf_formstring(attr) : nullptr;
}

// Demangled linkage name when the DIE (or its abstract origin / specification) has one, else
// the plain DW_AT_name.
std::string die_function_name(Dwarf_Die* die) {
    const char* linkage = attr_string(die, DW_AT_linkage_name);
    if (linkage == nullptr) linkage = attr_string(die, DW_AT_MIPS_linkage_name);
    if (linkage != nullptr) return demangle(linkage);
    const char* name = dwarf_diename(die);
    return name != nullptr ? name : "";
}

}  // namespace

std::string unnamed_because(const SymbolInfo& info) {
    if (!info.symbol.empty() || info.problem.empty()) return "";
    if (info.problem == "build id mismatch") return "module changed since the run (build id differs)";
    if (info.problem == "file not found") return "module file deleted or moved";
    if (info.problem == "no symbol") return "no symbols in the module";
    return info.problem;
}

std::string demangle(const std::string& name) {
    if (name.size() < 2 || name[0] != '_' || name[1] != 'Z') return name;
    int status = 0;
    char* out = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
    if (status != 0 || out == nullptr) {
        std::free(out);
        return name;
    }
    std::string result(out);
    std::free(out);
    return result;
}

struct Symbolizer::Impl {
    struct Module {
        Dwfl* dwfl = nullptr;
        Dwfl_Module* mod = nullptr;
        Dwarf_Addr bias = 0;      // libdwfl address = ELF vaddr + bias
        std::string build_id;     // of the file, "" when it has none
        std::string problem;      // set when the module could not be opened

        // Fallback CU index for modules without .debug_aranges (clang, rustc: libdw 0.188's
        // dwfl_module_addrdie finds nothing there). Built on first need, sorted by start.
        struct CuRange {
            Dwarf_Addr start;
            Dwarf_Addr end;
            Dwarf_Die cu;
        };
        // Per compile unit (by DIE offset): the address ranges of its inlined code, sorted by
        // start. An address outside them has no inline chain, and one the symbol table named
        // needs no DWARF scope walk (dwarf_getscopes: most of a big report's time on dwz'd libc).
        std::unordered_map<Dwarf_Off, std::vector<std::pair<Dwarf_Addr, Dwarf_Addr>>> inlined_ranges;
        bool cu_ranges_built = false;
        std::vector<CuRange> cu_ranges;

        // The ELF symbol table sorted by address (dwfl_module_addrinfo scans it on every call).
        std::unique_ptr<SymbolIndex> symbols;

        // Go's own function table, for Go binaries without an ELF symbol table. Read on first need.
        bool go_functions_read = false;
        GoFunctionTable go_functions;

        Module() = default;
        Module(const Module&) = delete;
        Module& operator=(const Module&) = delete;
        ~Module() {
            if (dwfl != nullptr) dwfl_end(dwfl);
        }
    };

    char* debuginfo_path = nullptr;  // null: libdwfl's default search path
    Dwfl_Callbacks callbacks{};
    std::map<std::string, std::unique_ptr<Module>> modules;          // by path
    std::map<std::string, std::vector<unsigned char>> images;        // add_image() bytes, by path
    SymbolCache cache;  // every answer of this symbolizer, by build id (or path) and address

    Impl() {
        callbacks.find_elf = dwfl_build_id_find_elf;
        callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
        callbacks.section_address = dwfl_offline_section_address;
        callbacks.debuginfo_path = &debuginfo_path;
    }

    Module& get(const std::string& path) {
        auto it = modules.find(path);
        if (it != modules.end()) return *it->second;
        auto m = open(path);
        Module& ref = *m;
        modules.emplace(path, std::move(m));
        return ref;
    }

    std::unique_ptr<Module> open(const std::string& path) {
        auto m = std::make_unique<Module>();
        auto image = images.find(path);
        if (image == images.end()) {
            // The path comes from the recording: O_NONBLOCK and the S_ISREG check keep a FIFO or
            // a device named there from hanging the reader.
            int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
            if (fd < 0) {
                m->problem = errno == ENOENT || errno == ENOTDIR
                                 ? "file not found"
                                 : std::string("cannot open file: ") + std::strerror(errno);
                return m;
            }
            struct stat st {};
            if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
                ::close(fd);
                m->problem = "not a regular file";
                return m;
            }
            m->dwfl = dwfl_begin(&callbacks);
            if (m->dwfl == nullptr) {
                ::close(fd);
                m->problem = std::string("dwfl_begin: ") + dwfl_errmsg(-1);
                return m;
            }
            dwfl_report_begin(m->dwfl);
            // ET_DYN placed at its own p_vaddr (bias 0); ET_EXEC always is. FD consumed on success.
            m->mod = dwfl_report_elf(m->dwfl, path.c_str(), path.c_str(), fd, 0, true);
            if (m->mod == nullptr) ::close(fd);
        } else {
            m->dwfl = dwfl_begin(&callbacks);
            if (m->dwfl == nullptr) {
                m->problem = std::string("dwfl_begin: ") + dwfl_errmsg(-1);
                return m;
            }
            dwfl_report_begin(m->dwfl);
            // The bytes stay owned by `images` and outlive this Dwfl (see ~Impl / add_image).
            m->mod = dwfl_report_offline_memory(m->dwfl, path.c_str(), path.c_str(),
                                                reinterpret_cast<char*>(image->second.data()),
                                                image->second.size());
        }
        if (m->mod == nullptr) {
            m->problem = std::string("not a usable ELF file: ") + dwfl_errmsg(-1);
            dwfl_report_end(m->dwfl, nullptr, nullptr);
            return m;
        }
        dwfl_report_end(m->dwfl, nullptr, nullptr);

        Dwarf_Addr bias = 0;
        if (dwfl_module_getelf(m->mod, &bias) == nullptr) {
            m->problem = std::string("not a usable ELF file: ") + dwfl_errmsg(-1);
            m->mod = nullptr;
            return m;
        }
        m->bias = bias;

        const unsigned char* bits = nullptr;
        GElf_Addr id_vaddr = 0;
        int len = dwfl_module_build_id(m->mod, &bits, &id_vaddr);
        if (len > 0 && bits != nullptr) m->build_id = to_hex(bits, static_cast<size_t>(len));
        return m;
    }

    // CU DIE containing `addr` (a libdwfl address), with the DWARF bias; false when none.
    static bool find_cu(Module& m, Dwarf_Addr addr, Dwarf_Die* cu_out, Dwarf_Addr* bias_out) {
        // .debug_aranges may name a CU that does not hold the address: Go's linker writes
        // aranges for the cgo C units only, and libdw then answers with one of those.
        if (Dwarf_Die* cu = dwfl_module_addrdie(m.mod, addr, bias_out); cu != nullptr && dwarf_haspc(cu, addr - *bias_out) == 1) {
            *cu_out = *cu;
            return true;
        }
        Dwarf_Addr bias = 0;
        Dwarf* dw = dwfl_module_getdwarf(m.mod, &bias);
        if (dw == nullptr) return false;
        if (!m.cu_ranges_built) {
            m.cu_ranges_built = true;
            Dwarf_CU* unit = nullptr;
            Dwarf_Die cudie;
            uint8_t unit_type = 0;
            while (dwarf_get_units(dw, unit, &unit, nullptr, &unit_type, &cudie, nullptr) == 0) {
                if (unit_type != DW_UT_compile && unit_type != DW_UT_partial &&
                    unit_type != DW_UT_skeleton) {
                    continue;
                }
                Dwarf_Addr base = 0, start = 0, end = 0;
                ptrdiff_t off = 0;
                while ((off = dwarf_ranges(&cudie, off, &base, &start, &end)) > 0) {
                    if (end > start) m.cu_ranges.push_back({start, end, cudie});
                }
            }
            std::sort(m.cu_ranges.begin(), m.cu_ranges.end(),
                      [](const Module::CuRange& a, const Module::CuRange& b) { return a.start < b.start; });
        }
        const Dwarf_Addr a = addr - bias;
        auto it = std::upper_bound(m.cu_ranges.begin(), m.cu_ranges.end(), a,
                                   [](Dwarf_Addr v, const Module::CuRange& r) { return v < r.start; });
        // Ranges of different CUs do not overlap: only the last one starting at or below `a` can
        // hold it.
        if (it != m.cu_ranges.begin() && a < std::prev(it)->end) {
            *cu_out = std::prev(it)->cu;
            *bias_out = bias;
            return true;
        }
        return false;
    }

    // Collects the ranges of every DW_TAG_inlined_subroutine below `die`, in the unit's own tree.
    // (Units dwz imports hold shared types and abstract definitions, never code with addresses.)
    static void collect_inlined(Dwarf_Die* die, std::vector<std::pair<Dwarf_Addr, Dwarf_Addr>>* out) {
        Dwarf_Die child;
        if (dwarf_child(die, &child) != 0) return;
        do {
            if (dwarf_tag(&child) == DW_TAG_inlined_subroutine) {
                Dwarf_Addr base = 0, start = 0, end = 0;
                ptrdiff_t off = 0;
                while ((off = dwarf_ranges(&child, off, &base, &start, &end)) > 0)
                    if (end > start) out->push_back({start, end});
            }
            if (dwarf_haschildren(&child) == 1) collect_inlined(&child, out);
        } while (dwarf_siblingof(&child, &child) == 0);
    }

    // Whether code inlined into the unit covers `pc` (the unit's own address space).
    static bool in_inlined_code(Module& m, Dwarf_Die* cudie, Dwarf_Addr pc) {
        auto [it, fresh] = m.inlined_ranges.try_emplace(dwarf_dieoffset(cudie));
        auto& ranges = it->second;
        if (fresh) {
            collect_inlined(cudie, &ranges);
            std::sort(ranges.begin(), ranges.end());
            // Merged into disjoint ranges, so that one binary search answers.
            std::vector<std::pair<Dwarf_Addr, Dwarf_Addr>> merged;
            for (const auto& r : ranges)
                if (!merged.empty() && r.first <= merged.back().second)
                    merged.back().second = std::max(merged.back().second, r.second);
                else
                    merged.push_back(r);
            ranges = std::move(merged);
        }
        auto next = std::upper_bound(ranges.begin(), ranges.end(), pc,
                                     [](Dwarf_Addr v, const std::pair<Dwarf_Addr, Dwarf_Addr>& r) { return v < r.first; });
        return next != ranges.begin() && pc < std::prev(next)->second;
    }

    ~Impl() {
        modules.clear();  // every Dwfl ends before the image bytes they may point into go away
    }
};

Symbolizer::Symbolizer() : impl_(std::make_unique<Impl>()) {}

Symbolizer::~Symbolizer() = default;

void Symbolizer::add_image(const std::string& path, const std::vector<unsigned char>& bytes) {
    // A session opened on the old bytes (or a failed open) must not outlive them.
    impl_->modules.erase(path);
    impl_->images[path] = bytes;
    impl_->cache = SymbolCache();  // names read from the old bytes
}

void Symbolizer::use_table(std::shared_ptr<SymbolTable> table) {
    for (const auto& t : tables_)
        if (t == table) return;
    if (table) tables_.push_back(std::move(table));
}

SymbolInfo Symbolizer::lookup(const ModuleRef& module, uint64_t elf_vaddr) {
    for (const auto& t : tables_)
        if (!t->collect)
            if (const SymbolInfo* known = t->find(module, elf_vaddr)) return *known;
    const SymbolInfo* cached = impl_->cache.find(module, elf_vaddr);
    SymbolInfo info = cached ? *cached : lookup_file(module, elf_vaddr);
    if (!cached) impl_->cache.add(module, elf_vaddr, info);
    for (const auto& t : tables_)
        if (t->collect) t->add(module, elf_vaddr, info);
    return info;
}

SymbolInfo Symbolizer::lookup_file(const ModuleRef& module, uint64_t elf_vaddr) {
    SymbolInfo info;
    Impl::Module& m = impl_->get(module.path);
    if (!m.problem.empty()) {
        info.problem = m.problem;
        return info;
    }
    if (!module.build_id.empty() && !m.build_id.empty() &&
        !same_build_id(module.build_id, m.build_id)) {
        info.problem = "build id mismatch";
        return info;
    }

    const Dwarf_Addr addr = elf_vaddr + m.bias;

    // Enclosing function from the ELF symbol table (.symtab when present, else .dynsym).
    GElf_Off offset = 0;
    GElf_Sym sym;
    if (m.symbols == nullptr) m.symbols = std::make_unique<SymbolIndex>(m.mod);
    const char* name = m.symbols->find(addr, &offset);
    if (name == nullptr) name = dwfl_module_addrinfo(m.mod, addr, &offset, &sym, nullptr, nullptr, nullptr);
    if (name != nullptr && name[0] != '\0') {
        info.symbol = demangle(name);
        info.symbol_offset = offset;
    } else {
        if (!m.go_functions_read) {
            m.go_functions_read = true;
            Dwarf_Addr elf_bias = 0;
            m.go_functions = GoFunctionTable::from_elf(dwfl_module_getelf(m.mod, &elf_bias));
        }
        uint64_t go_offset = 0;
        if (const std::string* go_name = m.go_functions.find(elf_vaddr, &go_offset)) {
            info.symbol = *go_name;
            info.symbol_offset = go_offset;
        }
    }

    Dwarf_Die cu_mem;
    Dwarf_Addr cu_bias = 0;
    Dwarf_Die* cudie = Impl::find_cu(m, addr, &cu_mem, &cu_bias) ? &cu_mem : nullptr;

    // Source file and line of the address itself (innermost, i.e. inside inlined code), from
    // libdwfl when the unit it picked really holds the address (see find_cu), else from the unit
    // find_cu found.
    Dwfl_Line* dwfl_line = dwfl_module_getsrc(m.mod, addr);
    if (dwfl_line != nullptr) {
        Dwarf_Addr line_bias = 0;
        Dwarf_Die* line_cu = dwfl_linecu(dwfl_line);
        if (line_cu == nullptr || dwfl_module_getdwarf(m.mod, &line_bias) == nullptr ||
            dwarf_haspc(line_cu, addr - line_bias) != 1)
            dwfl_line = nullptr;
    }
    if (Dwfl_Line* line = dwfl_line) {
        int lineno = 0;
        if (const char* file = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr)) {
            info.file = file;
            info.line = lineno;
        }
    } else if (cudie != nullptr) {
        if (Dwarf_Line* line = dwarf_getsrc_die(cudie, addr - cu_bias)) {
            int lineno = 0;
            const char* file = dwarf_linesrc(line, nullptr, nullptr);
            if (file != nullptr && dwarf_lineno(line, &lineno) == 0) {
                info.file = file;
                info.line = lineno;
            }
        }
    }

    // Inline chain from the DWARF scopes containing the address: needed only where inlined code
    // covers it, or to name the function when the symbol table did not.
    if (cudie != nullptr && (info.symbol.empty() || Impl::in_inlined_code(m, cudie, addr - cu_bias))) {
        Dwarf_Die* scopes = nullptr;
        int n = dwarf_getscopes(cudie, addr - cu_bias, &scopes);
        if (n > 0) {
            Dwarf_Files* files = nullptr;
            size_t nfiles = 0;
            bool have_files = dwarf_getsrcfiles(cudie, &files, &nfiles) == 0;
            for (int i = 0; i < n; ++i) {
                Dwarf_Die* scope = &scopes[i];
                int tag = dwarf_tag(scope);
                if (tag == DW_TAG_subprogram) {
                    // Outermost real function; the ELF symbol table wins when it named one.
                    if (info.symbol.empty()) {
                        info.symbol = die_function_name(scope);
                        Dwarf_Addr lowpc = 0;
                        if (!info.symbol.empty() && dwarf_lowpc(scope, &lowpc) == 0 &&
                            lowpc <= addr - cu_bias) {
                            info.symbol_offset = addr - cu_bias - lowpc;
                        }
                    }
                    break;
                }
                if (tag != DW_TAG_inlined_subroutine) continue;
                InlineFrame frame;
                frame.function = die_function_name(scope);
                Dwarf_Attribute attr_mem;
                Dwarf_Word value = 0;
                if (have_files && dwarf_formudata(dwarf_attr(scope, DW_AT_call_file, &attr_mem),
                                                  &value) == 0 &&
                    value < nfiles) {
                    if (const char* f = dwarf_filesrc(files, value, nullptr, nullptr)) frame.file = f;
                }
                if (dwarf_formudata(dwarf_attr(scope, DW_AT_call_line, &attr_mem), &value) == 0) {
                    frame.line = static_cast<int>(value);
                }
                info.inlined.push_back(std::move(frame));
            }
            std::free(scopes);
        }
    }

    if (info.symbol.empty() && info.file.empty()) info.problem = "no symbol";
    return info;
}

}  // namespace vdsotrace::tools

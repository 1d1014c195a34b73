// Offline symbolization with elfutils libdwfl: one Dwfl session per module, opened on first use
// and cached for the lifetime of the Symbolizer. Every module is reported so that libdwfl's
// addresses are the module's ELF virtual addresses plus a bias we read back from libdwfl
// (0 for files, whatever the offline layout chose for in-memory images).
#include "tools/symbols/symbolizer.h"

#include "tools/symbols/go_functions.h"
#include "tools/symbols/local_debuginfo.h"
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
    // The code scopes of one unit (functions, lexical blocks, inlined code: what libdw's scope walk
    // descends through), each with the scope it lies in, and their ranges sorted by start, deeper
    // first among equal starts.
    struct InlineIndex {
        struct Node {
            Dwarf_Die die;
            int parent = -1;  // the enclosing scope, -1 at the unit's level
            bool inlined = false;
            bool function = false;
            std::vector<std::pair<Dwarf_Addr, Dwarf_Addr>> ranges;
            bool covers(Dwarf_Addr pc) const {
                for (const auto& r : ranges)
                    if (pc >= r.first && pc < r.second) return true;
                return false;
            }
        };
        struct Range {
            Dwarf_Addr start, end;
            int depth;
            int node;
        };
        std::vector<Node> nodes;
        std::vector<Range> ranges;

        // Innermost first, the inlined scopes holding `pc` within the innermost function, as the
        // scope walk finds them (it descends only into scopes that hold `pc`). Scopes nest (code
        // of an inner scope lies within the outer one, siblings do not overlap), so the range
        // starting last at or before `pc` belongs to the innermost scope holding it or to one
        // nested inside that scope: its first ancestor that holds `pc` is the innermost.
        void chain(Dwarf_Addr pc, std::vector<int>* out) const {
            auto it = std::upper_bound(ranges.begin(), ranges.end(), pc,
                                       [](Dwarf_Addr v, const Range& r) { return v < r.start; });
            if (it == ranges.begin()) return;
            int n = std::prev(it)->node;
            while (n >= 0 && !nodes[size_t(n)].covers(pc)) n = nodes[size_t(n)].parent;
            std::vector<int> path;  // innermost holding scope up to the unit's level
            for (; n >= 0; n = nodes[size_t(n)].parent) path.push_back(n);
            // Top down, as far as each scope holds `pc` (where one does not, the walk stops).
            std::vector<int> held;
            for (size_t i = path.size(); i-- > 0;) {
                const Node& node = nodes[size_t(path[i])];
                if (!node.covers(pc)) break;
                if (node.function) held.clear();  // the chain ends at the innermost function
                else if (node.inlined) held.push_back(path[i]);
            }
            out->insert(out->end(), held.rbegin(), held.rend());
        }
    };

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
        // Per compile unit (by DIE offset): its inlined code, read once from the unit's own tree.
        // An address the symbol table named gets its inline chain from here; libdw's scope walk
        // (dwarf_getscopes, then dwarf_getscopes_die for the concrete chain) reads the unit's
        // tree twice for every address (a fifth of a big report's time on libc). Only an address
        // the symbol table did not name is walked.
        std::unordered_map<Dwarf_Off, InlineIndex> inline_index;
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
    bool walk_scopes = false;  // every inline chain from libdw's scope walk (the reference, for tests)

    Impl() {
        callbacks.find_elf = dwfl_build_id_find_elf;
        callbacks.find_debuginfo = find_debuginfo_here;  // no debuginfod unless DEBUGINFOD_URLS says so
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

    // Collects the code scopes below `die` with their ranges, in the unit's own tree (units dwz
    // imports hold shared types and abstract definitions, never code with addresses). Like the
    // scope walk it descends into no other entries (namespaces and types hold no code).
    static void collect_inlined(Dwarf_Die* die, int parent, int depth, InlineIndex* out) {
        Dwarf_Die child;
        if (dwarf_child(die, &child) != 0) return;
        do {
            const int tag = dwarf_tag(&child);
            if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine && tag != DW_TAG_lexical_block &&
                tag != DW_TAG_with_stmt && tag != DW_TAG_catch_block && tag != DW_TAG_try_block &&
                tag != DW_TAG_entry_point)
                continue;
            InlineIndex::Node node;
            node.die = child;
            node.parent = parent;
            node.inlined = tag == DW_TAG_inlined_subroutine;
            node.function = tag == DW_TAG_subprogram;
            Dwarf_Addr base = 0, start = 0, end = 0;
            ptrdiff_t off = 0;
            while ((off = dwarf_ranges(&child, off, &base, &start, &end)) > 0)
                if (end > start) node.ranges.push_back({start, end});
            // A function without code (a declaration, an abstract definition) holds no code either.
            if (node.ranges.empty() && node.function) continue;
            const int self = int(out->nodes.size());
            for (const auto& r : node.ranges) out->ranges.push_back({r.first, r.second, depth, self});
            out->nodes.push_back(std::move(node));
            if (dwarf_haschildren(&child) == 1) collect_inlined(&child, self, depth + 1, out);
        } while (dwarf_siblingof(&child, &child) == 0);
    }

    static const InlineIndex& inline_index(Module& m, Dwarf_Die* cudie) {
        auto [it, fresh] = m.inline_index.try_emplace(dwarf_dieoffset(cudie));
        InlineIndex& index = it->second;
        if (fresh) {
            collect_inlined(cudie, -1, 0, &index);
            std::sort(index.ranges.begin(), index.ranges.end(), [](const InlineIndex::Range& a, const InlineIndex::Range& b) {
                return a.start != b.start ? a.start < b.start : a.depth < b.depth;
            });
        }
        return index;
    }

    // The inline chain at `pc` (the unit's own address space), innermost first.
    static void add_inline_frames(Dwarf_Die* cudie, const InlineIndex& index, Dwarf_Addr pc, SymbolInfo* info) {
        std::vector<int> chain;
        index.chain(pc, &chain);
        if (chain.empty()) return;
        Dwarf_Files* files = nullptr;
        size_t nfiles = 0;
        const bool have_files = dwarf_getsrcfiles(cudie, &files, &nfiles) == 0;
        for (int n : chain) {
            Dwarf_Die die = index.nodes[size_t(n)].die;
            info->inlined.push_back(inline_frame(&die, have_files ? files : nullptr, nfiles));
        }
    }

    // One inlined frame: the function and where it was called from.
    static InlineFrame inline_frame(Dwarf_Die* scope, Dwarf_Files* files, size_t nfiles) {
        InlineFrame frame;
        frame.function = die_function_name(scope);
        Dwarf_Attribute attr_mem;
        Dwarf_Word value = 0;
        if (files != nullptr && dwarf_formudata(dwarf_attr(scope, DW_AT_call_file, &attr_mem), &value) == 0 &&
            value < nfiles) {
            if (const char* f = dwarf_filesrc(files, value, nullptr, nullptr)) frame.file = f;
        }
        if (dwarf_formudata(dwarf_attr(scope, DW_AT_call_line, &attr_mem), &value) == 0) frame.line = static_cast<int>(value);
        return frame;
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

void Symbolizer::walk_scopes_always(bool on) {
    impl_->walk_scopes = on;
    impl_->cache = SymbolCache();
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

    // Inline chain: from the unit's inline index when the symbol table named the function, else
    // from libdw's scope walk, which also names the function from DWARF.
    if (cudie != nullptr && !info.symbol.empty() && !impl_->walk_scopes) {
        Impl::add_inline_frames(cudie, Impl::inline_index(m, cudie), addr - cu_bias, &info);
    } else if (cudie != nullptr) {
        // dwarf_getscopes lists the innermost inlined scope's abstract definition after it, not
        // the code it was inlined into: the concrete chain comes from the innermost scope's
        // parents (as eu-addr2line -i does).
        Dwarf_Die* scopes = nullptr;
        int n = dwarf_getscopes(cudie, addr - cu_bias, &scopes);
        if (n > 0) {
            Dwarf_Die innermost = scopes[0];
            std::free(scopes);
            scopes = nullptr;
            n = dwarf_getscopes_die(&innermost, &scopes);
        }
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
                info.inlined.push_back(Impl::inline_frame(scope, have_files ? files : nullptr, nfiles));
            }
            std::free(scopes);
        }
    }

    if (info.symbol.empty() && info.file.empty()) info.problem = "no symbol";
    return info;
}

}  // namespace vdsotrace::tools

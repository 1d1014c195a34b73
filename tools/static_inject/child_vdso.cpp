#include "tools/static_inject/child_vdso.h"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "tracer/common/vdso_image.h"

namespace vdsotrace::inject {

namespace {

// The end of the mapping that starts at `base` in /proc/<pid>/maps; 0 when none does.
uint64_t mapping_end(pid_t pid, uint64_t base) {
    std::ifstream maps(fmt::format("/proc/{}/maps", pid));
    std::string line;
    while (std::getline(maps, line)) {
        uint64_t start = 0, end = 0;
        char dash = 0;
        std::istringstream in(line);
        in >> std::hex >> start >> dash >> end;
        if (in && dash == '-' && start == base) return end;
    }
    return 0;
}

// The names each function is exported under: the architecture's (__vdso_clock_gettime) and the
// plain alias (clock_gettime) the x86_64 vDSO exports too. musl and Go look up the former, static
// glibc the former as well; redirecting both leaves no way around the count.
std::vector<std::pair<int, std::string>> function_names() {
    const vdso::ArchNames& a = vdso::arch_names();
    const char* arch[format::kFunctionCount] = {a.clock_gettime, a.gettimeofday, a.time, a.getcpu, a.clock_getres};
    std::vector<std::pair<int, std::string>> out;
    for (int fn = 0; fn < format::kFunctionCount; ++fn) {
        out.emplace_back(fn, format::kFunctionNames[fn]);
        if (arch[fn] != nullptr) out.emplace_back(fn, arch[fn]);
    }
    return out;
}

}  // namespace

bool read_child_vdso(const TracedChild& child, uint64_t vdso_base, ChildVdso* out, std::string* why) {
    if (vdso_base == 0) {
        *why = "the program has no vDSO (AT_SYSINFO_EHDR is 0)";
        return false;
    }
    const uint64_t end = mapping_end(child.pid(), vdso_base);
    if (end <= vdso_base || end - vdso_base > (64u << 20)) {
        *why = fmt::format("no [vdso] mapping at {:#x} in /proc/{}/maps", vdso_base, child.pid());
        return false;
    }
    out->base = vdso_base;
    out->end = end;
    out->image.resize(end - vdso_base);
    if (!child.read(vdso_base, out->image.data(), out->image.size())) {
        *why = "cannot read the program's vDSO through /proc/PID/mem";
        return false;
    }
    vdso::Image img;
    const vdso::ParseError e = vdso::parse(out->image.data(), out->image.size(), &img);
    if (e != vdso::ParseError::kNone) {
        *why = fmt::format("the program's vDSO cannot be parsed: {}", vdso::to_string(e));
        return false;
    }
    const auto copy = reinterpret_cast<uintptr_t>(out->image.data());
    out->load_offset = vdso_base + (img.load_offset - copy);
    const auto* syms = static_cast<const Elf64_Sym*>(img.symtab);
    for (size_t i = 0; i < img.sym_count; ++i) {
        const Elf64_Sym& s = syms[i];
        if (s.st_shndx == SHN_UNDEF || ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_name >= img.strtab_size) continue;
        const char* name = img.strtab + s.st_name;
        const size_t max = img.strtab_size - s.st_name;
        for (const auto& [fn, wanted] : function_names()) {
            if (strnlen(name, max) != wanted.size() || wanted != name) continue;
            const uint64_t sym_offset = reinterpret_cast<uintptr_t>(&s) - copy;
            out->symbols.push_back({fn, vdso_base + sym_offset + offsetof(Elf64_Sym, st_value), wanted});
            out->original[fn] = out->load_offset + s.st_value;
        }
    }
    if (out->symbols.empty()) {
        *why = "the program's vDSO exports none of the clock functions";
        return false;
    }
    return true;
}

bool redirect_vdso_symbols(const TracedChild& child, const ChildVdso& vdso,
                           const uint64_t (&entries)[format::kFunctionCount], std::string* why) {
    for (const ChildVdso::Symbol& s : vdso.symbols) {
        // st_value + load_offset must land on the trampoline; unsigned arithmetic wraps as the
        // loaders' own address computations do (glibc l_addr + st_value, Go, musl).
        const uint64_t value = entries[s.function] - vdso.load_offset;
        if (!child.write(s.st_value_address, &value, sizeof value)) {
            *why = fmt::format("cannot rewrite {} in the program's vDSO through /proc/PID/mem", s.name);
            return false;
        }
    }
    return true;
}

}  // namespace vdsotrace::inject

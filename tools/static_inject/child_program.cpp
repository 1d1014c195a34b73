#include "tools/static_inject/child_program.h"

#include <capstone/capstone.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "tools/symbols/elf_entries.h"
#include "tools/symbols/go_functions.h"
#include "tracer/common/go_plumbing_finder.h"

namespace vdsotrace::inject {

namespace {

using tools::GoFunctionTable;

// Calls visit(name, sym) for every sized function in the ELF symbol table; false when there is none.
template <typename Visit>
bool for_each_function_symbol(Elf* elf, Visit visit) {
    return tools::for_each_symbol(elf, SHT_SYMTAB, [&](const char* name, const GElf_Sym& s) {
        if (GELF_ST_TYPE(s.st_info) == STT_FUNC && s.st_size != 0) visit(name, s);
    });
}

// The Go runtime's time functions, from the symbol table or, in a stripped program, from Go's
// own function table (.gopclntab).
tracer::go::Plumbing find_plumbing(Elf* elf, uint64_t bias) {
    tracer::go::PlumbingFinder finder(bias);
    const bool have_symtab = for_each_function_symbol(
        elf, [&](const char* name, const GElf_Sym& s) { finder.note(name, s.st_value, s.st_value + s.st_size); });
    if (!have_symtab) {
        const GoFunctionTable table = GoFunctionTable::from_elf(elf);
        for (const GoFunctionTable::Function& fn : table.functions()) finder.note(fn.name.c_str(), fn.begin, fn.end);
    }
    return finder.result();
}

// The CFA of `pc` as "stack pointer + offset"; false when the CFI says otherwise (frame pointer
// based, an expression) or has nothing for it.
bool cfa_offset_at(Dwarf_CFI* cfi, uint64_t pc, uint32_t* offset) {
    Dwarf_Frame* frame = nullptr;
    if (dwarf_cfi_addrframe(cfi, pc, &frame) != 0) return false;
    Dwarf_Op* ops = nullptr;
    size_t nops = 0;
    constexpr Dwarf_Word kRsp = 7;  // DWARF register number of %rsp on x86_64
    const bool ok = dwarf_frame_cfa(frame, &ops, &nops) == 0 && nops == 1 && ops[0].atom == DW_OP_bregx &&
                    ops[0].number == kRsp && ops[0].number2 >= 8 && ops[0].number2 < (1u << 16);
    if (ok) *offset = uint32_t(ops[0].number2);
    free(frame);
    return ok;
}

// Without unwind tables (musl's static libc has none): the CFA offset at the return address of
// call `call` of a function whose code runs straight from its entry to that call, adding only
// pushes and `sub $N, %rsp` on the way (a prologue). Anything else that moves the stack pointer,
// or a jump or return before the call (the call may then be reached with another frame), and
// the answer is "unknown": that call site gets no row, and its calls are attributed to libc.
bool prologue_cfa_offset(const cs_insn* insn, size_t call, uint32_t* offset) {
    uint64_t depth = 8;  // the return address pushed by the call into the function
    for (size_t i = 0; i < call; ++i) {
        const std::string mnemonic = insn[i].mnemonic, operands = insn[i].op_str;
        if (mnemonic == "push") {
            depth += 8;
        } else if (mnemonic == "sub" && operands.rfind("rsp, ", 0) == 0) {
            char* end = nullptr;
            const unsigned long long n = strtoull(operands.c_str() + 5, &end, 0);
            if (end == nullptr || *end != '\0' || n > 4096) return false;
            depth += n;
        } else if (mnemonic == "ret" || mnemonic == "jmp" || mnemonic == "pop" || mnemonic == "leave" ||
                   operands.rfind("rsp", 0) == 0 || mnemonic == "enter") {
            return false;
        }
    }
    if (depth >= (1u << 16)) return false;
    *offset = uint32_t(depth);
    return true;
}

// Copies `size` bytes of code at ELF address `address` from the file's sections.
bool read_code(Elf* elf, uint64_t address, unsigned char* out, size_t size) {
    Elf_Scn* scn = nullptr;
    while ((scn = elf_nextscn(elf, scn)) != nullptr) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) == nullptr || sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_EXECINSTR) ||
            address < sh.sh_addr || address + size > sh.sh_addr + sh.sh_size)
            continue;
        Elf_Data* data = elf_getdata(scn, nullptr);
        if (data == nullptr || data->d_buf == nullptr || address - sh.sh_addr + size > data->d_size) return false;
        memcpy(out, static_cast<const unsigned char*>(data->d_buf) + (address - sh.sh_addr), size);
        return true;
    }
    return false;
}

// The vDSO function libc's wrapper `name` calls, or -1 (the helpers cgt_init, __vdsosym).
int wrapped_function(const char* name) {
    static constexpr struct {
        const char* name;
        int fn;
    } kWrapped[] = {
        {"__clock_gettime", format::kClockGettime}, {"clock_gettime", format::kClockGettime},
        {"__clock_gettime64", format::kClockGettime}, {"__gettimeofday", format::kGettimeofday},
        {"gettimeofday", format::kGettimeofday}, {"__gettimeofday64", format::kGettimeofday},
        {"time", format::kTime}, {"__time", format::kTime}, {"__time64", format::kTime},
        {"getcpu", format::kGetcpu}, {"__getcpu", format::kGetcpu}, {"sched_getcpu", format::kGetcpu},
        {"__clock_getres", format::kClockGetres}, {"clock_getres", format::kClockGetres},
        {"__clock_getres64", format::kClockGetres},
    };
    for (const auto& w : kWrapped)
        if (strcmp(name, w.name) == 0) return w.fn;
    return -1;
}

// Rows covering the return addresses of libc's clock wrappers' calls (see WrapperRow), from .eh_frame.
void find_wrappers(Elf* elf, uint64_t bias, ChildProgram* out) {
    std::map<uint64_t, uint64_t> functions;  // start -> size, each once (aliases share code)
    std::map<uint64_t, int> wrapped;         // start -> the vDSO function its names say it calls
    for_each_function_symbol(elf, [&](const char* name, const GElf_Sym& s) {
        if (s.st_size > 4096) return;
        for (const char* wanted : kLibcWrappers)
            if (strcmp(name, wanted) == 0) functions[s.st_value] = s.st_size;
        if (const int fn = wrapped_function(name); fn >= 0) wrapped[s.st_value] = fn;
    });
    if (functions.empty()) return;
    Dwarf_CFI* cfi = dwarf_getcfi_elf(elf);  // null without .eh_frame: then prologues only
    csh cs;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
        if (cfi != nullptr) dwarf_cfi_end(cfi);
        return;
    }
    // Only the return addresses of the wrappers' calls can be on the stack when the vDSO runs:
    // one row each keeps the trampoline's search to a few compares.
    std::vector<WrapperFunction> read;
    for (const auto& [start, size] : functions) {
        std::vector<unsigned char> code(size);
        if (!read_code(elf, start, code.data(), size)) continue;
        cs_insn* insn = nullptr;
        const size_t n = cs_disasm(cs, code.data(), size, start, 0, &insn);
        WrapperFunction w;
        w.start = start + bias;
        w.end = start + size + bias;
        if (const auto fn = wrapped.find(start); fn != wrapped.end()) w.function = fn->second;
        for (size_t i = 0; i < n; ++i) {
            if (insn[i].id != X86_INS_CALL) continue;
            ++w.calls;
            char* end = nullptr;  // a direct call's operand is its target ("0x4057a0")
            const unsigned long long target = strtoull(insn[i].op_str, &end, 16);
            if (end != insn[i].op_str && *end == '\0') w.call_targets.push_back(target + bias);
            const uint64_t ret = insn[i].address + insn[i].size;
            uint32_t offset = 0;
            if (!(cfi != nullptr && cfa_offset_at(cfi, ret, &offset)) && !prologue_cfa_offset(insn, i, &offset))
                continue;
            if (out->wrappers.size() == kMaxWrapperRows) {
                out->wrappers_truncated = true;
                break;
            }
            out->wrappers.push_back({ret + bias, 1, offset});
            w.rows.push_back(out->wrappers.back());
        }
        cs_free(insn, n);
        read.push_back(std::move(w));
    }
    cs_close(&cs);
    if (cfi != nullptr) dwarf_cfi_end(cfi);  // dwarf_getcfi_elf's CFI is the caller's to free
    choose_usual_wrappers(read, out->usual_wrappers);
}

// glibc's __rseq_offset and __rseq_size (objects, not functions), which tell where each
// thread's rseq area lies once the program has registered it (see TrampolineData).
void find_rseq_variables(Elf* elf, uint64_t bias, ChildProgram* out) {
    uint64_t offset_at = 0, size_at = 0;
    tools::for_each_symbol(elf, SHT_SYMTAB, [&](const char* name, const GElf_Sym& s) {
        if (GELF_ST_TYPE(s.st_info) != STT_OBJECT || s.st_shndx == SHN_UNDEF) return;
        if (strcmp(name, "__rseq_offset") == 0 && s.st_size == 8) offset_at = s.st_value + bias;
        if (strcmp(name, "__rseq_size") == 0 && s.st_size == 4) size_at = s.st_value + bias;
    });
    if (offset_at != 0 && size_at != 0) {
        out->rseq_offset_at = offset_at;
        out->rseq_size_at = size_at;
    }
}

}  // namespace

void choose_usual_wrappers(const std::vector<WrapperFunction>& wrappers, WrapperRow out[format::kFunctionCount]) {
    for (const WrapperFunction& w : wrappers) {
        if (w.function < 0 || w.function >= format::kFunctionCount || w.calls != 1 || w.rows.size() != 1 ||
            out[w.function].begin != 0)
            continue;
        bool called_by_a_wrapper = false;
        for (const WrapperFunction& other : wrappers)
            for (uint64_t target : other.call_targets) called_by_a_wrapper |= target >= w.start && target < w.end;
        if (!called_by_a_wrapper) out[w.function] = w.rows.front();
    }
}

bool read_child_program(const std::string& path, uint64_t entry, ChildProgram* out, std::string* why) {
    elf_version(EV_CURRENT);
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = fmt::format("cannot open {}: {}", path, strerror(errno));
        return false;
    }
    Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
    GElf_Ehdr eh;
    bool ok = elf != nullptr && gelf_getehdr(elf, &eh) != nullptr;
    size_t phnum = 0;
    ok = ok && elf_getphdrnum(elf, &phnum) == 0;
    if (!ok) {
        *why = fmt::format("{} is not an ELF file libelf can read", path);
    } else {
        out->load_bias = entry - eh.e_entry;
        uint64_t lo = UINT64_MAX, hi = 0;
        for (size_t i = 0; i < phnum; ++i) {
            GElf_Phdr ph;
            if (gelf_getphdr(elf, int(i), &ph) == nullptr || ph.p_type != PT_LOAD) continue;
            lo = std::min<uint64_t>(lo, ph.p_vaddr);
            hi = std::max<uint64_t>(hi, ph.p_vaddr + ph.p_memsz);
        }
        if (lo >= hi) {
            *why = fmt::format("{} has no loadable segment", path);
            ok = false;
        } else {
            out->start = lo + out->load_bias;
            out->end = hi + out->load_bias;
            const void* id = nullptr;
            const ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
            if (n > 0) out->build_id.assign(static_cast<const char*>(id), size_t(n));
            out->plumbing = find_plumbing(elf, out->load_bias);
            if (out->plumbing.count == 0) {
                find_wrappers(elf, out->load_bias, out);
                find_rseq_variables(elf, out->load_bias, out);
            }
        }
    }
    if (elf != nullptr) elf_end(elf);
    close(fd);
    return ok;
}

}  // namespace vdsotrace::inject

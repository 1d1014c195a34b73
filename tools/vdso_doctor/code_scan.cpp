#include "tools/vdso_doctor/code_scan.h"

#include <capstone/capstone.h>

#include <fmt/format.h>

namespace vdsotrace::doctor {

CodeScan scan_code(const unsigned char* code, size_t size, uint64_t address) {
    CodeScan out;
#if defined(__x86_64__)
    csh handle;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) {
        out.problem = "the disassembler could not start";
        return out;
    }
    cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
    cs_insn* insn = nullptr;
    const size_t n = cs_disasm(handle, code, size, address, 0, &insn);
    uint64_t frame = 0;  // `sub` from %rsp seen so far on the straight-line path
    for (size_t i = 0; i < n; ++i) {
        const cs_insn& in = insn[i];
        const cs_x86& x = in.detail->x86;
        if (in.id == X86_INS_PUSH) ++out.pushes;
        if (in.id == X86_INS_SUB && x.op_count == 2 && x.operands[0].type == X86_OP_REG &&
            x.operands[0].reg == X86_REG_RSP && x.operands[1].type == X86_OP_IMM && x.operands[1].imm > 0) {
            frame = uint64_t(x.operands[1].imm);
            out.max_frame = std::max(out.max_frame, frame);
        }
        // A probe: or-ing zero into memory at the stack pointer changes nothing but touches it.
        if (in.id == X86_INS_OR && x.op_count == 2 && x.operands[0].type == X86_OP_MEM &&
            x.operands[0].mem.base == X86_REG_RSP && x.operands[1].type == X86_OP_IMM && x.operands[1].imm == 0) {
            out.probes.push_back(
                {in.address - address, fmt::format("{} {}", in.mnemonic, in.op_str), frame});
        }
    }
    out.instructions = n;
    out.scanned = n > 0;
    if (n == 0) out.problem = "no instructions could be decoded";
    if (insn) cs_free(insn, n);
    cs_close(&handle);
#else
    (void)code, (void)size, (void)address;
    out.problem = "the code scan reads x86_64 code only";
#endif
    return out;
}

}  // namespace vdsotrace::doctor

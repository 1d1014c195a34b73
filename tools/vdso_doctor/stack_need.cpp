#include "tools/vdso_doctor/stack_need.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace vdsotrace::doctor {

#if defined(__x86_64__)

// long vdsotrace_run_on_stack(fn, sp, a0, a1, a2): calls fn(a0, a1, a2) with the stack pointer
// set to `sp` at the call (the call pushes the return address at sp - 8), then returns on the
// original stack. %rbp holds the way back; the callee preserves it per the ABI.
extern "C" long vdsotrace_run_on_stack(const void* fn, void* sp, long a0, long a1, long a2);
asm(R"(
    .text
    .p2align 4
    .type vdsotrace_run_on_stack, @function
vdsotrace_run_on_stack:
    .cfi_startproc
    push %rbp
    .cfi_def_cfa_offset 16
    .cfi_offset %rbp, -16
    mov %rsp, %rbp
    .cfi_def_cfa_register %rbp
    mov %rdi, %rax
    mov %rsi, %r11
    mov %rdx, %rdi
    mov %rcx, %rsi
    mov %r8, %rdx
    mov %r11, %rsp
    call *%rax
    mov %rbp, %rsp
    pop %rbp
    .cfi_def_cfa %rsp, 8
    ret
    .cfi_endproc
    .size vdsotrace_run_on_stack, .-vdsotrace_run_on_stack
)");

namespace {

// Single-threaded by contract: the handler finds its way back through these.
sigjmp_buf g_jump;
volatile uint64_t g_fault_address, g_fault_pc, g_fault_sp;

void on_fault(int, siginfo_t* info, void* context) {
    auto* uc = static_cast<ucontext_t*>(context);
    g_fault_address = reinterpret_cast<uint64_t>(info->si_addr);
    g_fault_pc = uint64_t(uc->uc_mcontext.gregs[REG_RIP]);
    g_fault_sp = uint64_t(uc->uc_mcontext.gregs[REG_RSP]);
    siglongjmp(g_jump, 1);
}

// Installs the fault handler on an alternate stack for the duration of a measurement.
class FaultTrap {
public:
    FaultTrap() {
        alt_size_ = 64 * 1024;
        alt_ = mmap(nullptr, alt_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        stack_t ss{};
        ss.ss_sp = alt_;
        ss.ss_size = alt_size_;
        sigaltstack(&ss, &old_ss_);
        struct sigaction sa {};
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, &old_segv_);
        sigaction(SIGBUS, &sa, &old_bus_);
    }
    ~FaultTrap() {
        sigaction(SIGSEGV, &old_segv_, nullptr);
        sigaction(SIGBUS, &old_bus_, nullptr);
        sigaltstack(&old_ss_, nullptr);
        munmap(alt_, alt_size_);
    }
    FaultTrap(const FaultTrap&) = delete;
    FaultTrap& operator=(const FaultTrap&) = delete;

private:
    void* alt_;
    size_t alt_size_;
    stack_t old_ss_{};
    struct sigaction old_segv_ {}, old_bus_ {};
};

struct Trial {
    bool survived = false;
    bool fault_in_guard = true;
    FaultPoint fault;
};

}  // namespace

bool stack_need_supported() { return true; }

StackNeed measure_stack_need(const void* fn, CallArgs args, uint64_t max_bytes, int repetitions) {
    StackNeed out;
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    max_bytes = (max_bytes + 7) / 8 * 8;
    const size_t usable = (max_bytes + page) / page * page + page;  // room above sp as well
    auto* region = static_cast<unsigned char*>(
        mmap(nullptr, page + usable, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (region == MAP_FAILED) {
        out.problem = "cannot map a private stack";
        return out;
    }
    mprotect(region, page, PROT_NONE);
    unsigned char* const floor = region + page;  // lowest usable byte: the guard is just below

    FaultTrap trap;
    auto attempt = [&](uint64_t k) {
        Trial t;
        unsigned char* sp = floor + k;
        if (sigsetjmp(g_jump, 1) == 0) {
            vdsotrace_run_on_stack(fn, sp, args.a0, args.a1, args.a2);
            t.survived = true;
        } else {
            t.fault_in_guard = g_fault_address >= uint64_t(reinterpret_cast<uintptr_t>(region)) &&
                               g_fault_address < uint64_t(reinterpret_cast<uintptr_t>(floor));
            t.fault.pc = g_fault_pc;
            t.fault.depth = uint64_t(reinterpret_cast<uintptr_t>(sp)) - g_fault_sp;
        }
        return t;
    };
    auto note_fault = [&](const Trial& t) {
        for (const FaultPoint& f : out.faults)
            if (f.pc == t.fault.pc) return;
        out.faults.push_back(t.fault);
    };

    std::vector<uint64_t> results;
    for (int rep = 0; rep < std::max(1, repetitions); ++rep) {
        if (!attempt(max_bytes).survived) {
            out.problem = fmt::format("needs more than {} bytes, or faults whatever its stack", max_bytes);
            break;
        }
        // Invariant: lo fails (0 bytes: not even the return address fits), hi survives.
        uint64_t lo = 0, hi = max_bytes;
        while (hi - lo > 8) {
            const uint64_t mid = (lo + hi) / 2 / 8 * 8;
            Trial t = attempt(mid);
            if (t.survived) {
                hi = mid;
            } else {
                lo = mid;
                note_fault(t);
                if (!t.fault_in_guard && out.problem.empty())
                    out.problem = fmt::format("with {} bytes it faulted outside the guard page (misaligned stack?)", mid);
            }
        }
        results.push_back(hi);
    }
    munmap(region, page + usable);
    if (results.empty()) return out;
    out.measured = true;
    out.bytes = *std::max_element(results.begin(), results.end());
    out.repeatable = std::all_of(results.begin(), results.end(), [&](uint64_t v) { return v == results[0]; });
    std::sort(out.faults.begin(), out.faults.end(), [](auto& a, auto& b) { return a.depth < b.depth; });
    return out;
}

#else

bool stack_need_supported() { return false; }
StackNeed measure_stack_need(const void*, CallArgs, uint64_t, int) {
    StackNeed out;
    out.problem = "stack need is measured on x86_64 only";
    return out;
}

#endif

}  // namespace vdsotrace::doctor

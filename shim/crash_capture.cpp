#include "shim/crash_capture.h"

#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tracer/engine/alt_stack.h"
#include "tracer/common/maps_lookup.h"
#include "tracer/engine/recorder.h"
#include "tracer/engine/lifecycle.h"
#include "tracer/engine/segment_create.h"
#include "tracer/engine/thread_state.h"
#include "tracer/common/vdso_image.h"

namespace vdsotrace::shim {

namespace {

namespace f = vdsotrace::format;
namespace tr = vdsotrace::tracer;

struct sigaction g_old_segv, g_old_bus;
uintptr_t g_vdso_start, g_vdso_end;  // the vDSO image
uintptr_t g_shim_start, g_shim_end;  // this library
int g_recorded;                      // one record per process: the first crash is the one that matters

bool in(uintptr_t a, uintptr_t start, uintptr_t end) { return a >= start && a < end; }

#if defined(__x86_64__)
uintptr_t context_pc(const ucontext_t* uc) { return uintptr_t(uc->uc_mcontext.gregs[REG_RIP]); }
uintptr_t context_sp(const ucontext_t* uc) { return uintptr_t(uc->uc_mcontext.gregs[REG_RSP]); }
constexpr bool kSupported = true;
#elif defined(__aarch64__)
uintptr_t context_pc(const ucontext_t* uc) { return uintptr_t(uc->uc_mcontext.pc); }
uintptr_t context_sp(const ucontext_t* uc) { return uintptr_t(uc->uc_mcontext.sp); }
constexpr bool kSupported = true;
#else
uintptr_t context_pc(const ucontext_t*) { return 0; }
uintptr_t context_sp(const ucontext_t*) { return 0; }
constexpr bool kSupported = false;
#endif

// A code address of a loaded object other than the vDSO: a return address, most likely.
bool is_code_address(uint64_t v) {
    if (v < 4096 || in(uintptr_t(v), g_vdso_start, g_vdso_end)) return false;
    dl_find_object found;
    return _dl_find_object(reinterpret_cast<void*>(v), &found) == 0;
}

void write_record(f::CrashRecord* rec, int sig, const siginfo_t* info, uintptr_t pc, uintptr_t sp) {
    rec->signal = sig;
    rec->code = info->si_code;
    rec->tid = int32_t(syscall(SYS_gettid));
    rec->where = in(pc, g_vdso_start, g_vdso_end) ? f::kCrashInVdso : f::kCrashInShim;
    rec->fault_address = uint64_t(reinterpret_cast<uintptr_t>(info->si_addr));
    rec->pc = pc;
    rec->sp = sp;
    rec->vdso_base = g_vdso_start;
    rec->monotonic_ns = tr::monotonic_ns();

    tr::MapRange at_sp, above_sp, at_fault, above_fault;
    uint32_t flags = 0;
    if (tr::lookup_mappings(sp, &at_sp, &above_sp)) {
        const tr::MapRange& stack = at_sp.end != 0 && at_sp.accessible ? at_sp : above_sp;
        if (stack.end != 0) {
            rec->stack_start = stack.start;
            rec->stack_end = stack.end;
            flags |= f::kCrashStackKnown;
        }
        if (tr::lookup_mappings(rec->fault_address, &at_fault, &above_fault) &&
            (at_fault.end == 0 || !at_fault.accessible))
            flags |= f::kCrashFaultInGuard;
    }
    // The caller's stack: the words from sp up, within the readable stack mapping only (reading
    // past it would fault again inside this handler).
    if ((flags & f::kCrashStackKnown) && at_sp.end != 0 && at_sp.readable) {
        uint32_t words = 0, returns = 0;
        for (uint64_t a = sp & ~uint64_t(7); a + 8 <= at_sp.end && words < f::kCrashStackWords; a += 8) {
            const uint64_t v = *reinterpret_cast<const uint64_t*>(uintptr_t(a));
            rec->stack_words[words++] = v;
            if (returns < f::kCrashReturns && is_code_address(v)) {
                rec->returns[returns] = v;
                rec->return_slots[returns++] = a;
                tr::ensure_caller_module(uintptr_t(v));
            }
        }
        rec->stack_word_count = words;
        rec->return_count = returns;
    }
    rec->flags = flags;
    __atomic_store_n(&rec->state, 1u, __ATOMIC_RELEASE);
}

// True when this handler runs on the alternate stack the shim gave the thread: without the shim
// there would have been none, and the kernel would have had to deliver on the interrupted stack.
bool on_our_alt_stack() {
    const tr::ThreadState& t = tr::t_thread;
    stack_t current{};
    return t.alt_stack != nullptr && sigaltstack(nullptr, &current) == 0 && current.ss_sp == t.alt_stack &&
           (current.ss_flags & SS_ONSTACK);
}

// Whether the kernel could have pushed a signal frame below `sp` (red zone + AT_MINSIGSTKSZ, the
// kernel's own frame size estimate) in accessible memory. If not, without the shim the program's
// handler would never have run: the kernel would have killed it with SIGSEGV.
bool frame_fits_below(uintptr_t sp) {
    size_t frame = getauxval(AT_MINSIGSTKSZ);
    if (frame == 0) frame = 2048;
    const uintptr_t need = 128 + frame;
    if (sp < need) return false;
    tr::MapRange at, above;
    if (!tr::lookup_mappings(sp - 1, &at, &above)) return true;  // cannot tell: let the handler decide
    return at.end != 0 && at.accessible && at.start <= sp - need;
}

// Hands the signal to the program's handler `old` the way the kernel would have delivered it
// (issue 12): SA_RESETHAND resets the disposition first, so a one-shot crash reporter runs once
// and the retried fault then kills the process; the handler runs with its own sa_mask blocked and
// with the signal unblocked under SA_NODEFER. The stack is already right: ours was installed with
// the program's SA_ONSTACK (see install), so the kernel chose the stack it would have chosen.
void call_program_handler(int sig, siginfo_t* info, void* context, const struct sigaction& old) {
    if (old.sa_flags & SA_RESETHAND) {
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, nullptr);
    }
    sigset_t mask = old.sa_mask;
    if (!(old.sa_flags & SA_NODEFER)) sigaddset(&mask, sig);
    pthread_sigmask(SIG_BLOCK, &mask, nullptr);
    if (old.sa_flags & SA_NODEFER) {
        sigset_t self;
        sigemptyset(&self);
        sigaddset(&self, sig);
        pthread_sigmask(SIG_UNBLOCK, &self, nullptr);
    }
    // Returning from here returns through the kernel's sigreturn, which restores the interrupted
    // mask from the context, as after the program's own handler.
    if (old.sa_flags & SA_SIGINFO)
        old.sa_sigaction(sig, info, context);
    else
        old.sa_handler(sig);
}

void on_fault(int sig, siginfo_t* info, void* context) {
    const int saved_errno = errno;
    const auto* uc = static_cast<const ucontext_t*>(context);
    const uintptr_t pc = context_pc(uc);
    // si_code > 0: the kernel raised it for a fault at pc (not kill() or sigqueue()).
    const bool fault = info->si_code > 0;
    if (fault && (in(pc, g_vdso_start, g_vdso_end) || in(pc, g_shim_start, g_shim_end)) &&
        __atomic_exchange_n(&g_recorded, 1, __ATOMIC_ACQ_REL) == 0) {
        tr::BusyGuard guard;  // the shim's own work: clock reads made here are not counted
        if (f::CrashRecord* rec = tr::crash_record_for_write()) write_record(rec, sig, info, pc, context_sp(uc));
    }
    const struct sigaction old = sig == SIGSEGV ? g_old_segv : g_old_bus;
    if (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN) {
        // Put the program's disposition back. A fault then happens again when this handler
        // returns (the instruction is retried) and the kernel ends the process exactly as without
        // the shim, core dump included. A signal someone sent is sent again, to the same effect.
        sigaction(sig, &old, nullptr);
        if (!fault && old.sa_handler == SIG_DFL) syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
        errno = saved_errno;
        return;
    }
    // The program's own handler, installed before the shim: it decides, unless it could not have run
    // at all without the alternate stack the shim added (a stack overflow): then die as it would have.
    if (fault && on_our_alt_stack() && !frame_fits_below(context_sp(uc))) {
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, nullptr);
        errno = saved_errno;
        return;
    }
    errno = saved_errno;
    call_program_handler(sig, info, context, old);
}

// Installs on_fault for `sig`, keeping the program's previous action in `old`. Delivered as the
// kernel would deliver the program's own handler: with its mask and its SA_ONSTACK, SA_NODEFER and
// SA_RESTART, so the shim's handler runs on the stack the program's would have run on (a handler
// without SA_ONSTACK on the thread's stack even when the program has an alternate stack; one with
// SA_ONSTACK on the program's alternate stack, or, on a stack overflow with none, not at all).
// SA_ONSTACK is added for the shim's own crash capture only where the shim gives threads an
// alternate stack (VDSOTRACE_CRASH=stack) and the program had no handler of its own.
//
// One system call in the usual case: installed as for a signal the program does not handle (at
// start-up it has none yet), the old action read by the same call; installed again with the
// program's flags only when it turns out to have had a handler (issue 14's start-up cost).
void install(int sig, struct sigaction* old, bool own_alt_stack) {
    struct sigaction sa {};
    sa.sa_sigaction = on_fault;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_RESTART | (own_alt_stack ? SA_ONSTACK : 0);
    if (sigaction(sig, &sa, old) != 0) return;
    const bool program_handler = old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN;
    if (!program_handler) return;
    sa.sa_mask = old->sa_mask;
    sa.sa_flags = SA_SIGINFO | (old->sa_flags & (SA_ONSTACK | SA_NODEFER | SA_RESTART));
    if (own_alt_stack) sa.sa_flags |= SA_ONSTACK;  // frame_fits_below keeps overflows fatal
    sigaction(sig, &sa, nullptr);
}

}  // namespace

void install_crash_capture() {
    if (!kSupported) return;
    // VDSOTRACE_CRASH: 0 = no capture; stack = also give every thread without one an alternate
    // signal stack, so a stack overflow inside the vDSO is recorded too. Off by default: the
    // kernel runs every SA_ONSTACK handler of the program on it, which changes where those
    // handlers run and how a stack overflow ends (issue 12).
    const char* setting = getenv("VDSOTRACE_CRASH");
    if (setting != nullptr && strcmp(setting, "0") == 0) return;
    const bool own_alt_stack = setting != nullptr && strcmp(setting, "stack") == 0;
    vdso::Image img;
    if (vdso::parse_live(&img) == vdso::ParseError::kNone) {
        g_vdso_start = reinterpret_cast<uintptr_t>(img.base);
        g_vdso_end = g_vdso_start + img.size;
    }
    dl_find_object self;
    if (_dl_find_object(reinterpret_cast<void*>(&on_fault), &self) == 0) {
        g_shim_start = reinterpret_cast<uintptr_t>(self.dlfo_map_start);
        g_shim_end = reinterpret_cast<uintptr_t>(self.dlfo_map_end);
    }
    install(SIGSEGV, &g_old_segv, own_alt_stack);
    install(SIGBUS, &g_old_bus, own_alt_stack);
    tr::note_crash_handlers(own_alt_stack);  // threads get an alternate stack at slot claim
    if (own_alt_stack) tr::ensure_alt_stack();
}

}  // namespace vdsotrace::shim

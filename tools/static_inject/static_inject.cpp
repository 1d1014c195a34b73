#include "tools/static_inject/static_inject.h"

#include <cpuid.h>
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "tools/static_inject/child_program.h"
#include "tools/static_inject/child_segment.h"
#include "tools/static_inject/child_vdso.h"
#include "tools/static_inject/trampoline_abi.h"
#include "tools/static_inject/trampoline_blob.h"
#include "tools/static_inject/traced_child.h"

namespace vdsotrace::inject {

namespace {

constexpr uint64_t kPage = 4096;

// How the trampoline can read its CPU number on this machine (the child runs on the same CPUs).
CpuIdMode cpu_id_mode() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 22))) return kCpuIdRdpid;
    if (__get_cpuid(0x80000001, &a, &b, &c, &d) && (d & (1u << 27))) return kCpuIdRdtscp;
    return kCpuIdNone;
}

// AT_ENTRY and AT_SYSINFO_EHDR of the child, from /proc/<pid>/auxv.
bool read_auxv(pid_t pid, uint64_t* entry, uint64_t* vdso, std::string* why) {
    std::ifstream in(fmt::format("/proc/{}/auxv", pid), std::ios::binary);
    uint64_t pair[2];
    *entry = *vdso = 0;
    while (in.read(reinterpret_cast<char*>(pair), sizeof pair) && pair[0] != AT_NULL) {
        if (pair[0] == AT_ENTRY) *entry = pair[1];
        if (pair[0] == AT_SYSINFO_EHDR) *vdso = pair[1];
    }
    if (*entry == 0) *why = fmt::format("cannot read /proc/{}/auxv", pid);
    return *entry != 0;
}

// Waits for the child's exec stop, letting through signals that stop it earlier. False when the
// child ended (exec failed; it is left for run's wait loop) or cannot be waited for.
bool wait_exec_stop(pid_t pid, std::string* why) {
    for (;;) {
        int signal = 0;
        if (!wait_for_stop(pid, &signal, why)) return false;
        if (signal == SIGTRAP) return true;
        // A signal sent before exec (a forwarded SIGTERM): deliver it and wait on.
        ptrace(PTRACE_CONT, pid, nullptr, reinterpret_cast<void*>(intptr_t(signal)));
    }
}

// Everything done to the stopped child, undone where it must be when anything fails.
class Injection {
public:
    Injection(TracedChild& child, const std::string& exe, const std::string& session)
        : child_(child), exe_(exe), session_(session) {}

    bool run(std::string* why) {
        // The recording names the executable by its absolute path, as the shim does (readlink of
        // /proc/self/exe), so `report` finds it from any directory.
        char resolved[4096];
        const ssize_t n = readlink(fmt::format("/proc/{}/exe", child_.pid()).c_str(), resolved, sizeof resolved - 1);
        if (n > 0) exe_ = std::string(resolved, size_t(n));
        uint64_t entry = 0, vdso_base = 0;
        if (!read_auxv(child_.pid(), &entry, &vdso_base, why)) return false;
        if (!read_child_vdso(child_, vdso_base, &vdso_, why)) return false;
        if (!read_child_program(exe_, entry, &program_, why)) return false;
        if (!child_.get_regs(&saved_regs_, why)) return false;
        if (!create_child_segment(child_.pid(), session_, exe_, program_, vdso_, &segment_, why)) return false;
        have_segment_ = true;
        if (!map_into_child(why)) return false;
        if (!install_trampoline(why)) return false;
        uint64_t entries[format::kFunctionCount];
        for (int fn = 0; fn < format::kFunctionCount; ++fn) entries[fn] = trampoline_ + data().entries[fn];
        return redirect_vdso_symbols(child_, vdso_, entries, why);
    }

    // Leaves the child as it was at its exec stop (registers, code, stack), but for the pages
    // mapped into it. Drops the recording unless the trampoline counts into it.
    void finish(bool counting) {
        std::string ignored;
        if (have_regs_changed_) child_.set_regs(saved_regs_, &ignored);
        if (site_saved_) child_.write(saved_regs_.rip, &site_bytes_, sizeof site_bytes_);
        if (!counting && have_segment_) unlink(segment_.path.c_str());
    }

private:
    static const TrampolineData& data() { return *reinterpret_cast<const TrampolineData*>(kTrampolineBlob); }

    bool call(long nr, std::initializer_list<uint64_t> args, int64_t* result, const char* what, std::string* why) {
        have_regs_changed_ = true;
        if (!child_.syscall(saved_regs_, saved_regs_.rip, nr, args, result, why)) return false;
        if (*result < 0 && *result > -4096) {
            *why = fmt::format("{} in the program failed: {}", what, strerror(int(-*result)));
            return false;
        }
        return true;
    }

    // Maps the trampoline's page and the recording into the child, with system calls made by
    // the child at its entry point (a `syscall` written there for the purpose, then restored).
    bool map_into_child(std::string* why) {
        const uint64_t site = saved_regs_.rip;
        if (!child_.read(site, &site_bytes_, sizeof site_bytes_)) {
            *why = "cannot read the program's code through /proc/PID/mem";
            return false;
        }
        uint64_t patched = site_bytes_;
        memcpy(&patched, "\x0f\x05", 2);
        site_saved_ = true;
        if (!child_.write(site, &patched, sizeof patched)) {
            *why = "cannot write into the program's code through /proc/PID/mem";
            return false;
        }
        const uint64_t tramp_size = (kTrampolineSize + kPage - 1) / kPage * kPage;
        int64_t r = 0;
        if (!call(SYS_mmap, {0, tramp_size, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, uint64_t(-1), 0}, &r,
                  "mmap of the trampoline page", why))
            return false;
        trampoline_ = uint64_t(r);
        // The path goes on the child's stack, below the red zone; that memory is unused at exec.
        const std::string& path = segment_.path;
        const uint64_t path_at = (saved_regs_.rsp - 128 - path.size() - 1) & ~uint64_t(15);
        std::string saved_stack(path.size() + 1, '\0');
        if (!child_.read(path_at, saved_stack.data(), saved_stack.size()) ||
            !child_.write(path_at, path.c_str(), path.size() + 1)) {
            *why = "cannot write to the program's stack through /proc/PID/mem";
            return false;
        }
        int64_t fd = -1;
        const bool opened = call(SYS_openat, {uint64_t(AT_FDCWD), path_at, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0}, &fd,
                                 "opening the recording", why);
        child_.write(path_at, saved_stack.data(), saved_stack.size());
        if (!opened) return false;
        const bool mapped = call(SYS_mmap, {0, segment_.size, PROT_READ | PROT_WRITE, MAP_SHARED, uint64_t(fd), 0}, &r,
                                 "mmap of the recording", why);
        int64_t ignored = 0;
        std::string close_why;
        call(SYS_close, {uint64_t(fd)}, &ignored, "close", &close_why);
        if (!mapped) return false;
        segment_in_child_ = uint64_t(r);
        return true;
    }

    bool install_trampoline(std::string* why) {
        // The blob is position independent but for the rseq descriptors' absolute addresses and
        // the address each entry loads __rseq_offset from.
        std::vector<unsigned char> blob(kTrampolineBlob, kTrampolineBlob + kTrampolineSize);
        if (!place_blob(blob.data(), blob.size(), trampoline_, program_.rseq_offset_at)) {
            *why = "the trampoline's entries are not as the injector expects (a build error)";
            return false;
        }
        if (!child_.write(trampoline_, blob.data(), blob.size())) {
            *why = "cannot write the trampoline through /proc/PID/mem";
            return false;
        }
        TrampolineData d = data();
        d.shared_slot = segment_in_child_ + segment_.shared_slot_offset;
        set_caller_mask(d, segment_.caller_mask);
        d.cpu_id_mode = cpu_id_mode();
        if (d.cpu_id_mode != kCpuIdNone) {
            d.cpu_slots = segment_in_child_ + segment_.cpu_slots_offset;
            d.cpu_slot_count = segment_.cpu_slot_count;
            d.slot_size = segment_.slot_size;
        }
        for (int fn = 0; fn < format::kFunctionCount; ++fn) d.original[fn] = vdso_.original[fn];
        d.plumbing = program_.plumbing;
        d.rseq_offset_at = program_.rseq_offset_at;
        d.rseq_size_at = program_.rseq_size_at;
        for (const WrapperRow& w : program_.wrappers) add_wrapper_row(d, w);
        for (int fn = 0; fn < format::kFunctionCount; ++fn)
            if (program_.usual_wrappers[fn].begin != 0) set_usual_wrapper(d, fn, program_.usual_wrappers[fn]);
        if (!child_.write(trampoline_, &d, sizeof d)) {
            *why = "cannot fill the trampoline's data through /proc/PID/mem";
            return false;
        }
        return true;
    }

    TracedChild& child_;
    std::string exe_;
    const std::string& session_;
    ChildVdso vdso_;
    ChildProgram program_;
    ChildSegment segment_;
    user_regs_struct saved_regs_{};
    uint64_t site_bytes_ = 0;
    bool site_saved_ = false;
    bool have_regs_changed_ = false;
    bool have_segment_ = false;
    uint64_t trampoline_ = 0;
    uint64_t segment_in_child_ = 0;
};

}  // namespace

std::string unsupported_reason(const std::string& path) {
#if !defined(__x86_64__)
    (void)path;
    return "counting the calls of static programs is only implemented on x86_64";
#else
    std::ifstream in(path, std::ios::binary);
    Elf64_Ehdr eh{};
    if (!in.read(reinterpret_cast<char*>(&eh), sizeof eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        return "it is not an ELF file";
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64)
        return "it is not an x86_64 program (only x86_64 static programs can be counted)";
    return "";
#endif
}

int request_trace() { return ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) == 0 ? 0 : errno; }

InjectResult inject_at_exec(pid_t pid, int trace_error, const std::string& exe, const std::string& session) {
    InjectResult result;
    if (trace_error != 0) {
        result.why = fmt::format("ptrace is not allowed here ({}: see kernel.yama.ptrace_scope, seccomp, or a "
                                 "container without CAP_SYS_PTRACE)",
                                 strerror(trace_error));
        return result;
    }
    if (!wait_exec_stop(pid, &result.why)) {
        result.why.clear();  // exec failed: run says so itself, through the status
        return result;
    }
    TracedChild child(pid);
    if (child.open_memory(&result.why)) {
        Injection injection(child, exe, session);
        result.counting = injection.run(&result.why);
        injection.finish(result.counting);
    }
    std::string detach_why;
    if (!child.detach(&detach_why)) result.why += (result.why.empty() ? "" : "; ") + detach_why;
    return result;
}

}  // namespace vdsotrace::inject

#include "tools/static_inject/traced_child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace vdsotrace::inject {

bool wait_for_stop(pid_t pid, int* signal, std::string* why) {
    for (;;) {
        siginfo_t info{};
        if (waitid(P_PID, id_t(pid), &info, WEXITED | WSTOPPED | WNOWAIT) != 0) {
            if (errno == EINTR) continue;
            *why = fmt::format("waitid: {}", strerror(errno));
            return false;
        }
        if (info.si_code != CLD_TRAPPED && info.si_code != CLD_STOPPED) {
            *why = "the program ended";
            return false;
        }
        int status = 0;
        while (waitpid(pid, &status, WUNTRACED) < 0) {
            if (errno != EINTR) {
                *why = fmt::format("waitpid: {}", strerror(errno));
                return false;
            }
        }
        *signal = WSTOPSIG(status);
        return true;
    }
}

TracedChild::~TracedChild() {
    if (mem_fd_ >= 0) close(mem_fd_);
}

bool TracedChild::open_memory(std::string* why) {
    mem_fd_ = open(fmt::format("/proc/{}/mem", pid_).c_str(), O_RDWR | O_CLOEXEC);
    if (mem_fd_ < 0) *why = fmt::format("cannot open /proc/{}/mem: {}", pid_, strerror(errno));
    return mem_fd_ >= 0;
}

bool TracedChild::read(uint64_t address, void* out, size_t size) const {
    return pread(mem_fd_, out, size, off_t(address)) == ssize_t(size);
}

bool TracedChild::write(uint64_t address, const void* data, size_t size) const {
    return pwrite(mem_fd_, data, size, off_t(address)) == ssize_t(size);
}

bool TracedChild::get_regs(user_regs_struct* regs, std::string* why) const {
    if (ptrace(PTRACE_GETREGS, pid_, nullptr, regs) == 0) return true;
    *why = fmt::format("PTRACE_GETREGS: {}", strerror(errno));
    return false;
}

bool TracedChild::set_regs(const user_regs_struct& regs, std::string* why) const {
    if (ptrace(PTRACE_SETREGS, pid_, nullptr, &regs) == 0) return true;
    *why = fmt::format("PTRACE_SETREGS: {}", strerror(errno));
    return false;
}

bool TracedChild::syscall(const user_regs_struct& base, uint64_t site, long nr, std::initializer_list<uint64_t> args,
                          int64_t* result, std::string* why) {
#if defined(__x86_64__)
    user_regs_struct r = base;
    r.rip = site;
    r.rax = uint64_t(nr);
    // No syscall restart: the kernel restarts only when orig_rax names a system call.
    r.orig_rax = uint64_t(-1);
    unsigned long long* const slots[] = {&r.rdi, &r.rsi, &r.rdx, &r.r10, &r.r8, &r.r9};
    size_t i = 0;
    for (uint64_t a : args) *slots[i++] = a;
    if (!set_regs(r, why)) return false;
    for (int attempt = 0; attempt < 64; ++attempt) {
        if (ptrace(PTRACE_SINGLESTEP, pid_, nullptr, nullptr) != 0) {
            *why = fmt::format("PTRACE_SINGLESTEP: {}", strerror(errno));
            return false;
        }
        int signal = 0;
        if (!wait_for_stop(pid_, &signal, why)) return false;
        if (signal != SIGTRAP) {
            // A signal (Ctrl-C, one vdsotrace forwards) stopped it before the instruction ran:
            // keep it for detach and step again.
            pending_signal_ = signal;
            continue;
        }
        user_regs_struct after{};
        if (!get_regs(&after, why)) return false;
        if (after.rip != site + 2) {
            *why = fmt::format("the injected system call stopped at {:#x}, not after {:#x}", after.rip, site);
            return false;
        }
        *result = int64_t(after.rax);
        return true;
    }
    *why = "signals kept the injected system call from running";
    return false;
#else
    (void)base, (void)site, (void)nr, (void)args, (void)result;
    *why = "system call injection is only implemented on x86_64";
    return false;
#endif
}

bool TracedChild::detach(std::string* why) {
    if (ptrace(PTRACE_DETACH, pid_, nullptr, reinterpret_cast<void*>(intptr_t(pending_signal_))) == 0) return true;
    *why = fmt::format("PTRACE_DETACH: {}", strerror(errno));
    return false;
}

}  // namespace vdsotrace::inject

#include "tools/attach/stopped_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace vdsotrace::attach {
namespace {

std::vector<pid_t> list_threads(pid_t pid) {
    std::vector<pid_t> out;
    DIR* d = opendir(fmt::format("/proc/{}/task", pid).c_str());
    if (d == nullptr) return out;
    while (dirent* e = readdir(d))
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9') out.push_back(pid_t(atoi(e->d_name)));
    closedir(d);
    return out;
}

std::string ptrace_refusal(pid_t pid, int error) {
    std::string scope;
    std::ifstream("/proc/sys/kernel/yama/ptrace_scope") >> scope;
    if (error == EPERM && !scope.empty() && scope != "0" && geteuid() != 0)
        return fmt::format("ptrace is not allowed here (kernel.yama.ptrace_scope={}: {}); run as root or lower it",
                           scope, scope == "3" ? "no process may be traced" : "only descendants may be traced");
    if (error == EPERM)
        return fmt::format("ptrace of pid {} is not allowed ({}: a seccomp filter, a container without "
                           "CAP_SYS_PTRACE, or the process is not dumpable)",
                           pid, strerror(error));
    return fmt::format("cannot ptrace pid {}: {}", pid, strerror(error));
}

// An interrupted blocking system call (the kernel restarts it when the thread goes on).
bool in_restartable_syscall(const user_regs_struct& r) {
    const long ax = long(r.rax);
    return long(r.orig_rax) >= 0 && (ax == -512 || ax == -513 || ax == -514 || ax == -516);
}

}  // namespace

StoppedProcess::~StoppedProcess() {
    detach_all();
    if (mem_fd_ >= 0) close(mem_fd_);
}

bool StoppedProcess::read(uint64_t address, void* out, size_t size) const {
    return pread(mem_fd_, out, size, off_t(address)) == ssize_t(size);
}

bool StoppedProcess::write(uint64_t address, const void* data, size_t size) const {
    return pwrite(mem_fd_, data, size, off_t(address)) == ssize_t(size);
}

bool StoppedProcess::wait_stopped(pid_t tid, std::string* why) {
    for (;;) {
        int status = 0;
        if (waitpid(tid, &status, __WALL) < 0) {
            if (errno == EINTR) continue;
            threads_.erase(tid);  // gone
            return true;
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            threads_.erase(tid);
            return true;
        }
        if (!WIFSTOPPED(status)) continue;
        const int event = status >> 16;
        const int sig = WSTOPSIG(status);
        if (event == PTRACE_EVENT_STOP) return true;  // our interrupt, or a group-stop
        if (event == 0) {
            // A signal arrived first: keep it for detach; the interrupt stop follows.
            threads_[tid].pending_signal = sig;
            if (ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0) {
                *why = fmt::format("PTRACE_CONT: {}", strerror(errno));
                return false;
            }
            continue;
        }
        ptrace(PTRACE_CONT, tid, nullptr, nullptr);
    }
}

bool StoppedProcess::seize_new_threads(bool* found_new, std::string* why) {
    *found_new = false;
    std::vector<pid_t> fresh;
    for (pid_t tid : list_threads(pid_)) {
        if (threads_.count(tid)) continue;
        if (ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) {
            if (errno == ESRCH) continue;  // exited meanwhile
            *why = ptrace_refusal(pid_, errno);
            return false;
        }
        threads_[tid] = Thread{};
        fresh.push_back(tid);
        ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
    }
    for (pid_t tid : fresh)
        if (!wait_stopped(tid, why)) return false;
    *found_new = !fresh.empty();
    return true;
}

bool StoppedProcess::stop_all(std::string* why) {
    if (mem_fd_ < 0) {
        mem_fd_ = open(fmt::format("/proc/{}/mem", pid_).c_str(), O_RDWR | O_CLOEXEC);
        if (mem_fd_ < 0) {
            *why = errno == EACCES || errno == EPERM ? ptrace_refusal(pid_, EPERM)
                                                     : fmt::format("cannot open /proc/{}/mem: {}", pid_, strerror(errno));
            return false;
        }
    }
    // Threads already seized but running (after call()) are interrupted again.
    std::vector<pid_t> running;
    for (auto& [tid, t] : threads_) running.push_back(tid);
    (void)running;
    for (int round = 0; round < 100; ++round) {
        bool found_new = false;
        if (!seize_new_threads(&found_new, why)) {
            detach_all();
            return false;
        }
        if (!found_new) break;
    }
    if (threads_.empty()) {
        *why = fmt::format("pid {} has no thread left", pid_);
        return false;
    }
    return true;
}

void StoppedProcess::detach_all() {
    for (auto& [tid, t] : threads_) {
        if (t.pending_signal != 0) syscall(SYS_tgkill, pid_, tid, t.pending_signal);
        ptrace(PTRACE_DETACH, tid, nullptr, nullptr);
    }
    threads_.clear();
}

pid_t StoppedProcess::choose_thread() {
    pid_t fallback = threads_.count(pid_) ? pid_ : threads_.begin()->first;
    for (auto& [tid, t] : threads_) {
        user_regs_struct r{};
        if (ptrace(PTRACE_GETREGS, tid, nullptr, &r) == 0 && in_restartable_syscall(r)) return tid;
    }
    return fallback;
}

bool StoppedProcess::call(uint64_t function, std::vector<uint64_t> args, const std::string& stack_data,
                          uint64_t* result, std::string* why) {
#if defined(__x86_64__)
    const pid_t t = choose_thread();
    user_regs_struct saved{};
    if (ptrace(PTRACE_GETREGS, t, nullptr, &saved) != 0) {
        *why = fmt::format("PTRACE_GETREGS: {}", strerror(errno));
        return false;
    }
    // Below the red zone: the data, then a return address of 0, which ends the call in a SIGSEGV
    // at address 0 that is ours (it is never delivered).
    const uint64_t data_at = (saved.rsp - 1024 - stack_data.size()) & ~uint64_t(15);
    const uint64_t sp = ((data_at - 64) & ~uint64_t(15)) - 8;
    const uint64_t zero = 0;
    if (!write(data_at, stack_data.data(), stack_data.size()) || !write(sp, &zero, sizeof zero)) {
        *why = "cannot write to the thread's stack through /proc/PID/mem";
        return false;
    }
    user_regs_struct r = saved;
    unsigned long long* const slots[] = {&r.rdi, &r.rsi, &r.rdx, &r.rcx, &r.r8, &r.r9};
    for (size_t i = 0; i < args.size() && i < 6; ++i) *slots[i] = args[i] == kStackData ? data_at : args[i];
    r.rip = function;
    r.rsp = sp;
    r.rax = 0;
    r.orig_rax = uint64_t(-1);  // no system call restart on the way into the function
    if (ptrace(PTRACE_SETREGS, t, nullptr, &r) != 0) {
        *why = fmt::format("PTRACE_SETREGS: {}", strerror(errno));
        return false;
    }
    for (auto& [tid, th] : threads_) ptrace(PTRACE_CONT, tid, nullptr, nullptr);
    bool done = false, ok = false;
    while (!done) {
        int status = 0;
        const pid_t w = waitpid(-1, &status, __WALL);
        if (w < 0) {
            if (errno == EINTR) continue;
            *why = fmt::format("waitpid: {}", strerror(errno));
            break;
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            threads_.erase(w);
            if (w == t) {
                *why = "the thread ended during the call";
                done = true;
            }
            continue;
        }
        if (!WIFSTOPPED(status)) continue;
        const int event = status >> 16, sig = WSTOPSIG(status);
        if (w == t && event == 0 && sig == SIGSEGV) {
            user_regs_struct after{};
            ptrace(PTRACE_GETREGS, t, nullptr, &after);
            if (after.rip == 0) {
                *result = after.rax;
                ok = done = true;
                continue;
            }
            *why = fmt::format("the injected call crashed at {:#x}", after.rip);
            done = true;
            continue;
        }
        // Anything else goes on; a signal is delivered as it would have been.
        ptrace(PTRACE_CONT, w, nullptr, reinterpret_cast<void*>(intptr_t(event == 0 ? sig : 0)));
    }
    // The chosen thread waits in its SIGSEGV stop (suppressed at detach) with its registers back.
    ptrace(PTRACE_SETREGS, t, nullptr, &saved);
    for (auto& [tid, th] : threads_)
        if (tid != t) ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
    std::string ignored;
    std::vector<pid_t> others;
    for (auto& [tid, th] : threads_)
        if (tid != t) others.push_back(tid);
    for (pid_t tid : others) wait_stopped(tid, &ignored);
    bool found_new = false;
    seize_new_threads(&found_new, &ignored);
    return ok;
#else
    (void)function, (void)args, (void)stack_data, (void)result;
    *why = "attach is only implemented on x86_64";
    return false;
#endif
}

}  // namespace vdsotrace::attach

#include "tools/attach/stopped_process.h"

#include <dirent.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
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

int64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

// While the process is stopped, this thread runs at the lowest real-time priority where it may
// (root, or an RLIMIT_RTPRIO): on a busy machine it would otherwise wait its turn behind every
// runnable task each time it blocks or wakes a thread, and the target stays stopped meanwhile
// (detaching 8 threads took up to 20 ms that way). The target's own scheduling is left alone.
void StoppedProcess::start_stop_clock() {
    if (stopped_since_ns_ == 0) stopped_since_ns_ = monotonic_ns();
    if (!boosted_) {
        saved_policy_ = sched_getscheduler(0);
        sched_getparam(0, &saved_param_);
        sched_param fifo{};
        fifo.sched_priority = 1;
        boosted_ = saved_policy_ >= 0 && sched_setscheduler(0, SCHED_FIFO, &fifo) == 0;
    }
}

void StoppedProcess::stop_stop_clock() {
    if (stopped_since_ns_ != 0) stopped_ns_ += monotonic_ns() - stopped_since_ns_;
    stopped_since_ns_ = 0;
    if (boosted_) sched_setscheduler(0, saved_policy_, &saved_param_);
    boosted_ = false;
}

double StoppedProcess::stopped_ms() const {
    const int64_t running = stopped_since_ns_ != 0 ? monotonic_ns() - stopped_since_ns_ : 0;
    return double(stopped_ns_ + running) / 1e6;
}

std::vector<uint64_t> StoppedProcess::read_words(const std::vector<uint64_t>& addresses, uint64_t missing) const {
    std::vector<uint64_t> out(addresses.size(), missing);
    constexpr size_t kBatch = 1024;  // IOV_MAX
    std::vector<iovec> local, remote;
    for (size_t first = 0; first < addresses.size(); first += kBatch) {
        const size_t n = std::min(kBatch, addresses.size() - first);
        local.resize(n);
        remote.resize(n);
        for (size_t i = 0; i < n; ++i) {
            local[i] = {&out[first + i], sizeof(uint64_t)};
            remote[i] = {reinterpret_cast<void*>(addresses[first + i]), sizeof(uint64_t)};
        }
        const ssize_t got = process_vm_readv(pid_, local.data(), n, remote.data(), n, 0);
        if (got == ssize_t(n * sizeof(uint64_t))) continue;
        // A word that cannot be read ends the batch: read the rest one by one.
        const size_t whole = got > 0 ? size_t(got) / sizeof(uint64_t) : 0;
        for (size_t i = whole; i < n; ++i) {
            out[first + i] = missing;
            read(addresses[first + i], &out[first + i], sizeof(uint64_t));
        }
    }
    return out;
}

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

bool StoppedProcess::seize_new_threads(bool* found_new, std::string* why, bool stop) {
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
        if (stop) {
            start_stop_clock();
            ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
        }
    }
    if (stop)
        for (pid_t tid : fresh) {
            if (!wait_stopped(tid, why)) return false;
            if (auto it = threads_.find(tid); it != threads_.end()) it->second.stopped = true;
        }
    *found_new = !fresh.empty();
    return true;
}

bool StoppedProcess::seize_until_settled(bool stop, std::string* why) {
    // The process may be starting threads meanwhile: look again until a look finds none new.
    for (int round = 0; round < 100; ++round) {
        bool found_new = false;
        if (!seize_new_threads(&found_new, why, stop)) {
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

bool StoppedProcess::open_memory(std::string* why) {
    if (mem_fd_ >= 0) return true;
    mem_fd_ = open(fmt::format("/proc/{}/mem", pid_).c_str(), O_RDWR | O_CLOEXEC);
    if (mem_fd_ >= 0) return true;
    *why = errno == EACCES || errno == EPERM ? ptrace_refusal(pid_, EPERM)
                                             : fmt::format("cannot open /proc/{}/mem: {}", pid_, strerror(errno));
    return false;
}

bool StoppedProcess::seize_all(std::string* why) {
    if (!open_memory(why)) return false;
    return seize_until_settled(false, why);
}

bool StoppedProcess::stop_all(std::string* why) {
    if (!open_memory(why)) return false;
    // Threads seized by seize_all() but running: interrupted all at once, then waited for.
    std::vector<pid_t> running;
    for (auto& [tid, t] : threads_)
        if (!t.stopped) running.push_back(tid);
    if (!running.empty()) start_stop_clock();
    for (pid_t tid : running) ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
    for (pid_t tid : running) {
        if (!wait_stopped(tid, why)) {
            detach_all();
            return false;
        }
        if (auto it = threads_.find(tid); it != threads_.end()) it->second.stopped = true;
    }
    return seize_until_settled(true, why);
}

void StoppedProcess::detach_all() {
    for (auto& [tid, t] : threads_) {
        if (t.pending_signal != 0) syscall(SYS_tgkill, pid_, tid, t.pending_signal);
        ptrace(PTRACE_DETACH, tid, nullptr, nullptr);
    }
    threads_.clear();
    stop_stop_clock();
}

// System calls an idle thread waits in on its own stack. A Go program makes blocking calls such as
// read() on a goroutine's stack, a few KiB that dlopen would overflow; its idle threads wait in
// futex, nanosleep or epoll_wait on their system stack (g0: the thread's own stack under cgo).
static bool waits_on_own_stack(const user_regs_struct& r) {
    switch (long(r.orig_rax)) {
        case SYS_futex: case SYS_nanosleep: case SYS_clock_nanosleep: case SYS_epoll_wait: case SYS_epoll_pwait:
            return true;
        default:
            return false;
    }
}

// The system call a thread is blocked in (/proc/PID/task/TID/syscall: its number), -1 when it is
// not in one, -2 when it is running. Read without stopping the thread.
static long blocked_in(pid_t pid, pid_t tid) {
    std::ifstream in(fmt::format("/proc/{}/task/{}/syscall", pid, tid));
    std::string first;
    if (!(in >> first) || first == "running") return -2;
    return strtol(first.c_str(), nullptr, 10);
}

pid_t StoppedProcess::choose_thread() {
    pid_t fallback = threads_.count(pid_) ? pid_ : threads_.begin()->first;
    pid_t blocked = 0;
    for (auto& [tid, t] : threads_) {
        user_regs_struct r{};
        long nr;
        if (t.stopped) {
            if (ptrace(PTRACE_GETREGS, tid, nullptr, &r) != 0 || !in_restartable_syscall(r)) continue;
            nr = long(r.orig_rax);
        } else {
            nr = blocked_in(pid_, tid);
            if (nr < 0) continue;
            r.orig_rax = uint64_t(nr);
        }
        if (waits_on_own_stack(r)) return tid;
        if (blocked == 0) blocked = tid;
    }
    return blocked != 0 ? blocked : fallback;
}

bool StoppedProcess::call(uint64_t function, std::vector<uint64_t> args, const std::string& stack_data,
                          uint64_t* result, std::string* why) {
#if defined(__x86_64__)
    const pid_t t = choose_thread();
    if (!threads_[t].stopped) {  // only this one: the others run on
        start_stop_clock();
        ptrace(PTRACE_INTERRUPT, t, nullptr, nullptr);
        if (!wait_stopped(t, why)) return false;
        if (!threads_.count(t)) {
            *why = "the thread chosen for the call ended";
            return false;
        }
        threads_[t].stopped = true;
    }
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
    for (auto& [tid, th] : threads_)
        if (th.stopped) {
            ptrace(PTRACE_CONT, tid, nullptr, nullptr);
            th.stopped = false;
        }
    stop_stop_clock();  // they run during the call
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
    // The chosen thread goes on from its SIGSEGV stop (the signal suppressed) with its registers
    // back: a system call it was blocked in restarts. stop_all() stops every thread afterwards.
    ptrace(PTRACE_SETREGS, t, nullptr, &saved);
    if (done && threads_.count(t)) ptrace(PTRACE_CONT, t, nullptr, nullptr);
    return ok;
#else
    (void)function, (void)args, (void)stack_data, (void)result;
    *why = "attach is only implemented on x86_64";
    return false;
#endif
}

}  // namespace vdsotrace::attach

// Every thread of a running process stopped under ptrace (PTRACE_SEIZE + PTRACE_INTERRUPT), for
// `vdsotrace attach`: its memory through /proc/PID/mem, function calls run in one of its threads,
// and a detach that lets every thread go on exactly where it was (a thread stopped inside a
// system call restarts it: its registers are put back with the call's restart state).
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vdsotrace::attach {

class StoppedProcess {
public:
    explicit StoppedProcess(pid_t pid) : pid_(pid) {}
    ~StoppedProcess();  // detaches whatever is still attached
    StoppedProcess(const StoppedProcess&) = delete;
    StoppedProcess& operator=(const StoppedProcess&) = delete;

    // Seizes and stops every thread (again until no new thread appears). False with a one-line
    // reason; then nothing stays attached.
    bool stop_all(std::string* why);
    // Lets every thread go; signals that arrived while stopped are delivered.
    void detach_all();

    bool read(uint64_t address, void* out, size_t size) const;
    bool write(uint64_t address, const void* data, size_t size) const;

    // Calls `function(args...)` (up to 6 integer arguments) in a thread chosen as a safe point
    // (one blocked in a system call, else one running the program's own code, else any), with
    // every other thread running meanwhile so that no lock another thread holds can block it.
    // Every thread is stopped again on return. `stack_data` is copied below the thread's stack
    // and its address replaces any argument equal to kStackData.
    static constexpr uint64_t kStackData = ~uint64_t(0) - 0x5a5a;
    bool call(uint64_t function, std::vector<uint64_t> args, const std::string& stack_data, uint64_t* result,
              std::string* why);

    size_t thread_count() const { return threads_.size(); }

private:
    struct Thread {
        int pending_signal = 0;  // to deliver at detach
    };
    bool seize_new_threads(bool* found_new, std::string* why);
    bool wait_stopped(pid_t tid, std::string* why);
    pid_t choose_thread();

    pid_t pid_;
    int mem_fd_ = -1;
    std::map<pid_t, Thread> threads_;
};

}  // namespace vdsotrace::attach

// Every thread of a running process stopped under ptrace (PTRACE_SEIZE + PTRACE_INTERRUPT), for
// `vdsotrace attach`: its memory through /proc/PID/mem, function calls run in one of its threads,
// and a detach that lets every thread go on exactly where it was (a thread stopped inside a
// system call restarts it: its registers are put back with the call's restart state).
#pragma once

#include <sched.h>
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

    // Seizes every thread without stopping it (PTRACE_SEIZE): done before the work that needs no
    // stopped process, so that stop_all() only has to interrupt. False with a one-line reason;
    // then nothing stays attached.
    bool seize_all(std::string* why);
    // Stops every thread, seizing those not seized yet (again until no new thread appears).
    // False with a one-line reason; then nothing stays attached.
    bool stop_all(std::string* why);
    // Lets every thread go; signals that arrived while stopped are delivered.
    void detach_all();

    bool read(uint64_t address, void* out, size_t size) const;
    // Reads one 8-byte word at each address in one system call (process_vm_readv); a word that
    // cannot be read is left as `missing`.
    std::vector<uint64_t> read_words(const std::vector<uint64_t>& addresses, uint64_t missing = 0) const;
    bool write(uint64_t address, const void* data, size_t size) const;

    // Calls `function(args...)` (up to 6 integer arguments) in a thread chosen as a safe point
    // (one blocked in a system call on its own stack, else one blocked in any, else any), with
    // every other thread running meanwhile so that no lock another thread holds can block it.
    // Works on seized threads, stopping only the chosen one; on return every thread runs (the
    // chosen one with its registers back) and stop_all() stops them. `stack_data` is copied below the thread's
    // stack and its address replaces any argument equal to kStackData.
    static constexpr uint64_t kStackData = ~uint64_t(0) - 0x5a5a;
    bool call(uint64_t function, std::vector<uint64_t> args, const std::string& stack_data, uint64_t* result,
              std::string* why);

    size_t thread_count() const { return threads_.size(); }
    // How long the threads have been stopped so far (from the first interrupt to the detach, not
    // counting the time they ran during call()), in milliseconds.
    double stopped_ms() const;

private:
    struct Thread {
        int pending_signal = 0;  // to deliver at detach
        bool stopped = false;    // interrupted and seen stopped (seize_all leaves it running)
    };
    void start_stop_clock();
    void stop_stop_clock();
    bool seize_new_threads(bool* found_new, std::string* why, bool stop);
    // seize_new_threads until it finds none new (at most 100 looks); false, with every thread
    // let go, when one cannot be seized, and when no thread is left.
    bool seize_until_settled(bool stop, std::string* why);
    bool open_memory(std::string* why);
    bool wait_stopped(pid_t tid, std::string* why);
    pid_t choose_thread();

    pid_t pid_;
    int mem_fd_ = -1;
    std::map<pid_t, Thread> threads_;
    int64_t stopped_ns_ = 0;        // accumulated
    int64_t stopped_since_ns_ = 0;  // 0 while no thread is stopped by us
    bool boosted_ = false;          // running SCHED_FIFO while the process is stopped
    int saved_policy_ = 0;
    sched_param saved_param_{};
};

}  // namespace vdsotrace::attach

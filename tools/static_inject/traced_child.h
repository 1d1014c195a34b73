// A child stopped under ptrace: its memory through /proc/<pid>/mem and system calls run on its
// behalf. Used by the static-program injector (static_inject.h) at the child's exec stop.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace vdsotrace::inject {

// Waits until `pid` stops and consumes that stop, setting *signal. False when it ended instead
// (the ended child is left unreaped, for `run`'s own wait loop to record) or cannot be waited for.
bool wait_for_stop(pid_t pid, int* signal, std::string* why);

class TracedChild {
public:
    explicit TracedChild(pid_t pid) : pid_(pid) {}
    ~TracedChild();
    TracedChild(const TracedChild&) = delete;
    TracedChild& operator=(const TracedChild&) = delete;

    pid_t pid() const { return pid_; }

    // Opens /proc/<pid>/mem for reading and writing; false with a reason.
    bool open_memory(std::string* why);
    // Whole transfers only: false when fewer bytes moved.
    bool read(uint64_t address, void* out, size_t size) const;
    bool write(uint64_t address, const void* data, size_t size) const;

    bool get_regs(user_regs_struct* regs, std::string* why) const;
    bool set_regs(const user_regs_struct& regs, std::string* why) const;

    // Runs system call `nr` in the child with the instruction at `site` (which must hold a
    // `syscall`), starting from registers `base`. The child's registers are left changed: the
    // caller restores them. Signals that arrive meanwhile are kept for detach().
    bool syscall(const user_regs_struct& base, uint64_t site, long nr, std::initializer_list<uint64_t> args,
                 int64_t* result, std::string* why);

    // Lets the child go, delivering a signal that arrived during the injection.
    bool detach(std::string* why);

private:
    pid_t pid_;
    int mem_fd_ = -1;
    int pending_signal_ = 0;
};

}  // namespace vdsotrace::inject

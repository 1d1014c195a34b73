#include "tools/run/signal_forwarding.h"

#include <signal.h>
#include <unistd.h>

namespace vdsotrace::tools {

namespace {

const pid_t* g_child;
struct sigaction g_old[NSIG];
bool g_changed[NSIG];

bool forwardable(int sig) {
    switch (sig) {
        case SIGKILL: case SIGSTOP: case SIGCHLD: case SIGTSTP: case SIGTTIN: case SIGTTOU:
        case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP: case SIGSYS:
            return false;
        default:
            return true;
    }
}

void on_signal(int sig, siginfo_t* info, void*) {
    // si_code <= 0: sent by a process (kill, sigqueue, tgkill); > 0: raised by the kernel, e.g. the
    // terminal's SIGINT or SIGWINCH, which the command's process group got too. A SIGPIPE the
    // kernel raises for our own write names us as its sender.
    if (info->si_code > 0 || info->si_pid == getpid()) return;
    const pid_t child = g_child != nullptr ? *g_child : -1;
    if (child > 0) kill(child, sig);
}

}  // namespace

void forward_signals_to(const pid_t* child) {
    g_child = child;
    struct sigaction sa {};
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);  // one at a time: kill() order is the order they came in
    for (int sig = 1; sig < NSIG; ++sig) {
        if (!forwardable(sig) || (sig > 31 && (sig < SIGRTMIN || sig > SIGRTMAX))) continue;
        if (sigaction(sig, nullptr, &g_old[sig]) != 0) continue;
        // A signal the shell had us ignore (nohup's SIGHUP, a background job's SIGINT) stays
        // ignored, for us and, inherited, for the command.
        if (g_old[sig].sa_handler == SIG_IGN) continue;
        if (sigaction(sig, &sa, nullptr) == 0) g_changed[sig] = true;
    }
}

void restore_signals_for_exec() {
    for (int sig = 1; sig < NSIG; ++sig)
        if (g_changed[sig]) sigaction(sig, &g_old[sig], nullptr);
}

}  // namespace vdsotrace::tools

// `vdsotrace run` passes on every signal a user may send it to the command it runs (issue 12):
// USR1, USR2, ALRM, PIPE, WINCH, CONT, TERM, HUP, INT, QUIT, the real-time signals... Without this,
// a signal whose default action kills `run` (USR1, ALRM, PIPE) ended it with no report and never
// reached the command.
#pragma once

#include <sys/types.h>

namespace vdsotrace::tools {

// From now on, signals sent to this process by another process are sent on to `*child` (when it
// is > 0). Signals the kernel or the terminal raised (Ctrl-C, a window resize, a broken pipe of
// our own) are not: the terminal sends its signals to the whole foreground process group, which
// the command is in, and the others concern `run` alone. SIGINT and SIGQUIT raised by the terminal
// are ignored here, as system() does, so Ctrl-C ends the command and the report still comes.
// Never forwarded: SIGKILL and SIGSTOP (cannot be caught), SIGCHLD (ours), the job-control stops
// (TSTP, TTIN, TTOU: the terminal's business) and the synchronous faults (SEGV, BUS, FPE, ILL,
// TRAP, SYS: ours if any).
void forward_signals_to(const pid_t* child);

// In the forked child before exec: every disposition forward_signals_to changed back to what
// the command would have inherited from the shell.
void restore_signals_for_exec();

}  // namespace vdsotrace::tools

// A crash reporter in a library the program links: its constructor runs before the preloaded
// shim's (the loader initialises a program's libraries before its preloads), so the shim's
// SIGSEGV handler finds it installed and chains to it. ADV_HANDLER picks how it is installed:
//   resethand  SA_RESETHAND, reports and returns (the fault then kills the process once)
//   mask       SA_SIGINFO with SIGUSR2 in sa_mask: reports which signals are blocked, exits 3
//   nodefer    SA_NODEFER: reports whether SIGSEGV is blocked inside, exits 3
//   plain      sa_handler (no SA_SIGINFO): exits 3
//   onstack    SA_ONSTACK on an alternate stack of its own: reports that it runs there, exits 3
//   thread     no SA_ONSTACK, yet the program has an alternate stack: reports it runs on the
//              thread's stack, exits 3
//   ignore     SIG_IGN (a fault then kills the process)
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void say(const char* text) {
    ssize_t ignored = write(STDOUT_FILENO, text, strlen(text));
    (void)ignored;
}

static const char* yes_no(int v) { return v ? "yes" : "no"; }

static int on_alt_stack(void) {
    stack_t ss;
    return sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK);
}

static void report_state(const char* who) {
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    char line[160];
    snprintf(line, sizeof line, "%s: SIGSEGV blocked %s, SIGUSR2 blocked %s, on alternate stack %s\n", who,
             yes_no(sigismember(&now, SIGSEGV)), yes_no(sigismember(&now, SIGUSR2)), yes_no(on_alt_stack()));
    say(line);
}

static void one_shot(int sig, siginfo_t* info, void* uc) {
    (void)sig, (void)info, (void)uc;
    say("crash report (one-shot)\n");
}

static void exits(int sig, siginfo_t* info, void* uc) {
    (void)sig, (void)info, (void)uc;
    report_state("handler");
    _exit(3);
}

static void plain(int sig) {
    (void)sig;
    say("plain handler\n");
    _exit(3);
}

__attribute__((constructor)) static void install_reporter(void) {
    const char* how = getenv("ADV_HANDLER");
    if (how == NULL) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = exits;
    sa.sa_flags = SA_SIGINFO;
    if (strcmp(how, "resethand") == 0) {
        sa.sa_sigaction = one_shot;
        sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    } else if (strcmp(how, "mask") == 0) {
        sigaddset(&sa.sa_mask, SIGUSR2);
    } else if (strcmp(how, "nodefer") == 0) {
        sa.sa_flags |= SA_NODEFER;
    } else if (strcmp(how, "plain") == 0) {
        sa.sa_handler = plain;
        sa.sa_flags = 0;
    } else if (strcmp(how, "onstack") == 0 || strcmp(how, "thread") == 0) {
        static char stack[1 << 16];
        stack_t ss = {.ss_sp = stack, .ss_size = sizeof stack, .ss_flags = 0};
        sigaltstack(&ss, NULL);
        if (strcmp(how, "onstack") == 0) sa.sa_flags |= SA_ONSTACK;
    } else if (strcmp(how, "ignore") == 0) {
        sa.sa_handler = SIG_IGN;
        sa.sa_flags = 0;
    }
    sigaction(SIGSEGV, &sa, NULL);
}

// The program refers to this, so the linker (--as-needed) keeps the library, as a real program
// keeps its crash reporter by calling into it.
const char* adv_reporter_mode(void) {
    const char* how = getenv("ADV_HANDLER");
    return how != NULL ? how : "none";
}

// A preloaded library whose constructor installs a SIGSEGV handler before the shim's constructor
// runs (LD_PRELOAD=shim:this initialises this one first): the shim must chain to it. The handler
// says so and exits 43.
#include <signal.h>
#include <unistd.h>

namespace {

void on_segv(int) {
    static const char msg[] = "early handler ran\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(43);
}

__attribute__((constructor)) void install() {
    struct sigaction sa {};
    sa.sa_handler = on_segv;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, nullptr);
}

}  // namespace

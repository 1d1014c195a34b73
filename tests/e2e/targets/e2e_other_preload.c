// A harmless library to preload next to the shim: says so on stderr.
#include <unistd.h>

__attribute__((constructor)) static void e2e_other_preload_init(void) {
    static const char msg[] = "other-preload-loaded\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
}

// Opens the plugin (argv[1]), calls plugin_tick(argv[2]), closes it, then exits: the report is
// made after the library is unmapped.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
    if (argc < 3) return 2;
    void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 3;
    }
    void (*tick)(long) = (void (*)(long))dlsym(h, "plugin_tick");
    if (!tick) return 4;
    tick(atol(argv[2]));
    if (dlclose(h) != 0) return 5;
    return 0;
}

// Like Go's runtime in 2017 (golang/go#20427): finds the vDSO's clock_gettime itself and calls it
// on a tiny stack that ends in a guard page. The vDSO needs more stack than is left, so the call
// dies with SIGSEGV inside the vDSO.
//
//   crash_small_stack BYTES   run clock_gettime with BYTES of stack below the caller's stack pointer
//   crash_small_stack BYTES plt  the same through the clock_gettime the loader binds (the shim's
//                             when preloaded, else libc's)
//   crash_small_stack null    dereference a null pointer (a crash outside the vDSO)
//   crash_small_stack handler install a SIGSEGV handler that exits 42, then dereference null
//
// Core dumps are turned off (RLIMIT_CORE 0) so test runs leave no core files; the death is the
// same either way.
#include <dlfcn.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tracer/common/vdso_image.h"

extern "C" long call_on_stack(const void* fn, void* sp, long a0, long a1);
asm(R"(
    .text
    .globl call_on_stack
    .type call_on_stack, @function
call_on_stack:
    push %rbp
    mov %rsp, %rbp
    mov %rdi, %rax
    mov %rsi, %rsp
    mov %rdx, %rdi
    mov %rcx, %rsi
    call *%rax
    mov %rbp, %rsp
    pop %rbp
    ret
    .size call_on_stack, .-call_on_stack
)");

int main(int argc, char** argv) {
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    if (argc > 1 && (strcmp(argv[1], "null") == 0 || strcmp(argv[1], "handler") == 0)) {
        if (strcmp(argv[1], "handler") == 0) signal(SIGSEGV, [](int) { _exit(42); });
        volatile int* null = nullptr;
        return *null;
    }
    const long bytes = argc > 1 ? atol(argv[1]) : 16;
    vdsotrace::vdso::Image img;
    if (vdsotrace::vdso::parse_live(&img) != vdsotrace::vdso::ParseError::kNone) return 77;
    const bool plt = argc > 2 && strcmp(argv[2], "plt") == 0;
    const void* fn = plt ? dlsym(RTLD_DEFAULT, "clock_gettime")
                         : vdsotrace::vdso::lookup(img, "__vdso_clock_gettime", "LINUX_2.6");
    if (fn == nullptr) return 77;
    const long page = sysconf(_SC_PAGESIZE);
    auto* region = static_cast<unsigned char*>(
        mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    mprotect(region, page, PROT_NONE);  // the guard page
    static timespec ts;
    call_on_stack(fn, region + page + bytes, CLOCK_MONOTONIC, long(&ts));
    printf("survived with %ld bytes\n", bytes);
    return 0;
}

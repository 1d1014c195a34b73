#include "tracer/engine/libunwind_shield.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>

#include "tracer/engine/recorder.h"
#include "tracer/engine/sample_stack.h"
#include "tracer/engine/thread_state.h"

namespace vdsotrace::tracer {

namespace {

// What libunwind gets from pipe2: numbers no descriptor can have.
constexpr int kFakeReadEnd = -1000;
constexpr int kFakeWriteEnd = -1001;

using ReadFn = ssize_t (*)(int, void*, size_t);
using CloseFn = int (*)(int);
ReadFn g_real_read;
CloseFn g_real_close;

// Whether one byte at `addr` can be read, without faulting.
bool readable(uintptr_t addr) {
    const ThreadState& t = t_thread;
    // Nearly every address libunwind checks is on this thread's stack (it checks the start of the
    // page holding the slot): from the page of our own stack pointer up to the stack's top, all
    // mapped. No system call.
    const uintptr_t page_mask = ~(uintptr_t(getpagesize()) - 1);
    uintptr_t sp = stack_pointer();
    // On a sample stack (sample_stack.h): that stack, and the program's below the switch.
    uintptr_t sample_low, sample_high, origin;
    if (on_sample_stack(sp, &sample_low, &sample_high, &origin)) {
        if (addr >= (sp & page_mask) && addr < sample_high) return true;
        sp = origin;
    }
    const uintptr_t low = sp & page_mask;
    if (t.stack_top != 0 && addr >= low && addr < t.stack_top) return true;
    // Code: libunwind reads the instructions at a return address to tell signal frames apart.
    // Loaded objects are found without a lock or a system call. (Their segments are contiguous in
    // the usual builds; a hole between them would be mapped PROT_NONE.)
    dl_find_object found;
    if (_dl_find_object(reinterpret_cast<void*>(addr), &found) == 0) return true;
    // Anything else: read it through the kernel, which reports EFAULT instead of faulting.
    char byte;
    iovec local{&byte, 1}, remote{reinterpret_cast<void*>(addr), 1};
    const long pid = t.tid != 0 ? t.tid : ::syscall(SYS_getpid);
    return ::syscall(SYS_process_vm_readv, pid, &local, 1ul, &remote, 1ul, 0ul) == 1;
}

int fake_pipe2(int fds[2], int) {
    fds[0] = kFakeReadEnd;
    fds[1] = kFakeWriteEnd;
    errno = 0;
    return 0;
}

ssize_t fake_read(int fd, void* buf, size_t n) {
    if (fd != kFakeReadEnd) return g_real_read(fd, buf, n);
    errno = 0;  // libunwind loops while errno == EINTR, even after a success
    return 1;   // "the pipe still works"
}

int fake_close(int fd) {
    if (fd == kFakeReadEnd || fd == kFakeWriteEnd) return 0;
    return g_real_close(fd);
}

// libunwind calls syscall(SYS_write, pipe[1], addr, 1) to check addr. Everything else passes on.
long fake_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
    // The descriptor was passed as a variadic int: only its low 32 bits are meaningful.
    if (nr == SYS_write && int(a1) == kFakeWriteEnd) {
        if (readable(uintptr_t(a2))) {
            errno = 0;
            return 1;
        }
        errno = EFAULT;
        return -1;
    }
    return ::syscall(nr, a1, a2, a3, a4, a5, a6);
}

// mincore and msync were libunwind's first check; the one above decides.
int fake_mincore(void*, size_t length, unsigned char* vec) {
    const size_t page = size_t(getpagesize());
    memset(vec, 1, (length + page - 1) / page);
    return 0;
}

int fake_msync(void*, size_t, int) { return 0; }

int fake_sigprocmask(int, const sigset_t*, sigset_t* old) {
    if (old != nullptr) sigemptyset(old);
    return 0;
}

struct Replacement {
    const char* name;
    void* with;
    void** slot;
};

struct RelroSearch {
    ElfW(Addr) base;
    uintptr_t start, end;
};

int find_relro(dl_phdr_info* info, size_t, void* data) {
    auto* s = static_cast<RelroSearch*>(data);
    if (info->dlpi_addr != s->base) return 0;
    for (int i = 0; i < info->dlpi_phnum; ++i)
        if (info->dlpi_phdr[i].p_type == PT_GNU_RELRO) {
            s->start = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
            s->end = s->start + info->dlpi_phdr[i].p_memsz;
        }
    return 1;
}

}  // namespace

bool shield_libunwind(void* lib) {
    link_map* map = nullptr;
    if (dlinfo(lib, RTLD_DI_LINKMAP, &map) != 0 || map == nullptr) return false;
    const ElfW(Addr) base = map->l_addr;
    auto at = [base](ElfW(Addr) p) { return p < base ? p + base : p; };  // some loaders leave d_ptr unrelocated
    const ElfW(Sym)* symtab = nullptr;
    const char* strtab = nullptr;
    const ElfW(Rela)* jmprel = nullptr;
    size_t jmprel_size = 0;
    for (const ElfW(Dyn)* d = map->l_ld; d->d_tag != DT_NULL; ++d) {
        if (d->d_tag == DT_SYMTAB) symtab = reinterpret_cast<const ElfW(Sym)*>(at(d->d_un.d_ptr));
        if (d->d_tag == DT_STRTAB) strtab = reinterpret_cast<const char*>(at(d->d_un.d_ptr));
        if (d->d_tag == DT_JMPREL) jmprel = reinterpret_cast<const ElfW(Rela)*>(at(d->d_un.d_ptr));
        if (d->d_tag == DT_PLTRELSZ) jmprel_size = d->d_un.d_val;
    }
    if (symtab == nullptr || strtab == nullptr || jmprel == nullptr) return false;

    Replacement repl[] = {
        {"pipe2", reinterpret_cast<void*>(&fake_pipe2), nullptr},
        {"read", reinterpret_cast<void*>(&fake_read), nullptr},
        {"close", reinterpret_cast<void*>(&fake_close), nullptr},
        {"syscall", reinterpret_cast<void*>(&fake_syscall), nullptr},
        {"mincore", reinterpret_cast<void*>(&fake_mincore), nullptr},
        {"msync", reinterpret_cast<void*>(&fake_msync), nullptr},
        {"sigprocmask", reinterpret_cast<void*>(&fake_sigprocmask), nullptr},
    };
    for (size_t i = 0; i < jmprel_size / sizeof(ElfW(Rela)); ++i) {
        const ElfW(Rela)& r = jmprel[i];
#if defined(__x86_64__)
        if (ELF64_R_TYPE(r.r_info) != R_X86_64_JUMP_SLOT) continue;
#elif defined(__aarch64__)
        if (ELF64_R_TYPE(r.r_info) != R_AARCH64_JUMP_SLOT) continue;
#else
        return false;
#endif
        const char* name = strtab + symtab[ELF64_R_SYM(r.r_info)].st_name;
        for (Replacement& x : repl)
            if (strcmp(name, x.name) == 0) x.slot = reinterpret_cast<void**>(base + r.r_offset);
    }
    // All or nothing: half a shield would let the pipe live on.
    for (const Replacement& x : repl)
        if (x.slot == nullptr) return false;

    RelroSearch relro{base, 0, 0};
    dl_iterate_phdr(find_relro, &relro);
    const uintptr_t page = uintptr_t(getpagesize());
    g_real_read = reinterpret_cast<ReadFn>(dlsym(RTLD_NEXT, "read"));
    g_real_close = reinterpret_cast<CloseFn>(dlsym(RTLD_NEXT, "close"));
    if (g_real_read == nullptr || g_real_close == nullptr) return false;
    for (const Replacement& x : repl) {
        const auto slot = reinterpret_cast<uintptr_t>(x.slot);
        const bool protected_slot = slot >= relro.start && slot < relro.end;
        void* page_start = reinterpret_cast<void*>(slot & ~(page - 1));
        if (protected_slot && mprotect(page_start, page, PROT_READ | PROT_WRITE) != 0) return false;
        __atomic_store_n(x.slot, x.with, __ATOMIC_RELEASE);
        if (protected_slot) mprotect(page_start, page, PROT_READ);
    }
    return true;
}

}  // namespace vdsotrace::tracer

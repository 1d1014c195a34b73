/* A C program that calls the vDSO's getrandom the way Go 1.24+ and glibc 2.41+ do: it finds
 * __vdso_getrandom in the vDSO's own dynamic symbol table (getauxval(AT_SYSINFO_EHDR)), asks it
 * for the opaque state's parameters (a first call with length 0, as the kernel's selftest
 * tools/testing/selftests/vDSO/vdso_test_getrandom.c does), maps the state and fills a buffer N
 * times. Only the vDSO redirection (VDSOTRACE_VDSO_REDIRECT=on, or a Go program) can count such
 * calls. Usage: vdso_getrandom N; prints "getrandom N" and exits 0, or exits 77 with a reason
 * where the vDSO has no getrandom (kernels before 6.11, other architectures). */
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>

struct vgetrandom_opaque_params {
    uint32_t size_of_opaque_state;
    uint32_t mmap_prot;
    uint32_t mmap_flags;
    uint32_t reserved[13];
};

typedef long (*getrandom_fn)(void* buffer, size_t length, unsigned flags, void* state, size_t state_size);

static getrandom_fn find_vdso_getrandom(void) {
    const unsigned char* base = (const unsigned char*)getauxval(AT_SYSINFO_EHDR);
    if (base == NULL) return NULL;
    const Elf64_Ehdr* eh = (const Elf64_Ehdr*)base;
    const Elf64_Phdr* ph = (const Elf64_Phdr*)(base + eh->e_phoff);
    uintptr_t load_offset = 0;
    for (int i = 0; i < eh->e_phnum; ++i)
        if (ph[i].p_type == PT_LOAD) {
            load_offset = (uintptr_t)base + ph[i].p_offset - ph[i].p_vaddr;
            break;
        }
    const Elf64_Shdr* sh = (const Elf64_Shdr*)(base + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; ++i) {
        if (sh[i].sh_type != SHT_DYNSYM) continue;
        const Elf64_Sym* syms = (const Elf64_Sym*)(base + sh[i].sh_offset);
        const char* names = (const char*)(base + sh[sh[i].sh_link].sh_offset);
        for (size_t s = 0; s < sh[i].sh_size / sizeof(Elf64_Sym); ++s)
            if (ELF64_ST_TYPE(syms[s].st_info) == STT_FUNC && syms[s].st_shndx != SHN_UNDEF &&
                strcmp(names + syms[s].st_name, "__vdso_getrandom") == 0)
                return (getrandom_fn)(load_offset + syms[s].st_value);
    }
    return NULL;
}

static volatile long g_results;

// Not a tail call (its own return address is the call site the report names).
__attribute__((noinline)) static long query_params(getrandom_fn fn, struct vgetrandom_opaque_params* params) {
    const long r = fn(NULL, 0, 0, params, ~0UL);
    g_results += r;
    return r;
}

__attribute__((noinline)) static long fill_calls(getrandom_fn fn, void* state, size_t state_size, long n) {
    long ok = 0;
    unsigned char buffer[32];
    for (long i = 0; i < n; ++i) {
        memset(buffer, 0, sizeof buffer);
        ok += fn(buffer, sizeof buffer, 0, state, state_size) == (long)sizeof buffer;
    }
    return ok;
}

int main(int argc, char** argv) {
    const long n = argc > 1 ? atol(argv[1]) : 1000;
    getrandom_fn fn = find_vdso_getrandom();
    if (fn == NULL) {
        puts("SKIP: this kernel's vDSO has no __vdso_getrandom (Linux 6.11+ on x86_64)");
        return 77;
    }
    struct vgetrandom_opaque_params params;
    memset(&params, 0, sizeof params);
    if (query_params(fn, &params) != 0 || params.size_of_opaque_state == 0) {
        puts("SKIP: __vdso_getrandom refused the parameters query");
        return 77;
    }
    void* state = mmap(NULL, 4096, params.mmap_prot, params.mmap_flags, -1, 0);
    if (state == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    printf("getrandom %ld\n", fill_calls(fn, state, params.size_of_opaque_state, n));
    return 0;
}

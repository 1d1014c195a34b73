#include "tracer/engine/vdso_patch_log.h"

#include <cstring>

namespace vdsotrace::tracer {
namespace {

struct Patch {
    size_t offset;
    uint64_t original;
};
Patch g_patches[kMaxVdsoPatches];
unsigned g_patch_count;
uint32_t g_flags;

}  // namespace

void note_vdso_patch(size_t offset, uint64_t original) {
    if (g_patch_count < kMaxVdsoPatches) g_patches[g_patch_count++] = Patch{offset, original};
}

void undo_vdso_patches(unsigned char* copy, size_t size) {
    for (unsigned i = 0; i < g_patch_count; ++i) {
        if (g_patches[i].offset + sizeof(uint64_t) <= size)
            memcpy(copy + g_patches[i].offset, &g_patches[i].original, sizeof(uint64_t));
    }
}

void set_vdso_redirect_flags(uint32_t flags) { __atomic_store_n(&g_flags, flags, __ATOMIC_RELEASE); }
uint32_t vdso_redirect_flags() { return __atomic_load_n(&g_flags, __ATOMIC_ACQUIRE); }

}  // namespace vdsotrace::tracer

// What the shim changed in this process's vDSO, so the recording keeps the vDSO as the kernel
// made it. The shim redirects symbol values in the vDSO's .dynsym (shim/vdso_redirect.cpp); the
// segment's copy of the image (kSectionVdsoImage) is for symbolizing and for the vDSO doctor,
// and must show the original values, not the shim's addresses.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vdsotrace::tracer {

// Notes that the 8 bytes at `offset` in the vDSO image held `original` before the shim changed
// them. Constructor only (single-threaded start-up); at most kMaxVdsoPatches.
inline constexpr unsigned kMaxVdsoPatches = 16;
void note_vdso_patch(size_t offset, uint64_t original);

// Writes the original values back into a copy of the image of `size` bytes.
void undo_vdso_patches(unsigned char* copy, size_t size);

// HeaderFlags (kFlagVdsoRedirected / kFlagVdsoRedirectRefused) for segments created from now on.
void set_vdso_redirect_flags(uint32_t flags);
uint32_t vdso_redirect_flags();

}  // namespace vdsotrace::tracer

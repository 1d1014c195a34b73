// Reads a function's machine code (with Capstone) for what decides its stack use: the largest
// `sub $N, %rsp`, the pushes, and stack probes (`or $0x0, (%rsp)`), which a kernel built with
// -fstack-check or -fstack-clash-protection puts after large frames and which touch the stack
// far below the stack pointer (golang/go#20427). x86_64 code only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vdsotrace::doctor {

struct StackProbe {
    uint64_t offset = 0;        // from the start of the function
    std::string instruction;    // as disassembled, e.g. "or qword ptr [rsp], 0"
    uint64_t frame_before = 0;  // the `sub` from %rsp in effect when the probe runs
};

struct CodeScan {
    bool scanned = false;
    std::string problem;        // why not scanned
    size_t instructions = 0;
    uint64_t max_frame = 0;     // largest `sub $N, %rsp`
    unsigned pushes = 0;        // push instructions (each 8 bytes)
    std::vector<StackProbe> probes;
    // A static estimate: return address + pushes + largest frame. The measurement is the truth;
    // this is what one can say about an image that cannot be run here (another kernel's).
    uint64_t estimate() const { return 8 + 8 * uint64_t(pushes) + max_frame; }
    bool large_frame() const { return max_frame >= 4096; }
};

// Scans `size` bytes of code at `code`, which runs at `address`.
CodeScan scan_code(const unsigned char* code, size_t size, uint64_t address);

}  // namespace vdsotrace::doctor

// Collects a Go program's time plumbing (go_callers.h) from function names and link-time ranges,
// whatever table they come from: the ELF symbol table, or Go's own function table. Shared by the
// shim (reading its own executable) and the static-program injector (reading the child's).
#pragma once

#include <cstdint>
#include <cstring>

#include "tracer/common/go_callers.h"

namespace vdsotrace::tracer::go {

class PlumbingFinder {
public:
    // `bias`: runtime address minus link-time address of the executable.
    explicit PlumbingFinder(uint64_t bias) : bias_(bias) {}

    // Notes a function if it is plumbing (the last one of a name wins: names are unique).
    void note(const char* name, uint64_t begin, uint64_t end) {
        for (unsigned k = 0; k < kMaxPlumbing; ++k) {
            if (strcmp(name, kTimePlumbing[k]) != 0) continue;
            found_[k] = {uintptr_t(begin + bias_), uintptr_t(end + bias_)};
            return;
        }
    }

    // What was found, in kTimePlumbing order (the functions that call the vDSO first).
    Plumbing result() const {
        Plumbing p{};
        for (const CodeRange& r : found_)
            if (r.end != 0) add_plumbing(p, r);
        return p;
    }

private:
    uint64_t bias_;
    CodeRange found_[kMaxPlumbing] = {};
};

}  // namespace vdsotrace::tracer::go

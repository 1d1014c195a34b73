#include "tools/report/machine_facts.h"

#include <cstring>

namespace vdsotrace::tools {

bool MachineFacts::same_vdso(const Recording& r) const {
    return !vdso_image.empty() && !r.vdso_image.empty() && r.vdso_image.size() <= vdso_image.size() &&
           memcmp(r.vdso_image.data(), vdso_image.data(), r.vdso_image.size()) == 0;
}

const doctor::FunctionNeed* MachineFacts::need_of(const std::string& function) const {
    for (const doctor::FunctionNeed& n : vdso_needs)
        if (n.function == function) return &n;
    return nullptr;
}

}  // namespace vdsotrace::tools

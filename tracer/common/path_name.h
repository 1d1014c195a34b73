// The last component of a path, the one way the reader side takes it.
#pragma once

#include <string>

namespace vdsotrace {

inline std::string base_name(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace vdsotrace

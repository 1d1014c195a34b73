// What the segment reader says when it refuses a recording (the reader tests' one helper): the
// message, with a test failure if it accepted the bytes instead.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tools/recordings/segment_reader.h"

namespace vdsotrace::testing {

inline std::string refusal(const std::vector<unsigned char>& bytes) {
    std::string error;
    EXPECT_FALSE(tools::parse_recording(bytes, "test", &error).has_value());
    return error;
}

}  // namespace vdsotrace::testing

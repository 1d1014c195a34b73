// Bytes that many recordings hold alike, kept once. Every process of a session sees the same vDSO,
// and each recording carries its image (8 KiB on x86-64): `run` held one copy per process, most
// of its memory over a long session (10.5 KiB a process: 1 GB for a build of 100,000 processes).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace vdsotrace::tools {

class SharedBytes {
public:
    SharedBytes() = default;

    // The bytes [first, last), sharing the copy of equal bytes still held by another SharedBytes
    // made this way (a process-wide table, safe from any thread).
    static SharedBytes interned(const unsigned char* first, const unsigned char* last);

    const std::vector<unsigned char>& bytes() const { return bytes_ ? *bytes_ : empty_bytes(); }
    operator const std::vector<unsigned char>&() const { return bytes(); }
    bool empty() const { return bytes().empty(); }
    size_t size() const { return bytes().size(); }
    const unsigned char* data() const { return bytes().data(); }
    auto begin() const { return bytes().begin(); }
    auto end() const { return bytes().end(); }
    bool operator==(const SharedBytes& o) const { return bytes() == o.bytes(); }
    // Whether two share one copy (tests).
    bool same_copy(const SharedBytes& o) const { return bytes_ != nullptr && bytes_ == o.bytes_; }

private:
    static const std::vector<unsigned char>& empty_bytes();
    std::shared_ptr<const std::vector<unsigned char>> bytes_;
};

}  // namespace vdsotrace::tools

// A bounded, allocation-free text builder for the shim's few messages and names: snprintf may
// allocate or take locale locks, which the first-call path must not.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vdsotrace::tracer {

class TextBuffer {
public:
    TextBuffer(char* buf, size_t size) : buf_(buf), size_(size) {
        if (size_ > 0) buf_[0] = '\0';
    }
    TextBuffer* add(const char* s) {
        while (s && *s && len_ + 1 < size_) buf_[len_++] = *s++;
        if (size_ > 0) buf_[len_] = '\0';
        return this;
    }
    TextBuffer* add_u64(uint64_t v) {
        char tmp[21];
        int n = 0;
        do { tmp[n++] = char('0' + v % 10); v /= 10; } while (v);
        char out[21];
        for (int i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
        out[n] = '\0';
        return add(out);
    }
    TextBuffer* add_hex(uint64_t v, int digits) {
        char out[17];
        for (int i = digits - 1; i >= 0; --i, v >>= 4) out[i] = "0123456789abcdef"[v & 15];
        out[digits] = '\0';
        return add(out);
    }
    size_t size() const { return len_; }
    const char* c_str() const { return buf_; }

private:
    char* buf_;
    size_t size_;
    size_t len_ = 0;
};

}  // namespace vdsotrace::tracer

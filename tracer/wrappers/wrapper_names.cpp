#include "tracer/wrappers/wrapper_names.h"

#include <cstdlib>
#include <cstring>

namespace vdsotrace::tracer::wrappers {

const char* const kBuiltinWrappers[] = {
    "std::chrono::*::now",                      // libstdc++ steady_clock, system_clock
    "std::chrono::*_clock::now",                // libc++
    "uv_hrtime", "uv__hrtime", "uv_clock_gettime", "uv_gettimeofday", "uv_update_time", "uv__update_time",
    "_PyTime_*", "PyTime_*", "_PyDeadline_*",   // CPython (time module's clocks, deadlines)
    "os::javaTime*", "os::elapsed*",            // HotSpot (System.nanoTime, currentTimeMillis)
    "v8::base::Time::*", "v8::base::TimeTicks::*", "v8::base::ThreadTicks::*", "v8::base::OS::TimeCurrentMillis",
    "g_get_monotonic_time", "g_get_real_time", "g_get_current_time",  // GLib
    "std::time::*", "std::sys::*::time::*",     // Rust
    "absl::Now", "absl::*::Now", "absl::GetCurrentTimeNanos", "absl::*::GetCurrentTimeNanos",
    "QElapsedTimer::*", "QDateTime::currentMSecsSinceEpoch", "QDateTime::currentDateTime*",  // Qt
    "folly::chrono::*::now", "boost::chrono::*::now",
};
const size_t kBuiltinWrapperCount = sizeof(kBuiltinWrappers) / sizeof(kBuiltinWrappers[0]);

bool glob_match(const char* pattern, const char* text) {
    const char* star = nullptr;  // last '*' seen, and where the text stood then
    const char* resume = nullptr;
    while (*text != '\0') {
        if (*pattern == '*') {
            star = pattern++;
            resume = text;
        } else if (*pattern == '?' || *pattern == *text) {
            ++pattern;
            ++text;
        } else if (star != nullptr) {
            pattern = star + 1;
            text = ++resume;
        } else {
            return false;
        }
    }
    while (*pattern == '*') ++pattern;
    return *pattern == '\0';
}

namespace {

bool append(char* out, size_t size, size_t* used, const char* s, size_t n) {
    if (*used + n + 1 > size) return false;
    memcpy(out + *used, s, n);
    *used += n;
    out[*used] = '\0';
    return true;
}

// Decodes <source-name>s of a nested name starting at `p` (after "_ZN" and qualifiers) up to 'E'.
bool decode_nested(const char* p, char* out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    while (*p == 'r' || *p == 'V' || *p == 'K') ++p;  // cv-qualifiers of a member function
    if (p[0] == 'S' && p[1] == 't') {
        if (!append(out, size, &used, "std", 3)) return false;
        p += 2;
    }
    while (*p != 'E') {
        if (*p < '0' || *p > '9') return false;  // templates, substitutions, operators: not decoded
        size_t n = 0;
        while (*p >= '0' && *p <= '9') n = n * 10 + size_t(*p++ - '0');
        if (n == 0 || strnlen(p, n) < n) return false;
        if (used != 0 && !append(out, size, &used, "::", 2)) return false;
        if (n == 12 && memcmp(p, "_GLOBAL__N_1", 12) == 0) {
            if (!append(out, size, &used, "(anonymous namespace)", 21)) return false;
        } else if (!append(out, size, &used, p, n)) {
            return false;
        }
        p += n;
    }
    return used != 0;
}

}  // namespace

bool qualified_name(const char* symbol, char* out, size_t size) {
    if (size == 0) return false;
    if (strncmp(symbol, "_ZN", 3) == 0 && decode_nested(symbol + 3, out, size)) return true;
    if (strncmp(symbol, "_Z", 2) == 0 && symbol[2] >= '1' && symbol[2] <= '9') {
        // A function at namespace scope: _Z<length><name><parameters>.
        const char* p = symbol + 2;
        size_t n = 0;
        while (*p >= '0' && *p <= '9') n = n * 10 + size_t(*p++ - '0');
        if (n > 0 && strnlen(p, n) == n && n < size) {
            memcpy(out, p, n);
            out[n] = '\0';
            return true;
        }
    }
    const size_t n = strnlen(symbol, size);
    if (n == size) return false;
    memcpy(out, symbol, n + 1);
    return true;
}

namespace {

// VDSOTRACE_WRAPPERS, copied once (the environment may change later).
char g_user[1024];
int g_user_state;  // 0: not read, 1: reading, 2: read

const char* user_globs() {
    int state = __atomic_load_n(&g_user_state, __ATOMIC_ACQUIRE);
    if (state == 2) return g_user;
    int expected = 0;
    if (state == 0 && __atomic_compare_exchange_n(&g_user_state, &expected, 1, false, __ATOMIC_ACQ_REL,
                                                  __ATOMIC_ACQUIRE)) {
        const char* env = getenv("VDSOTRACE_WRAPPERS");
        if (env != nullptr) {
            const size_t n = strnlen(env, sizeof g_user - 1);
            memcpy(g_user, env, n);
            g_user[n] = '\0';
        }
        __atomic_store_n(&g_user_state, 2, __ATOMIC_RELEASE);
        return g_user;
    }
    return "";  // another thread (or the interrupted one) is copying it: built-ins only this time
}

}  // namespace

bool is_clock_wrapper(const char* qualified) {
    for (size_t i = 0; i < kBuiltinWrapperCount; ++i)
        if (glob_match(kBuiltinWrappers[i], qualified)) return true;
    const char* p = user_globs();
    while (*p != '\0') {
        const char* comma = strchr(p, ',');
        const size_t n = comma ? size_t(comma - p) : strlen(p);
        char glob[256];
        if (n > 0 && n < sizeof glob) {
            memcpy(glob, p, n);
            glob[n] = '\0';
            if (glob_match(glob, qualified)) return true;
        }
        p += n + (comma ? 1 : 0);
    }
    return false;
}

}  // namespace vdsotrace::tracer::wrappers

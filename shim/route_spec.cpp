#include "shim/route_spec.h"

#include "tracer/format/segment_format.h"
#include "tracer/common/text_util.h"

namespace vdsotrace::shim {

namespace {

namespace f = vdsotrace::format;

// True when [s, s + n) spells `word`.
bool same(const char* s, size_t n, const char* word) {
    size_t i = 0;
    for (; i < n && word[i] != '\0'; ++i)
        if (s[i] != word[i]) return false;
    return i == n && word[i] == '\0';
}

}  // namespace

bool parse_route_spec(const char* spec, uint8_t* routes, char* problem, size_t problem_size) {
    for (int fn = 0; fn < f::kFunctionCount; ++fn) routes[fn] = f::kRouteVdso;
    if (problem_size > 0) problem[0] = '\0';
    if (spec == nullptr || *spec == '\0') return true;
    uint8_t parsed[f::kFunctionCount] = {};
    const char* p = spec;
    while (true) {
        const char* name = p;
        while (*p && *p != '=' && *p != ',') ++p;
        const size_t name_len = size_t(p - name);
        if (*p != '=') break;
        const char* target = ++p;
        while (*p && *p != ',') ++p;
        const size_t target_len = size_t(p - target);
        int how = same(target, target_len, "vdso")      ? f::kRouteVdso
                  : same(target, target_len, "syscall") ? f::kRouteSyscall
                  : same(target, target_len, "libc")    ? f::kRouteLibc
                                                        : -1;
        int which = -2;
        if (same(name, name_len, "all")) which = -1;
        for (int fn = 0; fn < f::kFunctionCount; ++fn)
            if (same(name, name_len, f::kFunctionNames[fn])) which = fn;
        if (how < 0 || which == -2) break;
        for (int fn = 0; fn < f::kFunctionCount; ++fn)
            if (which == -1 || which == fn) parsed[fn] = uint8_t(how);
        if (*p == '\0') {
            for (int fn = 0; fn < f::kFunctionCount; ++fn) routes[fn] = parsed[fn];
            return true;
        }
        ++p;  // the comma
    }
    tracer::TextBuffer b(problem, problem_size);
    b.add("vdsotrace: ignoring VDSOTRACE_ROUTE=")->add(spec);
    b.add(": expected FUNCTION=TARGET[,...] with FUNCTION one of clock_gettime, gettimeofday, time, getcpu, "
          "clock_getres, all and TARGET one of vdso, syscall, libc; every call goes to the vDSO\n");
    return false;
}

}  // namespace vdsotrace::shim

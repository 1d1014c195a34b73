// Which functions are clock wrappers: a built-in list of the common ones (the runtimes' and
// libraries' own "what time is it" functions) plus the user's (VDSOTRACE_WRAPPERS, set by
// `vdsotrace run --wrapper GLOB`), matched against a function's qualified name.
//
// Names come from symbol tables, mangled. The shim cannot demangle with libstdc++ (it must not
// depend on it, and __cxa_demangle allocates), so `qualified_name` decodes the one form that
// matters here: Itanium nested names without templates (_ZN...E: std::chrono::_V2::steady_clock::now,
// os::javaTimeNanos, v8::base::TimeTicks::Now; Rust's legacy mangling is the same form).
#pragma once

#include <cstddef>

namespace vdsotrace::tracer::wrappers {

// Writes the qualified name of `symbol` without parameters into `out` (the symbol itself when it
// is not a mangled name this decoder knows). Returns false if it did not fit.
bool qualified_name(const char* symbol, char* out, size_t size);

// Shell-style match: `*` any run of characters (`::` included), `?` one character.
bool glob_match(const char* pattern, const char* text);

// True when the function named `qualified` (from qualified_name) is a clock wrapper. Reads
// VDSOTRACE_WRAPPERS (comma-separated globs) on first use.
bool is_clock_wrapper(const char* qualified);

// The built-in globs, for `vdsotrace run --help` and tests.
extern const char* const kBuiltinWrappers[];
extern const size_t kBuiltinWrapperCount;

}  // namespace vdsotrace::tracer::wrappers

#pragma once
// C++ names as a person reads them in a table: a demangled v8 or libstdc++ name runs to 300
// characters of parameter and template lists ("Compile(v8::internal::Isolate*, ...)"), which wraps
// every row of the callers table. Text renderers shorten long names; JSON keeps them whole.
#include <string>
#include <string_view>

namespace vdsotrace::tools {

// `name` unchanged when it has at most `width` characters. Otherwise, in this order until it fits:
// the parameter list becomes "(…)", a return type in front of a template function's name is
// dropped, and template argument lists become "<…>". Names that are not C++ (Python functions,
// "module+0x..") pass through; so do names whose brackets do not balance.
std::string short_symbol(std::string_view name, size_t width = 100);

}  // namespace vdsotrace::tools

#include "tools/render/short_symbol.h"

#include <cctype>
#include <optional>
#include <vector>

namespace vdsotrace::tools {

namespace {

constexpr std::string_view kEllipsis = "\u2026";
constexpr std::string_view kAnonymous = "(anonymous namespace)";

bool opens(char c) { return c == '(' || c == '<'; }
bool closes(char c) { return c == ')' || c == '>'; }

// Which characters are brackets that open or close a list. Not: the brackets of
// "(anonymous namespace)", which is a name, and those of operator names ("operator<",
// "operator->", "operator()"), which open nothing.
std::vector<bool> structural_brackets(std::string_view s) {
    std::vector<bool> structural(s.size(), false);
    for (size_t i = 0; i < s.size(); ++i) {
        if (s.substr(i).starts_with(kAnonymous)) {
            i += kAnonymous.size() - 1;
            continue;
        }
        if (s.substr(i).starts_with("operator")) {
            i += 8;
            // The operator's own brackets: "operator()" and up to three of "<>-=" after it.
            if (s.substr(i).starts_with("()")) i += 2;
            while (i < s.size() && (opens(s[i]) || closes(s[i]) || s[i] == '-' || s[i] == '=')) {
                if (s[i] == '(') break;  // operator+(...) : this one is the parameter list
                ++i;
            }
            --i;
            continue;
        }
        structural[i] = opens(s[i]) || closes(s[i]);
    }
    return structural;
}

// Each bracket group of kind `which` at depth 0 emptied to "(…)" or "<…>"; nullopt when the brackets
// do not balance.
std::optional<std::string> collapse(std::string_view s, char which) {
    const std::vector<bool> structural = structural_brackets(s);
    std::string out;
    int depth = 0;
    bool skipping = false;  // inside a group being collapsed
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (structural[i] && opens(c)) {
            if (!skipping) {
                out += c;
                if (depth == 0 && c == which) {
                    out += kEllipsis;
                    skipping = true;
                }
            }
            ++depth;
        } else if (structural[i] && closes(c)) {
            if (--depth < 0) return std::nullopt;
            if (!skipping) {
                out += c;
            } else if (depth == 0) {
                out += c;
                skipping = false;
            }
        } else if (!skipping) {
            out += c;
        }
    }
    if (depth != 0) return std::nullopt;
    return out;
}

// True when the space at `i` follows an operator's name ("operator new", "operator< <char>").
bool after_operator(std::string_view s, size_t i) {
    const size_t op = s.substr(0, i).rfind("operator");
    if (op == std::string_view::npos) return false;
    for (size_t k = op + 8; k < i; ++k)
        if (std::isalnum(static_cast<unsigned char>(s[k])) || s[k] == '_') return false;
    return true;
}

// "ns::Status ns::Finalize<ns::Isolate>(…)" -> "ns::Finalize<ns::Isolate>(…)": the return type GCC
// prints in front of a template function's name is the last depth-0 space before the parameters.
std::string drop_return_type(const std::string& s) {
    const std::vector<bool> structural = structural_brackets(s);
    int depth = 0;
    size_t space = std::string::npos;
    for (size_t i = 0; i < s.size(); ++i) {
        if (std::string_view(s).substr(i).starts_with(kAnonymous)) {
            i += kAnonymous.size() - 1;
            continue;
        }
        if (structural[i] && opens(s[i])) {
            if (depth == 0 && s[i] == '(') break;
            ++depth;
        } else if (structural[i] && closes(s[i])) {
            --depth;
        } else if (depth == 0 && s[i] == ' ' && !after_operator(s, i)) {
            space = i;
        }
    }
    return space == std::string::npos ? s : s.substr(space + 1);
}

}  // namespace

std::string short_symbol(std::string_view name, size_t width) {
    if (name.size() <= width) return std::string(name);
    const std::optional<std::string> no_parameters = collapse(name, '(');
    // Only C++ functions are shortened: a name without a parameter list ("hot  <string>:3") is not one.
    if (!no_parameters || *no_parameters == name) return std::string(name);
    if (no_parameters->size() <= width) return *no_parameters;
    const std::string no_return_type = drop_return_type(*no_parameters);
    if (no_return_type.size() <= width) return no_return_type;
    return collapse(no_return_type, '<').value_or(no_return_type);
}

}  // namespace vdsotrace::tools

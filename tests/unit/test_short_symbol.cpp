// Long C++ names shortened for the text report, from names node 20 and libstdc++ really have.
#include <gtest/gtest.h>

#include "tools/render/short_symbol.h"

using vdsotrace::tools::short_symbol;

TEST(ShortSymbol, ShortNamesUnchanged) {
    EXPECT_EQ(short_symbol("node::performance::FastPerformanceNow(v8::Local<v8::Value>)"),
              "node::performance::FastPerformanceNow(v8::Local<v8::Value>)");
    EXPECT_EQ(short_symbol("hot  <string>:3", 5), "hot  <string>:3");  // not C++: brackets do not balance
    EXPECT_EQ(short_symbol("python3.11+0x605543", 5), "python3.11+0x605543");
}

TEST(ShortSymbol, ParametersFirst) {
    EXPECT_EQ(short_symbol("v8::internal::(anonymous namespace)::ExecuteSingleUnoptimizedCompilationJob(v8::internal::"
                           "ParseInfo*, v8::internal::FunctionLiteral*, v8::internal::Handle<v8::internal::Script>, "
                           "v8::internal::AccountingAllocator*, std::vector<v8::internal::FunctionLiteral*, "
                           "std::allocator<v8::internal::FunctionLiteral*> >*, v8::internal::LocalIsolate*)"),
              "v8::internal::(anonymous namespace)::ExecuteSingleUnoptimizedCompilationJob(\u2026)");
    // Qualifiers and GCC's clone suffixes stay.
    EXPECT_EQ(short_symbol("v8::internal::IsolateSafepoint::EnterLocalSafepointScope(v8::internal::Isolate*, "
                           "v8::internal::LocalHeap*) const [clone .part.0]",
                           60),
              "v8::internal::IsolateSafepoint::EnterLocalSafepointScope(\u2026) const [clone .part.0]");
}

TEST(ShortSymbol, ThenReturnTypeThenTemplates) {
    const std::string finalize =
        "v8::internal::CompilationJob::Status v8::internal::(anonymous namespace)::"
        "FinalizeSingleUnoptimizedCompilationJob<v8::internal::Isolate>(v8::internal::UnoptimizedCompilationJob*, "
        "v8::internal::Handle<v8::internal::SharedFunctionInfo>, v8::internal::Isolate*)";
    EXPECT_EQ(short_symbol(finalize, 110),
              "v8::internal::(anonymous namespace)::FinalizeSingleUnoptimizedCompilationJob<v8::internal::Isolate>"
              "(\u2026)");
    EXPECT_EQ(short_symbol(finalize, 70),
              "v8::internal::(anonymous namespace)::FinalizeSingleUnoptimizedCompilationJob<\u2026>(\u2026)");
}

TEST(ShortSymbol, OperatorsAreNotBrackets) {
    EXPECT_EQ(short_symbol("bool std::operator< <char, std::char_traits<char> >(std::basic_string<char> const&, "
                           "std::basic_string<char> const&)",
                           40),
              "std::operator< <\u2026>(\u2026)");
    EXPECT_EQ(short_symbol("std::_Function_handler<void (), Lambda>::operator()(std::_Any_data const&, int&&, long&&)",
                           60),
              "std::_Function_handler<void (), Lambda>::operator()(\u2026)");
}

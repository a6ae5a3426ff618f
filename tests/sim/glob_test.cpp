#include "sim/glob.hpp"

#include <gtest/gtest.h>

namespace herd::sim {
namespace {

bool match(const char* pattern, std::string_view subject) {
    return Glob::compile(pattern)->matches(subject);
}

TEST(Glob, LiteralsMatchExactly) {
    EXPECT_TRUE(match("abc", "abc"));
    EXPECT_FALSE(match("abc", "abcd"));
    EXPECT_FALSE(match("abc", "ab"));
    EXPECT_TRUE(match("", ""));
}

TEST(Glob, StarMatchesAnyRunIncludingNewlines) {
    EXPECT_TRUE(match("AT *\\n", "AT Alford +0.1 x\n"));
    EXPECT_TRUE(match("*", ""));
    EXPECT_TRUE(match("a*b*c", "a\n\nb\nxc"));
    EXPECT_FALSE(match("a*b", "a\nc"));
    EXPECT_TRUE(match("*}\\n\\n", "{\n  x\n}\n\n"));
}

TEST(Glob, QuestionMatchesExactlyOneByte) {
    EXPECT_TRUE(match("a?c", "a\nc"));
    EXPECT_FALSE(match("a?c", "ac"));
    EXPECT_FALSE(match("a?c", "abbc"));
}

TEST(Glob, EscapesAreLiterals) {
    EXPECT_TRUE(match("\\*\\?\\\\\\\"", "*?\\\""));
    EXPECT_FALSE(match("\\*", "x"));
    EXPECT_TRUE(match("line\\n", "line\n"));
}

TEST(Glob, OtherBackslashesAndBareQuotesAreErrors) {
    EXPECT_FALSE(Glob::compile("\\t"));
    EXPECT_FALSE(Glob::compile("trailing\\"));
    EXPECT_FALSE(Glob::compile("a\"b"));
}

TEST(Glob, ManyStarsDoNotBlowUp) {
    const std::string subject(5000, 'a');
    EXPECT_FALSE(match("*a*a*a*a*a*a*a*a*b", subject));
}

}  // namespace
}  // namespace herd::sim

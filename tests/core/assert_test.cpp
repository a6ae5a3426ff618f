// HERD_ASSERT stops the process with the failed check and its place, except within a
// ThrowingAssertions scope (herd sweep's runs), where it throws AssertionFailure instead.
#include "core/assert.hpp"

#include <gtest/gtest.h>

#include <string>

namespace herd {
namespace {

void check(bool ok) {
    HERD_ASSERT(ok);
}

TEST(Assert, WithinAThrowingScopeAFailedCheckThrowsWithItsPlace) {
    const ThrowingAssertions scope;
    try {
        check(false);
        FAIL() << "no exception";
    } catch (const AssertionFailure& e) {
        const std::string what = e.what();
        EXPECT_EQ(what.rfind("assertion failed: ok at assert_test.cpp:", 0), 0u) << what;
    }
    check(true);  // a check that holds does nothing
}

TEST(Assert, ScopesNestAndEndingOneRestoresTheOuterMode) {
    {
        const ThrowingAssertions outer;
        { const ThrowingAssertions inner; }
        EXPECT_THROW(check(false), AssertionFailure);
    }
    EXPECT_DEATH(check(false), "herd: assertion failed: ok at .*assert_test.cpp");
}

}  // namespace
}  // namespace herd

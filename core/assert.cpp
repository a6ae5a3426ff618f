#include "core/assert.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace herd {

namespace {

thread_local bool assertions_throw = false;

}  // namespace

void assert_fail(const char* expression, const char* file, int line) {
    if (assertions_throw) {
        const char* slash = std::strrchr(file, '/');
        throw AssertionFailure(expression, slash != nullptr ? slash + 1 : file, line);
    }
    std::fprintf(stderr, "herd: assertion failed: %s at %s:%d\n", expression, file, line);
    std::fflush(stderr);
    std::abort();
}

ThrowingAssertions::ThrowingAssertions() : previous_(assertions_throw) {
    assertions_throw = true;
}

ThrowingAssertions::~ThrowingAssertions() {
    assertions_throw = previous_;
}

}  // namespace herd

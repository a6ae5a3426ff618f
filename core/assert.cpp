#include "core/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace herd {

void assert_fail(const char* expression, const char* file, int line) noexcept {
    std::fprintf(stderr, "herd: assertion failed: %s at %s:%d\n", expression, file, line);
    std::fflush(stderr);
    std::abort();
}

}  // namespace herd

// HERD_ASSERT: invariant checks that stay on in release builds.
//
// A broken invariant in a herd (time going backwards, a store taking an older record, a queue
// past its bound) means every later output is suspect, so we stop at once with the location
// instead of serving wrong answers.
#pragma once

namespace herd {

[[noreturn]] void assert_fail(const char* expression, const char* file, int line) noexcept;

}  // namespace herd

#define HERD_ASSERT(condition)                                   \
    do {                                                         \
        if (!(condition)) [[unlikely]] {                         \
            ::herd::assert_fail(#condition, __FILE__, __LINE__); \
        }                                                        \
    } while (false)

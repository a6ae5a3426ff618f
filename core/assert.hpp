// HERD_ASSERT: invariant checks that stay on in release builds.
//
// A broken invariant in a herd (time going backwards, a store taking an older record, a queue
// past its bound) means every later output is suspect, so we stop at once with the location
// instead of serving wrong answers.
//
// A search for failures (herd sweep) runs thousands of simulations in one process: there a
// broken invariant is a finding like any other, to report with its seed and to shrink. Within a
// ThrowingAssertions scope (one thread's), a failed check throws AssertionFailure instead of
// stopping the process; the simulation that threw is abandoned whole.
#pragma once

#include <exception>
#include <string>
#include <utility>

namespace herd {

[[noreturn]] void assert_fail(const char* expression, const char* file, int line);

class AssertionFailure : public std::exception {
  public:
    // `file` without its folders.
    AssertionFailure(std::string expression, std::string file, int line)
        : expression_(std::move(expression)),
          file_(std::move(file)),
          line_(line),
          message_("assertion failed: " + expression_ + " at " + file_ + ":" +
                   std::to_string(line_)) {}
    // "assertion failed: EXPRESSION at FILE:LINE".
    const char* what() const noexcept override { return message_.c_str(); }
    const std::string& expression() const { return expression_; }
    const std::string& file() const { return file_; }
    int line() const { return line_; }

  private:
    std::string expression_;
    std::string file_;
    int line_;
    std::string message_;
};

// While one lives, failed checks on this thread throw AssertionFailure.
class ThrowingAssertions {
  public:
    ThrowingAssertions();
    ~ThrowingAssertions();
    ThrowingAssertions(const ThrowingAssertions&) = delete;
    ThrowingAssertions& operator=(const ThrowingAssertions&) = delete;

  private:
    bool previous_;
};

}  // namespace herd

#define HERD_ASSERT(condition)                                   \
    do {                                                         \
        if (!(condition)) [[unlikely]] {                         \
            ::herd::assert_fail(#condition, __FILE__, __LINE__); \
        }                                                        \
    } while (false)

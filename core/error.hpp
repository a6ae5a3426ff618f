// Error: the one error type of herd, in core, sim, netmode and the CLI. A failure a caller can
// report carries one human-readable message (for a grammar, `file:line: what was expected`);
// nothing is thrown across these interfaces and no failure is silent.
//
// Shapes: Result<T> for a value or an Error; std::optional<Error> for an action that returns
// nothing when it succeeds.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace herd {

struct Error {
    std::string message;
    // For a command that stops on it: 1 for a failure of the moment (a port taken), 2 for input
    // that must be fixed first (a bad flag, a damaged data folder).
    int exit_status = 1;
};

template <typename T>
using Result = std::variant<T, Error>;

// The error of a Result, or null when it holds a value.
template <typename T>
const Error* error_of(const Result<T>& r) {
    return std::get_if<Error>(&r);
}

}  // namespace herd

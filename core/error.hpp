// Error: the one error type of herd, in core, sim, netmode, replay, loadgen and the CLI. A
// failure a caller can report carries one human-readable message (for a grammar, `file:line:
// what was expected`) and the exit status of a command that stops on it; nothing is thrown
// across these interfaces and no failure is silent.
//
// Shapes: Result<T> for a value or an Error; std::optional<Error> for an action that returns
// nothing when it succeeds. A parser of one token (parse_duration, parse_distribution,
// parse_address, net::split_host_port) may return std::optional<T>: its caller, who knows the
// file, the line or the flag and what was expected there, makes the Error.
//
// Exceptions only at the boundary with Boost (program_options, Asio) and the standard library (a
// thread that cannot start), caught there and made an Error or a result, and for assertions in
// the simulator's throwing scope (core/assert.hpp, ThrowingAssertions).
//
// Library code never prints an error: it returns it, and the command prints it in one place,
// after its name (cli/options.hpp, report()). A running server's operator messages on stderr
// (netmode/log.cpp, and store_file.cpp reporting disk trouble) are its log, not an error return;
// the two loops that run a server until it stops, net::serve and net::run_places_stub, still
// print why one could not start, as the command around them would.
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
    // The message starts with where the fault is (`FILE:LINE: what was expected`, a grammar's
    // error): a command prints it as it is, without its own name in front.
    bool names_its_place = false;
};

template <typename T>
using Result = std::variant<T, Error>;

// `e` with another exit status (a command's, for an error a library returned).
inline Error with_status(Error e, int status) {
    e.exit_status = status;
    return e;
}

// The error of a Result, or null when it holds a value.
template <typename T>
const Error* error_of(const Result<T>& r) {
    return std::get_if<Error>(&r);
}

}  // namespace herd

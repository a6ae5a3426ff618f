// A client history (design §11): one JSON object a line, one completed operation each, in order
// of completion. This file reads and writes its lines: the grammar is here, once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace herd::history {

enum class Op { iamat, whatsat };

// Times beyond this (146 years from the clock's zero) are refused: every sum of two stays exact.
inline constexpr std::int64_t time_ns_max = std::int64_t{1} << 62;

struct Operation {
    std::uint64_t process = 0;  // one client session: its operations never overlap
    std::string server;
    Op op = Op::iamat;
    std::string client;                // the reporter of an IAMAT, the subject of a WHATSAT
    std::string line;                  // the request, without its newline
    std::optional<std::string> reply;  // the reply's first line; none when none came
    std::int64_t invoke_ns = 0;
    std::int64_t complete_ns = 0;
};

// One line of a history; the Error says what was expected (the caller adds `file:line:`): a
// JSON object in UTF-8, every field present and typed, non-empty names, times within
// time_ns_max, and a `line` whose verb is the `op` and whose second field is the `client`.
Result<Operation> parse_operation(std::string_view text);
// The line of `op` (without its newline), as parse_operation reads it back.
std::string format_operation(const Operation& op);

}  // namespace herd::history

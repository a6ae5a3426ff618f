// Internals of the scenario reader (scenario_syntax.cpp, scenario_timeline.cpp): shared by its
// two files only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sim/scenario_doc.hpp"

namespace herd::sim::detail {

// Fields from `from` on, joined without white space (a distribution may be written with some:
// `uniform(1ms, 5ms)`).
std::string join(const std::vector<std::string_view>& t, std::size_t from);

// A token as an error message shows it: quoted, and at most 60 bytes of it.
std::string quoted(std::string_view token);

// An `at T STATEMENT` line (`text` from `at` on) into `out`; false with `error` set to
// "file:line: what was expected".
bool read_timeline(std::string_view file, int line, std::string_view text, DocLine& out,
                   std::string& error);

}  // namespace herd::sim::detail

// Internals the sweep's parts share (sweep.cpp, sweep_generate.cpp, sweep_shrink.cpp): text
// helpers over scenario lines. Not for use outside sim/.
#pragma once

#include <string>
#include <vector>

namespace herd::sim::detail {

// The lines of `text`, without their '\n'.
std::vector<std::string> split_lines(const std::string& text);
// The base's text without its `until` line (a generated run ends later; it gets its own).
std::string without_until(const std::string& text);

}  // namespace herd::sim::detail

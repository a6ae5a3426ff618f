// Small file helpers of the network commands: whole files, herd files, this executable.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "core/herd_file.hpp"

namespace herd::net {

// A whole file, or why not.
Result<std::string> read_text_file(const std::string& path);
// Writes a whole file (created or truncated), or says why not.
std::optional<Error> write_text_file(const std::string& path, const std::string& text);
// A herd file, or the error to print (`cannot read`, or `file:line: what was expected`).
Result<HerdSpec> load_herd_file(const std::string& path);
// The path of the running executable (to start more of itself).
std::string self_executable();

}  // namespace herd::net

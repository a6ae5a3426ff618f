// Small file helpers of the network commands: whole files, herd files, this executable.
#pragma once

#include <string>
#include <variant>

#include "core/herd_file.hpp"

namespace herd::net {

bool read_text_file(const std::string& path, std::string* text);
// A herd file, or the message to print (`cannot read`, or `file:line: what was expected`).
std::variant<HerdSpec, std::string> load_herd_file(const std::string& path);
// The path of the running executable (to start more of itself).
std::string self_executable();

}  // namespace herd::net

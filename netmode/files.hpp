// Small file helpers of the network commands: whole files, herd files, this executable.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <variant>

#include "core/herd_file.hpp"

namespace herd::net {

// A whole file, or why not. At most `bytes_max` bytes are read (a file or a stream that goes on
// comes back cut there; a caller that bounds its input passes its bound plus one and sees that
// it was passed).
Result<std::string> read_text_file(const std::string& path, std::size_t bytes_max = SIZE_MAX);
// A one-value file's text (a secret, a key) without the line end and spaces that end it.
std::string trimmed_file(const std::string& text);
// The same from an open stream (stdin).
std::string read_bounded(std::istream& in, std::size_t bytes_max);
// Writes a whole file (created or truncated), or says why not.
std::optional<Error> write_text_file(const std::string& path, const std::string& text);
// A herd file, or the error to print (`cannot read`, or `file:line: what was expected`).
Result<HerdSpec> load_herd_file(const std::string& path);
// The path of the running executable (to start more of itself).
std::string self_executable();

}  // namespace herd::net

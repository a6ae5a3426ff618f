// Trace: the simulator's event log as JSON lines, and its FNV-1a 64 hash. Two runs of one
// scenario and seed give byte-identical traces, whatever the standard library.
//
// Each line is an object with "t" (simulated ns) and "ev" first. Bytes outside printable ASCII
// are written as \u00XX escapes (one per byte), so any client line, even binary, stays one line.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "core/hash.hpp"
#include "core/text.hpp"
#include "core/time.hpp"

namespace herd::sim {

class Trace {
  public:
    // `out` may be null: then only the hash is kept (if `enabled`).
    Trace(std::ostream* out, bool enabled) : out_(out), enabled_(enabled || out != nullptr) {}

    bool enabled() const { return enabled_; }
    std::uint64_t hash() const { return hash_; }
    std::uint64_t lines() const { return lines_; }

    // Starts a line: {"t":<ns>,"ev":"<event>"
    Trace& begin(Instant t, std::string_view event);
    Trace& field(std::string_view key, std::string_view value);
    Trace& field(std::string_view key, std::int64_t value);
    // Ends the line: }\n
    void end();

  private:
    std::ostream* out_;
    bool enabled_;
    std::string line_;
    std::uint64_t hash_ = fnv1a64_offset;
    std::uint64_t lines_ = 0;
};

using herd::append_json_escaped;

}  // namespace herd::sim

// The client lines the simulator sends: a `send` statement's line with {now} filled in, and a
// workload's random IAMATs (design §6), drawn from the workload's own PRNG.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/prng.hpp"
#include "core/time.hpp"

namespace herd::sim {

// `line` with every `{now}` replaced by the wall clock `now`, 9 decimals, and a '\n' added.
std::string send_line(const std::string& line, Timestamp now);

// One workload IAMAT: which of `clients` clients, at which position (micro-degrees).
struct WorkloadDraw {
    std::uint64_t client;
    std::int64_t lat_microdeg;
    std::int64_t lon_microdeg;
};
WorkloadDraw draw_workload(Prng& prng, std::uint64_t clients);
// When a workload's `index`-th IAMAT is due, after the workload's start: index / rate seconds,
// in whole nanoseconds (the simulator and `herd replay` both schedule by this).
inline Duration workload_offset(std::uint64_t index, std::uint64_t rate_per_s) {
    return Duration{
        static_cast<std::int64_t>(static_cast<uint128>(index) * 1'000'000'000u / rate_per_s)};
}

// "IAMAT <prefix><client> <lat><lon> <now>\n" (prefix "w" unless the workload names another).
std::string workload_line(const WorkloadDraw& d, Timestamp now, std::string_view prefix);

}  // namespace herd::sim

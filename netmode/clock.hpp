// The network driver's clocks: where every time the Node is given comes from (the core itself
// never reads a clock; the other readings in netmode time caches, retries, logs and metrics,
// and never reach the Node). Instants count from the first call (steady clock); timestamps are
// the system clock, plus the process's clock offset
// (`herd serve --clock-offset`, set once at start: `herd replay` runs servers on a scenario's
// clock, and skew tests use it).
#pragma once

#include <chrono>

#include "core/time.hpp"

namespace herd::net {

inline std::chrono::steady_clock::time_point steady_origin() {
    static const auto origin = std::chrono::steady_clock::now();
    return origin;
}

inline Instant to_instant(std::chrono::steady_clock::time_point t) {
    return Instant{
        std::chrono::duration_cast<std::chrono::nanoseconds>(t - steady_origin()).count()};
}

inline std::chrono::steady_clock::time_point from_instant(Instant i) {
    return steady_origin() + std::chrono::nanoseconds(i.ns);
}

// Nanoseconds added to the system clock; set before any server starts, read only after.
inline std::int64_t& wall_offset_ns() {
    static std::int64_t offset = 0;
    return offset;
}

inline Timestamp wall_now() {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count() +
                    wall_offset_ns();
    return Timestamp{ns / nanos_per_second, static_cast<std::int32_t>(ns % nanos_per_second)};
}

inline Now now() {
    return Now{to_instant(std::chrono::steady_clock::now()), wall_now()};
}

}  // namespace herd::net

// Time in herd: integer nanoseconds only, and two distinct clocks.
//
// - Duration: a signed span of nanoseconds.
// - Instant: a reading of a monotonic clock (never goes back; the origin is arbitrary).
// - Timestamp: a POSIX wall-clock time, seconds and nanoseconds kept apart so that client times
//   of up to 10 integer digits never overflow (10^10 s * 10^9 does not fit in 64 bits).
// - Now: both readings of one instant; every core entry point takes one, none reads a clock.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herd {

struct Duration {
    std::int64_t ns = 0;

    static constexpr Duration nanoseconds(std::int64_t n) { return Duration{n}; }
    static constexpr Duration microseconds(std::int64_t n) { return Duration{n * 1'000}; }
    static constexpr Duration milliseconds(std::int64_t n) { return Duration{n * 1'000'000}; }
    static constexpr Duration seconds(std::int64_t n) { return Duration{n * 1'000'000'000}; }

    friend constexpr auto operator<=>(Duration, Duration) = default;
    friend constexpr Duration operator+(Duration a, Duration b) { return Duration{a.ns + b.ns}; }
    friend constexpr Duration operator-(Duration a, Duration b) { return Duration{a.ns - b.ns}; }
    friend constexpr Duration operator*(Duration a, std::int64_t k) { return Duration{a.ns * k}; }
};

struct Instant {
    std::int64_t ns = 0;

    static constexpr Instant max() { return Instant{INT64_MAX}; }

    friend constexpr auto operator<=>(Instant, Instant) = default;
    friend constexpr Instant operator+(Instant a, Duration d) { return Instant{a.ns + d.ns}; }
    friend constexpr Duration operator-(Instant a, Instant b) { return Duration{a.ns - b.ns}; }
};

inline constexpr std::int64_t nanos_per_second = 1'000'000'000;

struct Timestamp {
    std::int64_t seconds = 0;
    std::int32_t nanos = 0;  // always in [0, 10^9)

    friend constexpr auto operator<=>(Timestamp, Timestamp) = default;

    // Adds a duration, keeping nanos normalised.
    friend constexpr Timestamp operator+(Timestamp t, Duration d) {
        std::int64_t s = t.seconds + d.ns / nanos_per_second;
        std::int64_t n = t.nanos + d.ns % nanos_per_second;
        if (n < 0) {
            n += nanos_per_second;
            s -= 1;
        } else if (n >= nanos_per_second) {
            n -= nanos_per_second;
            s += 1;
        }
        return Timestamp{s, static_cast<std::int32_t>(n)};
    }
};

struct Now {
    Instant mono;
    Timestamp wall;
};

// A signed difference of two timestamps, exact: a sign and a magnitude in seconds + nanos.
struct TimeDifference {
    bool negative = false;
    std::uint64_t seconds = 0;
    std::uint32_t nanos = 0;
};

TimeDifference difference(Timestamp later, Timestamp earlier);

// "+0.263873386" / "-0.000120000": always signed, always 9 decimals. Zero is "+0.000000000".
std::string format_signed_seconds(TimeDifference d);

// "1479413884.392014450": a timestamp as POSIX seconds with 9 decimals (for `{now}`, traces).
std::string format_timestamp(Timestamp t);

// Parses a client time: `digits[.digits]`, at most 10 integer digits, no sign or exponent;
// only the first 9 fraction digits count (the rest are ignored, not rounded).
std::optional<Timestamp> parse_client_time(std::string_view text);

// A duration `digits[.digits]` with a unit `ns`, `us`, `ms` or `s` (a sign first when
// `allow_sign`), exact: the fraction must come to whole nanoseconds. At most 12 whole digits.
std::optional<Duration> parse_duration(std::string_view text, bool allow_sign = false);

}  // namespace herd

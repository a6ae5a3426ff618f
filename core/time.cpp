#include "core/time.hpp"

#include "core/assert.hpp"
#include "core/text.hpp"

namespace herd {

TimeDifference difference(Timestamp later, Timestamp earlier) {
    std::int64_t s = later.seconds - earlier.seconds;
    std::int64_t n = std::int64_t{later.nanos} - earlier.nanos;
    if (n < 0) {
        n += nanos_per_second;
        s -= 1;
    }
    TimeDifference d;
    if (s < 0) {
        // (s, n) stands for s + n/1e9 with s < 0: the magnitude is (-s - 1) + (1e9 - n)/1e9.
        d.negative = true;
        if (n == 0) {
            d.seconds = static_cast<std::uint64_t>(-s);
            d.nanos = 0;
        } else {
            d.seconds = static_cast<std::uint64_t>(-s - 1);
            d.nanos = static_cast<std::uint32_t>(nanos_per_second - n);
        }
    } else {
        d.seconds = static_cast<std::uint64_t>(s);
        d.nanos = static_cast<std::uint32_t>(n);
    }
    return d;
}

std::string format_signed_seconds(TimeDifference d) {
    std::string out;
    out.reserve(24);
    out.push_back(d.negative ? '-' : '+');
    append_decimal(out, d.seconds);
    out.push_back('.');
    append_padded(out, d.nanos, 9);
    return out;
}

std::string format_timestamp(Timestamp t) {
    HERD_ASSERT(t.nanos >= 0 && t.nanos < nanos_per_second);
    std::string out;
    if (t.seconds < 0) {
        return format_signed_seconds(difference(t, Timestamp{}));
    }
    append_decimal(out, static_cast<std::uint64_t>(t.seconds));
    out.push_back('.');
    append_padded(out, static_cast<std::uint32_t>(t.nanos), 9);
    return out;
}

std::optional<Timestamp> parse_client_time(std::string_view text) {
    const std::size_t dot = text.find('.');
    const std::string_view whole = text.substr(0, dot);
    if (whole.empty() || whole.size() > 10 || !all_digits(whole)) return std::nullopt;
    Timestamp t;
    for (char c : whole)
        t.seconds = t.seconds * 10 + (c - '0');
    if (dot == std::string_view::npos) return t;
    const std::string_view fraction = text.substr(dot + 1);
    if (fraction.empty() || !all_digits(fraction)) return std::nullopt;
    std::int32_t nanos = 0;
    for (std::size_t i = 0; i < 9; ++i) {
        nanos = nanos * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
    }
    t.nanos = nanos;
    return t;
}

}  // namespace herd

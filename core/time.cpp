#include "core/time.hpp"

#include <cstring>

#include "core/assert.hpp"
#include "core/defects.hpp"
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
    out.push_back(d.negative && !(defect(Defect::skew_sign_lost_below_one_second) && d.seconds == 0)
                      ? '-'
                      : '+');
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
    const auto d = split_decimal(text);
    if (!d || d->whole.size() > 10) return std::nullopt;  // digits, not value: no overflow
    Timestamp t;
    t.seconds = static_cast<std::int64_t>(*parse_whole(d->whole, UINT64_MAX));
    t.nanos = static_cast<std::int32_t>(fraction_scaled(d->fraction, 9));  // 9 digits count
    if (defect(Defect::fraction_not_scaled) && !d->fraction.empty())
        t.nanos = static_cast<std::int32_t>(*parse_whole(d->fraction, 999'999'999));
    if (defect(Defect::leading_zero_refused) && d->whole.size() > 1 && d->whole[0] == '0')
        return std::nullopt;
    return t;
}

std::optional<Duration> parse_duration(std::string_view text, bool allow_sign) {
    bool negative = false;
    if (allow_sign && !text.empty() && (text[0] == '+' || text[0] == '-')) {
        negative = text[0] == '-';
        text.remove_prefix(1);
    }
    // The unit, and how many fraction digits make whole nanoseconds in it.
    struct Unit {
        const char* suffix;
        std::int64_t ns;
        int places;
    };
    static constexpr Unit units[] = {
        {"ns", 1, 0}, {"us", 1'000, 3}, {"ms", 1'000'000, 6}, {"s", 1'000'000'000, 9}};
    for (const Unit& u : units) {
        if (!text.ends_with(u.suffix)) continue;
        const auto d = split_decimal(text.substr(0, text.size() - std::strlen(u.suffix)));
        if (!d || !fraction_exact(d->fraction, u.places)) return std::nullopt;
        // Whatever the unit, the result must fit in 63 bits of nanoseconds (about 292 years).
        const auto whole = parse_whole(d->whole, static_cast<std::uint64_t>(INT64_MAX / u.ns));
        if (!whole) return std::nullopt;
        const auto fraction = static_cast<std::int64_t>(fraction_scaled(d->fraction, u.places));
        const std::int64_t whole_ns = static_cast<std::int64_t>(*whole) * u.ns;
        if (whole_ns > INT64_MAX - fraction) return std::nullopt;
        const std::int64_t ns = whole_ns + fraction;
        return Duration{negative ? -ns : ns};
    }
    return std::nullopt;
}

}  // namespace herd

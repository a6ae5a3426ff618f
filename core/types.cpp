#include "core/types.hpp"

#include "core/text.hpp"

namespace herd {

namespace {

bool has_space(std::string_view s) {
    for (char c : s) {
        if (is_space(c)) return true;
    }
    return false;
}

// One signed decimal degree value, as found at the front of `text`: `[+-]digits.digits`.
// The digit runs are taken greedily, so the second sign ends the first value.
struct Degrees {
    bool negative = false;
    std::string_view whole;     // without leading zeros
    std::string_view fraction;  // as written
    std::size_t length = 0;     // bytes consumed
};

std::optional<Degrees> take_degrees(std::string_view text) {
    if (text.empty() || (text[0] != '+' && text[0] != '-')) return std::nullopt;
    Degrees d;
    d.negative = text[0] == '-';
    std::size_t i = 1;
    const std::size_t whole_start = i;
    while (i < text.size() && is_digit(text[i]))
        ++i;
    if (i == whole_start || i == text.size() || text[i] != '.') return std::nullopt;
    d.whole = text.substr(whole_start, i - whole_start);
    ++i;
    const std::size_t fraction_start = i;
    while (i < text.size() && is_digit(text[i]))
        ++i;
    if (i == fraction_start) return std::nullopt;
    d.fraction = text.substr(fraction_start, i - fraction_start);
    d.length = i;
    while (d.whole.size() > 1 && d.whole[0] == '0')
        d.whole.remove_prefix(1);
    return d;
}

// |d| <= limit, compared as exact decimals (limit is a whole number below 1000).
bool within(const Degrees& d, unsigned limit) {
    if (d.whole.size() > 3) return false;
    unsigned whole = 0;
    for (char c : d.whole)
        whole = whole * 10 + static_cast<unsigned>(c - '0');
    if (whole < limit) return true;
    if (whole > limit) return false;
    return d.fraction.find_first_not_of('0') == std::string_view::npos;
}

std::int64_t nanodegrees(const Degrees& d) {
    std::int64_t value = 0;
    for (char c : d.whole)
        value = value * 10 + (c - '0');
    for (std::size_t i = 0; i < 9; ++i) {
        value = value * 10 + (i < d.fraction.size() ? d.fraction[i] - '0' : 0);
    }
    return d.negative ? -value : value;
}

}  // namespace

std::optional<ServerName> ServerName::parse(std::string_view text) {
    if (text.empty() || has_space(text)) return std::nullopt;
    return ServerName(text);
}

std::optional<ClientId> ClientId::parse(std::string_view text) {
    if (text.empty() || has_space(text)) return std::nullopt;
    return ClientId(text);
}

std::optional<std::pair<std::int64_t, std::int64_t>> LatLon::parse_nanodeg(std::string_view text) {
    const auto lat = take_degrees(text);
    if (!lat) return std::nullopt;
    const auto lon = take_degrees(text.substr(lat->length));
    if (!lon || lat->length + lon->length != text.size()) return std::nullopt;
    if (!within(*lat, 90) || !within(*lon, 180)) return std::nullopt;
    return std::make_pair(nanodegrees(*lat), nanodegrees(*lon));
}

std::optional<LatLon> LatLon::parse(std::string_view text) {
    const auto values = parse_nanodeg(text);
    if (!values) return std::nullopt;
    LatLon out;
    out.text_ = std::string(text);
    out.lat_nanodeg_ = values->first;
    out.lon_nanodeg_ = values->second;
    return out;
}

std::optional<RadiusKm> RadiusKm::parse(std::string_view text) {
    const auto d = split_decimal(text);
    if (!d) return std::nullopt;
    const auto km = parse_whole(d->whole, static_cast<std::uint64_t>(radius_km_max));
    if (!km ||
        (*km == static_cast<std::uint64_t>(radius_km_max) && !fraction_exact(d->fraction, 0)))
        return std::nullopt;
    // Millimetres: the fraction's first 6 digits count.
    return RadiusKm{static_cast<std::int64_t>(*km * 1'000'000 + fraction_scaled(d->fraction, 6))};
}

std::string RadiusKm::metres_text() const {
    std::string out;
    append_decimal(out, static_cast<std::uint64_t>(millimetres / 1000));
    std::int64_t mm = millimetres % 1000;
    if (mm != 0) {
        out.push_back('.');
        std::string digits;
        append_padded(digits, static_cast<std::uint64_t>(mm), 3);
        while (digits.back() == '0')
            digits.pop_back();
        out += digits;
    }
    return out;
}

std::optional<unsigned> parse_whatsat_bound(std::string_view text) {
    const auto value = parse_whole(text, whatsat_bound_max);
    if (!value) return std::nullopt;
    return static_cast<unsigned>(*value);
}

}  // namespace herd

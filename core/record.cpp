#include "core/record.hpp"

#include "core/assert.hpp"
#include "core/text.hpp"

namespace herd {

namespace {

// `[+-]digits.digits`, as format_signed_seconds writes it (any number of digits is accepted).
bool valid_skew(std::string_view s) {
    if (s.size() < 4 || (s[0] != '+' && s[0] != '-')) return false;
    const std::size_t dot = s.find('.');
    if (dot == std::string_view::npos || dot == 1 || dot + 1 == s.size()) return false;
    return all_digits(s.substr(1, dot - 1)) && all_digits(s.substr(dot + 1));
}

}  // namespace

Record Record::from_iamat(const ServerName& self, Timestamp received, const IamatRequest& iamat) {
    auto record = index(format_at_line(self, received, iamat));
    HERD_ASSERT(record.has_value());
    return std::move(*record);
}

std::optional<Record> Record::parse_at_line(std::string_view line) {
    // Peers send exactly what format_at_line wrote; re-indexing validates every field.
    return index(std::string(line));
}

std::optional<Record> Record::index(std::string line) {
    constexpr std::size_t fields_max = 7;
    std::string_view f[fields_max];
    if (line.size() > UINT32_MAX) return std::nullopt;
    if (split_fields(line, f, fields_max) != 6 || f[0] != "AT") return std::nullopt;
    if (!ServerName::parse(f[1]) || !valid_skew(f[2])) return std::nullopt;
    const auto location = LatLon::parse(f[4]);
    const auto time = parse_client_time(f[5]);
    if (!location || !time) return std::nullopt;
    Record r;
    const char* base = line.data();
    auto span = [base](std::string_view v) {
        return Span{static_cast<std::uint32_t>(v.data() - base), static_cast<std::uint32_t>(v.size())};
    };
    r.origin_span_ = span(f[1]);
    r.skew_span_ = span(f[2]);
    r.client_span_ = span(f[3]);
    r.latlon_span_ = span(f[4]);
    r.time_span_ = span(f[5]);
    r.time_ = *time;
    r.lat_nanodeg_ = location->lat_nanodeg();
    r.lon_nanodeg_ = location->lon_nanodeg();
    r.line_ = std::move(line);  // the spans are offsets, so they survive the move
    return r;
}

}  // namespace herd

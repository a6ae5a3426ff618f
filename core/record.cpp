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

std::optional<AtLineView> AtLineView::parse(std::string_view line) {
    constexpr std::size_t fields_max = 7;
    std::string_view f[fields_max];
    if (line.size() > UINT32_MAX) return std::nullopt;
    if (split_fields(line, f, fields_max) != 6 || f[0] != "AT") return std::nullopt;
    if (!valid_skew(f[2])) return std::nullopt;
    const auto location = LatLon::parse_nanodeg(f[4]);
    const auto time = parse_client_time(f[5]);
    if (!location || !time) return std::nullopt;
    // f[1] and f[3] need no check: split_fields only yields non-empty runs of non-space bytes,
    // which is exactly what server names and client IDs are.
    return AtLineView{line, f[1], f[2], f[3], f[4], f[5], *time, location->first, location->second};
}

Record Record::from_view(const AtLineView& v) {
    Record r;
    r.line_ = std::string(v.line);
    const char* base = v.line.data();
    auto span = [base](std::string_view field) {
        return Span{static_cast<std::uint32_t>(field.data() - base), static_cast<std::uint32_t>(field.size())};
    };
    r.origin_span_ = span(v.origin);
    r.skew_span_ = span(v.skew);
    r.client_span_ = span(v.client);
    r.latlon_span_ = span(v.latlon);
    r.time_span_ = span(v.time_text);
    r.time_ = v.time;
    r.lat_nanodeg_ = v.lat_nanodeg;
    r.lon_nanodeg_ = v.lon_nanodeg;
    return r;
}

Record Record::from_iamat(const ServerName& self, Timestamp received, const IamatRequest& iamat) {
    const std::string line = format_at_line(self, received, iamat);
    auto view = AtLineView::parse(line);
    HERD_ASSERT(view.has_value());
    return from_view(*view);
}

std::optional<Record> Record::parse_at_line(std::string_view line) {
    auto view = AtLineView::parse(line);
    if (!view) return std::nullopt;
    return from_view(*view);
}

}  // namespace herd

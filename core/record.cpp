#include "core/record.hpp"

#include <cstring>

#include "core/assert.hpp"
#include "core/hash.hpp"
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

void Record::assign_line(std::string_view line) {
    length_ = static_cast<std::uint32_t>(line.size());
    if (line.size() <= inline_bytes_max) {
        heap_.reset();
        std::memcpy(inline_, line.data(), line.size());
    } else {
        heap_ = std::make_unique<char[]>(line.size());
        std::memcpy(heap_.get(), line.data(), line.size());
    }
    content_hash_ = mix64(fnv1a64(line));
}

Record& Record::operator=(const Record& other) {
    if (this == &other) return *this;
    const std::uint64_t hash = other.content_hash_;
    assign_line(other.at_line());
    content_hash_ = hash;
    origin_span_ = other.origin_span_;
    skew_span_ = other.skew_span_;
    client_span_ = other.client_span_;
    latlon_span_ = other.latlon_span_;
    time_span_ = other.time_span_;
    time_ = other.time_;
    lat_nanodeg_ = other.lat_nanodeg_;
    lon_nanodeg_ = other.lon_nanodeg_;
    return *this;
}

Record& Record::operator=(Record&& other) noexcept {
    if (this == &other) return *this;
    heap_ = std::move(other.heap_);
    length_ = other.length_;
    if (!heap_) std::memcpy(inline_, other.inline_, length_);
    content_hash_ = other.content_hash_;
    origin_span_ = other.origin_span_;
    skew_span_ = other.skew_span_;
    client_span_ = other.client_span_;
    latlon_span_ = other.latlon_span_;
    time_span_ = other.time_span_;
    time_ = other.time_;
    lat_nanodeg_ = other.lat_nanodeg_;
    lon_nanodeg_ = other.lon_nanodeg_;
    other.length_ = 0;
    return *this;
}

Record Record::from_view(const AtLineView& v) {
    Record r;
    r.assign_line(v.line);
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

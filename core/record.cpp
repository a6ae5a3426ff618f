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
    content_hash_ = content_hash_of(line);
}

void Record::copy_fields(const Record& other) {
    content_hash_ = other.content_hash_;
    client_start_ = other.client_start_;
    client_length_ = other.client_length_;
    seconds_ = other.seconds_;
    nanos_ = other.nanos_;
}

Record& Record::operator=(const Record& other) {
    if (this == &other) return *this;
    assign_line(other.at_line());
    copy_fields(other);
    return *this;
}

Record& Record::operator=(Record&& other) noexcept {
    if (this == &other) return *this;
    heap_ = std::move(other.heap_);
    length_ = other.length_;
    if (!heap_) std::memcpy(inline_, other.inline_, length_);
    copy_fields(other);
    other.length_ = 0;
    return *this;
}

std::string_view Record::field(int index) const {
    std::string_view f[7];
    split_fields(at_line(), f, 7);
    return f[index];
}

std::int64_t Record::lat_nanodeg() const {
    const auto values = LatLon::parse_nanodeg(latlon_text());
    return values ? values->first : 0;
}

std::int64_t Record::lon_nanodeg() const {
    const auto values = LatLon::parse_nanodeg(latlon_text());
    return values ? values->second : 0;
}

Record Record::from_view(const AtLineView& v) {
    Record r;
    r.assign_line(v.line);
    r.client_start_ = static_cast<std::uint32_t>(v.client.data() - v.line.data());
    r.client_length_ = static_cast<std::uint32_t>(v.client.size());
    r.seconds_ = v.time.seconds;
    r.nanos_ = v.time.nanos;
    return r;
}

Record Record::from_iamat(const ServerName& self, Timestamp received, const IamatRequest& iamat) {
    // The IAMAT's fields are already checked and parsed: index the new line without parsing it
    // again. The client ID is followed by " latlon time" at the end of the line.
    const std::string line = format_at_line(self, received, iamat);
    const std::size_t tail =
        iamat.client.size() + 1 + iamat.latlon_text.size() + 1 + iamat.time_text.size();
    Record r;
    r.assign_line(line);
    r.client_start_ = static_cast<std::uint32_t>(line.size() - tail);
    r.client_length_ = static_cast<std::uint32_t>(iamat.client.size());
    r.seconds_ = iamat.time.seconds;
    r.nanos_ = iamat.time.nanos;
    HERD_ASSERT(r.client() == iamat.client);
    return r;
}

std::optional<Record> Record::parse_at_line(std::string_view line) {
    auto view = AtLineView::parse(line);
    if (!view) return std::nullopt;
    return from_view(*view);
}

}  // namespace herd

// Record: one client's location as the herd stores and floods it, i.e. the origin server's AT line
// ("AT <origin> <skew> <client> <latlon> <time>") kept verbatim, with its fields indexed.
//
// The line is the record: it is what WHATSAT replies start with and what peers flood, byte for
// byte, so every server answers with the origin's name and skew.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/client_protocol.hpp"
#include "core/time.hpp"

namespace herd {

// The fields of an AT line as views into it, validated: what a server looks at before deciding
// whether a peer's record is worth storing (most floods are duplicates, and cost no allocation).
struct AtLineView {
    std::string_view line;
    std::string_view origin;
    std::string_view skew;
    std::string_view client;
    std::string_view latlon;
    std::string_view time_text;
    Timestamp time;
    std::int64_t lat_nanodeg = 0;
    std::int64_t lon_nanodeg = 0;

    // 6 fields: "AT", a server name, a signed skew, a client ID, a coordinate and a client time.
    static std::optional<AtLineView> parse(std::string_view line);
};

class Record {
public:
    // The record a server makes from an IAMAT it received itself.
    static Record from_iamat(const ServerName& self, Timestamp received, const IamatRequest& iamat);

    // Parses and validates an AT line from a peer (without its newline): 6 fields, a valid server
    // name, skew, client ID, coordinate and time.
    static std::optional<Record> parse_at_line(std::string_view line);
    // A copy of a parsed line.
    static Record from_view(const AtLineView& view);

    Record() = default;
    Record(const Record& other) { *this = other; }
    Record(Record&& other) noexcept { *this = std::move(other); }
    Record& operator=(const Record& other);
    Record& operator=(Record&& other) noexcept;
    ~Record() = default;

    std::string_view at_line() const { return std::string_view(data(), length_); }
    std::string_view origin() const { return field(origin_span_); }
    std::string_view skew_text() const { return field(skew_span_); }
    std::string_view client() const { return field(client_span_); }
    std::string_view latlon_text() const { return field(latlon_span_); }
    std::string_view time_text() const { return field(time_span_); }
    Timestamp time() const { return time_; }
    std::int64_t lat_nanodeg() const { return lat_nanodeg_; }
    std::int64_t lon_nanodeg() const { return lon_nanodeg_; }
    // A fixed hash of the line (FNV-1a 64, mixed), as anti-entropy digests sum it.
    std::uint64_t content_hash() const { return content_hash_; }

    friend bool operator==(const Record& a, const Record& b) { return a.at_line() == b.at_line(); }

private:
    struct Span {
        std::uint32_t start = 0;
        std::uint32_t length = 0;
    };
    // Lines up to this long live inside the record: a lookup that compares a client ID or a
    // whole line then touches one cache line less (most AT lines are 60-90 bytes).
    static constexpr std::size_t inline_bytes_max = 96;

    const char* data() const { return heap_ ? heap_.get() : inline_; }
    std::string_view field(Span s) const { return std::string_view(data() + s.start, s.length); }
    void assign_line(std::string_view line);

    std::unique_ptr<char[]> heap_;
    std::uint32_t length_ = 0;
    Span origin_span_, skew_span_, client_span_, latlon_span_, time_span_;
    Timestamp time_;
    std::int64_t lat_nanodeg_ = 0;
    std::int64_t lon_nanodeg_ = 0;
    std::uint64_t content_hash_ = 0;
    char inline_[inline_bytes_max];  // only the first length_ bytes are ever read
};

}  // namespace herd

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
#include "core/hash.hpp"
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

// The fixed hash of a record's line (FNV-1a 64, mixed): what anti-entropy digests sum, and what
// tells two records apart.
inline std::uint64_t content_hash_of(std::string_view line) {
    return mix64(fnv1a64(line));
}

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
    std::string_view client() const {
        return std::string_view(data() + client_start_, client_length_);
    }
    Timestamp time() const { return Timestamp{seconds_, nanos_}; }
    // A fixed hash of the line (FNV-1a 64, mixed), as anti-entropy digests sum it.
    std::uint64_t content_hash() const { return content_hash_; }
    // The other fields are found again in the line when asked for (rarely: ties, WHATSAT,
    // reports), which keeps a record small.
    std::string_view origin() const { return field(1); }
    std::string_view skew_text() const { return field(2); }
    std::string_view latlon_text() const { return field(4); }
    std::string_view time_text() const { return field(5); }
    std::int64_t lat_nanodeg() const;
    std::int64_t lon_nanodeg() const;

    friend bool operator==(const Record& a, const Record& b) { return a.at_line() == b.at_line(); }

    // What a record with a line of `line_size` bytes occupies: the record itself, and its line on
    // the heap (with the allocator's own header, 16 bytes) when it does not fit inside.
    static constexpr std::size_t heap_header_bytes = 16;
    static std::size_t bytes_of(std::size_t line_size);

  private:
    // Lines up to this long live inside the record (the classic AT line is 84 bytes): a lookup
    // that compares a client ID or a whole line then touches no other memory.
    static constexpr std::size_t inline_bytes_max = 88;

    const char* data() const { return heap_ ? heap_.get() : inline_; }
    std::string_view field(int index) const;
    void assign_line(std::string_view line);
    void copy_fields(const Record& other);

    std::uint32_t length_ = 0;
    std::uint32_t client_start_ = 0;
    std::uint32_t client_length_ = 0;
    std::int32_t nanos_ = 0;
    std::int64_t seconds_ = 0;
    std::uint64_t content_hash_ = 0;
    std::unique_ptr<char[]> heap_;
    char inline_[inline_bytes_max];  // only the first length_ bytes are ever read
};

inline std::size_t Record::bytes_of(std::size_t line_size) {
    return sizeof(Record) + (line_size > inline_bytes_max ? line_size + heap_header_bytes : 0);
}

}  // namespace herd

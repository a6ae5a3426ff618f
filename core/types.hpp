// Value types of the herd: names and coordinates as types, never raw strings or doubles.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace herd {

// A server's name as configured in the herd file ("Alford"): non-empty, no white space.
class ServerName {
  public:
    ServerName() = default;
    static std::optional<ServerName> parse(std::string_view text);
    const std::string& str() const { return name_; }
    // (Spelled out: libc++ 14 has no operator<=> for std::string.)
    friend bool operator==(const ServerName& a, const ServerName& b) { return a.name_ == b.name_; }
    friend bool operator<(const ServerName& a, const ServerName& b) { return a.name_ < b.name_; }

  private:
    explicit ServerName(std::string_view name) : name_(name) {}
    std::string name_;
};

// A client ID: any non-empty string of non-white-space bytes, compared byte for byte.
class ClientId {
  public:
    ClientId() = default;
    static std::optional<ClientId> parse(std::string_view text);
    const std::string& str() const { return id_; }
    friend bool operator==(const ClientId& a, const ClientId& b) { return a.id_ == b.id_; }
    friend bool operator<(const ClientId& a, const ClientId& b) { return a.id_ < b.id_; }

  private:
    explicit ClientId(std::string_view id) : id_(id) {}
    std::string id_;
};

// An ISO 6709 decimal-degrees coordinate pair as a client sent it ("+34.068930-118.445127").
// The text is kept byte for byte (it is echoed and compared as text); the values are kept as
// integer nanodegrees, truncated after 9 fraction digits, for the places generator.
class LatLon {
  public:
    LatLon() = default;
    // `[+-]digits.digits[+-]digits.digits`, latitude in [-90, 90] and longitude in [-180, 180]
    // compared as exact decimals.
    static std::optional<LatLon> parse(std::string_view text);
    // The same check without keeping the text: (latitude, longitude) in nanodegrees.
    static std::optional<std::pair<std::int64_t, std::int64_t>> parse_nanodeg(
        std::string_view text);
    const std::string& text() const { return text_; }
    std::int64_t lat_nanodeg() const { return lat_nanodeg_; }
    std::int64_t lon_nanodeg() const { return lon_nanodeg_; }
    friend bool operator==(const LatLon& a, const LatLon& b) { return a.text_ == b.text_; }

  private:
    std::string text_;
    std::int64_t lat_nanodeg_ = 0;
    std::int64_t lon_nanodeg_ = 0;
};

// A WHATSAT radius: `digits[.digits]` kilometres in [0, 50]. Kept exactly as millimetres
// (fraction digits past the millimetre are dropped), which is what a provider is given.
struct RadiusKm {
    std::int64_t millimetres = 0;

    static std::optional<RadiusKm> parse(std::string_view text);
    // The radius in metres as decimal text with no trailing zeros: "10000", "1500.5".
    std::string metres_text() const;
    friend auto operator<=>(RadiusKm, RadiusKm) = default;
};

inline constexpr std::int64_t radius_km_max = 50;
inline constexpr unsigned whatsat_bound_max = 20;

// A WHATSAT bound: `digits` in [0, 20].
std::optional<unsigned> parse_whatsat_bound(std::string_view text);

}  // namespace herd

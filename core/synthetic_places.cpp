#include "core/synthetic_places.hpp"

#include <array>
#include <string_view>

#include "core/hash.hpp"
#include "core/prng.hpp"
#include "core/text.hpp"

namespace herd {

namespace {

constexpr std::array<std::string_view, 16> adjectives = {
    "Blue",   "Golden", "Quiet", "Sunny",  "Old Town", "Little", "Royal",  "Green",
    "Corner", "Hidden", "Happy", "Silver", "Urban",    "Rustic", "Bright", "Lucky"};

struct Kind {
    std::string_view noun;
    std::string_view type;
};
constexpr std::array<Kind, 8> kinds = {{{"Bakery", "bakery"},
                                        {"Cafe", "cafe"},
                                        {"Books", "book_store"},
                                        {"Diner", "restaurant"},
                                        {"Pharmacy", "pharmacy"},
                                        {"Park", "park"},
                                        {"Library", "library"},
                                        {"Gym", "gym"}}};

constexpr std::array<std::string_view, 8> streets = {"Oak",     "Maple",  "Westwood", "Sunset",
                                                     "Hilgard", "Gayley", "Le Conte", "Veteran"};

constexpr std::int64_t nanodeg_per_deg = 1'000'000'000;
constexpr double metres_per_degree = 111'320.0;
constexpr double pi = 3.14159265358979323846;

// cos(x) for |x| <= pi/2 by Bhaskara I's rational approximation (error below 0.002): enough to
// keep places inside the radius, and free of libm.
double approx_cos(double x) {
    const double x2 = x * x;
    return (pi * pi - 4 * x2) / (pi * pi + x2);
}

// Writes a value in units of 1e-7 degrees as decimal degrees with 7 decimals ("-118.4451270").
void append_degrees_e7(std::string& out, std::int64_t value_e7) {
    if (value_e7 < 0) {
        out.push_back('-');
        value_e7 = -value_e7;
    }
    append_decimal(out, static_cast<std::uint64_t>(value_e7 / 10'000'000));
    out.push_back('.');
    append_padded(out, static_cast<std::uint64_t>(value_e7 % 10'000'000), 7);
}

struct Offset {
    double north_m;
    double east_m;
};

// A point uniform in the disc of the given radius, by rejection sampling (no trigonometry).
Offset point_in_disc(Prng& prng, double radius_m) {
    while (true) {
        const double x = prng.unit() * 2 - 1;
        const double y = prng.unit() * 2 - 1;
        if (x * x + y * y <= 1) return Offset{y * radius_m, x * radius_m};
    }
}

void append_place(std::string& out, Prng& prng, std::int64_t lat_nanodeg, std::int64_t lon_nanodeg,
                  double radius_m) {
    const Offset offset = point_in_disc(prng, radius_m);
    const double lat_deg = static_cast<double>(lat_nanodeg) / nanodeg_per_deg;
    double cos_lat = approx_cos(lat_deg * pi / 180);
    if (cos_lat < 0.01) cos_lat = 0.01;
    std::int64_t lat_e7 =
        lat_nanodeg / 100 + static_cast<std::int64_t>(offset.north_m / metres_per_degree * 1e7);
    std::int64_t lon_e7 =
        lon_nanodeg / 100 +
        static_cast<std::int64_t>(offset.east_m / (metres_per_degree * cos_lat) * 1e7);
    if (lat_e7 > 900'000'000) lat_e7 = 900'000'000;
    if (lat_e7 < -900'000'000) lat_e7 = -900'000'000;
    if (lon_e7 > 1'800'000'000) lon_e7 -= 3'600'000'000;
    if (lon_e7 < -1'800'000'000) lon_e7 += 3'600'000'000;

    const std::uint64_t id = prng.next();
    const auto& adjective = adjectives[id % adjectives.size()];
    const auto& kind = kinds[(id >> 8) % kinds.size()];
    const auto& street = streets[(id >> 16) % streets.size()];
    const std::uint64_t house = 100 + (id >> 24) % 9900;
    const std::uint64_t rating_tenths = 10 + (id >> 40) % 41;  // 1.0 .. 5.0
    const std::uint64_t ratings_total = (id >> 48) % 5000;

    out += "{\"geometry\": {\"location\": {\"lat\": ";
    append_degrees_e7(out, lat_e7);
    out += ", \"lng\": ";
    append_degrees_e7(out, lon_e7);
    out += "}}, \"name\": \"";
    out += adjective;
    out += ' ';
    out += kind.noun;
    out += "\", \"place_id\": \"herd-";
    static constexpr char hex[] = "0123456789abcdef";
    for (int shift = 60; shift >= 0; shift -= 4)
        out.push_back(hex[(id >> shift) & 0xf]);
    out += "\", \"rating\": ";
    append_decimal(out, rating_tenths / 10);
    out.push_back('.');
    append_decimal(out, rating_tenths % 10);
    out += ", \"types\": [\"";
    out += kind.type;
    out += "\", \"point_of_interest\", \"establishment\"], \"user_ratings_total\": ";
    append_decimal(out, ratings_total);
    out += ", \"vicinity\": \"";
    append_decimal(out, house);
    out += ' ';
    out += street;
    out += " Avenue\"}";
}

}  // namespace

std::string synthetic_places_json(std::int64_t lat_nanodeg, std::int64_t lon_nanodeg,
                                  RadiusKm radius, unsigned count) {
    if (count > synthetic_places_count_max) count = synthetic_places_count_max;
    if (radius.millimetres == 0) count = 0;
    std::uint64_t seed = fnv1a64_u64(static_cast<std::uint64_t>(lat_nanodeg));
    seed = fnv1a64_u64(static_cast<std::uint64_t>(lon_nanodeg), seed);
    seed = fnv1a64_u64(static_cast<std::uint64_t>(radius.millimetres), seed);
    Prng prng(seed);
    const double radius_m = static_cast<double>(radius.millimetres) / 1000;

    std::string out = "{\"html_attributions\": [], \"results\": [";
    for (unsigned i = 0; i < count; ++i) {
        if (i > 0) out += ", ";
        append_place(out, prng, lat_nanodeg, lon_nanodeg, radius_m);
    }
    out += "], \"status\": \"";
    out += count == 0 ? "ZERO_RESULTS" : "OK";
    out += "\"}";
    return out;
}

}  // namespace herd

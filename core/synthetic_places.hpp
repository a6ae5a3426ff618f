// The deterministic synthetic Places generator: a pure function of (location, radius, count) that
// returns a body shaped like Google's Nearby Search (Legacy) answer. The simulator, the
// `offline` provider and `herd places-stub` all use it, so they agree byte for byte.
//
// Every place lies within the radius of the location. The arithmetic is integer or IEEE
// + - * / only (no libm), so the output is the same on every platform and standard library.
#pragma once

#include <cstdint>
#include <string>

#include "core/types.hpp"

namespace herd {

inline constexpr unsigned synthetic_places_count_max = 20;

// `count` is capped at synthetic_places_count_max (Google's page size). A radius of 0 finds
// nothing: status ZERO_RESULTS.
std::string synthetic_places_json(std::int64_t lat_nanodeg, std::int64_t lon_nanodeg,
                                  RadiusKm radius, unsigned count);

}  // namespace herd

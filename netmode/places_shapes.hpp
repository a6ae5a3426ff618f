// Places API shapes: the requests herd sends and the mapping of a Places API (New) answer to
// the legacy Nearby Search shape that WHATSAT replies carry. Pure functions, shared by the
// provider and `herd places-stub`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/client_service.hpp"

namespace herd::net {

// "+34.068930-118.445127" -> "34.068930,-118.445127" (the legacy `location` parameter).
std::string legacy_location(std::string_view latlon_text);
// The JSON number for one coordinate of the text: sign kept only when negative, leading zeros
// of the integer part dropped ("+001.50" -> "1.50").
std::string json_decimal(std::string_view signed_decimal);
// Splits "+34.068930-118.445127" into its two signed parts.
std::pair<std::string_view, std::string_view> split_latlon(std::string_view latlon_text);

// The Nearby Search (Legacy) path and query, without the key parameter's value.
std::string legacy_path(const PlacesQuery& q);
// The body of a Places API (New) searchNearby request.
std::string new_api_body(const PlacesQuery& q);
inline constexpr std::string_view new_api_path = "/v1/places:searchNearby";
inline constexpr std::string_view new_api_field_mask =
    "places.id,places.displayName,places.formattedAddress,places.location,places.types,places."
    "rating,"
    "places.userRatingCount";

// Maps a Places API (New) answer to the legacy shape: {"html_attributions": [], "results": [...],
// "status": "OK" | "ZERO_RESULTS"}. Nothing for a body that is not a JSON object.
std::optional<std::string> new_to_legacy(std::string_view new_body);
// Maps a legacy body to the New shape (for the stub): {"places": [...]}.
std::optional<std::string> legacy_to_new(std::string_view legacy_body);
// The top-level "status" of a legacy body, or empty.
std::string legacy_status(std::string_view body);
// The legacy status for a Places API (New) error body ({"error": {"status": ...}}).
std::string new_error_status(std::string_view body);

}  // namespace herd::net

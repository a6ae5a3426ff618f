#include "core/synthetic_places.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace herd {
namespace {

constexpr std::int64_t ucla_lat = 34'068'930'000;
constexpr std::int64_t ucla_lon = -118'445'127'000;

rapidjson::Document parse(const std::string& body) {
    rapidjson::Document doc;
    doc.Parse(body.c_str());
    EXPECT_FALSE(doc.HasParseError()) << body;
    return doc;
}

TEST(SyntheticPlaces, SameInputSameBytes) {
    const RadiusKm r = *RadiusKm::parse("10");
    EXPECT_EQ(synthetic_places_json(ucla_lat, ucla_lon, r, 20),
              synthetic_places_json(ucla_lat, ucla_lon, r, 20));
    EXPECT_NE(synthetic_places_json(ucla_lat, ucla_lon, r, 20),
              synthetic_places_json(ucla_lat + 1000, ucla_lon, r, 20));
}

TEST(SyntheticPlaces, GoogleShapedWithTheRequestedCount) {
    auto doc = parse(synthetic_places_json(ucla_lat, ucla_lon, *RadiusKm::parse("5"), 7));
    ASSERT_TRUE(doc.IsObject());
    EXPECT_TRUE(doc["html_attributions"].IsArray());
    EXPECT_STREQ(doc["status"].GetString(), "OK");
    ASSERT_EQ(doc["results"].Size(), 7u);
    for (const auto& place : doc["results"].GetArray()) {
        EXPECT_TRUE(place["name"].IsString());
        EXPECT_TRUE(place["place_id"].IsString());
        EXPECT_TRUE(place["geometry"]["location"]["lat"].IsNumber());
        EXPECT_TRUE(place["types"].IsArray());
        EXPECT_TRUE(place["vicinity"].IsString());
    }
}

TEST(SyntheticPlaces, CountIsCappedAtTwenty) {
    auto doc = parse(synthetic_places_json(ucla_lat, ucla_lon, *RadiusKm::parse("5"), 50));
    EXPECT_EQ(doc["results"].Size(), 20u);
}

TEST(SyntheticPlaces, RadiusZeroFindsNothing) {
    EXPECT_EQ(synthetic_places_json(ucla_lat, ucla_lon, *RadiusKm::parse("0"), 20),
              R"({"html_attributions": [], "results": [], "status": "ZERO_RESULTS"})");
}

TEST(SyntheticPlaces, PlacesLieWithinTheRadius) {
    // 1 km around UCLA: one degree of latitude is about 111.32 km; longitude shrinks by cos(lat).
    auto doc = parse(synthetic_places_json(ucla_lat, ucla_lon, *RadiusKm::parse("1"), 20));
    for (const auto& place : doc["results"].GetArray()) {
        const double lat = place["geometry"]["location"]["lat"].GetDouble();
        const double lng = place["geometry"]["location"]["lng"].GetDouble();
        const double north_m = (lat - 34.06893) * 111320.0;
        const double east_m = (lng + 118.445127) * 111320.0 * 0.8284;  // cos(34.07 deg)
        EXPECT_LE(north_m * north_m + east_m * east_m, 1010.0 * 1010.0) << lat << "," << lng;
    }
}

TEST(SyntheticPlaces, CoordinatesStayOnTheGlobeNearThePolesAndTheAntimeridian) {
    auto doc =
        parse(synthetic_places_json(89'999'000'000, 179'999'000'000, *RadiusKm::parse("50"), 20));
    for (const auto& place : doc["results"].GetArray()) {
        const double lat = place["geometry"]["location"]["lat"].GetDouble();
        const double lng = place["geometry"]["location"]["lng"].GetDouble();
        EXPECT_LE(lat, 90.0);
        EXPECT_GE(lat, -90.0);
        EXPECT_LE(lng, 180.0);
        EXPECT_GE(lng, -180.0);
    }
}

}  // namespace
}  // namespace herd

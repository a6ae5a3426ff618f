#include "core/types.hpp"

#include <gtest/gtest.h>

namespace herd {
namespace {

TEST(LatLonParse, TheClassicCoordinate) {
    auto p = LatLon::parse("+34.068930-118.445127");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->text(), "+34.068930-118.445127");
    EXPECT_EQ(p->lat_nanodeg(), 34068930000);
    EXPECT_EQ(p->lon_nanodeg(), -118445127000);
}

TEST(LatLonParse, NoFixedDigitWidths) {
    auto p = LatLon::parse("+1.000000+001.000000");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->lat_nanodeg(), 1000000000);
    EXPECT_EQ(p->lon_nanodeg(), 1000000000);
    EXPECT_TRUE(LatLon::parse("-0.5+0.5"));
    EXPECT_TRUE(LatLon::parse("+00000000000000000000012.5-000000000000000000000001.25"));
}

TEST(LatLonParse, LatitudeNinetyIsTheExactLimit) {
    EXPECT_TRUE(LatLon::parse("+90.000000+0.0"));
    EXPECT_TRUE(LatLon::parse("-90.0000000000000000000000+0.0"));
    EXPECT_FALSE(LatLon::parse("+90.000001+0.0"));
    EXPECT_FALSE(LatLon::parse("+90.00000000000000001+0.0"));
    EXPECT_FALSE(LatLon::parse("-90.00000000000000001+0.0"));
    EXPECT_FALSE(LatLon::parse("+91.0+0.0"));
    EXPECT_TRUE(LatLon::parse("+89.999999999999999999+0.0"));
}

TEST(LatLonParse, LongitudeOneEightyIsTheExactLimit) {
    EXPECT_TRUE(LatLon::parse("+0.0-180.000000"));
    EXPECT_TRUE(LatLon::parse("+0.0+180.0"));
    EXPECT_FALSE(LatLon::parse("+0.0-180.000000001"));
    EXPECT_FALSE(LatLon::parse("+0.0+181.0"));
    EXPECT_FALSE(LatLon::parse("+0.0+1000.0"));
}

TEST(LatLonParse, SignsAreMandatoryAndDotsRequired) {
    for (const char* bad : {"34.068930-118.445127", "+34.068930118.445127", "+34-118", "+34.-118.5",
                            "+34.5-.5", "+34.5", "++34.5-118.5", "+34.5-118.5x", "+34.5 -118.5",
                            "+3a.5-118.5", "", "+", "+.5+.5"}) {
        EXPECT_FALSE(LatLon::parse(bad)) << bad;
    }
}

TEST(RadiusParse, ZeroToFiftyKilometres) {
    EXPECT_EQ(RadiusKm::parse("0")->millimetres, 0);
    EXPECT_EQ(RadiusKm::parse("10")->millimetres, 10'000'000);
    EXPECT_EQ(RadiusKm::parse("50")->millimetres, 50'000'000);
    EXPECT_EQ(RadiusKm::parse("50.000")->millimetres, 50'000'000);
    EXPECT_EQ(RadiusKm::parse("0050")->millimetres, 50'000'000);
    EXPECT_EQ(RadiusKm::parse("1.5")->metres_text(), "1500");
    EXPECT_EQ(RadiusKm::parse("0.0005")->metres_text(), "0.5");
    EXPECT_EQ(RadiusKm::parse("12.345678")->metres_text(), "12345.678");
}

TEST(RadiusParse, RejectsOutOfRangeAndMalformed) {
    for (const char* bad :
         {"50.5", "50.0000001", "51", "100", "-1", "+5", "1e1", "5.", ".5", "", "ten", "1_0"}) {
        EXPECT_FALSE(RadiusKm::parse(bad)) << bad;
    }
}

TEST(BoundParse, ZeroToTwenty) {
    EXPECT_EQ(parse_whatsat_bound("0"), 0u);
    EXPECT_EQ(parse_whatsat_bound("20"), 20u);
    EXPECT_EQ(parse_whatsat_bound("007"), 7u);
    for (const char* bad :
         {"21", "100", "-1", "+5", "5.0", "", "five", "99999999999999999999999"}) {
        EXPECT_FALSE(parse_whatsat_bound(bad)) << bad;
    }
}

TEST(Names, ServerAndClientNamesHaveNoWhiteSpace) {
    EXPECT_TRUE(ServerName::parse("Alford"));
    EXPECT_FALSE(ServerName::parse(""));
    EXPECT_FALSE(ServerName::parse("Al ford"));
    EXPECT_TRUE(ClientId::parse("\xF0\x9F\xA5\x9D"));  // kiwi emoji
    EXPECT_FALSE(ClientId::parse("a\tb"));
    EXPECT_FALSE(ClientId::parse("a\vb"));
}

}  // namespace
}  // namespace herd

#include "core/time.hpp"

#include <gtest/gtest.h>

namespace herd {
namespace {

TEST(ClientTime, WholeSecondsOnly) {
    auto t = parse_client_time("1479413884");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->seconds, 1479413884);
    EXPECT_EQ(t->nanos, 0);
}

TEST(ClientTime, NineFractionDigitsAreExact) {
    auto t = parse_client_time("1479413884.392014450");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->seconds, 1479413884);
    EXPECT_EQ(t->nanos, 392014450);
}

TEST(ClientTime, DigitsPastTheNinthAreIgnoredNotRounded) {
    auto t = parse_client_time("1.999999999999");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->seconds, 1);
    EXPECT_EQ(t->nanos, 999999999);
}

TEST(ClientTime, ZeroAndShortFractions) {
    EXPECT_EQ(parse_client_time("0"), (Timestamp{0, 0}));
    EXPECT_EQ(parse_client_time("0.5"), (Timestamp{0, 500000000}));
    EXPECT_EQ(parse_client_time("12.000000001"), (Timestamp{12, 1}));
}

TEST(ClientTime, TenIntegerDigitsAtMost) {
    EXPECT_EQ(parse_client_time("9999999999.999999999"), (Timestamp{9999999999, 999999999}));
    EXPECT_FALSE(parse_client_time("10000000000"));
    EXPECT_FALSE(parse_client_time("01479413884"));
}

TEST(ClientTime, RejectsSignsExponentsAndStrayDots) {
    for (const char* bad : {"+1479413884", "-1479413884", "1e9", "1479413884.", ".5", "1.2.3", "",
                            "12a", "1,5", "0x10", " 1"}) {
        EXPECT_FALSE(parse_client_time(bad)) << bad;
    }
}

TEST(Skew, PositiveNegativeAndZeroAreSignedWithNineDecimals) {
    EXPECT_EQ(format_signed_seconds(difference({10, 263873386}, {10, 0})), "+0.263873386");
    EXPECT_EQ(format_signed_seconds(difference({10, 0}, {10, 120000})), "-0.000120000");
    EXPECT_EQ(format_signed_seconds(difference({10, 5}, {10, 5})), "+0.000000000");
    EXPECT_EQ(format_signed_seconds(difference({12, 0}, {10, 500000000})), "+1.500000000");
    EXPECT_EQ(format_signed_seconds(difference({10, 500000000}, {12, 0})), "-1.500000000");
    EXPECT_EQ(format_signed_seconds(difference({10, 0}, {12, 0})), "-2.000000000");
}

TEST(Skew, ExtremeClientTimesDoNotOverflow) {
    EXPECT_EQ(format_signed_seconds(difference({0, 0}, {9999999999, 999999999})),
              "-9999999999.999999999");
    EXPECT_EQ(format_signed_seconds(difference({9999999999, 999999999}, {0, 0})),
              "+9999999999.999999999");
}

TEST(TimestampArithmetic, AddingDurationsNormalisesNanos) {
    EXPECT_EQ((Timestamp{1, 999999999} + Duration::nanoseconds(1)), (Timestamp{2, 0}));
    EXPECT_EQ((Timestamp{2, 0} + Duration::nanoseconds(-1)), (Timestamp{1, 999999999}));
    EXPECT_EQ((Timestamp{5, 100} + Duration::seconds(-2)), (Timestamp{3, 100}));
    EXPECT_EQ(format_timestamp(Timestamp{1479413884, 5}), "1479413884.000000005");
}

TEST(Durations, SuffixesAndFractionsExactToTheNanosecond) {
    EXPECT_EQ(parse_duration("7ns"), Duration{7});
    EXPECT_EQ(parse_duration("250us"), Duration::microseconds(250));
    EXPECT_EQ(parse_duration("150ms"), Duration::milliseconds(150));
    EXPECT_EQ(parse_duration("2s"), Duration::seconds(2));
    EXPECT_EQ(parse_duration("1.5s"), Duration::milliseconds(1500));
    EXPECT_EQ(parse_duration("0.000000001s"), Duration{1});
    EXPECT_FALSE(parse_duration("1.5ns"));  // below a nanosecond
    EXPECT_FALSE(parse_duration("5"));
    EXPECT_FALSE(parse_duration("5m"));
    EXPECT_FALSE(parse_duration("ms"));
    EXPECT_FALSE(parse_duration("-5ms"));
    EXPECT_EQ(parse_duration("-5ms", true), Duration::milliseconds(-5));
    EXPECT_EQ(parse_duration("+30ms", true), Duration::milliseconds(30));
}

}  // namespace
}  // namespace herd

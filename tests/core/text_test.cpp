// The one text module (core/text): fields, source lines, comments and decimals, as every
// grammar of herd reads them.
#include "core/text.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace herd {
namespace {

using Fields = std::vector<std::string_view>;

TEST(TextFields, RunsOfTheSixWhiteSpaceBytesSeparateFields) {
    EXPECT_EQ(fields_of(" \tIAMAT\v kiwi\f+1.0+1.0\r\n5 "),
              (Fields{"IAMAT", "kiwi", "+1.0+1.0", "5"}));
    EXPECT_EQ(fields_of(""), Fields{});
    EXPECT_EQ(fields_of(" \t "), Fields{});
    // Other bytes, even other Unicode spaces, are part of a field.
    EXPECT_EQ(fields_of("a\xc2\xa0"
                        "b c"),
              (Fields{"a\xc2\xa0"
                      "b",
                      "c"}));
}

TEST(TextFields, TakeFieldLeavesTheRestWithItsWhiteSpace) {
    std::string_view rest = "  send Alford  IAMAT x  ";
    EXPECT_EQ(take_field(rest), "send");
    EXPECT_EQ(take_field(rest), "Alford");
    EXPECT_EQ(rest, "  IAMAT x  ");
    EXPECT_EQ(trim(rest), "IAMAT x");
    EXPECT_EQ(take_field(rest), "IAMAT");
    EXPECT_EQ(take_field(rest), "x");
    EXPECT_EQ(take_field(rest), "");
    EXPECT_EQ(rest, "");
}

TEST(TextSplitFields, CountsOneBeyondTheMaximumAndNoFurther) {
    std::string_view f[2];
    EXPECT_EQ(split_fields("a b c d e", f, 2), 3u);
    EXPECT_EQ(f[0], "a");
    EXPECT_EQ(f[1], "b");
    EXPECT_EQ(split_fields("  a  ", f, 2), 1u);
}

TEST(TextSource, LinesAreNumberedAndLoseTheirEndings) {
    const auto lines = source_lines("server A\r\n\n# note\nlink A B");
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0].number, 1);
    EXPECT_EQ(lines[0].text, "server A");
    EXPECT_EQ(lines[1].text, "");
    EXPECT_EQ(lines[3].number, 4);
    EXPECT_EQ(lines[3].text, "link A B");
    EXPECT_EQ(source_lines("a\n").size(), 1u);
    EXPECT_EQ(strip_comment("link A B # why"), "link A B ");
    EXPECT_EQ(strip_comment("# all"), "");
}

TEST(TextDecimal, DigitsWithAnOptionalPointAndDigitsAfterIt) {
    const auto d = split_decimal("012.50");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->whole, "012");
    EXPECT_EQ(d->fraction, "50");
    EXPECT_TRUE(d->has_point);
    EXPECT_FALSE(split_decimal("7")->has_point);
    for (const char* bad : {"", ".5", "5.", "+5", "-5", "5e3", "1.2.3", " 5", "0x10", "5 "})
        EXPECT_FALSE(split_decimal(bad)) << bad;
}

TEST(TextDecimal, WholeNumbersAreCheckedAgainstTheirMaximumWithoutOverflow) {
    EXPECT_EQ(parse_whole("0050", 50), 50u);
    EXPECT_FALSE(parse_whole("51", 50));
    EXPECT_EQ(parse_whole("18446744073709551615", UINT64_MAX), UINT64_MAX);
    EXPECT_FALSE(parse_whole("18446744073709551616", UINT64_MAX));
    EXPECT_FALSE(parse_whole("99999999999999999999999", UINT64_MAX));
    EXPECT_FALSE(parse_whole("", 10));
    EXPECT_FALSE(parse_whole("1a", 100));
}

TEST(TextDecimal, FractionsAreScaledToAFixedNumberOfPlaces) {
    EXPECT_EQ(fraction_scaled("5", 3), 500u);
    EXPECT_EQ(fraction_scaled("123456789999", 9), 123456789u);
    EXPECT_EQ(fraction_scaled("", 6), 0u);
    EXPECT_TRUE(fraction_exact("1230000", 3));
    EXPECT_FALSE(fraction_exact("1231", 3));
    EXPECT_TRUE(fraction_exact("", 0));
    EXPECT_FALSE(fraction_exact("1", 0));
}

// Any bytes, written by append_json_escaped and read back by a JSON reader (which turns each
// \u00XX into UTF-8), come back unchanged through bytes_of_json_string.
TEST(Text, JsonEscapedBytesComeBackThroughAJsonReader) {
    std::string all;
    for (int c = 0; c < 256; ++c)
        all += static_cast<char>(c);
    for (const std::string& bytes : {all, std::string("caf\xc3\xa9 \xff\x80"), std::string()}) {
        std::string json = "\"";
        append_json_escaped(json, bytes);
        json += "\"";
        rapidjson::Document d;
        d.Parse(json.c_str(), json.size());
        ASSERT_FALSE(d.HasParseError());
        EXPECT_EQ(bytes_of_json_string({d.GetString(), d.GetStringLength()}), bytes);
    }
}

}  // namespace
}  // namespace herd

// The client protocol of design §3, asserted on the exact bytes a client reads.
#include "core/client_protocol.hpp"

#include <gtest/gtest.h>

#include "session.hpp"

namespace herd::test {
namespace {

constexpr const char* kiwi_iamat =
    "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450";
constexpr const char* kiwi_at =
    "AT Alford +0.264873386 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450\n";

TEST(Iamat, ReplyEchoesClientFieldsWithExactSkew) {
    Session s;
    EXPECT_EQ(s.run(std::string(kiwi_iamat) + "\n"), kiwi_at);
}

TEST(Iamat, NegativeSkewWhenClientClockIsAhead) {
    Session s;
    s.received = Timestamp{1479413884, 0};
    EXPECT_EQ(s.run("IAMAT c +1.0+1.0 1479413884.000120000\n"),
              "AT Alford -0.000120000 c +1.0+1.0 1479413884.000120000\n");
}

TEST(Iamat, ZeroSkewIsPositive) {
    Session s;
    s.received = Timestamp{1479413884, 0};
    EXPECT_EQ(s.run("IAMAT c +1.0+1.0 1479413884\n"),
              "AT Alford +0.000000000 c +1.0+1.0 1479413884\n");
}

TEST(Iamat, AllSixWhiteSpaceBytesSeparateFields) {
    Session s;
    s.received = Timestamp{100, 0};
    EXPECT_EQ(s.run(" \t\f\vIAMAT\t c\f\v+1.0+1.0 \r 99 \t\n"),
              "AT Alford +1.000000000 c +1.0+1.0 99\n");
}

TEST(Iamat, CrLfLineEnding) {
    Session s;
    EXPECT_EQ(s.run(std::string(kiwi_iamat) + "\r\n"), kiwi_at);
}

TEST(Iamat, Utf8AndEmojiClientIdsAreEchoedByteForByte) {
    Session s;
    s.received = Timestamp{10, 0};
    EXPECT_EQ(s.run("IAMAT \xF0\x9F\xA5\x9D +1.0+1.0 9\nIAMAT caf\xC3\xA9 +1.0+1.0 9\n"),
              "AT Alford +1.000000000 \xF0\x9F\xA5\x9D +1.0+1.0 9\n"
              "AT Alford +1.000000000 caf\xC3\xA9 +1.0+1.0 9\n");
    EXPECT_NE(s.store().find("\xF0\x9F\xA5\x9D"), nullptr);
}

TEST(Iamat, CoordinatesWithUnusualWidthsAreEchoedVerbatim) {
    Session s;
    s.received = Timestamp{10, 0};
    EXPECT_EQ(s.run("IAMAT c +1.000000+001.000000 10\n"),
              "AT Alford +0.000000000 c +1.000000+001.000000 10\n");
}

TEST(Iamat, TimeWithZeroNineAndTwelveFractionDigits) {
    Session s;
    s.received = Timestamp{1479413885, 0};
    EXPECT_EQ(s.run("IAMAT a +1.0+1.0 1479413884\n"
                    "IAMAT b +1.0+1.0 1479413884.123456789\n"
                    "IAMAT c +1.0+1.0 1479413884.123456789999\n"),
              "AT Alford +1.000000000 a +1.0+1.0 1479413884\n"
              "AT Alford +0.876543211 b +1.0+1.0 1479413884.123456789\n"
              "AT Alford +0.876543211 c +1.0+1.0 1479413884.123456789999\n");
}

TEST(Iamat, ElevenDigitSecondsAreInvalid) {
    Session s;
    EXPECT_EQ(s.run("IAMAT c +1.0+1.0 14794138840\n"), "? IAMAT c +1.0+1.0 14794138840\n");
    EXPECT_EQ(s.store().size(), 0u);
}

TEST(Iamat, SignedOrNegativeTimesAreInvalid) {
    Session s;
    EXPECT_EQ(s.run("IAMAT c +1.0+1.0 +1479413884\nIAMAT c +1.0+1.0 -1\nIAMAT c +1.0+1.0 1e9\n"),
              "? IAMAT c +1.0+1.0 +1479413884\n? IAMAT c +1.0+1.0 -1\n? IAMAT c +1.0+1.0 1e9\n");
}

TEST(Iamat, ThreeAndFiveFieldsAreInvalid) {
    Session s;
    EXPECT_EQ(s.run("IAMAT c +1.0+1.0\nIAMAT c +1.0+1.0 5 extra\n"),
              "? IAMAT c +1.0+1.0\n? IAMAT c +1.0+1.0 5 extra\n");
}

TEST(Iamat, MissingSignsAndIntegerCoordinatesAreInvalid) {
    Session s;
    EXPECT_EQ(s.run("IAMAT c 34.068930-118.445127 5\nIAMAT c +34-118 5\n"),
              "? IAMAT c 34.068930-118.445127 5\n? IAMAT c +34-118 5\n");
}

TEST(Iamat, LatitudeRangeIsExact) {
    Session s;
    s.received = Timestamp{5, 0};
    EXPECT_EQ(
        s.run(
            "IAMAT a +90.0+0.0 5\nIAMAT b +90.000001+0.0 5\nIAMAT c +90.00000000000000001+0.0 5\n"),
        "AT Alford +0.000000000 a +90.0+0.0 5\n"
        "? IAMAT b +90.000001+0.0 5\n"
        "? IAMAT c +90.00000000000000001+0.0 5\n");
}

TEST(Iamat, LongitudeMinus180IsValid) {
    Session s;
    s.received = Timestamp{5, 0};
    EXPECT_EQ(s.run("IAMAT a -12.5-180.000 5\nIAMAT b -12.5-180.001 5\n"),
              "AT Alford +0.000000000 a -12.5-180.000 5\n? IAMAT b -12.5-180.001 5\n");
}

TEST(Iamat, EqualTimeReplyIsTheSameButStoreKeepsTheFirst) {
    Session s;
    s.received = Timestamp{5, 0};
    EXPECT_EQ(s.run("IAMAT c +1.0+1.0 5\nIAMAT c +2.0+2.0 5\n"),
              "AT Alford +0.000000000 c +1.0+1.0 5\nAT Alford +0.000000000 c +2.0+2.0 5\n");
    EXPECT_EQ(s.store().find("c")->latlon_text(), "+1.0+1.0");
    EXPECT_EQ(s.flooded.size(), 1u);
}

TEST(Iamat, OlderTimeIsAnsweredButNotStored) {
    Session s;
    s.received = Timestamp{10, 0};
    EXPECT_EQ(s.run("IAMAT c +1.0+1.0 9\nIAMAT c +2.0+2.0 8.999999999\nWHATSAT c 0 0\n"),
              "AT Alford +1.000000000 c +1.0+1.0 9\n"
              "AT Alford +1.000000001 c +2.0+2.0 8.999999999\n"
              "AT Alford +1.000000000 c +1.0+1.0 9\n"
              "{\n   \"html_attributions\": [],\n   \"results\": [],\n   \"status\": "
              "\"ZERO_RESULTS\"\n}\n\n");
    EXPECT_EQ(s.flooded.size(), 1u);
}

TEST(Iamat, LaterTimeReplacesAndIsFlooded) {
    Session s;
    s.received = Timestamp{10, 0};
    s.run("IAMAT c +1.0+1.0 9\nIAMAT c +2.0+2.0 9.000000001\n");
    EXPECT_EQ(s.store().find("c")->latlon_text(), "+2.0+2.0");
    EXPECT_EQ(s.flooded.size(), 2u);
}

TEST(Invalid, LowerCaseAndUnknownVerbs) {
    Session s;
    EXPECT_EQ(s.run("iamat c +1.0+1.0 5\nWhatsAt c 1 1\nHELLO\n"),
              "? iamat c +1.0+1.0 5\n? WhatsAt c 1 1\n? HELLO\n");
}

TEST(Invalid, EchoesTheLineAsReceivedWithoutItsEnding) {
    Session s;
    EXPECT_EQ(s.run("  foo\tbar  \r\n"), "?   foo\tbar  \n");
}

TEST(Invalid, BlankLinesGetNoReply) {
    Session s;
    EXPECT_EQ(s.run("\n\r\n \t \n\f\v\n"), "");
}

TEST(Invalid, PeerVerbsOnAClientConnectionAreRejected) {
    Session s;
    EXPECT_EQ(s.run("AT Ball +0.1 c +1.0+1.0 5\n"), "? AT Ball +0.1 c +1.0+1.0 5\n");
    EXPECT_EQ(s.store().size(), 0u);
}

TEST(Invalid, NonNumericFields) {
    Session s;
    EXPECT_EQ(s.run("IAMAT c north+1.0 5\nIAMAT c +1.0+1.0 now\nWHATSAT c ten 5\n"),
              "? IAMAT c north+1.0 5\n? IAMAT c +1.0+1.0 now\n? WHATSAT c ten 5\n");
}

TEST(Invalid, ConnectionStaysUsableAfterBadLines) {
    Session s;
    s.received = Timestamp{5, 0};
    EXPECT_EQ(s.run("garbage\nIAMAT c +1.0+1.0 5\n"),
              "? garbage\nAT Alford +0.000000000 c +1.0+1.0 5\n");
}

TEST(Invalid, BinaryBytesAreEchoed) {
    Session s;
    const std::string line("\x01\x02\xff\x00zz", 6);
    EXPECT_EQ(s.run(line + "\n"), "? " + line + "\n");
}

TEST(Overlong, OverlongLineGetsItsFirstCapBytes) {
    Session s;
    s.line_bytes_max = 10;
    EXPECT_EQ(s.run("IAMAT c +1.0+1.0 5\n"), "? IAMAT c +1\n");
}

TEST(Overlong, OverlongLineAcrossManyReadsThenAValidLine) {
    Session s;
    s.line_bytes_max = 36;  // the AT reply below is exactly 36 bytes: it must fit (record limit)
    s.received = Timestamp{5, 0};
    std::vector<std::string> chunks(100, std::string(7, 'x'));
    chunks.push_back("\nIAMAT c +1.0+1.0 5\n");
    EXPECT_EQ(s.run(chunks),
              "? " + std::string(36, 'x') + "\nAT Alford +0.000000000 c +1.0+1.0 5\n");
}

TEST(Overlong, DefaultCapIs65536Bytes) {
    Session s;
    const std::string ok(65536, 'a');
    const std::string big(1 << 20, 'b');
    EXPECT_EQ(s.run(ok + "\n" + big + "\n"), "? " + ok + "\n? " + big.substr(0, 65536) + "\n");
}

TEST(FinalLine, UnterminatedLastLineIsAnswered) {
    Session s;
    EXPECT_EQ(s.run(std::string(kiwi_iamat)), kiwi_at);
}

TEST(FormatAtLine, ServerNameAndSkew) {
    auto req = std::get<IamatRequest>(parse_client_line("IAMAT x +0.0+0.0 1.5"));
    EXPECT_EQ(format_at_line(*ServerName::parse("Welsh"), Timestamp{1, 0}, req),
              "AT Welsh -0.500000000 x +0.0+0.0 1.5");
}

}  // namespace
}  // namespace herd::test

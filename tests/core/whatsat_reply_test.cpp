// WHATSAT replies: the AT line, then the Places body pretty-printed with results cut to bound.
#include "core/whatsat_reply.hpp"

#include <gtest/gtest.h>

#include "session.hpp"
#include "wire.hpp"

namespace herd::test {
namespace {

constexpr const char* at = "AT Alford +0.5 c +1.0+1.0 9";

constexpr const char* three_places =
    R"({"html_attributions": [], "next_page_token": "tok", "results": [)"
    R"({"name": "A", "rating": 4.50, "types": ["cafe", "food"]}, {"name": "B", "geometry": {"location": {"lat": 1.0e0}}}, {"name": "C"}], "status": "OK"})";

TEST(WhatsatReply, ResultsCutToBoundOtherKeysKeptNumbersVerbatim) {
    EXPECT_EQ(format_whatsat_reply(at, three_places, 1),
              "AT Alford +0.5 c +1.0+1.0 9\n"
              "{\n"
              "   \"html_attributions\": [],\n"
              "   \"next_page_token\": \"tok\",\n"
              "   \"results\": [\n"
              "      {\n"
              "         \"name\": \"A\",\n"
              "         \"rating\": 4.50,\n"
              "         \"types\": [\n"
              "            \"cafe\",\n"
              "            \"food\"\n"
              "         ]\n"
              "      }\n"
              "   ],\n"
              "   \"status\": \"OK\"\n"
              "}\n\n");
}

TEST(WhatsatReply, BoundZeroLeavesAnEmptyResultsArray) {
    EXPECT_EQ(format_whatsat_reply(at, three_places, 0),
              "AT Alford +0.5 c +1.0+1.0 9\n"
              "{\n"
              "   \"html_attributions\": [],\n"
              "   \"next_page_token\": \"tok\",\n"
              "   \"results\": [],\n"
              "   \"status\": \"OK\"\n"
              "}\n\n");
}

TEST(WhatsatReply, BoundAboveResultCountKeepsAllAndNestedObjectsSurvive) {
    const std::string reply = format_whatsat_reply(at, three_places, 20);
    EXPECT_NE(reply.find("\"name\": \"C\""), std::string::npos);
    EXPECT_NE(reply.find("\"lat\": 1.0e0"), std::string::npos);
    EXPECT_EQ(reply.substr(reply.size() - 3), "}\n\n");
}

TEST(WhatsatReply, OnlyTheTopLevelResultsArrayIsCut) {
    const char* body = R"({"x": {"results": [1, 2, 3]}, "results": [[1, 2], [3]], "status": "OK"})";
    const std::string reply = format_whatsat_reply(at, body, 1);
    EXPECT_EQ(reply,
              "AT Alford +0.5 c +1.0+1.0 9\n{\n   \"x\": {\n      \"results\": [\n         1,\n"
              "         2,\n         3\n      ]\n   },\n   \"results\": [\n      [\n         1,\n"
              "         2\n      ]\n   ],\n   \"status\": \"OK\"\n}\n\n");
}

TEST(WhatsatReply, NewlinesInsideStringsAreEscapedSoRepliesStayFramed) {
    const char* body = "{\"results\": [{\"name\": \"two\\n\\nlines\"}], \"status\": \"OK\"}";
    const std::string reply = format_whatsat_reply(at, body, 5);
    EXPECT_NE(reply.find("\"two\\n\\nlines\""), std::string::npos);
    EXPECT_EQ(reply.find("\n\n"), reply.size() - 2);
}

TEST(WhatsatReply, MalformedBodyGetsUnknownError) {
    EXPECT_EQ(format_whatsat_reply(at, "<html>502 Bad Gateway</html>", 5),
              "AT Alford +0.5 c +1.0+1.0 9\n"
              "{\"html_attributions\": [], \"results\": [], \"status\": \"UNKNOWN_ERROR\"}\n\n");
    EXPECT_EQ(format_whatsat_reply(at, "[1, 2]", 5),
              "AT Alford +0.5 c +1.0+1.0 9\n"
              "{\"html_attributions\": [], \"results\": [], \"status\": \"UNKNOWN_ERROR\"}\n\n");
    EXPECT_EQ(format_whatsat_reply(at, "{\"status\": \"OK\"} trailing", 5),
              "AT Alford +0.5 c +1.0+1.0 9\n"
              "{\"html_attributions\": [], \"results\": [], \"status\": \"UNKNOWN_ERROR\"}\n\n");
    EXPECT_EQ(format_whatsat_reply(at, "", 5),
              "AT Alford +0.5 c +1.0+1.0 9\n"
              "{\"html_attributions\": [], \"results\": [], \"status\": \"UNKNOWN_ERROR\"}\n\n");
}

// A body nested `depth` deep inside a result.
std::string nested(int depth) {
    return R"({"results": [{"name": "A", "deep": )" +
           std::string(static_cast<std::size_t>(depth), '[') +
           std::string(static_cast<std::size_t>(depth), ']') + R"(}], "status": "OK"})";
}

TEST(WhatsatReply, AnAnswerNestedPastTheBoundIsRefusedWithoutRecursion) {
    const std::string failure =
        "AT Alford +0.5 c +1.0+1.0 9\n"
        "{\"html_attributions\": [], \"results\": [], \"status\": \"UNKNOWN_ERROR\"}\n\n";
    // The top object, `results`, the element and `deep` take 3 levels.
    bool malformed = false;
    EXPECT_NE(format_whatsat_reply(at, nested(places_json_depth_max - 3), 5, &malformed), failure);
    EXPECT_FALSE(malformed);
    EXPECT_EQ(format_whatsat_reply(at, nested(places_json_depth_max - 2), 5, &malformed), failure);
    EXPECT_TRUE(malformed);
    // A million deep, kept or dropped by the bound: refused, no stack used for it.
    EXPECT_EQ(format_whatsat_reply(at, nested(1'000'000), 5), failure);
    EXPECT_EQ(format_whatsat_reply(at, nested(1'000'000), 0), failure);
    // Cut short.
    malformed = false;
    EXPECT_EQ(format_whatsat_reply(at, R"({"results": [{"name": "A")", 5, &malformed), failure);
    EXPECT_TRUE(malformed);
}

TEST(WhatsatReply, AnAnswerWhoseIndentationWouldPassTheReplyBoundIsRefused) {
    // 3 000 small arrays 50 deep beside the results (every other key is kept): 300 kB of answer
    // that pretty-printing would make about 20 MB.
    std::string body = R"({"other": [)";
    for (int i = 0; i < 3000; ++i)
        body += (i > 0 ? "," : "") + std::string(50, '[') + "0" + std::string(50, ']');
    body += R"(], "results": [], "status": "OK"})";
    bool malformed = false;
    const std::string reply = format_whatsat_reply(at, body, 20, &malformed);
    EXPECT_TRUE(malformed);
    EXPECT_LT(reply.size(), 200u);
    EXPECT_NE(reply.find("UNKNOWN_ERROR"), std::string::npos);
}

TEST(WhatsatReply, NestingIsCountedOutsideStringsOnly) {
    EXPECT_TRUE(json_nesting_within(R"({"a": "[[[[[[", "b": "\"[[["})", 1));
    EXPECT_FALSE(json_nesting_within(R"({"a": [1]})", 1));
    EXPECT_TRUE(json_nesting_within(R"({"a": [1]})", 2));
    EXPECT_FALSE(json_nesting_within(std::string(100000, '['), 64));
}

TEST(WhatsatReply, ProviderErrorStatusUsesTheFailureFraming) {
    const char* denied =
        R"({"error_message": "The provided API key is invalid.", "html_attributions": [], "results": [], "status": "REQUEST_DENIED"})";
    EXPECT_EQ(format_whatsat_reply(at, denied, 5),
              "AT Alford +0.5 c +1.0+1.0 9\n"
              "{\"html_attributions\": [], \"results\": [], \"status\": \"REQUEST_DENIED\"}\n\n");
}

TEST(WhatsatReply, ZeroResultsIsAnAnswerNotAFailure) {
    EXPECT_EQ(format_whatsat_reply(
                  at, R"({"html_attributions": [], "results": [], "status": "ZERO_RESULTS"})", 5),
              "AT Alford +0.5 c +1.0+1.0 9\n{\n   \"html_attributions\": [],\n   \"results\": [],\n"
              "   \"status\": \"ZERO_RESULTS\"\n}\n\n");
}

TEST(WhatsatFailure, StatusThatIsNotAnIdentifierBecomesUnknownError) {
    EXPECT_EQ(format_whatsat_failure(at, "OVER_QUERY_LIMIT"),
              "AT Alford +0.5 c +1.0+1.0 9\n"
              "{\"html_attributions\": [], \"results\": [], \"status\": \"OVER_QUERY_LIMIT\"}\n\n");
    EXPECT_EQ(format_whatsat_failure(at, "bad\"status"),
              "AT Alford +0.5 c +1.0+1.0 9\n"
              "{\"html_attributions\": [], \"results\": [], \"status\": \"UNKNOWN_ERROR\"}\n\n");
}

TEST(Whatsat, UnknownClientIsInvalid) {
    Session s;
    EXPECT_EQ(s.run("WHATSAT ghost 10 5\n"), "? WHATSAT ghost 10 5\n");
}

TEST(Whatsat, RadiusAndBoundLimits) {
    Session s;
    s.received = Timestamp{5, 0};
    s.places = [](const PlacesQuery&) { return std::string(R"({"results": [], "status": "OK"})"); };
    const std::string ok_body = "{\n   \"results\": [],\n   \"status\": \"OK\"\n}\n\n";
    const std::string at_line = "AT Alford +0.000000000 c +1.0+1.0 5\n";
    EXPECT_EQ(s.run("IAMAT c +1.0+1.0 5\n"
                    "WHATSAT c 0 0\nWHATSAT c 50 20\nWHATSAT c 50.5 1\nWHATSAT c 10 21\n"
                    "WHATSAT c -1 1\nWHATSAT c 10\nWHATSAT c 10 1 1\n"),
              at_line + at_line + ok_body + at_line + ok_body +
                  "? WHATSAT c 50.5 1\n? WHATSAT c 10 21\n? WHATSAT c -1 1\n? WHATSAT c 10\n"
                  "? WHATSAT c 10 1 1\n");
}

TEST(Whatsat, ProviderIsAskedWithTheStoredLocationAndRadius) {
    Session s;
    s.received = Timestamp{5, 0};
    PlacesQuery seen;
    s.places = [&](const PlacesQuery& q) {
        seen = q;
        return std::string("{}");
    };
    s.run("IAMAT c +34.068930-118.445127 5\nWHATSAT c 1.5 3\n");
    EXPECT_EQ(seen.latlon_text, "+34.068930-118.445127");
    EXPECT_EQ(seen.radius.metres_text(), "1500");
    EXPECT_EQ(seen.bound, 3u);
    EXPECT_EQ(seen.at_line, "AT Alford +0.000000000 c +34.068930-118.445127 5");
}

TEST(Whatsat, RepliesTheOriginsAtLineNotTheLocalServers) {
    Wire w;
    w.link("Alford", "Welsh");
    w.start("Alford");
    w.start("Welsh");
    w.run_for(Duration::milliseconds(1000));
    const int iamat = w.client("Alford", "IAMAT kiwi +34.068930-118.445127 1479413884.392014450\n");
    w.run_for(Duration::milliseconds(1000));
    const std::string at = w.reply(iamat);
    // Received 1001 ms after the epoch (one millisecond of latency): Alford's skew.
    ASSERT_EQ(at, "AT Alford +0.608985550 kiwi +34.068930-118.445127 1479413884.392014450\n");
    // Welsh learned it from Alford and answers with Alford's line, Alford's skew included.
    const int whatsat = w.client("Welsh", "WHATSAT kiwi 10 5\n");
    w.run_for(Duration::milliseconds(1000));
    const std::string reply = w.reply(whatsat);
    EXPECT_EQ(reply.substr(0, at.size() + 2), at + "{\n");
    EXPECT_EQ(reply.substr(reply.size() - 3), "}\n\n");
}

TEST(Whatsat, OfflineGeneratorRepliesWithBoundPlaces) {
    Session s;
    s.received = Timestamp{5, 0};
    const std::string reply = s.run("IAMAT c +34.068930-118.445127 5\nWHATSAT c 10 3\n");
    std::size_t names = 0;
    for (std::size_t at_pos = reply.find("\"name\""); at_pos != std::string::npos;
         at_pos = reply.find("\"name\"", at_pos + 1)) {
        ++names;
    }
    EXPECT_EQ(names, 3u);
    EXPECT_EQ(reply.substr(reply.size() - 3), "}\n\n");
    EXPECT_EQ(reply.find("\n\n"), reply.size() - 2);
}

}  // namespace
}  // namespace herd::test

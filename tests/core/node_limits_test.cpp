// Node limits against hostile clients and peers: literal times in, the exact actions out.
// The record size limit, flow control (pause, resume, output cap), the line, idle and write
// deadlines, the peers-only admission, and bounded timers and Places queries.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/client_protocol.hpp"
#include "core/node.hpp"
#include "core/whatsat_reply.hpp"
#include "node_actions.hpp"
#include "wire.hpp"

namespace herd::test {
namespace {

NodeConfig solo_config(const std::string& name = "Solo") {
    NodeConfig c;
    c.self = *ServerName::parse(name);
    c.seed = 7;
    c.notify_applied = false;
    return c;
}

std::string iamat(const std::string& client, int t) {
    return "IAMAT " + client + " +1.000000+2.000000 " + std::to_string(epoch_s + t) + "\n";
}

// ---------------------------------------------------------------- the record size limit

TEST(NodeRecordLimit, AnIamatWhoseAtLineWouldPassTheLineCapIsRefusedAndStoredNowhere) {
    NodeConfig config = solo_config();
    config.limits.line_bytes_max = 120;
    Node node(config, at_ms(0));
    drain_all(node);
    // Longer and longer client IDs: the last accepted one has an AT line of exactly the cap.
    std::size_t last_accepted_at = 0;
    std::size_t first_refused = 0;
    for (std::size_t length = 40; length < 120 && first_refused == 0; ++length) {
        const ConnectionId id = length;
        const std::string client(length, 'c');
        node.handle_accepted(id, at_ms(0));
        node.handle_bytes(id, iamat(client, 0), at_ms(0));
        const std::string reply = replies_text(drain_all(node));
        if (reply.rfind("AT Solo ", 0) == 0) {
            last_accepted_at = reply.size() - 1;
            EXPECT_NE(node.store().find(client), nullptr);
        } else {
            EXPECT_EQ(reply, "? " + iamat(client, 0));
            EXPECT_EQ(node.store().find(client), nullptr);
            first_refused = length;
        }
    }
    EXPECT_EQ(last_accepted_at, 120u);
    ASSERT_NE(first_refused, 0u);
    EXPECT_EQ(node.stats().iamats_refused_too_long, 1u);
}

TEST(NodeRecordLimit, PastTheStoreLimitNewClientsAreRefusedAndKnownOnesStillMove) {
    NodeConfig config = solo_config();
    // Room for two records of about 54 bytes (what each really occupies), not three.
    const std::size_t limit = RecordStore().memory_bytes() + 2 * RecordStore::record_cost(60);
    config.limits.store_bytes_max = limit;
    Node node(config, at_ms(0));
    drain_all(node);
    node.handle_accepted(1, at_ms(0));
    node.handle_bytes(1, iamat("c1", 0) + iamat("c2", 0) + iamat("c3", 0) + iamat("c1", 9),
                      at_ms(0));
    const std::string replies = replies_text(drain_all(node));
    EXPECT_EQ(replies.find("? " + iamat("c3", 0)), replies.find("\n", replies.find(" c2 ")) + 1)
        << replies;
    EXPECT_EQ(node.store().find("c3"), nullptr);
    ASSERT_NE(node.store().find("c1"), nullptr);
    EXPECT_EQ(node.store().find("c1")->time(), (Timestamp{epoch_s + 9, 0}));
    EXPECT_EQ(node.stats().iamats_refused_store_full, 1u);
    EXPECT_LE(node.store().memory_bytes(), limit);
    // A known client cannot grow the store past its limit either; the same length still moves.
    const std::string longer = "IAMAT c1 +1." + std::string(60, '0') + "+2.0 1479413899\n";
    const std::string same = "IAMAT c2 +3.000000+4.000000 1479413899\n";
    node.handle_accepted(2, at_ms(1));
    node.handle_bytes(2, longer + same, at_ms(1));
    const std::string answers = replies_text(drain_all(node));
    EXPECT_EQ(answers.substr(0, answers.find('\n') + 1), "? " + longer);
    EXPECT_EQ(node.store().find("c2")->latlon_text(), "+3.000000+4.000000");
    EXPECT_EQ(node.stats().iamats_refused_store_full, 2u);
    EXPECT_LE(node.store().memory_bytes(), limit);
}

// ---------------------------------------------------------------- flow control

TEST(NodeFlowControl, ABurstIsAnsweredInFullWhileTheClientReads) {
    Node node(solo_config(), at_ms(0));
    drain_all(node);
    std::string burst;
    const int lines = 3000;
    for (int i = 0; i < lines; ++i)
        burst += iamat("c" + std::to_string(i), i);
    node.handle_accepted(1, at_ms(0));
    node.handle_bytes(1, burst, at_ms(0));
    std::string received;
    std::size_t pauses = 0, resumes = 0;
    std::int64_t t = 0;
    for (int round = 0; round < 1000; ++round) {
        const auto actions = drain_all(node);
        pauses += only<PauseReading>(actions).size();
        resumes += only<ResumeReading>(actions).size();
        EXPECT_TRUE(only<Close>(actions).empty());
        std::size_t bytes = 0;
        for (const Reply& r : only<Reply>(actions)) {
            received += r.bytes;
            bytes += r.bytes.size();
        }
        if (bytes == 0) break;
        // The client takes everything handed over so far.
        node.handle_sent(1, bytes, at_ms(++t));
    }
    EXPECT_GE(pauses, 1u);
    EXPECT_EQ(pauses, resumes);
    // Every line answered, in order.
    std::size_t n = 0;
    for (std::size_t p = 0; p < received.size(); p = received.find('\n', p) + 1) {
        const std::string line = received.substr(p, received.find('\n', p) - p);
        ASSERT_EQ(line.rfind("AT Solo ", 0), 0u) << line;
        EXPECT_NE(line.find(" c" + std::to_string(n) + " "), std::string::npos) << line;
        ++n;
    }
    EXPECT_EQ(n, static_cast<std::size_t>(lines));
}

TEST(NodeFlowControl, ReadingPausesAtTheHighWaterMarkAndResumesBelowTheLowOne) {
    NodeConfig config = solo_config();
    config.limits.client_output_high_water_bytes = 200;
    config.limits.client_output_low_water_bytes = 100;
    Node node(config, at_ms(0));
    drain_all(node);
    node.handle_accepted(1, at_ms(0));
    std::string five;
    for (int i = 0; i < 5; ++i)
        five += iamat("c" + std::to_string(i), i);
    node.handle_bytes(1, five, at_ms(0));
    auto actions = drain_all(node);
    // Each AT reply is 54 bytes: after four (216 >= 200) the Node stops taking lines.
    const auto replies = only<Reply>(actions);
    ASSERT_EQ(replies.size(), 4u);
    ASSERT_EQ(replies[0].bytes.size(), 54u);
    ASSERT_EQ(actions.size(), 5u);
    ASSERT_EQ(only<PauseReading>(actions).size(), 1u);
    // 216 - 100 = 116 left: still above the low-water mark, nothing happens.
    node.handle_sent(1, 100, at_ms(1));
    EXPECT_TRUE(drain_all(node).empty());
    // 216 - 180 = 36 left: resume, and the held fifth line is answered at once.
    node.handle_sent(1, 80, at_ms(2));
    actions = drain_all(node);
    ASSERT_EQ(actions.size(), 2u);
    EXPECT_TRUE(std::holds_alternative<ResumeReading>(actions[0]));
    ASSERT_TRUE(std::holds_alternative<Reply>(actions[1]));
    EXPECT_NE(std::get<Reply>(actions[1]).bytes.find(" c4 "), std::string::npos);
}

TEST(NodeFlowControl, WhatsatsWaitingForPlacesPauseReadingAtTheirBound) {
    NodeConfig config = solo_config();
    config.limits.client_queries_max = 2;
    Node node(config, at_ms(0));
    drain_all(node);
    node.handle_accepted(1, at_ms(0));
    node.handle_bytes(1, iamat("kiwi", 0), at_ms(0));
    node.handle_sent(1, replies_text(drain_all(node)).size(), at_ms(0));
    drain_all(node);
    node.handle_bytes(1, "WHATSAT kiwi 1 1\nWHATSAT kiwi 2 1\nWHATSAT kiwi 3 1\n", at_ms(1));
    auto actions = drain_all(node);
    const auto queries = only<QueryPlaces>(actions);
    ASSERT_EQ(queries.size(), 2u);
    EXPECT_EQ(only<PauseReading>(actions).size(), 1u);
    node.handle_places_reply(queries[0].id, PlacesResult{false, {}, "UNKNOWN_ERROR"}, at_ms(2));
    actions = drain_all(node);
    // The first answer goes out, reading resumes and the third WHATSAT is asked.
    ASSERT_EQ(only<Reply>(actions).size(), 1u);
    EXPECT_EQ(only<ResumeReading>(actions).size(), 1u);
    ASSERT_EQ(only<QueryPlaces>(actions).size(), 1u);
    EXPECT_EQ(only<QueryPlaces>(actions)[0].query.radius, *RadiusKm::parse("3"));
}

TEST(NodeFlowControl, RepliesHeldBehindASlowWhatsatPauseReadingAtTheirBound) {
    NodeConfig config = solo_config();
    config.limits.client_pending_replies_max = 3;
    Node node(config, at_ms(0));
    drain_all(node);
    node.handle_accepted(1, at_ms(0));
    node.handle_bytes(1, iamat("kiwi", 0), at_ms(0));
    node.handle_sent(1, replies_text(drain_all(node)).size(), at_ms(0));
    // A WHATSAT waits for Places; the IAMAT replies behind it wait too, in order.
    node.handle_bytes(1, "WHATSAT kiwi 1 1\n" + iamat("a", 0) + iamat("b", 0) + iamat("c", 0),
                      at_ms(1));
    auto actions = drain_all(node);
    EXPECT_TRUE(only<Reply>(actions).empty());
    EXPECT_EQ(only<PauseReading>(actions).size(), 1u);  // 3 replies queued: the bound
    ASSERT_EQ(only<QueryPlaces>(actions).size(), 1u);
    node.handle_places_reply(only<QueryPlaces>(actions)[0].id, PlacesResult{false, {}, "X"},
                             at_ms(2));
    actions = drain_all(node);
    // The WHATSAT answer, then a and b, then reading resumes and c is answered.
    const std::string out = replies_text(actions);
    EXPECT_LT(out.find(" a "), out.find(" b "));
    EXPECT_LT(out.find(" b "), out.find(" c "));
    EXPECT_EQ(out.rfind("AT Solo", 0), 0u);
    EXPECT_EQ(only<ResumeReading>(actions).size(), 1u);
}

TEST(NodeFlowControl, AClientPastTheHardOutputCapIsClosedWithItsReason) {
    NodeConfig config = solo_config();
    config.limits.client_output_low_water_bytes = 50;
    config.limits.client_output_high_water_bytes = 100;
    config.limits.client_output_bytes_max = 400;
    Node node(config, at_ms(0));
    drain_all(node);
    node.handle_accepted(1, at_ms(0));
    node.handle_bytes(1, iamat("kiwi", 0) + "WHATSAT kiwi 1 1\n", at_ms(0));
    auto actions = drain_all(node);
    const auto queries = only<QueryPlaces>(actions);
    ASSERT_EQ(queries.size(), 1u);
    // A Places answer far bigger than the cap, while the client has taken nothing.
    std::string body = "{\"results\": [{\"name\": \"" + std::string(1000, 'x') + "\"}]}";
    node.handle_places_reply(queries[0].id, PlacesResult{true, body, {}}, at_ms(1));
    actions = drain_all(node);
    const auto closes = only<Close>(actions);
    ASSERT_EQ(closes.size(), 1u);
    EXPECT_EQ(closes[0].mode, CloseMode::now);
    EXPECT_EQ(closes[0].reason, "output cap");
    EXPECT_EQ(node.stats().clients_closed_output_cap, 1u);
    EXPECT_EQ(node.connections(), 0u);
}

// ---------------------------------------------------------------- deadlines

TEST(NodeDeadlines, ATricklingLineIsClosedAtTheLineDeadlineWhateverArrives) {
    Node node(solo_config(), at_ms(0));
    drain_all(node);
    node.handle_accepted(1, at_ms(0));
    node.handle_bytes(1, "I", at_ms(1000));
    for (int s = 2; s <= 9; ++s) {
        node.handle_bytes(1, "A", at_ms(s * 1000));
        EXPECT_EQ(node.poll_timeout(), Instant{11'000'000'000}) << "after byte " << s;
    }
    EXPECT_TRUE(drain_all(node).empty());
    node.handle_timeout(at_ms(11'000));
    const auto actions = drain_all(node);
    ASSERT_EQ(actions.size(), 1u);
    const Close close = std::get<Close>(actions[0]);
    EXPECT_EQ(close.reason, "line timeout");
    EXPECT_EQ(node.stats().clients_closed_line_timeout, 1u);
    EXPECT_EQ(node.timers(), 0u);
}

TEST(NodeDeadlines, EachLineHasItsOwnDeadlineEvenWhenReadsEndMidLine) {
    Node node(solo_config(), at_ms(0));
    drain_all(node);
    node.handle_accepted(1, at_ms(0));
    node.handle_bytes(1, "IAM", at_ms(0));
    // Every read ends one line and starts the next: no line is open for more than 2 s.
    for (int s = 2; s <= 30; s += 2) {
        node.handle_bytes(1, "AT c" + std::to_string(s) + " +1.0+1.0 5\nIAM", at_ms(s * 1000));
        node.handle_sent(1, replies_text(drain_all(node)).size(), at_ms(s * 1000));
        node.handle_timeout(at_ms(s * 1000));
        EXPECT_TRUE(only<Close>(drain_all(node)).empty()) << "at " << s << " s";
    }
    // The last line started at 30 s: it is closed at 40 s, not before.
    node.handle_timeout(at_ms(39'999));
    EXPECT_TRUE(only<Close>(drain_all(node)).empty());
    node.handle_timeout(at_ms(40'000));
    const auto closes = only<Close>(drain_all(node));
    ASSERT_EQ(closes.size(), 1u);
    EXPECT_EQ(closes[0].reason, "line timeout");
}

TEST(NodeDeadlines, TimeSpentPausedDoesNotCountAgainstALine) {
    NodeConfig config = solo_config();
    config.limits.client_output_high_water_bytes = 100;
    config.limits.client_output_low_water_bytes = 10;
    Node node(config, at_ms(0));
    drain_all(node);
    node.handle_accepted(1, at_ms(0));
    // Two answered lines pass the high-water mark; a third line has started.
    node.handle_bytes(1, iamat("a", 0) + iamat("b", 0) + "IAM", at_ms(0));
    const std::size_t out = replies_text(drain_all(node)).size();
    // The client takes its output only after 60 s: then the started line gets a fresh 10 s.
    node.handle_sent(1, out, at_ms(60'000));
    drain_all(node);
    node.handle_timeout(at_ms(69'999));
    EXPECT_TRUE(only<Close>(drain_all(node)).empty());
    node.handle_timeout(at_ms(70'000));
    const auto closes = only<Close>(drain_all(node));
    ASSERT_EQ(closes.size(), 1u);
    EXPECT_EQ(closes[0].reason, "line timeout");
}

TEST(NodeDeadlines, AnIdleClientIsClosedAfterTheIdleTimeoutFromItsLastLine) {
    NodeConfig config = solo_config();
    config.limits.client_idle_timeout = Duration::seconds(60);
    Node node(config, at_ms(0));
    drain_all(node);
    node.handle_accepted(1, at_ms(0));
    EXPECT_EQ(node.poll_timeout(), Instant{60'000'000'000});
    node.handle_bytes(1, iamat("kiwi", 0), at_ms(5000));
    node.handle_sent(1, replies_text(drain_all(node)).size(), at_ms(5000));
    node.handle_timeout(at_ms(60'000));  // the first timer: re-armed, nothing due yet
    EXPECT_TRUE(drain_all(node).empty());
    EXPECT_EQ(node.poll_timeout(), Instant{65'000'000'000});
    node.handle_timeout(at_ms(65'000));
    const auto closes = only<Close>(drain_all(node));
    ASSERT_EQ(closes.size(), 1u);
    EXPECT_EQ(closes[0].reason, "idle");
}

TEST(NodeDeadlines, AClientThatTakesNothingIsClosedAtTheWriteTimeout) {
    Node node(solo_config(), at_ms(0));
    drain_all(node);
    node.handle_accepted(1, at_ms(0));
    node.handle_bytes(1, iamat("kiwi", 0), at_ms(0));
    drain_all(node);
    EXPECT_EQ(node.poll_timeout(), Instant{30'000'000'000});
    node.handle_timeout(at_ms(30'000));
    const auto closes = only<Close>(drain_all(node));
    ASSERT_EQ(closes.size(), 1u);
    EXPECT_EQ(closes[0].reason, "write timeout");
    EXPECT_EQ(closes[0].mode, CloseMode::now);
}

TEST(NodeDeadlines, AClosedConnectionLeavesNoTimerBehind) {
    Node node(solo_config(), at_ms(0));
    drain_all(node);
    for (ConnectionId id = 1; id <= 10'000; ++id) {
        node.handle_accepted(id, at_ms(static_cast<std::int64_t>(id)));
        if (id % 2 == 0) node.handle_bytes(id, "IAMA", at_ms(static_cast<std::int64_t>(id)));
        node.handle_closed(id, at_ms(static_cast<std::int64_t>(id)));
    }
    drain_all(node);
    EXPECT_EQ(node.timers(), 0u);
    EXPECT_EQ(node.poll_timeout(), std::nullopt);
}

// ---------------------------------------------------------------- admission and Places

TEST(NodeAdmission, APeersOnlyConnectionThatSpeaksAsAClientIsClosedUnanswered) {
    Node node(solo_config(), at_ms(0));
    drain_all(node);
    node.handle_accepted(1, at_ms(0), Admission::peers_only);
    node.handle_bytes(1, iamat("kiwi", 0), at_ms(1));
    const auto actions = drain_all(node);
    ASSERT_EQ(actions.size(), 1u);
    EXPECT_EQ(std::get<Close>(actions[0]).reason, "connection cap (not a peer)");
    EXPECT_EQ(node.store().find("kiwi"), nullptr);
    // One that says nothing is gone after the handshake bound.
    node.handle_accepted(2, at_ms(1), Admission::peers_only);
    EXPECT_EQ(node.poll_timeout(), Instant{3'001'000'000});
    node.handle_timeout(at_ms(3001));
    EXPECT_EQ(std::get<Close>(drain_all(node).at(0)).reason, "handshake timed out");
}

TEST(NodePlaces, AWhatsatBeyondTheServersQueryBoundIsAnsweredAtOnce) {
    NodeConfig config = solo_config();
    config.limits.places_pending_max = 1;
    Node node(config, at_ms(0));
    drain_all(node);
    node.handle_accepted(1, at_ms(0));
    node.handle_bytes(1, iamat("kiwi", 0) + "WHATSAT kiwi 1 1\n", at_ms(0));
    const auto first = drain_all(node);
    ASSERT_EQ(only<QueryPlaces>(first).size(), 1u);
    const std::string at_line = only<Reply>(first).at(0).bytes;
    node.handle_accepted(2, at_ms(1));
    node.handle_bytes(2, "WHATSAT kiwi 1 1\n", at_ms(1));
    const auto second = drain_all(node);
    EXPECT_TRUE(only<QueryPlaces>(second).empty());
    EXPECT_EQ(replies_text(second),
              format_whatsat_failure(at_line.substr(0, at_line.size() - 1), "OVER_QUERY_LIMIT"));
    EXPECT_EQ(node.stats().places_refused_over_limit, 1u);
}

TEST(NodePlaces, OneAddressGetsItsShareOfPlacesSlotsAndANewcomerAlwaysFindsRoom) {
    NodeConfig config = solo_config();
    config.limits.places_pending_max = 12;
    config.limits.places_per_origin_max = 8;
    config.limits.client_queries_max = 100;
    Node node(config, at_ms(0));
    drain_all(node);
    // Origin 7 alone: its share is min(8, 12 / 2) = 6, spread over two connections.
    node.handle_accepted(1, at_ms(0), Admission::anyone, 7);
    node.handle_accepted(2, at_ms(0), Admission::anyone, 7);
    node.handle_bytes(1, iamat("kiwi", 0), at_ms(0));
    drain_all(node);
    std::string radii;
    for (int r = 1; r <= 5; ++r)
        radii += "WHATSAT kiwi " + std::to_string(r) + " 1\n";  // distinct radii count too
    node.handle_bytes(1, radii, at_ms(1));
    node.handle_bytes(2, radii, at_ms(1));
    auto out = drain_all(node);
    EXPECT_EQ(only<QueryPlaces>(out).size(), 6u);
    // (their answers wait in order behind the queries ahead of them on each connection)
    EXPECT_EQ(node.stats().places_refused_over_share, 4u);
    // Another address: share min(8, 12 / 3) = 4, and room for it.
    node.handle_accepted(3, at_ms(2), Admission::anyone, 9);
    node.handle_bytes(3, radii, at_ms(2));
    out = drain_all(node);
    EXPECT_EQ(only<QueryPlaces>(out).size(), 4u);
    EXPECT_EQ(node.stats().places_refused_over_share, 5u);
    // A third: share 3; the server has 2 slots left, and they are its.
    node.handle_accepted(4, at_ms(3), Admission::anyone, 11);
    node.handle_bytes(4, "WHATSAT kiwi 1 1\nWHATSAT kiwi 2 1\n", at_ms(3));
    out = drain_all(node);
    EXPECT_EQ(only<QueryPlaces>(out).size(), 2u);
    EXPECT_EQ(node.stats().places_refused_over_limit, 0u);
    EXPECT_EQ(node.places_pending(), 12u);
    // Answers free slots, not past shares: origin 11 is done; origin 7 stays over its share.
    for (const QueryPlaces& q : only<QueryPlaces>(out))
        node.handle_places_reply(
            q.id, PlacesResult{true, R"({"results": [], "status": "OK"})", "OK"}, at_ms(4));
    drain_all(node);
    node.handle_bytes(1, "WHATSAT kiwi 9 1\n", at_ms(5));
    // 7 still holds 6, past its share of 4 while 9 waits too.
    EXPECT_EQ(only<QueryPlaces>(drain_all(node)).size(), 0u);
    EXPECT_EQ(node.stats().places_refused_over_share, 6u);
}

TEST(NodePlaces, AddressesThatCameFirstCannotTakeTheLastSlotsFromANewcomer) {
    // The attack a hostile tester found: 17 addresses, one after another, ~276 WHATSATs each
    // against a provider that answers nothing; the first took 256 each while the share shrank.
    NodeConfig config = solo_config();
    config.limits.client_queries_max = 300;
    config.limits.client_pending_replies_max = 2000;
    Node node(config, at_ms(0));
    drain_all(node);
    node.handle_accepted(1, at_ms(0));
    node.handle_bytes(1, iamat("kiwi", 0), at_ms(0));
    drain_all(node);
    std::string radii;
    for (int r = 1; r <= 276; ++r)
        radii += "WHATSAT kiwi " + std::to_string(r % 50) + "." + std::to_string(r) + " 1\n";
    std::size_t taken = 0;
    for (ConnectionId id = 10; id < 27; ++id) {
        node.handle_accepted(id, at_ms(1), Admission::anyone, id);
        node.handle_bytes(id, radii, at_ms(1));
        taken += only<QueryPlaces>(drain_all(node)).size();
    }
    EXPECT_LT(taken, config.limits.places_pending_max);
    // An honest client from another address still gets its queries to the provider.
    node.handle_accepted(99, at_ms(2), Admission::anyone, 99);
    node.handle_bytes(99, "WHATSAT kiwi 7 1\nWHATSAT kiwi 8 1\n", at_ms(2));
    EXPECT_EQ(only<QueryPlaces>(drain_all(node)).size(), 2u);
    EXPECT_EQ(node.stats().places_refused_over_limit, 0u);
}

// ---------------------------------------------------------------- peers

// Two servers linked on the wire, B's lines at most 256 bytes, the link up.
void linked_with_short_lines(Wire& w) {
    w.link("A", "B");
    w.start("A");
    w.start("B", [](NodeConfig& c) { c.limits.line_bytes_max = 256; });
    w.run_for(Duration::milliseconds(50));
    ASSERT_EQ(w.node("B").linked_peers().size(), 1u);
    w.log.clear();
}

TEST(NodePeerLines, AnOverlongPeerLineIsSkippedAndTheLinkKeepsCarryingUpdates) {
    Wire w;
    linked_with_short_lines(w);
    w.inject("A", "B", std::string(1000, 'x') + "\nAT A +0.000000000 kiwi +1.0+1.0 5\n");
    w.run_for(Duration::milliseconds(50));
    EXPECT_EQ(w.node("B").linked_peers().size(), 1u);
    EXPECT_TRUE(w.actions_of<Close>("B").empty());
    const auto rejected = w.actions_of<PeerLineRejected>("B");
    ASSERT_EQ(rejected.size(), 1u);
    EXPECT_EQ(rejected[0].reason, "line too long");
    EXPECT_EQ(rejected[0].count, 1u);
    ASSERT_NE(w.node("B").store().find("kiwi"), nullptr);
    EXPECT_EQ(w.node("B").store().find("kiwi")->at_line(), "AT A +0.000000000 kiwi +1.0+1.0 5");
}

TEST(NodePeerLines, RejectedLinesAreReportedAtPowersOfTwoOnly) {
    Wire w;
    linked_with_short_lines(w);
    std::string junk;
    for (int i = 0; i < 9; ++i)
        junk += "NONSENSE " + std::to_string(i) + "\n";
    w.inject("A", "B", junk);
    w.run_for(Duration::milliseconds(50));
    std::vector<std::uint64_t> counts;
    for (const auto& r : w.actions_of<PeerLineRejected>("B"))
        counts.push_back(r.count);
    EXPECT_EQ(counts, (std::vector<std::uint64_t>{1, 2, 4, 8}));
    EXPECT_EQ(w.node("B").stats().peer_lines_rejected, 9u);
    EXPECT_EQ(w.node("B").linked_peers().size(), 1u);
}

}  // namespace
}  // namespace herd::test

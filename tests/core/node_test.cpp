// Node: flooding, anti-entropy, handshakes, heartbeats and reconnects, on Nodes joined in memory.
#include "core/node.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "wire.hpp"

namespace herd::test {
namespace {

const std::vector<std::string> fall_servers = {"Alford", "Ball", "Hamilton", "Holiday", "Welsh"};

std::size_t count_applied(const Wire& w) {
    std::size_t n = 0;
    for (const auto& l : w.log)
        n += std::holds_alternative<RecordApplied>(l.action);
    return n;
}

std::vector<std::string> down_reasons(const Wire& w, const std::string& node) {
    std::vector<std::string> out;
    for (const auto& l : w.log) {
        if (const auto* d = std::get_if<PeerDown>(&l.action); d && l.node == node)
            out.push_back(d->reason);
    }
    return out;
}

std::string iamat(const std::string& client, const std::string& latlon, const std::string& time) {
    // Appended piecewise: GCC 12 at -O3 warns falsely (-Wrestrict) on chained operator+.
    std::string line = "IAMAT ";
    line.append(client).append(" ").append(latlon).append(" ").append(time).append("\n");
    return line;
}

TEST(NodeLinks, FallHerdComesUpWithOneConnectionPerLink) {
    Wire w;
    fall2017(w);
    w.run_for(Duration::seconds(1));
    EXPECT_EQ(
        w.node("Alford").linked_peers(),
        (std::vector<ServerName>{*ServerName::parse("Hamilton"), *ServerName::parse("Welsh")}));
    for (const auto& s : fall_servers) {
        EXPECT_EQ(w.node(s).linked_peers().size(), w.node(s).config().neighbours.size()) << s;
        // Both ends dialed at t=0; the duplicates are gone.
        EXPECT_EQ(w.node(s).connections(), w.node(s).config().neighbours.size()) << s;
    }
}

TEST(NodeFlood, AnUpdateReachesAllFiveAndStopsAfterSixMessages) {
    Wire w;
    fall2017(w);
    w.run_for(Duration::seconds(1));
    w.log.clear();
    w.client("Alford", iamat("kiwi", "+34.068930-118.445127", "1479413884.5"));
    w.run_for(Duration::milliseconds(500));
    for (const auto& s : fall_servers) {
        const Record* r = w.node(s).store().find("kiwi");
        ASSERT_NE(r, nullptr) << s;
        EXPECT_EQ(r->origin(), "Alford");
    }
    // A->Hamilton, A->Welsh, Hamilton->Holiday, Welsh->Ball, then Ball and Holiday cross once.
    EXPECT_EQ(w.count_peer_lines("AT"), 6u);
    EXPECT_EQ(count_applied(w), 5u);
    w.log.clear();
    w.run_for(Duration::milliseconds(900));
    EXPECT_EQ(w.count_peer_lines("AT"), 0u);
}

TEST(NodeFlood, ATriangleDoesNotLoop) {
    Wire w;
    w.link("a", "b");
    w.link("b", "c");
    w.link("a", "c");
    for (const char* s : {"a", "b", "c"})
        w.start(s);
    w.run_for(Duration::seconds(1));
    w.log.clear();
    w.client("a", iamat("x", "+1.0+1.0", "5"));
    w.run_for(Duration::seconds(2));
    EXPECT_EQ(w.count_peer_lines("AT"), 4u);  // a->b, a->c, then b->c and c->b are duplicates
}

TEST(NodeFlood, OlderAndEqualUpdatesAreNotForwarded) {
    Wire w;
    fall2017(w);
    w.run_for(Duration::seconds(1));
    w.client("Alford", iamat("kiwi", "+1.0+1.0", "10"));
    w.run_for(Duration::milliseconds(100));
    w.log.clear();
    w.client("Ball", iamat("kiwi", "+2.0+2.0", "9") + iamat("kiwi", "+3.0+3.0", "10"));
    w.run_for(Duration::milliseconds(100));
    EXPECT_EQ(w.count_peer_lines("AT"), 0u);
    EXPECT_EQ(w.node("Ball").store().find("kiwi")->latlon_text(), "+1.0+1.0");
}

TEST(NodeFlood, WhatsatAtAnotherServerRepliesWithTheOriginsLine) {
    Wire w;
    fall2017(w);
    w.run_for(Duration::seconds(1));
    w.client("Alford", iamat("kiwi", "+34.068930-118.445127", "1479413884.5"));
    w.run_for(Duration::milliseconds(100));
    const int c = w.client("Holiday", "WHATSAT kiwi 10 1\n");
    w.run_for(Duration::milliseconds(100));
    const std::string& reply = w.reply(c);
    EXPECT_EQ(reply.substr(0, reply.find('\n')), w.node("Alford").store().find("kiwi")->at_line());
    EXPECT_EQ(reply.rfind("AT Alford ", 0), 0u);
    EXPECT_EQ(reply.substr(reply.size() - 3), "}\n\n");
}

TEST(NodeClient, RepliesStayInRequestOrderBehindASlowWhatsat) {
    Wire w;
    w.places_latency = Duration::milliseconds(50);
    w.start("solo");
    const int c = w.client("solo", iamat("k", "+1.0+1.0", "1479413884") + "WHATSAT k 0 3\n" +
                                       iamat("k", "+2.0+2.0", "1479413885"));
    w.run_for(Duration::milliseconds(200));
    const std::string& r = w.reply(c);
    const std::size_t whatsat = r.find("ZERO_RESULTS");
    const std::size_t second_at = r.find("+2.0+2.0");
    ASSERT_NE(whatsat, std::string::npos);
    ASSERT_NE(second_at, std::string::npos);
    EXPECT_LT(whatsat, second_at);
    const std::string last = "AT solo -0.999000000 k +2.0+2.0 1479413885\n";
    EXPECT_EQ(r.substr(r.size() - last.size()), last);
}

TEST(NodeClient, PlacesTimeoutGivesTheFailureFraming) {
    Wire w;
    w.places_latency = Duration::seconds(60);
    w.start("solo", [](NodeConfig& c) { c.limits.places_timeout = Duration::milliseconds(100); });
    const int c = w.client("solo", iamat("k", "+1.0+1.0", "1479413884") + "WHATSAT k 10 3\n");
    w.run_for(Duration::seconds(1));
    EXPECT_EQ(w.reply(c),
              "AT solo +0.001000000 k +1.0+1.0 1479413884\n"
              "AT solo +0.001000000 k +1.0+1.0 1479413884\n"
              "{\"html_attributions\": [], \"results\": [], \"status\": \"UNKNOWN_ERROR\"}\n\n");
}

TEST(NodeSecurity, AnAtLineWithoutAHandshakeChangesNothing) {
    Wire w;
    w.start("solo");
    const ConnectionId id = w.raw("solo", "AT Ball +0.1 c +1.0+1.0 5\nDIGEST 0 0000000000000000\n");
    EXPECT_EQ(w.node("solo").store().size(), 0u);
    w.run_for(Duration::milliseconds(10));
    (void)id;
    EXPECT_EQ(w.node("solo").store().size(), 0u);
}

TEST(NodeSecurity, AStrangersHelloIsRefused) {
    Wire w;
    w.link("a", "b");
    w.start("a");
    const ConnectionId id =
        w.raw("a", "HELLO herd/1 mallory a 0000000000000001 0000000000000002\n");
    EXPECT_TRUE(w.raw_closed("a", id));
    EXPECT_EQ(w.node("a").stats().handshakes_refused, 1u);
}

TEST(NodeSecurity, AMalformedHelloIsAnInvalidClientLine) {
    Wire w;
    w.start("a");
    w.raw("a", "HELLO there\n");
    EXPECT_EQ(w.node("a").stats().handshakes_refused, 0u);
}

TEST(NodeSecurity, MatchingSecretsLink) {
    Wire w;
    w.link("a", "b");
    w.start("a", [](NodeConfig& c) { c.secret = "s3cret"; });
    w.start("b", [](NodeConfig& c) { c.secret = "s3cret"; });
    w.run_for(Duration::seconds(1));
    EXPECT_EQ(w.node("a").linked_peers().size(), 1u);
    w.client("a", iamat("k", "+1.0+1.0", "5"));
    w.run_for(Duration::milliseconds(100));
    EXPECT_NE(w.node("b").store().find("k"), nullptr);
}

TEST(NodeSecurity, WrongSecretIsRefusedAndNoRecordCrosses) {
    Wire w;
    w.link("a", "b");
    w.start("a", [](NodeConfig& c) { c.secret = "right"; });
    w.start("b", [](NodeConfig& c) { c.secret = "wrong"; });
    w.client("a", iamat("k", "+1.0+1.0", "5"));
    w.run_for(Duration::seconds(5));
    EXPECT_TRUE(w.node("a").linked_peers().empty());
    EXPECT_TRUE(w.node("b").linked_peers().empty());
    EXPECT_GT(w.node("a").stats().handshakes_refused + w.node("b").stats().handshakes_refused, 0u);
    EXPECT_EQ(w.node("b").store().size(), 0u);
}

TEST(NodeSecurity, MissingSecretIsRefused) {
    Wire w;
    w.link("a", "b");
    w.start("a", [](NodeConfig& c) { c.secret = "only-a-has-it"; });
    w.start("b");
    w.client("b", iamat("k", "+1.0+1.0", "5"));
    w.run_for(Duration::seconds(5));
    EXPECT_TRUE(w.node("a").linked_peers().empty());
    EXPECT_EQ(w.node("a").store().size(), 0u);
}

TEST(NodeAntiEntropy, APartitionedServerCatchesUpAfterHeal) {
    Wire w;
    fall2017(w);
    w.run_for(Duration::seconds(1));
    w.cut("Alford", "Hamilton");
    w.cut("Alford", "Welsh");
    w.client("Alford", iamat("inside", "+1.0+1.0", "100"));
    w.client("Ball", iamat("outside", "+2.0+2.0", "100"));
    w.run_for(Duration::seconds(1));
    EXPECT_EQ(w.node("Alford").store().find("outside"), nullptr);
    EXPECT_EQ(w.node("Welsh").store().find("inside"), nullptr);
    w.restore("Alford", "Hamilton");
    w.restore("Alford", "Welsh");
    w.run_for(Duration::seconds(10));
    for (const auto& s : fall_servers) {
        EXPECT_EQ(w.node(s).store().size(), 2u) << s;
        EXPECT_EQ(w.node(s).linked_peers().size(), w.node(s).config().neighbours.size()) << s;
    }
}

TEST(NodeAntiEntropy, ARestartedEmptyServerIsRefilled) {
    Wire w;
    fall2017(w);
    w.run_for(Duration::seconds(1));
    std::string lines;
    for (int i = 0; i < 200; ++i)
        lines += iamat("client" + std::to_string(i), "+1.0+1.0", std::to_string(1000 + i));
    w.client("Ball", lines);
    w.run_for(Duration::seconds(1));
    w.crash("Welsh");
    w.run_for(Duration::seconds(2));
    Node& welsh = w.start("Welsh");
    EXPECT_EQ(welsh.store().size(), 0u);
    w.run_for(Duration::seconds(10));
    EXPECT_EQ(w.node("Welsh").store().size(), 200u);
    EXPECT_EQ(w.node("Welsh").linked_peers().size(), 2u);
}

TEST(NodeAntiEntropy, UpdatesOnBothSidesOfAPartitionAllArrive) {
    Wire w;
    w.link("a", "b");
    w.start("a");
    w.start("b");
    w.run_for(Duration::seconds(1));
    w.cut("a", "b");
    std::string at_a, at_b;
    for (int i = 0; i < 100; ++i) {
        at_a += iamat("ca" + std::to_string(i), "+1.0+1.0", "7");
        at_b += iamat("cb" + std::to_string(i), "+2.0+2.0", "7");
    }
    w.client("a", at_a);
    w.client("b", at_b);
    w.run_for(Duration::seconds(1));
    w.restore("a", "b");
    w.run_for(Duration::seconds(10));
    EXPECT_EQ(w.node("a").store().size(), 200u);
    EXPECT_EQ(w.node("b").store().size(), 200u);
}

TEST(NodeAntiEntropy, AShortPartitionCostsFarLessThanTheStore) {
    Wire w;
    w.link("a", "b");
    w.start("a");
    w.start("b");
    w.run_for(Duration::seconds(1));
    std::string lines;
    for (int i = 0; i < 5000; ++i)
        lines += iamat("c" + std::to_string(i), "+1.0+1.0", "7");
    w.client("a", lines);
    w.run_for(Duration::seconds(1));
    ASSERT_EQ(w.node("b").store().size(), 5000u);
    std::size_t store_bytes = 0;
    for (const Record* r : w.node("a").store().sorted())
        store_bytes += r->at_line().size() + 1;

    w.cut("a", "b");
    w.client("a", iamat("c1", "+5.0+5.0", "8") + iamat("c2", "+5.0+5.0", "8") +
                      iamat("new", "+5.0+5.0", "8"));
    w.client("b", iamat("c3", "+6.0+6.0", "8") + iamat("c4", "+6.0+6.0", "8"));
    w.run_for(Duration::milliseconds(100));
    const std::uint64_t before =
        w.node("a").stats().peer_bytes_sent + w.node("b").stats().peer_bytes_sent;
    w.restore("a", "b");
    w.run_for(Duration::seconds(10));
    const std::uint64_t cost =
        w.node("a").stats().peer_bytes_sent + w.node("b").stats().peer_bytes_sent - before;
    EXPECT_EQ(w.node("b").store().find("c1")->latlon_text(), "+5.0+5.0");
    EXPECT_EQ(w.node("a").store().find("c4")->latlon_text(), "+6.0+6.0");
    EXPECT_EQ(w.node("b").store().size(), 5001u);
    // Digests, records and heartbeats included, the exchange is a small fraction of the store.
    EXPECT_LT(cost, store_bytes / 10) << "cost " << cost << " of store " << store_bytes;
}

TEST(NodeTieBreak, FirstRuleCanLeaveServersDisagreeing) {
    Wire w;
    w.link("a", "b");
    w.start("a");
    w.start("b");
    w.run_for(Duration::seconds(1));
    w.client("a", iamat("k", "+1.0+1.0", "5"));
    w.client("b", iamat("k", "+2.0+2.0", "5"));
    w.run_for(Duration::seconds(2));
    EXPECT_EQ(w.node("a").store().find("k")->latlon_text(), "+1.0+1.0");
    EXPECT_EQ(w.node("b").store().find("k")->latlon_text(), "+2.0+2.0");
}

TEST(NodeTieBreak, ConvergentRuleAgrees) {
    Wire w;
    w.link("a", "b");
    auto convergent = [](NodeConfig& c) { c.tie_break = TieBreak::convergent; };
    w.start("a", convergent);
    w.start("b", convergent);
    w.run_for(Duration::seconds(1));
    w.client("a", iamat("k", "+1.0+1.0", "5"));
    w.client("b", iamat("k", "+2.0+2.0", "5"));
    w.run_for(Duration::seconds(2));
    EXPECT_EQ(w.node("a").store().find("k")->latlon_text(), "+2.0+2.0");
    EXPECT_EQ(w.node("b").store().find("k")->latlon_text(), "+2.0+2.0");
}

TEST(NodeTieBreak, FirstRuleDisagreementDoesNotLoopOnReconnect) {
    Wire w;
    w.link("a", "b");
    w.start("a");
    w.start("b");
    w.run_for(Duration::seconds(1));
    w.client("a", iamat("k", "+1.0+1.0", "5"));
    w.client("b", iamat("k", "+2.0+2.0", "5"));
    w.run_for(Duration::seconds(1));
    w.cut("a", "b");
    w.restore("a", "b");
    w.run_for(Duration::seconds(2));
    const std::uint64_t sent = w.node("a").stats().sync_records_sent;
    w.run_for(Duration::seconds(5));
    EXPECT_EQ(w.node("a").stats().sync_records_sent, sent);  // one exchange, then quiet
}

TEST(NodeIncarnation, AStaleConnectionIsReplacedByANewerIncarnation) {
    Wire w;
    w.link("a", "b");
    w.start("a");
    w.start("b");
    w.run_for(Duration::seconds(1));
    w.restart_silently("b");
    w.run_for(Duration::milliseconds(50));
    const auto reasons = down_reasons(w, "a");
    ASSERT_EQ(reasons.size(), 1u);
    EXPECT_EQ(reasons[0], "replaced by a newer incarnation");
    EXPECT_EQ(w.node("a").linked_peers().size(), 1u);
    EXPECT_EQ(w.node("b").linked_peers().size(), 1u);
}

TEST(NodeHeartbeat, AnIdleLinkStaysUpOnPings) {
    Wire w;
    w.link("a", "b");
    w.start("a");
    w.start("b");
    w.run_for(Duration::seconds(30));
    EXPECT_TRUE(down_reasons(w, "a").empty());
    EXPECT_GE(w.count_peer_lines("PING"), 40u);
}

TEST(NodeHeartbeat, ASilentLinkIsClosedWithinTheTimeout) {
    Wire w;
    w.link("a", "b");
    w.start("a");
    w.start("b");
    w.run_for(Duration::seconds(1));
    w.blackhole("a", "b");  // half-open: nothing arrives, nobody is told
    const Instant start = w.now;
    w.log.clear();
    w.run_for(Duration::seconds(5));
    EXPECT_EQ(down_reasons(w, "a"), (std::vector<std::string>{"silent"}));
    EXPECT_EQ(down_reasons(w, "b"), (std::vector<std::string>{"silent"}));
    EXPECT_EQ(w.node("a").stats().links_closed_silent, 1u);
    for (const auto& l : w.log) {
        if (std::holds_alternative<PeerDown>(l.action)) {
            // The last message got through at most one heartbeat interval before the cut.
            EXPECT_GE((l.at - start).ns, Duration::seconds(2).ns);
            EXPECT_LE((l.at - start).ns, Duration::seconds(3).ns);
        }
    }
}

TEST(NodeReconnect, DelaysBackOffFromAtMost100msToAtMost5s) {
    Wire w;
    w.link("a", "b");
    w.start("a");
    w.start("b");
    w.run_for(Duration::seconds(1));
    w.crash("b");
    const Instant crashed = w.now;
    w.log.clear();
    w.run_for(Duration::seconds(60));
    std::vector<Instant> dials;
    for (const auto& l : w.log) {
        if (l.node == "a" && std::holds_alternative<Dial>(l.action)) dials.push_back(l.at);
    }
    ASSERT_GE(dials.size(), 10u);
    EXPECT_LE((dials[0] - crashed).ns, Duration::milliseconds(100).ns);
    Duration longest{0};
    for (std::size_t i = 1; i < dials.size(); ++i) {
        const Duration gap =
            dials[i] - dials[i - 1] - w.latency;  // the failed dial took one latency
        EXPECT_LE(gap.ns, Duration::seconds(5).ns);
        longest = std::max(longest, gap);
    }
    EXPECT_GE(longest.ns, Duration::milliseconds(2500).ns);  // it did back off
    w.start("b");
    w.run_for(Duration::seconds(6));
    EXPECT_EQ(w.node("a").linked_peers().size(), 1u);
}

TEST(NodeOverflow, APeerQueueThatOverflowsClosesTheLinkAndAntiEntropyRepairs) {
    Wire w;
    w.link("a", "b");
    w.start("a", [](NodeConfig& c) { c.limits.peer_output_bytes_max = 4000; });
    w.start("b");
    w.run_for(Duration::seconds(1));
    std::string lines;
    for (int i = 0; i < 100; ++i)
        lines += iamat("c" + std::to_string(i), "+1.0+1.0", "7");
    w.client("a", lines);
    w.run_for(Duration::seconds(10));
    EXPECT_GE(w.node("a").stats().links_closed_overflow, 1u);
    EXPECT_EQ(w.node("b").store().size(), 100u);
}

// ---------------------------------------------------------------- flood batching

// Peer writes (SendToPeer actions) of `node` that carry AT lines, each as its number of lines.
std::vector<std::size_t> record_writes(const Wire& w, const std::string& node) {
    std::vector<std::size_t> out;
    for (const auto& l : w.log) {
        const auto* s = std::get_if<SendToPeer>(&l.action);
        if (s == nullptr || l.node != node || s->bytes->rfind("AT ", 0) != 0) continue;
        out.push_back(
            static_cast<std::size_t>(std::count(s->bytes->begin(), s->bytes->end(), '\n')));
    }
    return out;
}

// Starts (or restarts) one server with flood batching.
void start_batching(Wire& w, const std::string& name, Duration batch,
                    std::size_t bytes_max = 64 << 10) {
    w.start(name, [&](NodeConfig& c) {
        c.limits.flood_batch = batch;
        c.limits.flood_batch_bytes_max = bytes_max;
    });
}

void start_fall2017_batching(Wire& w, Duration batch, std::size_t bytes_max = 64 << 10) {
    const HerdSpec herd = fall2017_herd();
    for (const auto& [a, b] : herd.links)
        w.link(herd.servers[static_cast<std::size_t>(a)].name.str(),
               herd.servers[static_cast<std::size_t>(b)].name.str());
    for (const ServerSpec& s : herd.servers)
        start_batching(w, s.name.str(), batch, bytes_max);
    w.run_for(Duration::seconds(1));
}

TEST(NodeFloodBatch, RecordsWithinTheWindowGoOutInOneWritePerLink) {
    Wire w;
    start_fall2017_batching(w, Duration::milliseconds(10));
    w.log.clear();
    const std::size_t idle_timers = w.node("Alford").timers();
    // Alford has two links (Hamilton, Welsh): three updates within 10 ms are two writes of three
    // lines, sent when the window ends; nothing reaches a neighbour before.
    w.client("Alford", iamat("kiwi", "+1.0+1.0", "10") + iamat("pear", "+2.0+2.0", "10") +
                           iamat("plum", "+3.0+3.0", "10"));
    w.run_for(Duration::milliseconds(9));
    EXPECT_TRUE(record_writes(w, "Alford").empty());
    EXPECT_EQ(w.node("Hamilton").store().find("kiwi"), nullptr);
    w.run_for(Duration::milliseconds(200));
    EXPECT_EQ(record_writes(w, "Alford"), (std::vector<std::size_t>{3, 3}));
    for (const std::string& s : fall_servers)
        EXPECT_EQ(w.node(s).store().size(), 3u) << s;
    // Each record was applied once at each of the five servers (the origin's own apply too),
    // and the relays batched what they flooded on as well.
    EXPECT_EQ(count_applied(w), 15u);
    EXPECT_EQ(w.count_peer_lines("AT"), 18u);  // the same lines as without batching (6 each)
    EXPECT_EQ(w.node("Alford").timers(), idle_timers);  // no flush timer left
}

TEST(NodeFloodBatch, ABatchReachingItsByteLimitIsWrittenAtOnce) {
    Wire w;
    // A window far longer than the test, and room for two AT lines (about 50 bytes each).
    start_fall2017_batching(w, Duration::seconds(10), 120);
    w.log.clear();
    w.client("Alford", iamat("kiwi", "+1.0+1.0", "10") + iamat("pear", "+2.0+2.0", "10") +
                           iamat("plum", "+3.0+3.0", "10"));
    w.run_for(Duration::milliseconds(5));
    // Each link's batch passed 120 bytes at the third record, and went out whole.
    EXPECT_EQ(record_writes(w, "Alford"), (std::vector<std::size_t>{3, 3}));
    EXPECT_NE(w.node("Hamilton").store().find("plum"), nullptr);
}

TEST(NodeFloodBatch, ZeroWritesEveryRecordAtOnce) {
    Wire w;
    start_fall2017_batching(w, Duration{});
    w.log.clear();
    w.client("Alford", iamat("kiwi", "+1.0+1.0", "10") + iamat("pear", "+2.0+2.0", "10"));
    w.run_for(Duration::milliseconds(100));
    EXPECT_EQ(record_writes(w, "Alford"), (std::vector<std::size_t>{1, 1, 1, 1}));
}

TEST(NodeFloodBatch, ALinkClosedWithABatchWaitingLeavesNoTimerAndSyncRepairs) {
    Wire w;
    start_fall2017_batching(w, Duration::milliseconds(50));
    const std::size_t idle_timers = w.node("Alford").timers();
    w.client("Alford", iamat("kiwi", "+1.0+1.0", "10"));
    w.run_for(Duration::milliseconds(2));
    EXPECT_EQ(w.node("Alford").timers(), idle_timers + 2);  // one flush per link with a batch
    // Restarted: the links (and the batches for them) are gone.
    start_batching(w, "Hamilton", Duration::milliseconds(50));
    start_batching(w, "Welsh", Duration::milliseconds(50));
    w.run_for(Duration::seconds(5));
    // The batches were never written; anti-entropy at link-up brought the record instead.
    const NodeStats& st = w.node("Alford").stats();
    EXPECT_EQ(st.peer_records_sent - st.sync_records_sent, 0u);  // no flooded record went out
    EXPECT_GE(st.sync_records_sent, 2u);
    for (const std::string& s : fall_servers)
        EXPECT_NE(w.node(s).store().find("kiwi"), nullptr) << s;
    EXPECT_EQ(w.node("Alford").timers(), idle_timers);
}

}  // namespace
}  // namespace herd::test

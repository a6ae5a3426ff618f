// One Node at a time, literal times in, the exact list of actions out: the handshake from both
// sides, flooding, heartbeats and silence, and reconnect backoff.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/node.hpp"
#include "core/peer_protocol.hpp"
#include "node_actions.hpp"

namespace herd::test {
namespace {

NodeConfig config(const char* self, std::vector<const char*> neighbours,
                  std::uint64_t incarnation) {
    NodeConfig c;
    c.self = *ServerName::parse(self);
    for (const char* n : neighbours)
        c.neighbours.push_back(*ServerName::parse(n));
    c.incarnation = incarnation;
    c.seed = 11;
    c.notify_applied = false;
    return c;
}

// Actions as text, so a whole list compares at once: "dial Ball", "send 1 HELLO ...", ...
std::vector<std::string> text(const std::vector<Action>& actions) {
    std::vector<std::string> out;
    for (const Action& a : actions) {
        if (const auto* d = std::get_if<Dial>(&a)) {
            out.push_back("dial " + d->peer.str());
        } else if (const auto* s = std::get_if<SendToPeer>(&a)) {
            out.push_back("send " + std::to_string(s->conn) + " " + *s->bytes);
        } else if (const auto* r = std::get_if<Reply>(&a)) {
            out.push_back("reply " + std::to_string(r->conn) + " " + r->bytes);
        } else if (const auto* u = std::get_if<PeerUp>(&a)) {
            out.push_back("up " + u->peer.str());
        } else if (const auto* d2 = std::get_if<PeerDown>(&a)) {
            out.push_back("down " + d2->peer.str() + " " + d2->reason);
        } else if (const auto* c = std::get_if<Close>(&a)) {
            out.push_back("close " + std::to_string(c->conn) + " " + c->reason);
        } else {
            out.push_back("other");
        }
    }
    return out;
}

using Lines = std::vector<std::string>;

// The digest of an empty store, as sent at every link-up.
std::string empty_digest() {
    return format_digest(BucketId{0, 0}, RecordStore().child_digests(BucketId{0, 0}));
}

TEST(NodeExact, TheDialerSendsHelloAndTheLinkIsUpAfterWelcome) {
    Node a(config("Alford", {"Ball"}, 0xA), at_ms(0));
    EXPECT_EQ(text(drain_all(a)), (Lines{"dial Ball"}));
    a.handle_dialed(7, *ServerName::parse("Ball"), at_ms(5));
    const auto hello_actions = drain_all(a);
    ASSERT_EQ(hello_actions.size(), 1u);
    const auto hello = parse_hello(*std::get<SendToPeer>(hello_actions[0]).bytes);
    ASSERT_TRUE(hello);
    EXPECT_EQ(hello->dialer, "Alford");
    EXPECT_EQ(hello->acceptor, "Ball");
    EXPECT_EQ(hello->incarnation, 0xAu);
    // Ball welcomes it (no herd secret: the MAC is "-").
    a.handle_bytes(7, format_welcome(Welcome{"Ball", 0xB, 42, "-"}), at_ms(6));
    EXPECT_EQ(text(drain_all(a)),
              (Lines{"send 7 AUTH -\n", "up Ball", "send 7 " + empty_digest()}));
    EXPECT_EQ(a.linked_peers(), (std::vector<ServerName>{*ServerName::parse("Ball")}));
}

TEST(NodeExact, TheAcceptorWelcomesAKnownNeighbourAndRefusesAStranger) {
    Node b(config("Ball", {"Alford"}, 0xB), at_ms(0));
    drain_all(b);
    b.handle_accepted(3, at_ms(1));
    b.handle_bytes(3, format_hello(Hello{"Alford", "Ball", 0xA, 99}), at_ms(2));
    const auto welcome_actions = drain_all(b);
    ASSERT_EQ(welcome_actions.size(), 1u);
    const auto welcome = parse_welcome(*std::get<SendToPeer>(welcome_actions[0]).bytes);
    ASSERT_TRUE(welcome);
    EXPECT_EQ(welcome->acceptor, "Ball");
    EXPECT_EQ(welcome->mac, "-");
    b.handle_bytes(3, "AUTH -\n", at_ms(3));
    EXPECT_EQ(text(drain_all(b)), (Lines{"up Alford", "send 3 " + empty_digest()}));
    // A HELLO from a server that is not a neighbour is refused and closed after the refusal.
    b.handle_accepted(4, at_ms(4));
    b.handle_bytes(4, format_hello(Hello{"Mallory", "Ball", 1, 2}), at_ms(4));
    EXPECT_EQ(text(drain_all(b)),
              (Lines{"send 4 " + format_refused("not-a-neighbour"), "close 4 not-a-neighbour"}));
}

TEST(NodeExact, AHelloWithoutAuthIsClosedAtTheHandshakeDeadlineNotTheIdleOne) {
    // Found by a probe: the acceptor kept a HELLO without AUTH open for the client idle timeout
    // (300 s), and a neighbour whose AUTH was lost stayed unlinked as long.
    Node b(config("Ball", {"Alford"}, 0xB), at_ms(0));
    drain_all(b);
    b.handle_accepted(3, at_ms(1));
    b.handle_bytes(3, format_hello(Hello{"Alford", "Ball", 0xA, 99}), at_ms(2));
    drain_all(b);  // the WELCOME
    ASSERT_TRUE(b.poll_timeout());
    EXPECT_EQ(b.poll_timeout()->ns, at_ms(3001).mono.ns);  // opened at 1 ms, plus 3 s
    b.handle_timeout(at_ms(3001));
    EXPECT_EQ(text(drain_all(b)), (Lines{"close 3 handshake timed out"}));
}

// Alford linked to Ball on connection 7 at 6 ms (the dialer's side of the handshake above).
Node linked_alford(std::vector<const char*> neighbours = {"Ball"}) {
    Node a(config("Alford", std::move(neighbours), 0xA), at_ms(0));
    drain_all(a);
    a.handle_dialed(7, *ServerName::parse("Ball"), at_ms(5));
    a.handle_bytes(7, format_welcome(Welcome{"Ball", 0xB, 42, "-"}), at_ms(6));
    drain_all(a);
    return a;
}

TEST(NodeExact, AClientUpdateIsFloodedOnceAndAPeersCopyIsNotSentBack) {
    Node a = linked_alford();
    a.handle_accepted(20, at_ms(100));
    a.handle_bytes(20, "IAMAT kiwi +1.0+2.0 1479413884\n", at_ms(100));
    EXPECT_EQ(text(drain_all(a)),
              (Lines{"send 7 AT Alford +0.100000000 kiwi +1.0+2.0 1479413884\n",
                     "reply 20 AT Alford +0.100000000 kiwi +1.0+2.0 1479413884\n"}));
    // The same record back from Ball changes nothing and goes nowhere; a newer one is taken
    // and not sent back to Ball, its only neighbour.
    a.handle_bytes(7, "AT Alford +0.100000000 kiwi +1.0+2.0 1479413884\n", at_ms(101));
    a.handle_bytes(7, "AT Ball +0.000000001 kiwi +3.0+4.0 1479413885\n", at_ms(102));
    EXPECT_EQ(text(drain_all(a)), Lines{});
    EXPECT_EQ(a.store().find("kiwi")->origin(), "Ball");
}

TEST(NodeExact, APingGoesOutAfterASecondOfQuietAndASilentLinkIsClosedAtThreeSeconds) {
    Node a = linked_alford();
    // Last sent at 6 ms (the digest): the heartbeat is due at 1.006 s.
    EXPECT_EQ(a.poll_timeout(), Instant{1'006'000'000});
    a.handle_timeout(at_ms(1006));
    EXPECT_EQ(text(drain_all(a)), (Lines{"send 7 PING\n"}));
    a.handle_timeout(at_ms(2006));
    EXPECT_EQ(text(drain_all(a)), (Lines{"send 7 PING\n"}));
    // Nothing received since 6 ms: silent at 3.006 s.
    a.handle_timeout(at_ms(3006));
    EXPECT_EQ(text(drain_all(a)), (Lines{"close 7 silent", "down Ball silent"}));
    EXPECT_EQ(a.stats().links_closed_silent, 1u);
}

TEST(NodeExact, RedialsBackOffExponentiallyWithJitterUpToFiveSeconds) {
    Node a = linked_alford();
    a.handle_closed(7, at_ms(10));
    EXPECT_EQ(text(drain_all(a)), (Lines{"down Ball connection lost"}));
    // Each delay is drawn from [backoff/2, backoff]; the backoff doubles from 100 ms to 5 s.
    std::int64_t now_ns = 10'000'000;
    std::int64_t backoff_ns = 100'000'000;
    for (int attempt = 0; attempt < 10; ++attempt) {
        const auto at = a.poll_timeout();
        ASSERT_TRUE(at);
        const std::int64_t delay = at->ns - now_ns;
        EXPECT_GE(delay, backoff_ns / 2) << "attempt " << attempt;
        EXPECT_LE(delay, backoff_ns) << "attempt " << attempt;
        a.handle_timeout(Now{*at, Timestamp{1479413884, 0}});
        EXPECT_EQ(text(drain_all(a)), (Lines{"dial Ball"})) << "attempt " << attempt;
        a.handle_dial_failed(*ServerName::parse("Ball"), Now{*at, Timestamp{1479413884, 0}});
        EXPECT_EQ(text(drain_all(a)), Lines{});
        now_ns = at->ns;
        backoff_ns = std::min<std::int64_t>(backoff_ns * 2, 5'000'000'000);
    }
    EXPECT_EQ(backoff_ns, 5'000'000'000);
}

TEST(NodeExact, AForgedHandshakeLeftPendingDoesNotStopTheRedial) {
    NodeConfig c = config("Alford", {"Ball"}, 0xA);
    c.secret = "the herd secret";
    Node a(c, at_ms(0));
    EXPECT_EQ(text(drain_all(a)), (Lines{"dial Ball"}));
    a.handle_dial_failed(*ServerName::parse("Ball"), at_ms(1));
    drain_all(a);
    // Someone claiming to be Ball opens a handshake and never finishes it (it lacks the secret).
    a.handle_accepted(50, at_ms(2));
    a.handle_bytes(50, format_hello(Hello{"Ball", "Alford", 0xBAD, 1}), at_ms(2));
    ASSERT_EQ(drain_all(a).size(), 1u);  // the WELCOME
    // The redial still happens when its timer is due (within the first backoff of 100 ms).
    const auto due = a.poll_timeout();
    ASSERT_TRUE(due);
    EXPECT_LE(due->ns, 101'000'000);
    a.handle_timeout(Now{*due, Timestamp{1479413884, 0}});
    EXPECT_EQ(text(drain_all(a)), (Lines{"dial Ball"}));
}

TEST(NodeExact, PendingHandshakesAndFailedAuthenticationsAreLimitedPerOrigin) {
    NodeConfig c = config("Alford", {"Ball"}, 0xA);
    c.secret = "the herd secret";
    c.limits.handshakes_per_origin_max = 2;
    c.limits.auth_failures_per_origin_max = 3;
    Node a(c, at_ms(0));
    drain_all(a);
    const std::string hello = format_hello(Hello{"Ball", "Alford", 0xBAD, 1});
    // Two pending handshakes from origin 7; the third is refused. Another origin is not.
    for (ConnectionId id : {10, 11, 12}) {
        a.handle_accepted(id, at_ms(1), Admission::anyone, 7);
        a.handle_bytes(id, hello, at_ms(1));
    }
    auto actions = text(drain_all(a));
    ASSERT_EQ(actions.size(), 4u);
    EXPECT_EQ(actions[2], "send 12 " + format_refused("too-many-handshakes"));
    EXPECT_EQ(actions[3], "close 12 too-many-handshakes");
    a.handle_accepted(13, at_ms(1), Admission::anyone, 8);
    a.handle_bytes(13, hello, at_ms(1));
    EXPECT_EQ(drain_all(a).size(), 1u);  // its WELCOME
    // Three wrong AUTHs from origin 9 within the window: its next HELLO is refused for 10 s.
    for (ConnectionId id : {20, 21, 22}) {
        a.handle_accepted(id, at_ms(2), Admission::anyone, 9);
        a.handle_bytes(id, hello + "AUTH 00\n", at_ms(2));
    }
    drain_all(a);
    a.handle_accepted(23, at_ms(3), Admission::anyone, 9);
    a.handle_bytes(23, hello, at_ms(3));
    EXPECT_EQ(text(drain_all(a)).back(), "close 23 too-many-failures");
    a.handle_accepted(24, at_ms(10'003), Admission::anyone, 9);
    a.handle_bytes(24, hello, at_ms(10'003));
    EXPECT_EQ(drain_all(a).size(), 1u);  // a WELCOME again
}

TEST(NodeExact, WithSecureTransportRequiredAPeerHandshakeNeedsASecuredConnection) {
    NodeConfig c = config("Alford", {"Ball"}, 0xA);
    c.peers_need_secure_transport = true;
    Node a(c, at_ms(0));
    drain_all(a);
    const std::string hello = format_hello(Hello{"Ball", "Alford", 0xB, 1});
    // In plain text: refused, and nothing about the link changes.
    a.handle_accepted(10, at_ms(1), Admission::anyone, 7);
    a.handle_bytes(10, hello, at_ms(1));
    EXPECT_EQ(text(drain_all(a)), (Lines{"send 10 " + format_refused("secure-transport-required"),
                                         "close 10 secure-transport-required"}));
    // A client on a plain connection is served as ever.
    a.handle_accepted(11, at_ms(1), Admission::anyone, 7);
    a.handle_bytes(11, "WHATSAT nobody 1 1\n", at_ms(1));
    EXPECT_EQ(replies_text(drain_all(a)), "? WHATSAT nobody 1 1\n");
    // Through a secured transport the same HELLO gets its WELCOME.
    a.handle_accepted(12, at_ms(2), Admission::anyone, 7);
    a.handle_transport_started(12, at_ms(2));
    EXPECT_TRUE(drain_all(a).empty());
    a.handle_transport_secured(12, at_ms(3));
    a.handle_bytes(12, hello, at_ms(3));
    const auto actions = drain_all(a);
    ASSERT_EQ(actions.size(), 1u);
    EXPECT_TRUE(parse_welcome(*std::get<SendToPeer>(actions[0]).bytes));
}

TEST(NodeExact, TransportHandshakesCountAgainstTheirOriginAndEndByTheDeadline) {
    NodeConfig c = config("Alford", {"Ball"}, 0xA);
    c.peers_need_secure_transport = true;
    c.limits.handshakes_per_origin_max = 2;
    c.limits.auth_failures_per_origin_max = 2;
    Node a(c, at_ms(0));
    drain_all(a);
    // Two transport handshakes pending from origin 7: a third is closed at once.
    for (ConnectionId id : {10, 11, 12}) {
        a.handle_accepted(id, at_ms(1), Admission::anyone, 7);
        a.handle_transport_started(id, at_ms(1));
    }
    EXPECT_EQ(text(drain_all(a)), (Lines{"close 12 too-many-handshakes"}));
    // Both fail (a wrong key): origin 7 is blocked for the window, others are not.
    a.handle_transport_failed(10, "tls: bad key", at_ms(2));
    a.handle_transport_failed(11, "tls: bad key", at_ms(2));
    EXPECT_EQ(text(drain_all(a)), (Lines{"close 10 tls: bad key", "close 11 tls: bad key"}));
    EXPECT_EQ(a.stats().transport_handshakes_failed, 2u);
    a.handle_accepted(13, at_ms(3), Admission::anyone, 7);
    a.handle_transport_started(13, at_ms(3));
    EXPECT_EQ(text(drain_all(a)), (Lines{"close 13 too-many-failures"}));
    // One that never finishes is closed at the handshake deadline (silence_timeout, 3 s).
    a.handle_accepted(14, at_ms(4), Admission::anyone, 8);
    a.handle_transport_started(14, at_ms(4));
    EXPECT_TRUE(drain_all(a).empty());
    ASSERT_TRUE(a.poll_timeout());
    EXPECT_EQ(a.poll_timeout()->ns, at_ms(3004).mono.ns);
    a.handle_timeout(at_ms(3004));
    EXPECT_EQ(text(drain_all(a)), (Lines{"close 14 handshake timed out"}));
}

TEST(NodeExact, AFullOriginTableForgetsTheOriginIdleLongestSoNoAddressIsLockedOut) {
    NodeConfig c = config("Alford", {"Ball"}, 0xA);
    c.peers_need_secure_transport = true;
    c.limits.origins_max = 3;
    Node a(c, at_ms(0));
    drain_all(a);
    // Three origins fail one TLS handshake each (remembered for the failure window) ...
    for (std::uint64_t origin : {1, 2, 3}) {
        a.handle_accepted(origin, at_ms(static_cast<std::int64_t>(origin)), Admission::anyone,
                          origin);
        a.handle_transport_started(origin, at_ms(static_cast<std::int64_t>(origin)));
        a.handle_transport_failed(origin, "tls: garbage", at_ms(static_cast<std::int64_t>(origin)));
    }
    drain_all(a);
    // ... and a fourth, the real peer's address, still gets its handshake: origin 1, idle
    // longest, is forgotten.
    a.handle_accepted(4, at_ms(5), Admission::anyone, 4);
    a.handle_transport_started(4, at_ms(5));
    EXPECT_TRUE(drain_all(a).empty());
    // With every tracked origin pending, a new one is refused.
    for (std::uint64_t origin : {2, 3}) {
        a.handle_accepted(10 + origin, at_ms(6), Admission::anyone, origin);
        a.handle_transport_started(10 + origin, at_ms(6));
    }
    drain_all(a);
    a.handle_accepted(20, at_ms(7), Admission::anyone, 99);
    a.handle_transport_started(20, at_ms(7));
    EXPECT_EQ(text(drain_all(a)), (Lines{"close 20 too-many-origins"}));
    EXPECT_EQ(a.stats().origin_refused_full, 1u);
}

TEST(NodeExact, TransportHandshakesInProgressAreBoundedForTheWholeServer) {
    NodeConfig c = config("Alford", {"Ball"}, 0xA);
    c.peers_need_secure_transport = true;
    c.limits.transport_handshakes_max = 2;
    Node a(c, at_ms(0));
    drain_all(a);
    for (ConnectionId id : {1, 2, 3}) {
        a.handle_accepted(id, at_ms(1), Admission::anyone, id);  // each from its own address
        a.handle_transport_started(id, at_ms(1));
    }
    EXPECT_EQ(text(drain_all(a)), (Lines{"close 3 too-many-tls-handshakes"}));
    // One ends (secured), one is closed by the peer: room for two more.
    a.handle_transport_secured(1, at_ms(2));
    a.handle_closed(2, at_ms(2));
    for (ConnectionId id : {4, 5}) {
        a.handle_accepted(id, at_ms(3), Admission::anyone, id);
        a.handle_transport_started(id, at_ms(3));
    }
    EXPECT_TRUE(drain_all(a).empty());
    a.handle_timeout(at_ms(3003));
    EXPECT_EQ(text(drain_all(a)),
              (Lines{"close 4 handshake timed out", "close 5 handshake timed out"}));
    EXPECT_EQ(a.stats().transport_handshakes_timed_out, 2u);
    EXPECT_EQ(a.stats().transport_refused_busy, 1u);
}

TEST(NodeExact, StalledHandshakesFromStrangersLeaveTheNeighboursSlotsFree) {
    NodeConfig c = config("Alford", {"Ball"}, 0xA);
    c.peers_need_secure_transport = true;
    c.limits.transport_handshakes_max = 2;
    c.limits.neighbour_handshakes_max = 1;
    c.neighbour_origins = {77};  // Ball's address, as the driver names it
    Node a(c, at_ms(0));
    drain_all(a);
    for (ConnectionId id : {1, 2, 3}) {
        a.handle_accepted(id, at_ms(1), Admission::anyone, id);  // strangers, stalling
        a.handle_transport_started(id, at_ms(1));
    }
    EXPECT_EQ(text(drain_all(a)), (Lines{"close 3 too-many-tls-handshakes"}));
    // Ball comes in all the same; a second handshake from its address waits for the first.
    a.handle_accepted(10, at_ms(2), Admission::anyone, 77);
    a.handle_transport_started(10, at_ms(2));
    EXPECT_TRUE(drain_all(a).empty());
    a.handle_accepted(11, at_ms(2), Admission::anyone, 77);
    a.handle_transport_started(11, at_ms(2));
    EXPECT_EQ(text(drain_all(a)), (Lines{"close 11 too-many-tls-handshakes"}));
    a.handle_transport_secured(10, at_ms(3));
    a.handle_accepted(12, at_ms(4), Admission::anyone, 77);
    a.handle_transport_started(12, at_ms(4));
    EXPECT_TRUE(drain_all(a).empty());
    // The strangers' slots are still theirs alone.
    a.handle_accepted(4, at_ms(5), Admission::anyone, 4);
    a.handle_transport_started(4, at_ms(5));
    EXPECT_EQ(text(drain_all(a)), (Lines{"close 4 too-many-tls-handshakes"}));
}

TEST(NodeExact, ACertificateForOneServerCannotHandshakeAsAnother) {
    NodeConfig c = config("Alford", {"Ball", "Welsh"}, 0xA);
    c.peers_need_secure_transport = true;
    Node a(c, at_ms(0));
    drain_all(a);
    a.handle_accepted(1, at_ms(1), Admission::anyone, 7);
    a.handle_transport_started(1, at_ms(1));
    a.handle_transport_secured(1, at_ms(2), "Welsh");
    a.handle_bytes(1, format_hello(Hello{"Ball", "Alford", 0xB, 1}), at_ms(2));
    EXPECT_EQ(text(drain_all(a)), (Lines{"send 1 " + format_refused("identity-mismatch"),
                                         "close 1 identity-mismatch"}));
    // Dialed: Ball's address answered with Welsh's certificate. Closed, and Ball redialed.
    a.handle_dialed(5, *ServerName::parse("Ball"), at_ms(3), "Welsh");
    EXPECT_EQ(text(drain_all(a)), (Lines{"close 5 its certificate names 'Welsh', not Ball"}));
    EXPECT_TRUE(a.poll_timeout().has_value());  // the redial
    a.handle_accepted(2, at_ms(3), Admission::anyone, 7);
    a.handle_transport_started(2, at_ms(3));
    a.handle_transport_secured(2, at_ms(4), "Welsh");
    a.handle_bytes(2, format_hello(Hello{"Welsh", "Alford", 0xC, 1}), at_ms(4));
    const auto actions = drain_all(a);
    ASSERT_EQ(actions.size(), 1u);
    EXPECT_TRUE(parse_welcome(*std::get<SendToPeer>(actions[0]).bytes));
}

TEST(NodeExact, ClientLinesAreCountedByWhatTheyWere) {
    Node a(config("Alford", {}, 0xA), at_ms(0));
    a.handle_accepted(1, at_ms(1));
    a.handle_bytes(1,
                   "IAMAT kiwi +1.0+1.0 1479413884\nWHATSAT kiwi 1 1\nWHATSAT nobody 1 1\n"
                   "iamat lower case\n\n",
                   at_ms(1));
    drain_all(a);
    EXPECT_EQ(a.stats().client_iamats, 1u);
    EXPECT_EQ(a.stats().client_whatsats, 1u);
    EXPECT_EQ(a.stats().client_lines_invalid, 2u);  // an unknown client, a lower-case verb
}

TEST(NodeExact, OriginsTrackedAtOnceAreBounded) {
    NodeConfig c = config("Alford", {"Ball"}, 0xA);
    c.limits.origins_max = 2;
    Node a(c, at_ms(0));
    drain_all(a);
    const std::string hello = format_hello(Hello{"Ball", "Alford", 0xB, 1});
    for (std::uint64_t origin : {1, 2, 3}) {
        a.handle_accepted(origin, at_ms(1), Admission::anyone, origin);
        a.handle_bytes(origin, hello, at_ms(1));
    }
    EXPECT_EQ(text(drain_all(a)).back(), "close 3 too-many-origins");
    // Once origin 1's handshake is over it is forgotten, and a new origin has room.
    a.handle_closed(1, at_ms(2));
    drain_all(a);
    a.handle_accepted(4, at_ms(3), Admission::anyone, 4);
    a.handle_bytes(4, hello, at_ms(3));
    const auto actions = drain_all(a);
    ASSERT_EQ(actions.size(), 1u);
    EXPECT_TRUE(parse_welcome(*std::get<SendToPeer>(actions[0]).bytes));
}

TEST(NodeExact, RestoredRecordsFollowTheConflictRuleAndAreNeitherFloodedNorReported) {
    Node a(config("Alford", {"Ball"}, 0xA), at_ms(0));
    EXPECT_TRUE(a.restore_record("AT Ball +0.000000001 kiwi +1.0+1.0 1479413885"));
    EXPECT_TRUE(a.restore_record("AT Alford +0.000000001 kiwi +2.0+2.0 1479413884"));  // older
    EXPECT_FALSE(a.restore_record("AT nonsense"));
    EXPECT_EQ(a.store().find("kiwi")->origin(), "Ball");
    EXPECT_EQ(text(drain_all(a)), (Lines{"dial Ball"}));  // only what the Node asked at start
    EXPECT_EQ(a.stats().records_applied, 0u);
}

}  // namespace
}  // namespace herd::test

// The per-origin handshake limits, alone (core/handshake_origins.hpp); the Node's use of them is
// tested in node_exact_test (PendingHandshakesAndFailedAuthenticationsAreLimitedPerOrigin).
#include "core/handshake_origins.hpp"

#include <gtest/gtest.h>

namespace herd {
namespace {

using Refusal = HandshakeOrigins::Refusal;

NodeLimits small_limits() {
    NodeLimits l;
    l.handshakes_per_origin_max = 2;
    l.auth_failures_per_origin_max = 3;
    l.auth_failure_window = Duration::seconds(10);
    l.origins_max = 2;
    return l;
}

Instant at_s(std::int64_t s) {
    return Instant{s * 1'000'000'000};
}

TEST(HandshakeOrigins, AnOriginMayHaveOnlySoManyPending) {
    HandshakeOrigins o(small_limits());
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(o.refusal(7, at_s(0)), Refusal::none);
        o.begin(7);
    }
    EXPECT_EQ(o.refusal(7, at_s(0)), Refusal::pending);
    EXPECT_STREQ(refusal_reason(Refusal::pending), "too-many-handshakes");
    o.done(7, at_s(1));
    EXPECT_EQ(o.refusal(7, at_s(1)), Refusal::none);
}

TEST(HandshakeOrigins, FailuresWithinTheWindowBlockTheOriginForTheWindow) {
    HandshakeOrigins o(small_limits());
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(o.refusal(7, at_s(i)), Refusal::none);
        o.begin(7);
        o.failed(7, at_s(i));
        o.done(7, at_s(i));
    }
    EXPECT_EQ(o.refusal(7, at_s(3)), Refusal::blocked);
    EXPECT_EQ(o.refusal(7, at_s(11)), Refusal::blocked);  // blocked until 2 s + 10 s
    EXPECT_EQ(o.refusal(7, at_s(12)), Refusal::none);
    // Failures spread wider than the window never block.
    HandshakeOrigins spread(small_limits());
    for (int i = 0; i < 6; ++i) {
        ASSERT_EQ(spread.refusal(8, at_s(i * 6)), Refusal::none);
        spread.begin(8);
        spread.failed(8, at_s(i * 6));
        spread.done(8, at_s(i * 6));
    }
}

TEST(HandshakeOrigins, WhenFullTheOriginIdleLongestIsForgottenAndOnlyAllPendingRefuses) {
    HandshakeOrigins o(small_limits());
    // Two origins with a failure each are kept while idle.
    for (std::uint64_t origin : {1u, 2u}) {
        ASSERT_EQ(o.refusal(origin, at_s(static_cast<std::int64_t>(origin))), Refusal::none);
        o.begin(origin);
        o.failed(origin, at_s(static_cast<std::int64_t>(origin)));
        o.done(origin, at_s(static_cast<std::int64_t>(origin)));
    }
    EXPECT_EQ(o.tracked(), 2u);
    // A third takes the room of origin 1, idle longest.
    ASSERT_EQ(o.refusal(3, at_s(5)), Refusal::none);
    o.begin(3);
    EXPECT_EQ(o.tracked(), 2u);
    ASSERT_EQ(o.refusal(2, at_s(5)), Refusal::none);  // 2 is still known
    o.begin(2);
    // Both tracked origins now have a handshake pending: a new one is refused.
    EXPECT_EQ(o.refusal(4, at_s(5)), Refusal::full);
    EXPECT_STREQ(refusal_reason(Refusal::full), "too-many-origins");
}

TEST(HandshakeOrigins, AnUnnamedOriginIsNeverLimited) {
    HandshakeOrigins o(small_limits());
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(o.refusal(0, at_s(0)), Refusal::none);
    EXPECT_EQ(o.tracked(), 0u);
    EXPECT_EQ(refusal_reason(Refusal::none), nullptr);
}

}  // namespace
}  // namespace herd

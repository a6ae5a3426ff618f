// The simulator's agenda (sim/event_queue.hpp): events come out in (time, insertion) order
// whatever bucket, heap or window they went through.
#include "sim/event_queue.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <tuple>

#include "core/prng.hpp"

namespace herd::sim {
namespace {

using Queue = EventQueue<std::unique_ptr<int>>;

// Pushes and pops at random against an ordered set of (time, number pushed); `spread_ns` is how
// far ahead of now events are due. Every pop must give the set's first element.
void check_against_order(std::uint64_t seed, std::int64_t spread_ns, int operations) {
    Queue queue;
    std::set<std::pair<std::int64_t, int>> expected;
    Prng prng(seed);
    std::int64_t now = 0;
    int pushed = 0;
    for (int op = 0; op < operations; ++op) {
        const bool pop = !expected.empty() && prng.below(100) < 45;
        if (!pop) {
            // Some at this very instant, some just ahead, some far past the wheel's window.
            std::int64_t ahead =
                static_cast<std::int64_t>(prng.below(static_cast<std::uint64_t>(spread_ns)));
            if (prng.below(10) == 0) ahead = 0;
            if (prng.below(20) == 0) ahead = 400'000'000 + ahead;
            queue.push(Instant{now + ahead}, std::make_unique<int>(pushed));
            expected.emplace(now + ahead, pushed);
            pushed += 1;
            continue;
        }
        // A look at the next time (which may move the wheel on) before pushing earlier events.
        ASSERT_EQ(queue.next_time().ns, expected.begin()->first);
        auto [at, payload] = queue.pop();
        ASSERT_EQ(at.ns, expected.begin()->first) << "op " << op;
        ASSERT_EQ(*payload, expected.begin()->second) << "op " << op;
        expected.erase(expected.begin());
        now = at.ns;
        ASSERT_EQ(queue.size(), expected.size());
    }
    while (!expected.empty()) {
        auto [at, payload] = queue.pop();
        ASSERT_EQ(at.ns, expected.begin()->first);
        ASSERT_EQ(*payload, expected.begin()->second);
        expected.erase(expected.begin());
    }
    EXPECT_TRUE(queue.empty());
}

TEST(EventQueue, GivesEventsInTimeThenInsertionOrder) {
    // Spreads inside one bucket, across the window, and well past it.
    for (std::int64_t spread : {std::int64_t{1'000}, std::int64_t{5'000'000},
                                std::int64_t{40'000'000}, std::int64_t{2'000'000'000}}) {
        for (std::uint64_t seed = 1; seed <= 4; ++seed)
            check_against_order(seed * 7919 + static_cast<std::uint64_t>(spread), spread, 20'000);
    }
}

TEST(EventQueue, AnEventPushedBeforeTheWheelsNextBucketStillComesFirst) {
    Queue queue;
    queue.push(Instant{10'000'000}, std::make_unique<int>(1));
    EXPECT_EQ(queue.next_time().ns, 10'000'000);  // the wheel moves on to that bucket
    queue.push(Instant{5}, std::make_unique<int>(2));
    queue.push(Instant{10'000'000}, std::make_unique<int>(3));
    EXPECT_EQ(*queue.pop().second, 2);
    EXPECT_EQ(*queue.pop().second, 1);
    EXPECT_EQ(*queue.pop().second, 3);
    EXPECT_TRUE(queue.empty());
}

TEST(EventQueue, AQuietStretchThenABurstKeepsOrder) {
    Queue queue;
    queue.push(Instant{3'000'000'000}, std::make_unique<int>(1));  // far past the window
    auto [at, one] = queue.pop();
    EXPECT_EQ(*one, 1);
    for (int i = 0; i < 100; ++i)
        queue.push(Instant{at.ns + (i % 7) * 1'000'000}, std::make_unique<int>(i));
    int last_time = -1;
    std::vector<int> seen;
    while (!queue.empty()) {
        auto [t, p] = queue.pop();
        const int step = static_cast<int>((t.ns - at.ns) / 1'000'000);
        EXPECT_GE(step, last_time);
        if (step == last_time) {
            EXPECT_GT(*p, seen.back());
        }
        last_time = step;
        seen.push_back(*p);
    }
    EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace herd::sim

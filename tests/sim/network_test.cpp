// The simulated network (sim/network): FIFO per direction, the socket buffer, and the two close
// modes as a real socket has them.
#include "sim/network.hpp"

#include <gtest/gtest.h>

namespace herd::sim {
namespace {

struct Fixture {
    Scenario sc;
    EventQueue<Event> queue;
    Trace trace{nullptr, false};
    Prng prng{1};
    Network net{sc, queue, trace, prng};

    Fixture() {
        sc.herd = line_herd(2);
        sc.latency = Distribution::constant(Duration::milliseconds(1));
    }
    // Pops every event up to `until`, in order, as (time, kind, size or -1).
    std::vector<std::tuple<std::int64_t, std::string, long>> events() {
        std::vector<std::tuple<std::int64_t, std::string, long>> out;
        while (!queue.empty()) {
            auto [at, e] = queue.pop();
            if (auto* d = std::get_if<EvDeliver>(&e))
                out.emplace_back(at.ns, "deliver", static_cast<long>(d->bytes->size()));
            else if (std::holds_alternative<EvCloseNotice>(e))
                out.emplace_back(at.ns, "close", -1);
        }
        return out;
    }
};

SharedBytes bytes(std::size_t n) {
    return std::make_shared<const std::string>(n, 'x');
}

using Events = std::vector<std::tuple<std::int64_t, std::string, long>>;

TEST(SimNetwork, BytesBeyondTheSocketBufferWaitForEarlierOnesToArrive) {
    Fixture f;
    const std::uint64_t id = f.net.open(0, 1, Instant{0});
    f.net.transmit(Instant{0}, id, 0, bytes(3u << 20));
    f.net.transmit(Instant{0}, id, 0, bytes(3u << 20));  // 6 MiB > 4 MiB: waits
    EXPECT_EQ(f.events(), (Events{{1'000'000, "deliver", 3 << 20}}));
    f.net.delivered(Instant{1'000'000}, id, 0, 3u << 20);
    EXPECT_EQ(f.events(), (Events{{2'000'000, "deliver", 3 << 20}}));
}

TEST(SimNetwork, CloseNowDropsWhatWaitsAndCloseAfterFlushSendsItFirst) {
    for (const CloseMode mode : {CloseMode::now, CloseMode::after_flush}) {
        Fixture f;
        const std::uint64_t id = f.net.open(0, 1, Instant{0});
        f.net.transmit(Instant{0}, id, 0, bytes(3u << 20));
        f.net.transmit(Instant{0}, id, 0, bytes(2u << 20));
        f.net.close(Instant{0}, id, 0, mode);
        if (mode == CloseMode::now) {
            // What was on the wire still arrives, then the close; the waiting bytes are gone.
            EXPECT_EQ(f.events(),
                      (Events{{1'000'000, "deliver", 3 << 20}, {1'000'000, "close", -1}}));
            EXPECT_EQ(f.net.bytes_dropped(), 2u << 20);
        } else {
            EXPECT_EQ(f.events(), (Events{{1'000'000, "deliver", 3 << 20}}));
            f.net.delivered(Instant{1'000'000}, id, 0, 3u << 20);
            EXPECT_EQ(f.events(),
                      (Events{{2'000'000, "deliver", 2 << 20}, {2'000'000, "close", -1}}));
            EXPECT_EQ(f.net.bytes_dropped(), 0u);
        }
    }
}

TEST(SimNetwork, ALaterMessageNeverOvertakesAnEarlierOne) {
    Fixture f;
    f.sc.latency = *parse_distribution("uniform(1ms,50ms)");
    const std::uint64_t id = f.net.open(0, 1, Instant{0});
    for (int i = 0; i < 200; ++i)
        f.net.transmit(Instant{i * 1000}, id, 0, bytes(static_cast<std::size_t>(i + 1)));
    long last_size = 0;
    std::int64_t last_at = 0;
    for (const auto& [at, kind, size] : f.events()) {
        EXPECT_GE(at, last_at);
        EXPECT_EQ(size, last_size + 1);
        last_at = at;
        last_size = size;
    }
    EXPECT_EQ(last_size, 200);
}

TEST(LinkFaults, PartitionsAndCutsSayWhoCannotTalk) {
    LinkFaults faults(4);
    EXPECT_TRUE(faults.apply(PartitionStep{{{0, 1}, {2}}}));
    EXPECT_FALSE(faults.is_cut(0, 1));
    EXPECT_TRUE(faults.is_cut(1, 2));
    EXPECT_TRUE(faults.is_cut(3, 0));  // named in no group: a group of its own
    EXPECT_TRUE(faults.apply(HealStep{}));
    EXPECT_FALSE(faults.is_cut(3, 0));
    EXPECT_TRUE(faults.apply(CutStep{2, 1}));
    EXPECT_TRUE(faults.is_cut(1, 2));
    // A new partition replaces the old one but leaves cuts alone.
    faults.apply(PartitionStep{{{0}, {1, 2, 3}}});
    faults.apply(PartitionStep{{{0, 1, 2, 3}}});
    EXPECT_TRUE(faults.is_cut(1, 2));
    EXPECT_FALSE(faults.is_cut(0, 1));
    EXPECT_TRUE(faults.apply(RestoreStep{1, 2}));
    EXPECT_FALSE(faults.is_cut(1, 2));
    EXPECT_FALSE(faults.apply(CrashStep{1}));
}

TEST(SimNetwork, AsksTheLinkFaults) {
    Fixture f;
    f.net.apply_fault(CutStep{0, 1});
    EXPECT_TRUE(f.net.is_cut(1, 0));
}

}  // namespace
}  // namespace herd::sim

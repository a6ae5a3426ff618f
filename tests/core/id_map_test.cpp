// IdMap: finds what was inserted and not erased, whatever the order of inserts and erases
// (checked against std::map), and keeps objects where they are while its table is resized.
#include "core/id_map.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/prng.hpp"

namespace herd {
namespace {

TEST(IdMap, FindsWhatWasInsertedAndNotErased) {
    IdMap<std::string> m;
    EXPECT_EQ(m.find(7), nullptr);
    m.emplace(7, "seven");
    m.emplace(0, "zero");
    ASSERT_NE(m.find(7), nullptr);
    EXPECT_EQ(*m.find(7), "seven");
    EXPECT_EQ(*m.find(0), "zero");
    EXPECT_TRUE(m.erase(7));
    EXPECT_FALSE(m.erase(7));
    EXPECT_EQ(m.find(7), nullptr);
    EXPECT_EQ(m.size(), 1u);
}

TEST(IdMap, AgreesWithAnOrderedMapOverRandomInsertsAndErases) {
    // Ids from a small range collide in the table's runs and wrap around its end; erases in
    // the middle of runs exercise the backward shift; sizes go up and down through resizes.
    IdMap<std::uint64_t> m;
    std::map<std::uint64_t, std::uint64_t> want;
    Prng prng(3);
    for (int step = 0; step < 200'000; ++step) {
        const std::uint64_t id = prng.below(step < 100'000 ? 4'096 : 64);
        if (prng.below(2) == 0 && !want.count(id)) {
            m.emplace(id, id * 3);
            want[id] = id * 3;
        } else {
            EXPECT_EQ(m.erase(id), want.erase(id) == 1);
        }
        if (step % 997 == 0) {
            ASSERT_EQ(m.size(), want.size());
            for (std::uint64_t probe = 0; probe < 4'096; ++probe) {
                const auto it = want.find(probe);
                const std::uint64_t* got = m.find(probe);
                ASSERT_EQ(got == nullptr, it == want.end()) << "id " << probe << " step " << step;
                if (got) ASSERT_EQ(*got, it->second);
            }
        }
    }
    std::map<std::uint64_t, std::uint64_t> seen;
    m.for_each([&](std::uint64_t id, const std::uint64_t& v) { seen[id] = v; });
    EXPECT_EQ(seen, want);
}

TEST(IdMap, ObjectsStayWhereTheyAreWhileTheTableGrowsAndShrinks) {
    IdMap<int> m;
    int& kept = m.emplace(1, 42);
    for (std::uint64_t id = 2; id < 10'000; ++id)
        m.emplace(id, 0);
    for (std::uint64_t id = 2; id < 10'000; ++id)
        m.erase(id);
    EXPECT_EQ(m.find(1), &kept);
    EXPECT_EQ(kept, 42);
    EXPECT_EQ(m.size(), 1u);
}

}  // namespace
}  // namespace herd

// Samples (sim/samples.hpp): exact while small, a bounded log-bucket histogram past
// samples_exact_max, within 1 % of the exact nearest-rank percentile at every rank either way.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/prng.hpp"
#include "sim/samples.hpp"
#include "sim/visibility.hpp"

namespace herd::sim {
namespace {

// The exact nearest rank of sorted values.
std::int64_t exact_rank(const std::vector<std::int64_t>& sorted, std::uint64_t per_100k) {
    std::uint64_t rank = (per_100k * sorted.size() + 99'999) / 100'000;
    return sorted[std::max<std::uint64_t>(rank, 1) - 1];
}

// Both ways: the samples, and the sorted vector they must agree with.
struct Both {
    Samples samples;
    std::vector<std::int64_t> sorted;
    void add(std::int64_t ns) {
        samples.add(ns);
        sorted.push_back(ns);
    }
    void seal() {
        samples.seal();
        std::sort(sorted.begin(), sorted.end());
    }
};

void expect_every_rank_within_one_percent(const Both& b) {
    for (std::uint64_t per_100k = 0; per_100k <= 100'000; per_100k += 37) {
        const std::int64_t want = exact_rank(b.sorted, per_100k);
        const std::int64_t got = b.samples.nearest_rank(per_100k);
        if (want == Samples::never) {
            EXPECT_EQ(got, Samples::never) << per_100k;
            continue;
        }
        const std::int64_t off = got > want ? got - want : want - got;
        ASSERT_LE(off * 100, want)
            << "at " << per_100k << " of 100 000: " << got << " for " << want;
    }
}

TEST(Samples, SmallRunsAreExact) {
    Both b;
    for (std::int64_t v : std::vector<std::int64_t>{5, 3, 3, 1'000'000, 2, Samples::never, 7})
        b.add(v);
    b.seal();
    ASSERT_TRUE(b.samples.exact());
    EXPECT_EQ(b.samples.values(), b.sorted);
    EXPECT_EQ(b.samples.size(), 7u);
    EXPECT_EQ(b.samples.never_count(), 1u);
    EXPECT_EQ(b.samples.min_finite(), 2);
    EXPECT_EQ(b.samples.max_finite(), 1'000'000);
    for (std::uint64_t per_100k = 0; per_100k <= 100'000; per_100k += 1'000)
        EXPECT_EQ(b.samples.nearest_rank(per_100k), exact_rank(b.sorted, per_100k)) << per_100k;
}

TEST(Samples, PastTheExactBoundEveryPercentileIsWithinOnePercent) {
    Prng prng(11);
    Both uniform, spread, lumpy;
    for (int i = 0; i < 300'000; ++i) {
        uniform.add(1'000'000 + static_cast<std::int64_t>(prng.below(4'000'000)));
        // From nanoseconds to seconds: every bucket size.
        const int power = static_cast<int>(prng.below(34));
        spread.add(static_cast<std::int64_t>(prng.below(std::uint64_t{2} << power)));
        // Few distinct values, some never.
        lumpy.add(i % 97 == 0 ? Samples::never : 1000 * static_cast<std::int64_t>(prng.below(5)));
    }
    for (Both* b : {&uniform, &spread, &lumpy}) {
        b->seal();
        EXPECT_FALSE(b->samples.exact());
        EXPECT_EQ(b->samples.size(), b->sorted.size());
        expect_every_rank_within_one_percent(*b);
        // The extremes are exact.
        const auto finite_end =
            std::lower_bound(b->sorted.begin(), b->sorted.end(), Samples::never);
        EXPECT_EQ(b->samples.min_finite(), b->sorted.front());
        EXPECT_EQ(b->samples.max_finite(), *std::prev(finite_end));
    }
    EXPECT_EQ(lumpy.samples.never_count(), 300'000u / 97 + 1);
}

TEST(Samples, MemoryStaysBoundedWhateverTheCount) {
    Prng prng(3);
    Samples s;
    std::size_t after_a_million = 0;
    for (int i = 1; i <= 3'000'000; ++i) {
        s.add(static_cast<std::int64_t>(prng.below(10'000'000'000)));  // up to 10 s
        if (i == 1'000'000) after_a_million = s.heap_bytes();
    }
    EXPECT_LE(after_a_million, 180'000u);
    EXPECT_EQ(s.heap_bytes(), after_a_million);
    EXPECT_EQ(s.size(), 3'000'000u);
}

TEST(Samples, ABucketOfOneValueReportsItExactlyAndNegativesAreKept) {
    // A constant latency past the exact bound: every rank is that latency, not a bucket's middle.
    Samples constant;
    for (int i = 0; i < 20'000; ++i)
        constant.add(i % 3 == 0 ? 3'000'000 : 6'000'000);
    constant.seal();
    ASSERT_FALSE(constant.exact());
    EXPECT_EQ(constant.nearest_rank(30'000), 3'000'000);
    EXPECT_EQ(constant.nearest_rank(50'000), 6'000'000);
    Samples twice;
    twice.add(constant);
    twice.add(constant);
    twice.seal();
    EXPECT_EQ(twice.nearest_rank(30'000), 3'000'000);
    // Two processes' clocks can make a duration negative: kept while exact, 0 when bucketed.
    Samples skewed;
    skewed.add(-5);
    skewed.add(7);
    skewed.seal();
    EXPECT_EQ(skewed.values(), (std::vector<std::int64_t>{-5, 7}));
    for (int i = 0; i < 10'000; ++i)
        skewed.add(-3);
    skewed.seal();
    EXPECT_EQ(skewed.nearest_rank(50'000), -3);
    EXPECT_EQ(skewed.min_finite(), -5);
}

TEST(Samples, MergingKeepsEverySampleExactWhileSmallAndBucketedPast) {
    Samples a, b;
    for (std::int64_t v : {4, 1, 9})
        a.add(v);
    for (std::int64_t v : std::vector<std::int64_t>{2, Samples::never})
        b.add(v);
    a.seal();
    b.seal();
    Samples both;
    both.add(a);
    both.add(b);
    both.seal();
    EXPECT_EQ(both.values(), (std::vector<std::int64_t>{1, 2, 4, 9, Samples::never}));

    Prng prng(9);
    Both whole;
    Samples halves[2];
    for (int i = 0; i < 40'000; ++i) {
        const auto v = static_cast<std::int64_t>(prng.below(3'000'000));
        whole.add(v);
        halves[i % 2].add(v);
    }
    whole.seal();
    for (Samples& h : halves)
        h.seal();
    Samples merged;
    merged.add(halves[0]);
    merged.add(halves[1]);
    merged.seal();
    EXPECT_EQ(merged.size(), whole.sorted.size());
    for (std::uint64_t per_100k = 1'000; per_100k <= 100'000; per_100k += 1'000)
        EXPECT_EQ(merged.nearest_rank(per_100k), whole.samples.nearest_rank(per_100k));
}

TEST(Samples, LargestGapBetweenCurvesIsZeroForOneDistributionAndSeesAShift) {
    Prng prng(13);
    Samples a, shifted;
    for (int i = 0; i < 20'000; ++i) {
        const auto v = 1'000'000 + static_cast<std::int64_t>(prng.below(1'000'000));
        a.add(v);
        shifted.add(v + 500'000);  // half the range later: half apart from 1.5 to 2 ms
    }
    a.seal();
    shifted.seal();
    EXPECT_EQ(largest_gap(a, a).per_100k, 0u);
    const CurveGap g = largest_gap(a, shifted);
    EXPECT_NEAR(static_cast<double>(g.per_100k), 50'000.0, 1'500.0);
    EXPECT_GE(g.at_ns, 1'450'000);
    EXPECT_LE(g.at_ns, 2'050'000);
}

}  // namespace
}  // namespace herd::sim

#include "sim/distribution.hpp"

#include <gtest/gtest.h>

#include "sim/det_math.hpp"

namespace herd::sim {
namespace {

TEST(Durations, FormatPicksTheLargestExactUnit) {
    EXPECT_EQ(format_duration(Duration::seconds(2)), "2s");
    EXPECT_EQ(format_duration(Duration::milliseconds(1500)), "1500ms");
    EXPECT_EQ(format_duration(Duration{1234}), "1234ns");
    EXPECT_EQ(format_duration(Duration::milliseconds(-3)), "-3ms");
}

TEST(Distributions, ConstantAndUniformStayInBounds) {
    Prng prng(1);
    EXPECT_EQ(parse_distribution("5ms")->sample(prng), Duration::milliseconds(5));
    const auto u = *parse_distribution("uniform(1ms,5ms)");
    Duration lo = Duration::seconds(1), hi{0};
    for (int i = 0; i < 10000; ++i) {
        const Duration d = u.sample(prng);
        lo = std::min(lo, d);
        hi = std::max(hi, d);
    }
    EXPECT_GE(lo, Duration::milliseconds(1));
    EXPECT_LE(hi, Duration::milliseconds(5));
    EXPECT_LT(lo, Duration::microseconds(1010));
    EXPECT_GT(hi, Duration::microseconds(4990));
}

TEST(Distributions, NormalIsClampedAtZeroAndCentred) {
    Prng prng(2);
    const auto n = *parse_distribution("normal(1ms,2ms)");
    std::int64_t sum = 0;
    int zeros = 0;
    for (int i = 0; i < 20000; ++i) {
        const Duration d = n.sample(prng);
        EXPECT_GE(d.ns, 0);
        zeros += d.ns == 0;
        sum += d.ns;
    }
    EXPECT_GT(zeros, 5000);  // about 31% of N(1,2) lies below 0
    const auto m = *parse_distribution("normal(10ms,1ms)");
    sum = 0;
    for (int i = 0; i < 20000; ++i)
        sum += m.sample(prng).ns;
    EXPECT_NEAR(static_cast<double>(sum) / 20000, 10e6, 0.05e6);
}

TEST(Distributions, ExponentialHasItsMean) {
    Prng prng(3);
    const auto e = *parse_distribution("exp(5ms)");
    std::int64_t sum = 0;
    for (int i = 0; i < 50000; ++i)
        sum += e.sample(prng).ns;
    EXPECT_NEAR(static_cast<double>(sum) / 50000, 5e6, 0.15e6);
}

TEST(Distributions, SameSeedSameDraws) {
    Prng a(99), b(99);
    const auto e = *parse_distribution("normal(5ms,1ms)");
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(e.sample(a), e.sample(b));
}

TEST(DetMath, LogMatchesKnownValues) {
    EXPECT_DOUBLE_EQ(det_log(1.0), 0.0);
    EXPECT_NEAR(det_log(2.718281828459045), 1.0, 1e-15);
    EXPECT_NEAR(det_log(10.0), 2.302585092994046, 1e-15);
    EXPECT_NEAR(det_log(1e-300), -690.7755278982137, 1e-12);
    EXPECT_NEAR(det_log(0.5), -0.6931471805599453, 1e-16);
}

}  // namespace
}  // namespace herd::sim

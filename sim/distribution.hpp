// Distribution: a latency (or any duration) drawn from the scenario's seeded PRNG.
//   5ms   uniform(1ms,5ms)   normal(5ms,1ms) (clamped at 0)   exp(5ms)
// Every draw is integer nanoseconds, computed with deterministic arithmetic only.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/prng.hpp"
#include "core/time.hpp"

namespace herd::sim {

class Distribution {
  public:
    enum class Kind { constant, uniform, normal, exponential };

    static Distribution constant(Duration d) { return Distribution(Kind::constant, d, d); }
    static Distribution uniform(Duration lo, Duration hi) {
        return Distribution(Kind::uniform, lo, hi);
    }
    static Distribution normal(Duration mean, Duration sigma) {
        return Distribution(Kind::normal, mean, sigma);
    }
    static Distribution exponential(Duration mean) {
        return Distribution(Kind::exponential, mean, mean);
    }

    Duration sample(Prng& prng) const;
    Kind kind() const { return kind_; }
    bool is_zero() const { return kind_ == Kind::constant && a_.ns == 0; }
    Duration largest_parameter() const { return a_.ns > b_.ns ? a_ : b_; }
    // The distribution as written in a scenario ("uniform(1ms,5ms)").
    std::string describe() const;

  private:
    Distribution(Kind k, Duration a, Duration b) : kind_(k), a_(a), b_(b) {}
    Kind kind_;
    Duration a_;
    Duration b_;
};

// Durations are parsed by core's parse_duration ("12ms", "1.5s", "250us", "7ns", "-2s").
// Every duration in a distribution is at most this (one hour): scenario times plus any number of
// draws stay far from overflow, and no link is slower than a day of simulated time is long.
inline constexpr Duration distribution_duration_max = Duration::milliseconds(3'600'000);

std::optional<Distribution> parse_distribution(std::string_view text);
// True for `uniform(A,B)` with two durations and A > B: the one way a well-formed distribution is
// refused, said apart so the error can name it.
bool uniform_reversed(std::string_view text);
std::string format_duration(Duration d);

}  // namespace herd::sim

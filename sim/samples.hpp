// Samples: a distribution of durations in nanoseconds (propagation times, t-visibility windows)
// in bounded memory. INT64_MAX is a sample that never happened (a pair the run ended on).
//
// Up to `samples_exact_max` samples are kept one by one, so a small run reports exactly what it
// measured. Past that, every sample goes into a log-bucket histogram: durations under 256 ns one
// bucket each, above that 128 buckets per power of two, so a bucket is at most 1/128 of its
// values wide. A bucket keeps its count and its smallest and largest sample, and reports the
// middle of its width kept within those two: within 0.4 % of every sample in it, and exact when
// they are one value (a constant latency). Memory then stays under 180 KB whatever the run's
// length: a day-long run costs no more than a second's (`Samples::heap_bytes`).
//
// Readers see the distribution as ascending steps (a value and how many samples have it), which
// is all a percentile, a curve or the gap between two curves needs. A count within a bound that
// must be exact (`expect visibility`) is kept by the checker as the samples arrive.
#pragma once

#include <cstdint>
#include <vector>

#include "core/assert.hpp"

namespace herd::sim {

// Kept one by one up to this many samples (64 KB); then bucketed. A negative duration (clocks of
// two processes) is kept as it is while exact, and bucketed with the durations under 1 ns.
inline constexpr std::size_t samples_exact_max = 8192;

// The nearest-rank rule: the 1-based rank of the smallest of `n` sorted samples that at least
// per_100k / 100 000 of them are at or below (n > 0).
inline std::uint64_t nearest_rank_of(std::uint64_t n, std::uint64_t per_100k) {
    HERD_ASSERT(n > 0 && per_100k <= 100'000);
    const std::uint64_t rank = (per_100k * n + 99'999) / 100'000;
    return rank == 0 ? 1 : rank;
}

class Samples {
  public:
    static constexpr std::int64_t never = INT64_MAX;

    void add(std::int64_t ns);
    // Every sample of `other` too. Both must be sealed, or neither read before sealing.
    void add(const Samples& other);
    // Done adding: sorts the exact samples. Readers below need it.
    void seal();

    std::uint64_t size() const { return count_; }
    bool empty() const { return count_ == 0; }
    // Whether every sample is still kept one by one (a small run).
    bool exact() const { return buckets_.empty(); }
    // How many are `never`.
    std::uint64_t never_count() const { return never_; }
    // The smallest and largest finite samples (0 when there is none).
    std::int64_t min_finite() const { return finite() ? min_ : 0; }
    std::int64_t max_finite() const { return finite() ? max_ : 0; }
    // The smallest sample above zero (0 when there is none).
    std::int64_t min_nonzero() const;

    // The k-th smallest sample, 1-based (k <= size()); `never` when it is one.
    std::int64_t at_rank(std::uint64_t k) const;
    // Nearest rank: the smallest value at least per_100k / 100 000 of the samples are at or
    // below (not empty).
    std::int64_t nearest_rank(std::uint64_t per_100k) const;

    // f(value, count) for each distinct value (bucket) in ascending order, `never` last.
    template <typename F>
    void for_each_step(F&& f) const;

    // The heap bytes held (capacity): at most samples_exact_max samples' worth, or the buckets.
    std::size_t heap_bytes() const {
        return exact_.capacity() * sizeof(std::int64_t) + buckets_.capacity() * sizeof(Bucket);
    }

    // The samples themselves, ascending, `never` last: only while exact() (tests, small runs).
    std::vector<std::int64_t> values() const;

  private:
    bool finite() const { return count_ > never_; }
    void to_buckets();
    struct Bucket {
        std::uint64_t count = 0;
        std::int64_t low = INT64_MAX, high = INT64_MIN;  // its smallest and largest sample
    };
    void add_to_bucket(std::int64_t ns);
    void add_bucket(std::size_t index, const Bucket& b);
    std::int64_t bucket_value(std::size_t index) const;

    std::vector<std::int64_t> exact_;  // finite samples while exact()
    std::vector<Bucket> buckets_;      // by bucket index, once past samples_exact_max
    std::uint64_t count_ = 0;
    std::uint64_t never_ = 0;
    std::int64_t min_ = INT64_MAX;
    std::int64_t max_ = INT64_MIN;
    bool sealed_ = true;
};

template <typename F>
void Samples::for_each_step(F&& f) const {
    HERD_ASSERT(sealed_);
    if (exact()) {
        for (std::size_t i = 0; i < exact_.size();) {
            std::size_t j = i + 1;
            while (j < exact_.size() && exact_[j] == exact_[i])
                ++j;
            f(exact_[i], static_cast<std::uint64_t>(j - i));
            i = j;
        }
    } else {
        for (std::size_t b = 0; b < buckets_.size(); ++b)
            if (buckets_[b].count != 0) f(bucket_value(b), buckets_[b].count);
    }
    if (never_ != 0) f(never, never_);
}

}  // namespace herd::sim

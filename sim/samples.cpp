#include "sim/samples.hpp"

#include <algorithm>
#include <bit>

namespace herd::sim {

namespace {

// Durations under 256 ns have a bucket each; above, a power of two [2^e, 2^(e+1)) is split into
// 128 buckets of 2^(e-7) ns.
constexpr int sub_bits = 7;
constexpr std::size_t sub_buckets = std::size_t{1} << sub_bits;
constexpr std::int64_t linear_max = 2 * static_cast<std::int64_t>(sub_buckets);  // 256

std::size_t bucket_of(std::int64_t ns) {
    HERD_ASSERT(ns != Samples::never);
    if (ns < linear_max) return static_cast<std::size_t>(std::max<std::int64_t>(ns, 0));
    const auto v = static_cast<std::uint64_t>(ns);
    const int e = std::bit_width(v) - 1;  // 8 and up
    const std::size_t sub = static_cast<std::size_t>(v >> (e - sub_bits)) - sub_buckets;
    return static_cast<std::size_t>(linear_max) + static_cast<std::size_t>(e - 8) * sub_buckets +
           sub;
}

// The smallest duration of a bucket, and its width.
std::pair<std::int64_t, std::int64_t> bucket_range(std::size_t index) {
    if (index < static_cast<std::size_t>(linear_max)) return {static_cast<std::int64_t>(index), 1};
    const std::size_t above = index - static_cast<std::size_t>(linear_max);
    const int e = static_cast<int>(above / sub_buckets) + 8;
    const std::size_t sub = above % sub_buckets;
    const int shift = e - sub_bits;
    return {static_cast<std::int64_t>((sub_buckets + sub) << shift), std::int64_t{1} << shift};
}

}  // namespace

void Samples::add(std::int64_t ns) {
    count_ += 1;
    if (ns == never) {
        never_ += 1;
        return;
    }
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
    if (exact()) {
        exact_.push_back(ns);
        sealed_ = false;
        if (exact_.size() > samples_exact_max) to_buckets();
        return;
    }
    add_to_bucket(ns);
}

void Samples::add(const Samples& other) {
    HERD_ASSERT(other.sealed_);
    count_ += other.count_;
    never_ += other.never_;
    if (other.finite()) {
        min_ = std::min(min_, other.min_);
        max_ = std::max(max_, other.max_);
    }
    if (exact() && other.exact() && exact_.size() + other.exact_.size() <= samples_exact_max) {
        exact_.insert(exact_.end(), other.exact_.begin(), other.exact_.end());
        if (!other.exact_.empty()) sealed_ = false;
        return;
    }
    if (exact()) to_buckets();
    for (std::int64_t ns : other.exact_)
        add_to_bucket(ns);
    for (std::size_t b = 0; b < other.buckets_.size(); ++b)
        if (other.buckets_[b].count != 0) add_bucket(b, other.buckets_[b]);
}

void Samples::seal() {
    if (exact()) std::sort(exact_.begin(), exact_.end());
    sealed_ = true;
}

void Samples::to_buckets() {
    for (std::int64_t ns : exact_)
        add_to_bucket(ns);
    exact_.clear();
    exact_.shrink_to_fit();
    sealed_ = true;
}

void Samples::add_to_bucket(std::int64_t ns) {
    add_bucket(bucket_of(ns), Bucket{1, ns, ns});
}

void Samples::add_bucket(std::size_t index, const Bucket& b) {
    if (index >= buckets_.size()) buckets_.resize(index + 1);
    Bucket& into = buckets_[index];
    into.count += b.count;
    into.low = std::min(into.low, b.low);
    into.high = std::max(into.high, b.high);
}

std::int64_t Samples::bucket_value(std::size_t index) const {
    const auto [start, width] = bucket_range(index);
    const Bucket& b = buckets_[index];
    return std::clamp(start + width / 2, b.low, b.high);
}

std::int64_t Samples::min_nonzero() const {
    std::int64_t found = 0;
    bool done = false;
    for_each_step([&](std::int64_t value, std::uint64_t) {
        if (!done && value > 0 && value != never) {
            found = value;
            done = true;
        }
    });
    return found;
}

std::int64_t Samples::at_rank(std::uint64_t k) const {
    HERD_ASSERT(sealed_ && k >= 1 && k <= count_);
    if (exact()) return k <= exact_.size() ? exact_[k - 1] : never;
    std::uint64_t seen = 0;
    std::int64_t found = never;
    bool done = false;
    for_each_step([&](std::int64_t value, std::uint64_t n) {
        if (done) return;
        seen += n;
        if (seen >= k) {
            found = value;
            done = true;
        }
    });
    return found;
}

std::int64_t Samples::nearest_rank(std::uint64_t per_100k) const {
    return at_rank(nearest_rank_of(count_, per_100k));
}

std::vector<std::int64_t> Samples::values() const {
    HERD_ASSERT(exact() && sealed_);
    std::vector<std::int64_t> out = exact_;
    out.insert(out.end(), never_, never);
    return out;
}

}  // namespace herd::sim

// Our own pseudo-random generators, so that every sequence is the same on every standard
// library: SplitMix64 (seeding, and stateless hashing of a value) and xoshiro256** (streams).
//
// Distributions here use integer arithmetic only; the simulator builds the rest from these.
#pragma once

#include <array>
#include <cstdint>

namespace herd {

__extension__ typedef unsigned __int128 uint128;  // GCC and Clang both have it on 64-bit targets

// One step of SplitMix64: advances `state` and returns the next output.
constexpr std::uint64_t splitmix64(std::uint64_t& state) {
    state += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

class Prng {
  public:
    explicit constexpr Prng(std::uint64_t seed) {
        std::uint64_t s = seed;
        for (auto& word : state_)
            word = splitmix64(s);
    }

    // xoshiro256**
    constexpr std::uint64_t next() {
        const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const std::uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = rotl(state_[3], 45);
        return result;
    }

    // Uniform in [0, bound), bound > 0, without modulo bias (Lemire's multiply-and-reject).
    constexpr std::uint64_t below(std::uint64_t bound) {
        while (true) {
            const uint128 m = static_cast<uint128>(next()) * bound;
            const std::uint64_t low = static_cast<std::uint64_t>(m);
            if (low >= bound || low >= (0 - bound) % bound) {  // the second test is rarely reached
                return static_cast<std::uint64_t>(m >> 64);
            }
        }
    }

    // Uniform in [lo, hi], lo <= hi.
    constexpr std::int64_t between(std::int64_t lo, std::int64_t hi) {
        const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
        return span == 0 ? static_cast<std::int64_t>(next())
                         : lo + static_cast<std::int64_t>(below(span));
    }

    // A double in [0, 1) built from 53 random bits (exact, no libm).
    constexpr double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  private:
    static constexpr std::uint64_t rotl(std::uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
    }
    std::array<std::uint64_t, 4> state_{};
};

}  // namespace herd
